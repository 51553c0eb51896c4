import Primitives

/// Inverted dropout: in training, zeroes each input with probability `rate` and scales the rest by 1 / (1 - rate);
/// at inference it passes inputs through.
public final class Dropout: Layer {
    public let rate: Float
    private var mask: [Float] = []

    public init(_ rate: Float) {
        precondition(rate >= 0 && rate < 1, "Dropout: rate must be in 0..<1, got \(rate)")
        self.rate = rate
    }

    public func build(inputSize: Int, index: Int, rng: inout RandomSource) -> Int { inputSize }

    public func forward(_ x: Tensor, training: Bool, rng: inout RandomSource) -> Tensor {
        guard training && rate > 0 else { return x }
        let keep = 1 / (1 - rate)
        mask = (0..<x.scalars.count).map { _ in rng.uniform() < Double(rate) ? 0 : keep }
        var y = x
        for i in y.scalars.indices { y.scalars[i] *= mask[i] }
        return y
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        guard rate > 0 else { return gradient }
        var g = gradient
        for i in g.scalars.indices { g.scalars[i] *= mask[i] }
        return g
    }

    public var parameters: [Parameter] { [] }
    public var configuration: LayerConfiguration { .dropout(rate: rate) }
}
