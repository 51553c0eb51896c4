import Primitives

/// A fully connected layer: y = activation(x W + b), W is inputs x units (Keras's kernel layout).
public final class Dense: Layer {
    public let units: Int
    public let activation: Activation
    public let useBias: Bool
    let kernelInitializer: Initializer
    private(set) var kernel: Parameter!
    private(set) var bias: Parameter?
    private var input = Tensor(rows: 0, columns: 0)
    private var preActivation = Tensor(rows: 0, columns: 0)
    private var output = Tensor(rows: 0, columns: 0)
    /// Set by the model when the loss has already folded this layer's activation into its gradient
    /// (sigmoid with binary cross-entropy, softmax with categorical cross-entropy): the gradient is then dL/dz.
    var gradientIsPreActivation = false

    public init(
        _ units: Int, activation: Activation = .linear, useBias: Bool = true,
        kernelInitializer: Initializer = .glorotUniform
    ) {
        precondition(units > 0, "Dense: units must be at least 1, got \(units)")
        self.units = units
        self.activation = activation
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
    }

    public func build(inputSize: Int, index: Int, rng: inout RandomSource) -> Int {
        kernel = Parameter(
            name: "layers.\(index).kernel", shape: [inputSize, units],
            value: kernelInitializer.values(count: inputSize * units, fanIn: inputSize, fanOut: units, rng: &rng))
        if useBias {
            bias = Parameter(name: "layers.\(index).bias", shape: [units], value: [Float](repeating: 0, count: units))
        }
        return units
    }

    public func forward(_ x: Tensor, training: Bool, rng: inout RandomSource) -> Tensor {
        if training { input = x }
        var z = Tensor(uninitializedRows: x.rows, columns: units)  // every element is written below
        let w = Tensor(rows: kernel.shape[0], columns: units, scalars: kernel.value)
        if let bias {
            // Start from the bias in every row and let the GEMM add x W on top (beta = 1).
            bias.value.withUnsafeBufferPointer { b in
                z.scalars.withUnsafeMutableBufferPointer { p in
                    for r in 0..<x.rows { (p.baseAddress! + r * units).update(from: b.baseAddress!, count: units) }
                }
            }
            BLAS.gemm(x, w, into: &z, beta: 1)
        } else {
            BLAS.gemm(x, w, into: &z)
        }
        if training { preActivation = z }
        activation.apply(&z)
        if training { output = z }
        return z
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        var dz = gradient
        if !gradientIsPreActivation { activation.backward(&dz, z: preActivation, y: output) }
        // dW = x^T dz
        var dw = Tensor(rows: kernel.shape[0], columns: units)
        BLAS.gemm(input, transposeA: true, dz, into: &dw)
        kernel.gradient = dw.scalars
        if let bias {
            var db = [Float](repeating: 0, count: units)
            dz.scalars.withUnsafeBufferPointer { p in
                db.withUnsafeMutableBufferPointer { d in
                    for r in 0..<dz.rows { for c in 0..<units { d[c] += p[r * units + c] } }
                }
            }
            bias.gradient = db
        }
        var dx = Tensor(rows: dz.rows, columns: kernel.shape[0])
        BLAS.gemm(dz, Tensor(rows: kernel.shape[0], columns: units, scalars: kernel.value), transposeB: true, into: &dx)
        return dx
    }

    public var parameters: [Parameter] { [kernel].compactMap { $0 } + (bias.map { [$0] } ?? []) }
    public var configuration: LayerConfiguration { .dense(units: units, activation: activation, useBias: useBias) }
}
