import CBLAS

extension InferenceModel {
    /// Buffers for batched scoring and input gradients: per stage, its pre-activation, output and input gradient.
    /// Reused across calls: they only grow, to the largest row count yet, and a call uses its first rows (an
    /// optimizer's batches shrink as its starts settle, and grow again on the next solve; resizing them on every
    /// call zero-filled the growth each time). A workspace serves one model.
    public struct BatchWorkspace: Sendable {
        var z: [Tensor] = []
        var y: [Tensor] = []
        /// d output / d stage input, per stage.
        var g: [Tensor] = []
        var seed = Tensor(rows: 0, columns: 0)
        /// The shared-input path's buffers (`evaluate(..., varying:)`).
        var shared = Shared()
        /// The last evaluation without gradients, whose activations are kept for `gradients(ofRows:)`: its row
        /// count, output and shared-input columns. Nil once used, or after an evaluation with gradients.
        var pending: (rows: Int, output: Int, split: [Int]?)?
        public init() {}

        /// Each stage's buffers for at least `rows` rows.
        mutating func size(for stages: [Stage], rows: Int, outputs: Int) {
            if z.count != stages.count {
                z = stages.map { Tensor(rows: rows, columns: $0.units) }
                y = z
                g = stages.map { Tensor(rows: rows, columns: $0.inputs) }
                seed = Tensor(rows: rows, columns: outputs)
            } else if z[0].rows < rows {
                for s in stages.indices {
                    z[s].resize(rows: rows)
                    y[s].resize(rows: rows)
                    g[s].resize(rows: rows)
                }
                seed.resize(rows: rows)
            }
        }

        struct Shared: Sendable {
            /// The first layer's bias plus its product over the shared columns.
            var base: [Float] = []
            /// rows x varying: the varying columns of the input.
            var x: [Float] = []
            /// varying x units: the kernel's rows of the varying columns; and its transpose.
            var kernel: [Float] = []
            var transposed: [Float] = []
            /// rows x varying: d output / d varying input.
            var gradient: [Float] = []
            /// What `base` and `kernel` were built from: the weights (their storage), the varying columns and the
            /// first row (an optimizer's search calls with the same shared values on every iteration).
            var builtFor: (weights: Int, varying: [Int], row: [Float]) = (0, [], [])
        }
    }

    /// Scores `rows` samples at once (row-major, `inputSize` wide) and writes output column `output` of each into
    /// `values`. With `gradients`, also writes d value / d input for every sample (rows x inputSize, row-major).
    /// Without, the workspace keeps the activations, and `gradients(ofRows:into:workspace:)` can then give the
    /// gradients of some of the rows only (an optimizer wants them only where a trial point was accepted).
    ///
    /// Matrix products go through OpenBLAS. This is the path for optimizers, which score many candidate inputs per
    /// step and need the model's sensitivity to each input (backpropagation to the inputs, weights fixed).
    ///
    /// `varying`: the input columns that differ between rows, when the caller knows the others are the same in
    /// every row (an optimizer's candidates share the machine's state and move only its setpoints). The first dense
    /// layer's product over the shared columns is then done once, from the first row, and the gradients are written
    /// only in the varying columns (0 in the others).
    public func evaluate(
        _ x: UnsafeBufferPointer<Float>, rows: Int, output: Int = 0, values: UnsafeMutableBufferPointer<Float>,
        gradients: UnsafeMutableBufferPointer<Float>?, varying: [Int]? = nil, workspace: inout BatchWorkspace
    ) {
        precondition(x.count >= rows * inputSize && values.count >= rows && output < outputSize)
        precondition(gradients.map { $0.count >= rows * inputSize } ?? true)
        precondition(
            denseOnly,
            "batched evaluation with input gradients takes Dense and BatchNormalization models, not Conv1D or GRU")
        _ = BLAS.configured
        let split = varying.flatMap { v in stages[0].scale == nil && v.count < stages[0].inputs ? v : nil }
        precondition(
            split.map { v in v.indices.allSatisfy { v[$0] >= 0 && v[$0] < inputSize && ($0 == 0 || v[$0 - 1] < v[$0]) }
            }
                ?? true, "varying columns must be increasing input positions")
        forward(x, rows: rows, split: split, workspace: &workspace)
        workspace.y[stages.count - 1].scalars.withUnsafeBufferPointer { out in
            for r in 0..<rows { values[r] = out[r * outputSize + output] }
        }
        guard let gradients else {
            workspace.pending = (rows, output, split)
            return
        }
        workspace.pending = nil
        backward(rows: rows, output: output, split: split, into: gradients, workspace: &workspace)
    }

