import Primitives

/// Normalizes each feature over the batch in training (and by moving averages at inference), then scales by gamma
/// and shifts by beta. Keras defaults: momentum 0.99, epsilon 0.001.
public final class BatchNormalization: Layer {
    public let momentum: Float
    public let epsilon: Float
    private(set) var gamma: Parameter!
    private(set) var beta: Parameter!
    private(set) var movingMean: Parameter!
    private(set) var movingVariance: Parameter!
    private var normalized = Tensor(rows: 0, columns: 0)
    private var inverseStd: [Float] = []

    public init(momentum: Float = 0.99, epsilon: Float = 1e-3) {
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public func build(inputSize: Int, index: Int, rng: inout RandomSource) -> Int {
        gamma = Parameter(
            name: "layers.\(index).gamma", shape: [inputSize], value: [Float](repeating: 1, count: inputSize))
        beta = Parameter(
            name: "layers.\(index).beta", shape: [inputSize], value: [Float](repeating: 0, count: inputSize))
        movingMean = Parameter(
            name: "layers.\(index).moving_mean", shape: [inputSize], value: [Float](repeating: 0, count: inputSize),
            trainable: false)
        movingVariance = Parameter(
            name: "layers.\(index).moving_variance", shape: [inputSize], value: [Float](repeating: 1, count: inputSize),
            trainable: false)
        return inputSize
    }

    public func forward(_ x: Tensor, training: Bool, rng: inout RandomSource) -> Tensor {
        let n = x.rows
        let d = x.columns
        var y = x
        if training && n > 1 {
            var mean = [Float](repeating: 0, count: d)
            var variance = [Float](repeating: 0, count: d)
            for r in 0..<n { for c in 0..<d { mean[c] += x[r, c] } }
            for c in 0..<d { mean[c] /= Float(n) }
            for r in 0..<n { for c in 0..<d { let v = x[r, c] - mean[c]; variance[c] += v * v } }
            for c in 0..<d { variance[c] /= Float(n) }
            inverseStd = variance.map { 1 / ($0 + epsilon).squareRoot() }
            normalized = x
            for r in 0..<n { for c in 0..<d { normalized[r, c] = (x[r, c] - mean[c]) * inverseStd[c] } }
            for c in 0..<d {
                movingMean.value[c] = momentum * movingMean.value[c] + (1 - momentum) * mean[c]
                movingVariance.value[c] = momentum * movingVariance.value[c] + (1 - momentum) * variance[c]
            }
            for r in 0..<n { for c in 0..<d { y[r, c] = gamma.value[c] * normalized[r, c] + beta.value[c] } }
        } else {
            for c in 0..<d {
                let scale = gamma.value[c] / (movingVariance.value[c] + epsilon).squareRoot()
                let shift = beta.value[c] - movingMean.value[c] * scale
                for r in 0..<n { y[r, c] = x[r, c] * scale + shift }
            }
        }
        return y
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        let n = gradient.rows
        let d = gradient.columns
        var dGamma = [Float](repeating: 0, count: d)
        var dBeta = [Float](repeating: 0, count: d)
        for r in 0..<n {
            for c in 0..<d {
                dGamma[c] += gradient[r, c] * normalized[r, c]
                dBeta[c] += gradient[r, c]
            }
        }
        gamma.gradient = dGamma
        beta.gradient = dBeta
        // dx = gamma * invstd / n * (n * dy - sum(dy) - xhat * sum(dy * xhat))
        var dx = gradient
        for r in 0..<n {
            for c in 0..<d {
                dx[r, c] =
                    gamma.value[c] * inverseStd[c] / Float(n)
                    * (Float(n) * gradient[r, c] - dBeta[c] - normalized[r, c] * dGamma[c])
            }
        }
        return dx
    }

    public var parameters: [Parameter] { [gamma, beta, movingMean, movingVariance] }
    public var configuration: LayerConfiguration { .batchNormalization(momentum: momentum, epsilon: epsilon) }
}
