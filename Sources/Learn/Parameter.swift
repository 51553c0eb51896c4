import Primitives

/// A trainable (or tracked) array of weights with its gradient, named as in the model file ("layers.0.kernel").
public final class Parameter {
    public let name: String
    public let shape: [Int]
    public var value: [Float]
    public var gradient: [Float]
    /// False for statistics updated by the layer itself (BatchNormalization's moving mean and variance).
    public let trainable: Bool
    /// The optimizer's per-weight state (SGD's velocity or Adam's first moment; Adam's second moment), kept here so
    /// it is updated in place.
    var slot1: [Float] = []
    var slot2: [Float] = []

    init(name: String, shape: [Int], value: [Float], trainable: Bool = true) {
        precondition(value.count == shape.reduce(1, *))
        self.name = name
        self.shape = shape
        self.value = value
        self.gradient = [Float](repeating: 0, count: trainable ? value.count : 0)
        self.trainable = trainable
    }
}

/// Weight initializers with Keras's definitions.
public enum Initializer: String, Sendable, Codable {
    case glorotUniform = "glorot_uniform"
    case heNormal = "he_normal"
    case zeros
    case ones

    func values(count: Int, fanIn: Int, fanOut: Int, rng: inout RandomSource) -> [Float] {
        switch self {
        case .zeros: return [Float](repeating: 0, count: count)
        case .ones: return [Float](repeating: 1, count: count)
        case .glorotUniform:
            let limit = (6 / Double(fanIn + fanOut)).squareRoot()
            return (0..<count).map { _ in Float((rng.uniform() * 2 - 1) * limit) }
        case .heNormal:
            // Keras: truncated normal with stddev sqrt(2 / fan_in), redrawn beyond two standard deviations.
            let sd = (2 / Double(fanIn)).squareRoot()
            return (0..<count).map { _ in
                var z = rng.normal()
                while abs(z) > 2 { z = rng.normal() }
                return Float(z * sd)
            }
        }
    }
}
