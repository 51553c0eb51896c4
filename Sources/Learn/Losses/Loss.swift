import RealModule

/// A loss over a batch: its value (the weighted mean over samples, as Keras's sum-over-batch-size reduction) and
/// its gradient with respect to the model's output.
public protocol Loss: Sendable {
    var name: String { get }
    /// - Parameters:
    ///   - output: the model's output (probabilities for the cross-entropies).
    ///   - target: binary 0/1 or class indices (one column), or regression targets (output-shaped).
    ///   - weights: per-sample weights (class weights), or nil.
    /// - Returns: the loss and dL/d(output), or dL/d(pre-activation) when `fusedActivation` matches the output layer.
    func evaluate(output: Tensor, target: Tensor, weights: [Float]?) -> (value: Double, gradient: Tensor)
    /// An output activation whose gradient the loss folds in (dL/dz = p - y), for stability and speed.
    var fusedActivation: Activation? { get }
}

/// Keras's epsilon for clipping probabilities.
let probabilityEpsilon: Float = 1e-7

/// Binary cross-entropy on probabilities (sigmoid outputs). With several outputs each is its own yes/no label
/// (multi-label); the loss is the mean over labels, as Keras averages over the last axis.
public struct BinaryCrossEntropy: Loss {
    public init() {}
    public var name: String { "binary_crossentropy" }
    public var fusedActivation: Activation? { .sigmoid }

    public func evaluate(output: Tensor, target: Tensor, weights: [Float]?) -> (value: Double, gradient: Tensor) {
        precondition(output.shape == target.shape)
        var gradient = output
        var total = 0.0
        let k = output.columns
        let scale = Float(output.rows * k)
        for r in 0..<output.rows {
            let w = weights?[r] ?? 1
            for c in 0..<k {
                let i = r * k + c
                let p = min(max(output.scalars[i], probabilityEpsilon), 1 - probabilityEpsilon)
                let y = target.scalars[i]
                total += Double(w * -(y * Float.log(p) + (1 - y) * Float.log(1 - p)))
                gradient.scalars[i] = w * (output.scalars[i] - y) / scale  // w.r.t. the sigmoid's input
            }
        }
        return (total / Double(output.rows * k), gradient)
    }
}

/// Cross-entropy of softmax probabilities against integer class labels.
public struct SparseCategoricalCrossEntropy: Loss {
    public init() {}
    public var name: String { "sparse_categorical_crossentropy" }
    public var fusedActivation: Activation? { .softmax }

    public func evaluate(output: Tensor, target: Tensor, weights: [Float]?) -> (value: Double, gradient: Tensor) {
        precondition(target.columns == 1 && output.rows == target.rows)
        var gradient = output
        var total = 0.0
        let n = Float(output.rows)
        for r in 0..<output.rows {
            let label = Int(target.scalars[r])
            precondition(label >= 0 && label < output.columns, "class label \(label) outside 0..<\(output.columns)")
            let w = weights?[r] ?? 1
            total += Double(-w * Float.log(min(max(output[r, label], probabilityEpsilon), 1)))
            for c in 0..<output.columns {
                gradient[r, c] = w * (output[r, c] - (c == label ? 1 : 0)) / n
            }
        }
        return (total / Double(output.rows), gradient)
    }
}

/// A regression loss of the difference d = output - target, averaged over outputs and samples (Keras's reduction),
/// given its value and derivative for one difference.
func elementwiseLoss(
    output: Tensor, target: Tensor, weights: [Float]?, _ f: (Float) -> (value: Float, derivative: Float)
) -> (value: Double, gradient: Tensor) {
    precondition(output.shape == target.shape)
    var gradient = output
    var total = 0.0
    let k = Float(output.columns)
    let n = Float(output.rows)
    for r in 0..<output.rows {
        let w = weights?[r] ?? 1
        for c in 0..<output.columns {
            let (value, derivative) = f(output[r, c] - target[r, c])
            total += Double(w * value / k)
            gradient[r, c] = w * derivative / (k * n)
        }
    }
    return (total / Double(output.rows), gradient)
}

/// Mean squared error, averaged over outputs and samples.
public struct MeanSquaredError: Loss {
    public init() {}
    public var name: String { "mean_squared_error" }
    public var fusedActivation: Activation? { nil }

    public func evaluate(output: Tensor, target: Tensor, weights: [Float]?) -> (value: Double, gradient: Tensor) {
        elementwiseLoss(output: output, target: target, weights: weights) { d in (d * d, 2 * d) }
    }
}

/// Huber loss: quadratic within `delta` of the target, linear beyond (Keras default delta 1).
public struct Huber: Loss {
    public let delta: Float
    public init(delta: Float = 1) {
        precondition(delta > 0, "Huber: delta must be greater than 0, got \(delta)")
        self.delta = delta
    }
    public var name: String { "huber" }
    public var fusedActivation: Activation? { nil }

    public func evaluate(output: Tensor, target: Tensor, weights: [Float]?) -> (value: Double, gradient: Tensor) {
        elementwiseLoss(output: output, target: target, weights: weights) { d in
            abs(d) <= delta ? (0.5 * d * d, d) : (delta * (abs(d) - 0.5 * delta), delta * (d > 0 ? 1 : -1))
        }
    }
}
