import CBLAS
import CDense
import RealModule

/// A trained model frozen for scoring: dropout removed, batch normalization folded into an affine map, kernels laid
/// out for dot products. Immutable and Sendable: share one across tasks. `predict(_:into:scratch:)` allocates
/// nothing, for scoring one reading at a time in the stream.
public struct InferenceModel: Sendable {
    struct Stage: Sendable {
        /// units x inputs, row-major (transposed from the Keras kernel), or empty for an affine-only stage.
        var weights: [Float]
        var bias: [Float]
        var scale: [Float]?  // folded batch normalization: y = x * scale + shift
        var inputs: Int
        var units: Int
        var activation: Activation
        /// A 1-D convolution: `weights` is filters x patch (transposed from Keras's kernel), one patch per output step.
        var conv: Convolution?
        /// A GRU: `weights` is the kernel transposed (3 units x channels), `bias` the input bias.
        var recurrent: Recurrent? = nil
        /// A dense stage's kernel as Keras keeps it, inputs x units row-major: the batched products read it without
        /// a transpose, which OpenBLAS's small-matrix kernels take (with the transpose, 64-wide layers went through
        /// its general path and packed the weights on every call: a fifth of an optimizer's time).
        var kernel: [Float] = []
    }

    struct Recurrent: Sendable {
        var timesteps: Int
        var channels: Int
        var units: Int
        var returnSequences: Bool
        /// The recurrent kernel transposed: 3 units x units.
        var weights: [Float]
        var bias: [Float]
    }

    struct Convolution: Sendable {
        var timesteps: Int
        var channels: Int
        var kernelSize: Int
        var padLeft: Int
        var filters: Int
        var outputSteps: Int
    }

    let stages: [Stage]
    public let inputSize: Int
    public let outputSize: Int
    /// The widest layer, the size of each scratch buffer.
    public let width: Int

    public init(_ model: Sequential) {
        var stages: [Stage] = []
        var width = model.inputSize
        var extra = 0
        for layer in model.layers {
            switch layer {
            case let dense as Dense:
                let inputs = dense.kernel.shape[0]
                var transposed = [Float](repeating: 0, count: inputs * dense.units)
                for i in 0..<inputs {
                    for u in 0..<dense.units { transposed[u * inputs + i] = dense.kernel.value[i * dense.units + u] }
                }
                stages.append(
                    Stage(
                        weights: transposed, bias: dense.bias?.value ?? [Float](repeating: 0, count: dense.units),
                        scale: nil,
                        inputs: inputs, units: dense.units, activation: dense.activation, conv: nil,
                        kernel: dense.kernel.value))
                width = max(width, dense.units)
            case let conv as Conv1D:
                let patch = conv.kernelSize * conv.channels
                var transposed = [Float](repeating: 0, count: patch * conv.filters)
                for i in 0..<patch {
                    for f in 0..<conv.filters { transposed[f * patch + i] = conv.kernel.value[i * conv.filters + f] }
                }
                let units = conv.outputSteps * conv.filters
                stages.append(
                    Stage(
                        weights: transposed, bias: conv.bias.value, scale: nil, inputs: conv.timesteps * conv.channels,
                        units: units, activation: conv.activation,
                        conv: Convolution(
                            timesteps: conv.timesteps, channels: conv.channels, kernelSize: conv.kernelSize,
                            padLeft: conv.padLeft, filters: conv.filters, outputSteps: conv.outputSteps)))
                width = max(width, units)
            case let gru as GRU:
                let gates = 3 * gru.units
                func transpose(_ m: [Float], rows: Int) -> [Float] {
                    var t = [Float](repeating: 0, count: m.count)
                    for i in 0..<rows { for j in 0..<gates { t[j * rows + i] = m[i * gates + j] } }
                    return t
                }
                let units = gru.returnSequences ? gru.timesteps * gru.units : gru.units
                stages.append(
                    Stage(
                        weights: transpose(gru.kernel.value, rows: gru.channels),
                        bias: Array(gru.bias.value[0..<gates]), scale: nil, inputs: gru.timesteps * gru.channels,
                        units: units, activation: .linear, conv: nil,
                        recurrent: Recurrent(
                            timesteps: gru.timesteps, channels: gru.channels, units: gru.units,
                            returnSequences: gru.returnSequences,
                            weights: transpose(gru.recurrentKernel.value, rows: gru.units),
                            bias: Array(gru.bias.value[gates...]))))
                width = max(width, units)
                extra = max(extra, 7 * gru.units)
            case let bn as BatchNormalization:
                let n = bn.gamma.value.count
                let scale = (0..<n).map { bn.gamma.value[$0] / (bn.movingVariance.value[$0] + bn.epsilon).squareRoot() }
                let shift = (0..<n).map { bn.beta.value[$0] - bn.movingMean.value[$0] * scale[$0] }
                stages.append(
                    Stage(weights: [], bias: shift, scale: scale, inputs: n, units: n, activation: .linear, conv: nil))
            default:
                continue  // dropout: identity at inference
            }
        }
        self.stages = stages
        self.inputSize = model.inputSize
        self.outputSize = model.outputSize
        self.width = width
        self.recurrentScratch = extra
        self.denseOnly = stages.allSatisfy { $0.conv == nil && $0.recurrent == nil }
    }

