import Primitives
import RealModule

/// A gated recurrent unit over time, as Keras's `GRU` with its defaults (tanh, sigmoid gates, `reset_after`):
///
///     z = σ(x Wz + bz + h Uz + rz),  r = σ(x Wr + br + h Ur + rr)
///     ĥ = Double.tanh(x Wh + bh + r ⊙ (h Uh + rh)),  h' = z ⊙ h + (1 - z) ⊙ ĥ
///
/// Inputs are rank-2, each sample its sequence time-major (as `Conv1D` and `WindowSpec.Layout.sequence`). Weights
/// have Keras's layout and gate order (z, r, h): kernel (channels, 3 units), recurrent kernel (units, 3 units), bias
/// (2, 3 units): input bias, then recurrent bias. The output is the last step's state, or with `returnSequences`
/// every step's (time-major, for a layer above).
///
/// The input projection of all steps is one GEMM per batch; each step adds one (batch x units) x (units x 3 units)
/// GEMM. Backpropagation through time keeps each step's state and gates.
public final class GRU: Layer {
    public let units: Int
    public let channels: Int
    public let returnSequences: Bool
    private(set) var timesteps = 0
    private(set) var kernel: Parameter!
    private(set) var recurrentKernel: Parameter!
    private(set) var bias: Parameter!
    // Kept by a training forward for backward: the input, and per step (index t) the state before it and its gates.
    private var input = Tensor(rows: 0, columns: 0)
    private var states: [Tensor] = []
    private var gates: [Tensor] = []  // batch x 3 units: z, r, ĥ
    private var recurrentCandidate: [Tensor] = []  // batch x units: h Uh + rh

    public init(units: Int, channels: Int, returnSequences: Bool = false) {
        precondition(units > 0 && channels > 0, "GRU: units and channels >= 1")
        self.units = units
        self.channels = channels
        self.returnSequences = returnSequences
    }

    public func build(inputSize: Int, index: Int, rng: inout RandomSource) -> Int {
        precondition(
            inputSize % channels == 0,
            "GRU: \(inputSize) inputs are not a whole number of steps of \(channels) channels")
        timesteps = inputSize / channels
        let width = 3 * units
        kernel = Parameter(
            name: "layers.\(index).kernel", shape: [channels, width],
            value: Initializer.glorotUniform.values(count: channels * width, fanIn: channels, fanOut: width, rng: &rng))
        recurrentKernel = Parameter(
            name: "layers.\(index).recurrent_kernel", shape: [units, width],
            value: Self.orthogonal(rows: units, columns: width, rng: &rng))
        bias = Parameter(
            name: "layers.\(index).bias", shape: [2, width], value: [Float](repeating: 0, count: 2 * width))
        return returnSequences ? timesteps * units : units
    }

    /// Keras's `orthogonal` initializer for a wide matrix: orthonormal rows (Gram-Schmidt on normal draws).
    static func orthogonal(rows: Int, columns: Int, rng: inout RandomSource) -> [Float] {
        var m = (0..<rows * columns).map { _ in rng.normal() }
        for i in 0..<rows {
            for j in 0..<i {
                var dot = 0.0
                for k in 0..<columns { dot += m[i * columns + k] * m[j * columns + k] }
                for k in 0..<columns { m[i * columns + k] -= dot * m[j * columns + k] }
            }
            var norm = 0.0
            for k in 0..<columns { norm += m[i * columns + k] * m[i * columns + k] }
            norm = norm.squareRoot()
            for k in 0..<columns { m[i * columns + k] /= norm }
        }
        return m.map(Float.init)
    }