    /// After `evaluate` without gradients: d value / d input for the rows `selected` (increasing positions among
    /// that call's rows), written in that order into `gradients` (selected.count x inputSize, row-major; 0 in the
    /// shared columns when that call had `varying`). The backward pass runs over the selected rows only. Once per
    /// evaluation: it moves the selected rows' activations together.
    public func gradients(
        ofRows selected: [Int], into gradients: UnsafeMutableBufferPointer<Float>, workspace: inout BatchWorkspace
    ) {
        guard let pending = workspace.pending else {
            preconditionFailure("gradients(ofRows:) follows an evaluate without gradients, once")
        }
        precondition(gradients.count >= selected.count * inputSize)
        precondition(
            selected.indices.allSatisfy { i in
                selected[i] >= 0 && selected[i] < pending.rows && (i == 0 || selected[i - 1] < selected[i])
            }, "the selected rows must be increasing positions among the evaluated rows")
        workspace.pending = nil
        guard !selected.isEmpty else { return }
        // Each stage's kept rows moved to the front, in order (a row only ever moves towards the start); a ReLU
        // stage's output only (see `finish`).
        stages.withUnsafeBufferPointer { stages in
            for s in stages.indices {
                let (n, keepsZ) = (stages[s].units, !Self.finishesInOutput(stages[s]))
                workspace.z[s].scalars.withUnsafeMutableBufferPointer { z in
                    workspace.y[s].scalars.withUnsafeMutableBufferPointer { y in
                        for (i, r) in selected.enumerated() where i != r {
                            if keepsZ { (z.baseAddress! + i * n).update(from: z.baseAddress! + r * n, count: n) }
                            (y.baseAddress! + i * n).update(from: y.baseAddress! + r * n, count: n)
                        }
                    }
                }
            }
        }
        backward(
            rows: selected.count, output: pending.output, split: pending.split, into: gradients, workspace: &workspace)
    }

    /// Every stage forward over `rows` rows, into the workspace's pre-activations and outputs.
    private func forward(_ x: UnsafeBufferPointer<Float>, rows: Int, split: [Int]?, workspace w: inout BatchWorkspace) {
        w.size(for: stages, rows: rows, outputs: outputSize)
        // The stages through a buffer pointer: borrowed, where a copy of each (`for stage in stages`) retained and
        // released its four arrays, several times per call.
        stages.withUnsafeBufferPointer { stages in
            for s in stages.indices {
                if s == 0, let split {
                    Self.forwardShared(
                        stages[s], x.baseAddress!, rows: rows, varying: split, scratch: &w.shared, into: &w.z[0],
                        activated: &w.y[0])
                } else if s == 0 {
                    Self.forward(stages[s], x.baseAddress!, rows: rows, into: &w.z[0], activated: &w.y[0])
                } else {
                    w.y[s - 1].scalars.withUnsafeBufferPointer {
                        Self.forward(stages[s], $0.baseAddress!, rows: rows, into: &w.z[s], activated: &w.y[s])
                    }
                }
            }
        }
    }