    /// Whether every stage is dense or batch normalization (what the batched gradient path takes).
    let denseOnly: Bool

    /// Floats a GRU stage needs beside its input and output (its projections and state).
    let recurrentScratch: Int

    /// Two buffers of `width` floats (and one for recurrent stages) to pass to `predict`.
    public func makeScratch() -> Scratch { Scratch(width: width, extra: recurrentScratch) }

    public struct Scratch: Sendable {
        var a: [Float]
        var b: [Float]
        var c: [Float]
        init(width: Int, extra: Int = 0) {
            a = [Float](repeating: 0, count: width)
            b = [Float](repeating: 0, count: width)
            c = [Float](repeating: 0, count: extra)
        }
    }

    /// Scores one sample: `input` has `inputSize` features; `output` receives `outputSize` values.
    public func predict(
        _ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>, scratch: inout Scratch
    ) {
        precondition(input.count >= inputSize && output.count >= outputSize)
        scratch.a.withUnsafeMutableBufferPointer { a in
            scratch.b.withUnsafeMutableBufferPointer { b in
                scratch.c.withUnsafeMutableBufferPointer { e in
                    var source = UnsafeBufferPointer(rebasing: input[0..<inputSize])
                    var target = a
                    var other = b
                    // The stages read in place: taken from the array, each one's weights, bias and settings were
                    // retained and released per sample.
                    stages.withUnsafeBufferPointer { stages in
                        for s in stages.indices {
                            if let recurrent = stages[s].recurrent {
                                Self.recur(stages[s], recurrent, source, target, e)
                            } else {
                                Self.run(stages[s], source, target)
                            }
                            source = UnsafeBufferPointer(rebasing: target[0..<stages[s].units])
                            swap(&target, &other)
                        }
                    }
                    for i in 0..<outputSize { output[i] = source[i] }
                }
            }
        }
    }