    public func forward(_ x: Tensor, training: Bool, rng: inout RandomSource) -> Tensor {
        let batch = x.rows
        let width = 3 * units
        // Every step's input projection at once: rows (sample, step).
        var projected = Tensor(rows: batch * timesteps, columns: width)
        for r in 0..<projected.rows {
            for c in 0..<width { projected.scalars[r * width + c] = bias.value[c] }
        }
        BLAS.gemm(
            Tensor(rows: batch * timesteps, columns: channels, scalars: x.scalars),
            Tensor(rows: channels, columns: width, scalars: kernel.value), into: &projected, beta: 1)
        let u = Tensor(rows: units, columns: width, scalars: recurrentKernel.value)
        var h = Tensor(rows: batch, columns: units)
        var out = Tensor(rows: batch, columns: returnSequences ? timesteps * units : units)
        if training {
            input = x
            states = []
            gates = []
            recurrentCandidate = []
        }
        var hu = Tensor(rows: batch, columns: width)
        for t in 0..<timesteps {
            for r in 0..<batch {
                for c in 0..<width { hu.scalars[r * width + c] = bias.value[width + c] }
            }
            BLAS.gemm(h, u, into: &hu, beta: 1)
            var g = Tensor(rows: batch, columns: width)
            var candidate = Tensor(rows: batch, columns: units)
            var next = Tensor(rows: batch, columns: units)
            for b in 0..<batch {
                let p = (b * timesteps + t) * width
                let q = b * width
                for k in 0..<units {
                    let z = Activation.sigmoid(projected.scalars[p + k] + hu.scalars[q + k])
                    let reset = Activation.sigmoid(projected.scalars[p + units + k] + hu.scalars[q + units + k])
                    let rc = hu.scalars[q + 2 * units + k]
                    let hat = Float.tanh(projected.scalars[p + 2 * units + k] + reset * rc)
                    let previous = h.scalars[b * units + k]
                    next.scalars[b * units + k] = z * previous + (1 - z) * hat
                    g.scalars[q + k] = z
                    g.scalars[q + units + k] = reset
                    g.scalars[q + 2 * units + k] = hat
                    candidate.scalars[b * units + k] = rc
                }
            }
            if training {
                states.append(h)
                gates.append(g)
                recurrentCandidate.append(candidate)
            }
            h = next
            if returnSequences {
                for b in 0..<batch {
                    for k in 0..<units { out.scalars[b * timesteps * units + t * units + k] = h.scalars[b * units + k] }
                }
            }
        }
        return returnSequences ? out : h
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        let batch = input.rows
        let width = 3 * units
        let u = Tensor(rows: units, columns: width, scalars: recurrentKernel.value)
        var dProjected = Tensor(rows: batch * timesteps, columns: width)
        var dU = Tensor(rows: units, columns: width)
        var dRecurrentBias = [Float](repeating: 0, count: width)
        var dh = Tensor(rows: batch, columns: units)
        if !returnSequences { dh = gradient }
        var dHU = Tensor(rows: batch, columns: width)
        for t in stride(from: timesteps - 1, through: 0, by: -1) {
            if returnSequences {
                for b in 0..<batch {
                    for k in 0..<units {
                        dh.scalars[b * units + k] += gradient.scalars[b * timesteps * units + t * units + k]
                    }
                }
            }
            let g = gates[t]
            let previous = states[t]
            let rc = recurrentCandidate[t]
            var dPrevious = Tensor(rows: batch, columns: units)
            for b in 0..<batch {
                let p = (b * timesteps + t) * width
                let q = b * width
                for k in 0..<units {
                    let z = g.scalars[q + k]
                    let reset = g.scalars[q + units + k]
                    let hat = g.scalars[q + 2 * units + k]
                    let d = dh.scalars[b * units + k]
                    let dHatPre = d * (1 - z) * (1 - hat * hat)
                    let dzPre = d * (previous.scalars[b * units + k] - hat) * z * (1 - z)
                    let drPre = dHatPre * rc.scalars[b * units + k] * reset * (1 - reset)
                    dProjected.scalars[p + k] = dzPre
                    dProjected.scalars[p + units + k] = drPre
                    dProjected.scalars[p + 2 * units + k] = dHatPre
                    dHU.scalars[q + k] = dzPre
                    dHU.scalars[q + units + k] = drPre
                    dHU.scalars[q + 2 * units + k] = dHatPre * reset
                    dPrevious.scalars[b * units + k] = d * z
                }
            }
            BLAS.gemm(previous, transposeA: true, dHU, into: &dU, beta: 1)
            for r in 0..<batch {
                for c in 0..<width { dRecurrentBias[c] += dHU.scalars[r * width + c] }
            }
            BLAS.gemm(dHU, u, transposeB: true, into: &dPrevious, beta: 1)
            dh = dPrevious
        }
        let steps = Tensor(rows: batch * timesteps, columns: channels, scalars: input.scalars)
        var dW = Tensor(rows: channels, columns: width)
        BLAS.gemm(steps, transposeA: true, dProjected, into: &dW)
        kernel.gradient = dW.scalars
        recurrentKernel.gradient = dU.scalars
        var dBias = [Float](repeating: 0, count: 2 * width)
        for r in 0..<dProjected.rows {
            for c in 0..<width { dBias[c] += dProjected.scalars[r * width + c] }
        }
        for c in 0..<width { dBias[width + c] = dRecurrentBias[c] }
        bias.gradient = dBias
        var dx = Tensor(rows: batch * timesteps, columns: channels)
        BLAS.gemm(
            dProjected, Tensor(rows: channels, columns: width, scalars: kernel.value), transposeB: true, into: &dx)
        return Tensor(rows: batch, columns: timesteps * channels, scalars: dx.scalars)
    }

    public var parameters: [Parameter] { [kernel, recurrentKernel, bias] }
    public var configuration: LayerConfiguration {
        .gru(units: units, channels: channels, returnSequences: returnSequences)
    }
}