    /// d output / d input for the first `rows` rows of the workspace's activations, into `gradients`.
    private func backward(
        rows: Int, output: Int, split: [Int]?, into gradients: UnsafeMutableBufferPointer<Float>,
        workspace w: inout BatchWorkspace
    ) {
        let last = stages.count - 1
        w.seed.scalars.withUnsafeMutableBufferPointer { seed in
            for i in 0..<rows * outputSize { seed[i] = i % outputSize == output ? 1 : 0 }
        }
        stages.withUnsafeBufferPointer { stages in
            for s in stride(from: last, through: 0, by: -1) {
                // d output / d stage output -> d output / d pre-activation, then through the weights.
                var upstream: Tensor
                if s == last {
                    upstream = w.seed
                    w.seed = Tensor(rows: 0, columns: 0)  // unique: written in place, not copied
                } else {
                    upstream = w.g[s + 1]
                    w.g[s + 1] = Tensor(rows: 0, columns: 0)
                }
                Self.activationBackward(
                    stages[s].activation, &upstream, count: rows * stages[s].units, columns: stages[s].units,
                    z: w.z[s], y: w.y[s])
                if s == 0, let split {
                    Self.backwardShared(
                        stages[s], upstream, rows: rows, varying: split, scratch: &w.shared, into: gradients)
                } else {
                    Self.backward(stages[s], upstream, rows: rows, into: &w.g[s])
                }
                if s == last { w.seed = upstream } else { w.g[s + 1] = upstream }
            }
        }
        guard split == nil else { return }
        w.g[0].scalars.withUnsafeBufferPointer { src in
            gradients.baseAddress!.update(from: src.baseAddress!, count: rows * inputSize)
        }
    }