    /// Scores `rows` samples at once: `input` holds them row after row (`inputSize` each), `output` receives
    /// `outputSize` values per row. Each dense stage is one matrix product over the batch (OpenBLAS), which for a
    /// batch of 64 costs a fraction of 64 single-row passes (the single-row pass is SIMD dot products, best for one
    /// reading at a time); models with convolutions or GRUs go row by row.
    public func predict(
        rows: Int, _ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(input.count >= rows * inputSize && output.count >= rows * outputSize)
        guard rows > 1, stages.allSatisfy({ $0.conv == nil && $0.recurrent == nil }) else {
            var scratch = makeScratch()
            for r in 0..<rows {
                predict(
                    UnsafeBufferPointer(rebasing: input[(r * inputSize)..<((r + 1) * inputSize)]),
                    into: UnsafeMutableBufferPointer(rebasing: output[(r * outputSize)..<((r + 1) * outputSize)]),
                    scratch: &scratch)
            }
            return
        }
        _ = BLAS.configured
        var a = [Float](repeating: 0, count: rows * width)
        var b = [Float](repeating: 0, count: rows * width)
        a.withUnsafeMutableBufferPointer { a in
            b.withUnsafeMutableBufferPointer { b in
                var source = UnsafeBufferPointer(rebasing: input[0..<(rows * inputSize)])
                var target = a
                var other = b
                for stage in stages {
                    Self.run(stage, rows: rows, source, target)
                    source = UnsafeBufferPointer(rebasing: target[0..<(rows * stage.units)])
                    swap(&target, &other)
                }
                for i in 0..<(rows * outputSize) { output[i] = source[i] }
            }
        }
    }

