import Primitives

/// A 1-D convolution over time, as Keras's `Conv1D` (stride 1, dilation 1): each output step is
/// activation(patch · W + b), where a patch is `kernelSize` consecutive steps of all `channels`.
///
/// Inputs and outputs stay rank-2: a sample is its sequence flattened time-major (step 0's channels, then step 1's,
/// ...), as `WindowSpec.Layout.sequence` writes it. A patch of a time-major row is then one contiguous run of
/// memory, so im2col is a copy per output step and the convolution is one GEMM for the whole batch.
/// The kernel has Keras's layout (kernelSize, channels, filters).
public final class Conv1D: Layer {
    public enum Padding: String, Sendable, Codable {
        /// Output steps only where the whole kernel fits: timesteps - kernelSize + 1 of them.
        case valid
        /// As many output steps as input steps; zeros beyond the ends (Keras: the extra one on the right).
        case same
    }

    public let filters: Int
    public let kernelSize: Int
    public let channels: Int
    public let padding: Padding
    public let activation: Activation
    private(set) var timesteps = 0
    private(set) var kernel: Parameter!
    private(set) var bias: Parameter!
    private var patches = Tensor(rows: 0, columns: 0)
    private var preActivation = Tensor(rows: 0, columns: 0)
    private var output = Tensor(rows: 0, columns: 0)
    private var batch = 0

    public init(
        filters: Int, kernelSize: Int, channels: Int, padding: Padding = .valid, activation: Activation = .linear
    ) {
        precondition(filters > 0 && kernelSize > 0 && channels > 0, "Conv1D: filters, kernel and channels >= 1")
        precondition(activation != .softmax, "Conv1D: softmax is not an elementwise activation")
        self.filters = filters
        self.kernelSize = kernelSize
        self.channels = channels
        self.padding = padding
        self.activation = activation
    }

    var padLeft: Int { padding == .same ? (kernelSize - 1) / 2 : 0 }
    var padRight: Int { padding == .same ? kernelSize - 1 - padLeft : 0 }
    public var outputSteps: Int { timesteps + padLeft + padRight - kernelSize + 1 }

    public func build(inputSize: Int, index: Int, rng: inout RandomSource) -> Int {
        precondition(
            inputSize % channels == 0,
            "Conv1D: \(inputSize) inputs are not a whole number of steps of \(channels) channels")
        timesteps = inputSize / channels
        precondition(outputSteps >= 1, "Conv1D: a kernel of \(kernelSize) is longer than \(timesteps) steps")
        let patch = kernelSize * channels
        kernel = Parameter(
            name: "layers.\(index).kernel", shape: [kernelSize, channels, filters],
            value: Initializer.glorotUniform.values(
                count: patch * filters, fanIn: patch, fanOut: kernelSize * filters, rng: &rng))
        bias = Parameter(name: "layers.\(index).bias", shape: [filters], value: [Float](repeating: 0, count: filters))
        return outputSteps * filters
    }

    /// Where output step `t`'s patch lies in a time-major row: `count` values from offset `input` fill the patch
    /// from offset `patch`; the rest of the patch is zero padding.
    static func span(
        step t: Int, timesteps: Int, kernelSize: Int, padLeft: Int, channels: Int
    ) -> (input: Int, patch: Int, count: Int) {
        let first = max(0, t - padLeft)
        let end = min(timesteps, t - padLeft + kernelSize)
        return (first * channels, (first - (t - padLeft)) * channels, max(0, end - first) * channels)
    }

    func span(step t: Int) -> (input: Int, patch: Int, count: Int) {
        Self.span(step: t, timesteps: timesteps, kernelSize: kernelSize, padLeft: padLeft, channels: channels)
    }

    /// Batch x steps rows of one patch each (zero outside the sequence when padded).
    func im2col(_ x: Tensor) -> Tensor {
        let patch = kernelSize * channels
        let steps = outputSteps
        var cols = Tensor(rows: x.rows * steps, columns: patch)
        x.scalars.withUnsafeBufferPointer { src in
            cols.scalars.withUnsafeMutableBufferPointer { dst in
                for b in 0..<x.rows {
                    let row = src.baseAddress! + b * x.columns
                    for t in 0..<steps {
                        let s = span(step: t)
                        let out = dst.baseAddress! + (b * steps + t) * patch + s.patch
                        out.update(from: row + s.input, count: s.count)
                    }
                }
            }
        }
        return cols
    }

    public func forward(_ x: Tensor, training: Bool, rng: inout RandomSource) -> Tensor {
        let cols = im2col(x)
        var z = Tensor(rows: cols.rows, columns: filters)
        bias.value.withUnsafeBufferPointer { b in
            z.scalars.withUnsafeMutableBufferPointer { p in
                for r in 0..<cols.rows { (p.baseAddress! + r * filters).update(from: b.baseAddress!, count: filters) }
            }
        }
        BLAS.gemm(cols, Tensor(rows: kernelSize * channels, columns: filters, scalars: kernel.value), into: &z, beta: 1)
        if training {
            patches = cols
            preActivation = z
            batch = x.rows
        }
        activation.apply(&z)
        if training { output = z }
        return Tensor(rows: x.rows, columns: outputSteps * filters, scalars: z.scalars)
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        var dz = Tensor(rows: batch * outputSteps, columns: filters, scalars: gradient.scalars)
        activation.backward(&dz, z: preActivation, y: output)
        let patch = kernelSize * channels
        var dw = Tensor(rows: patch, columns: filters)
        BLAS.gemm(patches, transposeA: true, dz, into: &dw)
        kernel.gradient = dw.scalars
        var db = [Float](repeating: 0, count: filters)
        for r in 0..<dz.rows { for f in 0..<filters { db[f] += dz.scalars[r * filters + f] } }
        bias.gradient = db
        var dcols = Tensor(rows: dz.rows, columns: patch)
        BLAS.gemm(dz, Tensor(rows: patch, columns: filters, scalars: kernel.value), transposeB: true, into: &dcols)
        // col2im: each patch's gradient adds back onto the steps it was copied from.
        let steps = outputSteps
        var dx = Tensor(rows: batch, columns: timesteps * channels)
        dcols.scalars.withUnsafeBufferPointer { src in
            dx.scalars.withUnsafeMutableBufferPointer { dst in
                for b in 0..<batch {
                    for t in 0..<steps {
                        let s = span(step: t)
                        let from = src.baseAddress! + (b * steps + t) * patch + s.patch
                        let to = dst.baseAddress! + b * timesteps * channels + s.input
                        for i in 0..<s.count { to[i] += from[i] }
                    }
                }
            }
        }
        return dx
    }

    public var parameters: [Parameter] { [kernel, bias] }
    public var configuration: LayerConfiguration {
        .conv1D(
            filters: filters, kernelSize: kernelSize, channels: channels, padding: padding, activation: activation)
    }
}
