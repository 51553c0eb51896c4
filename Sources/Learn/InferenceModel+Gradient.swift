import CBLAS

extension InferenceModel {
    /// Buffers for batched scoring and input gradients: per stage, its pre-activation, output and input gradient.
    /// Reused across calls: no allocation once it has held the largest row count (an optimizer's batches shrink as
    /// its starts settle, and grow again on the next solve).
    public struct BatchWorkspace: Sendable {
        var z: [Tensor] = []
        var y: [Tensor] = []
        /// d output / d stage input, per stage.
        var g: [Tensor] = []
        var seed = Tensor(rows: 0, columns: 0)
        public init() {}
        init(z: [Tensor], y: [Tensor], g: [Tensor], seed: Tensor) {
            self.z = z
            self.y = y
            self.g = g
            self.seed = seed
        }
    }

    /// Scores `rows` samples at once (row-major, `inputSize` wide) and writes output column `output` of each into
    /// `values`. With `gradients`, also writes d value / d input for every sample (rows x inputSize, row-major).
    ///
    /// Matrix products go through OpenBLAS. This is the path for optimizers, which score many candidate inputs per
    /// step and need the model's sensitivity to each input (backpropagation to the inputs, weights fixed).
    public func evaluate(
        _ x: UnsafeBufferPointer<Float>, rows: Int, output: Int = 0, values: UnsafeMutableBufferPointer<Float>,
        gradients: UnsafeMutableBufferPointer<Float>?, workspace: inout BatchWorkspace
    ) {
        precondition(x.count >= rows * inputSize && values.count >= rows && output < outputSize)
        precondition(gradients.map { $0.count >= rows * inputSize } ?? true)
        precondition(
            denseOnly,
            "batched evaluation with input gradients takes Dense and BatchNormalization models, not Conv1D or GRU")
        _ = BLAS.configured
        // Moved out of the workspace so that each buffer is uniquely referenced and written in place.
        var z = workspace.z
        var y = workspace.y
        var g = workspace.g
        var seed = workspace.seed
        workspace = BatchWorkspace()
        defer { workspace = BatchWorkspace(z: z, y: y, g: g, seed: seed) }
        if z.count != stages.count {
            z = stages.map { Tensor(rows: rows, columns: $0.units) }
            y = z
            g = stages.map { Tensor(rows: rows, columns: $0.inputs) }
            seed = Tensor(rows: rows, columns: outputSize)
        } else if z[0].rows != rows {
            for s in stages.indices {
                z[s].resize(rows: rows)
                y[s].resize(rows: rows)
                g[s].resize(rows: rows)
            }
            seed.resize(rows: rows)
        }
        for (s, stage) in stages.enumerated() {
            if s == 0 {
                Self.forward(stage, x.baseAddress!, rows: rows, into: &z[0], activated: &y[0])
            } else {
                y[s - 1].scalars.withUnsafeBufferPointer {
                    Self.forward(stage, $0.baseAddress!, rows: rows, into: &z[s], activated: &y[s])
                }
            }
        }
        let last = stages.count - 1
        y[last].scalars.withUnsafeBufferPointer { out in
            for r in 0..<rows { values[r] = out[r * outputSize + output] }
        }
        guard let gradients else { return }
        for i in seed.scalars.indices { seed.scalars[i] = i % outputSize == output ? 1 : 0 }
        for s in stride(from: last, through: 0, by: -1) {
            let stage = stages[s]
            // d output / d stage output -> d output / d pre-activation, then through the weights.
            var upstream: Tensor
            if s == last {
                upstream = seed
                seed = Tensor(rows: 0, columns: 0)  // unique: written in place, not copied
            } else {
                upstream = g[s + 1]
                g[s + 1] = Tensor(rows: 0, columns: 0)
            }
            stage.activation.backward(&upstream, z: z[s], y: y[s])
            Self.backward(stage, upstream, rows: rows, into: &g[s])
            if s == last { seed = upstream } else { g[s + 1] = upstream }
        }
        g[0].scalars.withUnsafeBufferPointer { src in
            gradients.baseAddress!.update(from: src.baseAddress!, count: rows * inputSize)
        }
    }

    /// One stage's pre-activation `z` and output `y`. A dense stage's product is written by the matrix product
    /// alone (beta 0, which OpenBLAS's small-matrix kernels take), then one pass adds the bias and writes the
    /// activation: no row-by-row copies of the bias and no copy of z into y (those copies were 4 % of an
    /// optimizer's time, mostly per-call overhead on rows of 64 values).
    private static func forward(
        _ stage: Stage, _ input: UnsafePointer<Float>, rows: Int, into z: inout Tensor, activated y: inout Tensor
    ) {
        let n = stage.units
        z.scalars.withUnsafeMutableBufferPointer { out in
            if let scale = stage.scale {
                for r in 0..<rows {
                    for i in 0..<n { out[r * n + i] = input[r * n + i] * scale[i] + stage.bias[i] }
                }
                return
            }
            stage.kernel.withUnsafeBufferPointer { w in
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(n), Int32(stage.inputs), 1, input,
                    Int32(stage.inputs), w.baseAddress, Int32(n), 0, out.baseAddress, Int32(n))
            }
        }
        let relu = stage.activation == .relu
        z.scalars.withUnsafeMutableBufferPointer { zb in
            y.scalars.withUnsafeMutableBufferPointer { yb in
                stage.bias.withUnsafeBufferPointer { b in
                    let bias = stage.scale == nil ? b.baseAddress : nil
                    for r in 0..<rows {
                        Self.addBias(
                            bias, z: zb.baseAddress! + r * n, y: yb.baseAddress! + r * n, count: n, relu: relu)
                    }
                }
            }
        }
        if !relu { stage.activation.apply(&y) }
    }

    /// z += bias (when given), then y = relu(z) or y = z.
    @inline(__always) private static func addBias(
        _ bias: UnsafePointer<Float>?, z: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, count n: Int,
        relu: Bool
    ) {
        var i = 0
        while i + 16 <= n {
            var v = UnsafeRawPointer(z + i).loadUnaligned(as: SIMD16<Float>.self)
            if let bias { v += UnsafeRawPointer(bias + i).loadUnaligned(as: SIMD16<Float>.self) }
            UnsafeMutableRawPointer(z + i).storeBytes(of: v, as: SIMD16<Float>.self)
            if relu { v.replace(with: 0, where: v .< 0) }
            UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            var v = z[i]
            if let bias { v += bias[i] }
            z[i] = v
            y[i] = relu ? max(v, 0) : v
            i += 1
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