    /// The first dense stage when only the `varying` columns differ between rows: the bias plus the product over
    /// the shared columns once (from row 0), then one product over the varying columns (rows x varying by varying
    /// x units).
    private static func forwardShared(
        _ stage: Stage, _ input: UnsafePointer<Float>, rows: Int, varying: [Int], scratch: inout BatchWorkspace.Shared,
        into z: inout Tensor, activated y: inout Tensor
    ) {
        let (n, inputs, v) = (stage.units, stage.inputs, varying.count)
        if scratch.base.count < n || scratch.kernel.count < v * n {
            scratch.base = [Float](repeating: 0, count: max(n, scratch.base.count))
            scratch.kernel = [Float](repeating: 0, count: max(v * n, scratch.kernel.count))
            scratch.transposed = scratch.kernel
            scratch.builtFor = (0, [], [])
        }
        if scratch.x.count < rows * v { scratch.x = [Float](repeating: 0, count: rows * v) }
        let weights = stage.kernel.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) }
        var built =
            scratch.builtFor.weights == weights && scratch.builtFor.varying == varying
            && scratch.builtFor.row.count == inputs
        var j = 0
        for c in 0..<inputs where built {
            if j < v && varying[j] == c { j += 1 } else { built = scratch.builtFor.row[c] == input[c] }
        }
        if !built { scratch.builtFor = (weights, varying, Array(UnsafeBufferPointer(start: input, count: inputs))) }
        withUnsafeBuffers(&scratch.base, &scratch.kernel, &scratch.transposed, &scratch.x) {
            base, kernel, transposed, x in
            if !built {
                Self.buildShared(stage, input, varying: varying, base: base, kernel: kernel, transposed: transposed)
            }
            for r in 0..<rows {
                for (j, c) in varying.enumerated() { x[r * v + j] = input[r * inputs + c] }
            }
        }
        scratch.x.withUnsafeBufferPointer { xv in
            scratch.kernel.withUnsafeBufferPointer { kv in
                // Into the output or the pre-activation (see `finish`), each written in place.
                let product = { (out: inout UnsafeMutableBufferPointer<Float>) in
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(n), Int32(v), 1, xv.baseAddress,
                        Int32(v), kv.baseAddress, Int32(n), 0, out.baseAddress, Int32(n))
                }
                if finishesInOutput(stage) {
                    y.scalars.withUnsafeMutableBufferPointer(product)
                } else {
                    z.scalars.withUnsafeMutableBufferPointer(product)
                }
            }
        }
        scratch.base.withUnsafeBufferPointer { Self.finish(stage, bias: $0.baseAddress, rows: rows, z: &z, y: &y) }
    }

    /// The first stage's bias plus its product over the shared columns of `input`'s first row, and the kernel's
    /// rows of the varying columns (varying x units) and their transpose.
    private static func buildShared(
        _ stage: Stage, _ input: UnsafePointer<Float>, varying: [Int], base: UnsafeMutableBufferPointer<Float>,
        kernel: UnsafeMutableBufferPointer<Float>, transposed: UnsafeMutableBufferPointer<Float>
    ) {
        let (n, v) = (stage.units, varying.count)
        stage.kernel.withUnsafeBufferPointer { k in
            stage.bias.withUnsafeBufferPointer { b in base.baseAddress!.update(from: b.baseAddress!, count: n) }
            var j = 0  // the varying columns, in order
            for c in 0..<stage.inputs {
                let row = k.baseAddress! + c * n
                if j < v && varying[j] == c {
                    (kernel.baseAddress! + j * n).update(from: row, count: n)
                    for u in 0..<n { transposed[u * v + j] = row[u] }
                    j += 1
                } else {
                    let xc = input[c]
                    for u in 0..<n { base[u] += xc * row[u] }
                }
            }
        }
    }

    /// d output / d varying input of the first stage, written into `gradients` (rows x inputSize; 0 in the shared
    /// columns).
    private static func backwardShared(
        _ stage: Stage, _ upstream: Tensor, rows: Int, varying: [Int], scratch: inout BatchWorkspace.Shared,
        into gradients: UnsafeMutableBufferPointer<Float>
    ) {
        let (n, inputs, v) = (stage.units, stage.inputs, varying.count)
        if scratch.gradient.count < rows * v { scratch.gradient = [Float](repeating: 0, count: rows * v) }
        upstream.scalars.withUnsafeBufferPointer { u in
            scratch.transposed.withUnsafeBufferPointer { w in
                scratch.gradient.withUnsafeMutableBufferPointer { out in
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(v), Int32(n), 1, u.baseAddress,
                        Int32(n), w.baseAddress, Int32(v), 0, out.baseAddress, Int32(v))
                }
            }
        }
        gradients.baseAddress!.update(repeating: 0, count: rows * inputs)
        scratch.gradient.withUnsafeBufferPointer { g in
            for r in 0..<rows {
                for (j, c) in varying.enumerated() { gradients[r * inputs + c] = g[r * v + j] }
            }
        }
    }

    /// Four buffers at once, each uniquely referenced while written.
    private static func withUnsafeBuffers(
        _ a: inout [Float], _ b: inout [Float], _ c: inout [Float], _ d: inout [Float],
        _ body: (
            UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>,
            UnsafeMutableBufferPointer<Float>
        ) -> Void
    ) {
        a.withUnsafeMutableBufferPointer { a in
            b.withUnsafeMutableBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in d.withUnsafeMutableBufferPointer { d in body(a, b, c, d) } }
            }
        }
    }

    /// One stage's output `y` (and pre-activation `z`, see `finish`). A dense stage's product is written by the
    /// matrix product alone (beta 0, which OpenBLAS's small-matrix kernels take), then one pass adds the bias and
    /// applies the activation: no row-by-row copies of the bias (those copies were 4 % of an optimizer's time,
    /// mostly per-call overhead on rows of 64 values).
    private static func forward(
        _ stage: Stage, _ input: UnsafePointer<Float>, rows: Int, into z: inout Tensor, activated y: inout Tensor
    ) {
        let n = stage.units
        if let scale = stage.scale {
            z.scalars.withUnsafeMutableBufferPointer { out in
                for r in 0..<rows {
                    for i in 0..<n { out[r * n + i] = input[r * n + i] * scale[i] + stage.bias[i] }
                }
            }
            finish(stage, bias: nil, rows: rows, z: &z, y: &y)
            return
        }
        stage.kernel.withUnsafeBufferPointer { w in
            // Into the output or the pre-activation (see `finish`), each written in place.
            let product = { (out: inout UnsafeMutableBufferPointer<Float>) in
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(n), Int32(stage.inputs), 1, input,
                    Int32(stage.inputs), w.baseAddress, Int32(n), 0, out.baseAddress, Int32(n))
            }
            if finishesInOutput(stage) {
                y.scalars.withUnsafeMutableBufferPointer(product)
            } else {
                z.scalars.withUnsafeMutableBufferPointer(product)
            }
        }
        stage.bias.withUnsafeBufferPointer { b in Self.finish(stage, bias: b.baseAddress, rows: rows, z: &z, y: &y) }
    }

    /// Whether a stage's product is written into its output and finished there: a dense ReLU stage's. Its
    /// pre-activation is not kept, as the backward pass masks by the output (0 exactly where the pre-activation is
    /// not positive); a store less per value on the optimizer's path.
    private static func finishesInOutput(_ stage: Stage) -> Bool { stage.activation == .relu && stage.scale == nil }

    /// The first `rows` rows: the bias added (when given) to the product, then the activation. A stage that
    /// `finishesInOutput` has its product in `y` and is finished in place; any other has it in `z`, kept, and `y`
    /// gets its activation (ReLU in the same pass, others after).
    private static func finish(
        _ stage: Stage, bias: UnsafePointer<Float>?, rows: Int, z: inout Tensor, y: inout Tensor
    ) {
        let n = stage.units
        let relu = stage.activation == .relu
        if finishesInOutput(stage) {
            y.scalars.withUnsafeMutableBufferPointer { yb in
                for r in 0..<rows {
                    let row = yb.baseAddress! + r * n
                    Self.addBias(bias, to: row, z: nil, y: row, count: n, relu: true)
                }
            }
            return
        }
        z.scalars.withUnsafeMutableBufferPointer { zb in
            y.scalars.withUnsafeMutableBufferPointer { yb in
                for r in 0..<rows {
                    let row = zb.baseAddress! + r * n
                    Self.addBias(bias, to: row, z: row, y: yb.baseAddress! + r * n, count: n, relu: relu)
                }
                if !relu { stage.activation.apply(yb.baseAddress!, count: rows * n, columns: n) }
            }
        }
    }

    /// v = product + bias (when given) into `z` (when given), and relu(v) (or v) into `y`; `y` may be `product`.
    @inline(__always) private static func addBias(
        _ bias: UnsafePointer<Float>?, to product: UnsafePointer<Float>, z: UnsafeMutablePointer<Float>?,
        y: UnsafeMutablePointer<Float>, count n: Int, relu: Bool
    ) {
        var i = 0
        while i + 16 <= n {
            var v = UnsafeRawPointer(product + i).loadUnaligned(as: SIMD16<Float>.self)
            if let bias { v += UnsafeRawPointer(bias + i).loadUnaligned(as: SIMD16<Float>.self) }
            if let z { UnsafeMutableRawPointer(z + i).storeBytes(of: v, as: SIMD16<Float>.self) }
            if relu { v.replace(with: 0, where: v .< 0) }
            UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            var v = product[i]
            if let bias { v += bias[i] }
            z?[i] = v
            y[i] = relu ? max(v, 0) : v
            i += 1
        }
    }

    /// d output / d stage output (the first `count` values of `g`, rows of `columns`) -> d output / d
    /// pre-activation, in place (ReLU reads only the output: see `finishesInOutput`).
    private static func activationBackward(
        _ activation: Activation, _ g: inout Tensor, count: Int, columns: Int, z: Tensor, y: Tensor
    ) {
        g.scalars.withUnsafeMutableBufferPointer { gb in
            z.scalars.withUnsafeBufferPointer { zb in
                y.scalars.withUnsafeBufferPointer { yb in
                    activation.backward(
                        gb.baseAddress!, z: zb.baseAddress!, y: yb.baseAddress!, count: count, columns: columns)
                }
            }
        }
    }

    /// d output / d stage input = (d output / d pre-activation) x W.
    private static func backward(_ stage: Stage, _ upstream: Tensor, rows: Int, into g: inout Tensor) {
        upstream.scalars.withUnsafeBufferPointer { u in
            g.scalars.withUnsafeMutableBufferPointer { out in
                if let scale = stage.scale {
                    let n = stage.units
                    for r in 0..<rows {
                        for i in 0..<n { out[r * n + i] = u[r * n + i] * scale[i] }
                    }
                    return
                }
                stage.weights.withUnsafeBufferPointer { w in
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(stage.inputs), Int32(stage.units),
                        1, u.baseAddress, Int32(stage.units), w.baseAddress, Int32(stage.inputs), 0, out.baseAddress,
                        Int32(stage.inputs))
                }
            }
        }
    }
}