    /// One dense or batch-normalization stage over `rows` rows: y = x · Wᵀ + b, then the activation per row.
    static func run(
        _ stage: Stage, rows: Int, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>
    ) {
        let n = stage.inputs
        let units = stage.units
        if let scale = stage.scale {
            for r in 0..<rows {
                for i in 0..<n { y[r * n + i] = x[r * n + i] * scale[i] + stage.bias[i] }
            }
            return
        }
        for r in 0..<rows {
            for u in 0..<units { y[r * units + u] = stage.bias[u] }
        }
        stage.kernel.withUnsafeBufferPointer { w in
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(units), Int32(n), 1, x.baseAddress,
                Int32(n), w.baseAddress, Int32(units), 1, y.baseAddress, Int32(units))
        }
        if stage.activation == .softmax {
            for r in 0..<rows {
                applyActivation(.softmax, UnsafeMutableBufferPointer(rebasing: y[(r * units)..<((r + 1) * units)]))
            }
        } else {
            applyActivation(stage.activation, UnsafeMutableBufferPointer(rebasing: y[0..<(rows * units)]))
        }
    }

    /// `predict(rows:_:into:)` on arrays: `rows` feature rows one after another in, their outputs the same way out.
    public func predict(rows: Int, _ input: [Float]) -> [Float] {
        var output = [Float](repeating: 0, count: rows * outputSize)
        input.withUnsafeBufferPointer { i in
            output.withUnsafeMutableBufferPointer { predict(rows: rows, i, into: $0) }
        }
        return output
    }

    public func predict(_ input: [Float]) -> [Float] {
        var scratch = makeScratch()
        var output = [Float](repeating: 0, count: outputSize)
        input.withUnsafeBufferPointer { i in
            output.withUnsafeMutableBufferPointer { predict(i, into: $0, scratch: &scratch) }
        }
        return output
    }

    /// Whether dense layers take `CDense`'s AVX2 and FMA kernel for single rows: this CPU has both, and
    /// `MILLSTREAM_DENSE_KERNEL=portable` does not ask for the portable sums (to compare the two).
    static let wideKernel =
        millstream_dense_avx2_fma() != 0 && getenvValue("MILLSTREAM_DENSE_KERNEL") != "portable"

    @inline(__always)
    static func run(_ stage: Stage, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) {
        let n = stage.inputs
        if let scale = stage.scale {
            for i in 0..<n { y[i] = x[i] * scale[i] + stage.bias[i] }
            return
        }
        if let conv = stage.conv {
            convolve(stage, conv, x, y)
        } else {
            dot(stage, x, y)
        }
        applyActivation(stage.activation, UnsafeMutableBufferPointer(rebasing: y[0..<stage.units]))
    }

    /// y = x · kernel + b over the units, eight units to a lane group: each input's row of the kernel (inputs x
    /// units, as Keras keeps it) scaled by the input and added to the units' sums, which stay in registers across
    /// the inputs, 32 units at a time. A dot product per unit over the transposed weights, each summed across its
    /// lanes at the end, was 8.2 % of the pipeline worker's profile with the demo's 64-64 network; this is 5.4 %.
    ///
    /// On a CPU with AVX2 and FMA the same sums go through `CDense`'s kernel, 64 units at a time in eight-wide fused
    /// multiply-adds (the builds target baseline x86-64, where these SIMD8 sums are two SSE halves with a multiply
    /// and an add each). A fused multiply-add rounds once, so its sums can differ from these in the last bits: the
    /// same on every run on one machine, within the tests' tolerance across machines.
    @inline(__always)
    static func dot(_ stage: Stage, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) {
        if wideKernel { wideDot(stage, x, y) } else { portableDot(stage, x, y) }
    }

    /// `dot` through `CDense`'s AVX2 and FMA kernel (only on a CPU with both).
    @inline(__always)
    static func wideDot(_ stage: Stage, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) {
        stage.kernel.withUnsafeBufferPointer { kernel in
            stage.bias.withUnsafeBufferPointer { bias in
                millstream_dense_row_avx2_fma(
                    x.baseAddress, stage.inputs, kernel.baseAddress, bias.baseAddress, stage.units, y.baseAddress)
            }
        }
    }

    /// `dot` in Swift's SIMD sums, on any CPU.
    @inline(__always)
    static func portableDot(_ stage: Stage, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) {
        let n = stage.inputs
        let units = stage.units
        stage.kernel.withUnsafeBufferPointer { kernel in
            stage.bias.withUnsafeBufferPointer { bias in
                let k = kernel.baseAddress!
                let b = UnsafeRawPointer(bias.baseAddress!)
                let out = UnsafeMutableRawPointer(y.baseAddress!)
                let lane = MemoryLayout<Float>.stride
                var u = 0
                while u + 32 <= units {
                    var s0 = b.loadUnaligned(fromByteOffset: u * lane, as: SIMD8<Float>.self)
                    var s1 = b.loadUnaligned(fromByteOffset: (u + 8) * lane, as: SIMD8<Float>.self)
                    var s2 = b.loadUnaligned(fromByteOffset: (u + 16) * lane, as: SIMD8<Float>.self)
                    var s3 = b.loadUnaligned(fromByteOffset: (u + 24) * lane, as: SIMD8<Float>.self)
                    for i in 0..<n {
                        let xi = SIMD8<Float>(repeating: x[i])
                        let row = UnsafeRawPointer(k + i * units + u)
                        s0 += xi * row.loadUnaligned(as: SIMD8<Float>.self)
                        s1 += xi * row.loadUnaligned(fromByteOffset: 8 * lane, as: SIMD8<Float>.self)
                        s2 += xi * row.loadUnaligned(fromByteOffset: 16 * lane, as: SIMD8<Float>.self)
                        s3 += xi * row.loadUnaligned(fromByteOffset: 24 * lane, as: SIMD8<Float>.self)
                    }
                    out.storeBytes(of: s0, toByteOffset: u * lane, as: SIMD8<Float>.self)
                    out.storeBytes(of: s1, toByteOffset: (u + 8) * lane, as: SIMD8<Float>.self)
                    out.storeBytes(of: s2, toByteOffset: (u + 16) * lane, as: SIMD8<Float>.self)
                    out.storeBytes(of: s3, toByteOffset: (u + 24) * lane, as: SIMD8<Float>.self)
                    u += 32
                }
                while u + 8 <= units {
                    var s0 = b.loadUnaligned(fromByteOffset: u * lane, as: SIMD8<Float>.self)
                    for i in 0..<n {
                        s0 +=
                            SIMD8<Float>(repeating: x[i])
                            * UnsafeRawPointer(k + i * units + u).loadUnaligned(
                                as: SIMD8<Float>.self)
                    }
                    out.storeBytes(of: s0, toByteOffset: u * lane, as: SIMD8<Float>.self)
                    u += 8
                }
                while u < units {
                    var sum = bias[u]
                    for i in 0..<n { sum += x[i] * k[i * units + u] }
                    y[u] = sum
                    u += 1
                }
            }
        }
    }

    /// A GRU over the sample's steps (Keras's equations, `GRU`): `e` holds the input and recurrent projections and
    /// the state.
    static func recur(
        _ stage: Stage, _ g: Recurrent, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>,
        _ e: UnsafeMutableBufferPointer<Float>
    ) {
        let n = g.units
        let width = 3 * n
        let xw = e.baseAddress!
        let hu = xw + width
        let h = hu + width
        for k in 0..<n { h[k] = 0 }
        stage.weights.withUnsafeBufferPointer { w in
            g.weights.withUnsafeBufferPointer { u in
                for t in 0..<g.timesteps {
                    let step = x.baseAddress! + t * g.channels
                    for j in 0..<width {
                        xw[j] = stage.bias[j] + dotProduct(w.baseAddress! + j * g.channels, step, g.channels)
                        hu[j] = g.bias[j] + dotProduct(u.baseAddress! + j * n, h, n)
                    }
                    for k in 0..<n {
                        let z = Activation.sigmoid(xw[k] + hu[k])
                        let r = Activation.sigmoid(xw[n + k] + hu[n + k])
                        let hat = Float.tanh(xw[2 * n + k] + r * hu[2 * n + k])
                        h[k] = z * h[k] + (1 - z) * hat
                    }
                    if g.returnSequences { for k in 0..<n { y[t * n + k] = h[k] } }
                }
            }
        }
        if !g.returnSequences { for k in 0..<n { y[k] = h[k] } }
    }

    /// a · b over `n` floats, eight lanes at a time.
    @inline(__always)
    static func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc +=
                UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
                * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var sum = acc.sum()
        while i < n {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// Each output step's filters over its patch: a contiguous run of the time-major input, clipped at the ends
    /// where the convolution pads with zeros.
    static func convolve(
        _ stage: Stage, _ conv: Convolution, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>
    ) {
        let patch = conv.kernelSize * conv.channels
        stage.weights.withUnsafeBufferPointer { w in
            for t in 0..<conv.outputSteps {
                let s = Conv1D.span(
                    step: t, timesteps: conv.timesteps, kernelSize: conv.kernelSize, padLeft: conv.padLeft,
                    channels: conv.channels)
                let offset = s.patch
                let count = s.count
                let input = x.baseAddress! + s.input
                for f in 0..<conv.filters {
                    y[t * conv.filters + f] =
                        stage.bias[f] + dotProduct(w.baseAddress! + f * patch + offset, input, count)
                }
            }
        }
    }

    @inline(__always)
    static func applyActivation(_ activation: Activation, _ y: UnsafeMutableBufferPointer<Float>) {
        switch activation {
        case .linear: break
        // A select on every unit, not a store under a branch: the compiler made the branch a vector compare
        // followed by a test and a jump per unit, 2 % of the pipeline worker, mostly mispredicted jumps. The
        // values are the same (NaN and -0 kept).
        case .relu: for u in y.indices { y[u] = y[u] < 0 ? 0 : y[u] }
        case .leakyRelu: for u in y.indices { y[u] = y[u] < 0 ? y[u] * Activation.leakySlope : y[u] }
        case .gelu: for u in y.indices { y[u] = Activation.gelu(y[u]) }
        case .tanh: for u in y.indices { y[u] = Float(tanhDouble(Double(y[u]))) }
        case .sigmoid: for u in y.indices { y[u] = Activation.sigmoid(y[u]) }
        case .softmax: Activation.softmax(y)
        }
    }
}

@inline(__always) func tanhDouble(_ x: Double) -> Double { Double.tanh(x) }
