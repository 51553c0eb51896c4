import RealModule

/// Element-wise (and, for softmax, row-wise) activation functions, with Keras's names and defaults.
public enum Activation: String, Sendable, Codable, CaseIterable {
    case linear
    case relu
    /// Keras's LeakyReLU default slope 0.3 for negative inputs.
    case leakyRelu = "leaky_relu"
    /// Exact GELU, x * Phi(x) (Keras's default, approximate=False).
    case gelu
    case tanh
    case sigmoid
    case softmax

    static let leakySlope: Float = 0.3

    /// Applies the activation to `z` (rows x columns) in place.
    func apply(_ z: inout Tensor) {
        let columns = z.columns
        z.scalars.withUnsafeMutableBufferPointer { apply($0.baseAddress!, count: $0.count, columns: columns) }
    }

    /// Applies the activation to the `count` values at `p` (rows of `columns`) in place.
    func apply(_ p: UnsafeMutablePointer<Float>, count n: Int, columns: Int) {
        switch self {
        case .linear: break
        // Branch-free so the loops vectorize.
        case .relu: Self.relu(p, n)
        case .leakyRelu: for i in 0..<n { p[i] = p[i] < 0 ? p[i] * Self.leakySlope : p[i] }
        case .gelu: for i in 0..<n { p[i] = Self.gelu(p[i]) }
        case .tanh: for i in 0..<n { p[i] = Float.tanh(p[i]) }
        case .sigmoid: for i in 0..<n { p[i] = Self.sigmoid(p[i]) }
        case .softmax:
            guard columns > 0 else { return }
            for r in 0..<(n / columns) {
                Self.softmax(UnsafeMutableBufferPointer(start: p + r * columns, count: columns))
            }
        }
    }

    /// Turns dL/dy into dL/dz in place, given the pre-activation `z` and the output `y`.
    func backward(_ grad: inout Tensor, z: Tensor, y: Tensor) {
        let columns = grad.columns
        let n = grad.scalars.count
        grad.scalars.withUnsafeMutableBufferPointer { gb in
            z.scalars.withUnsafeBufferPointer { zb in
                y.scalars.withUnsafeBufferPointer { yb in
                    backward(gb.baseAddress!, z: zb.baseAddress!, y: yb.baseAddress!, count: n, columns: columns)
                }
            }
        }
    }

    /// Turns the `count` values of dL/dy at `g` (rows of `columns`) into dL/dz in place, given the pre-activation
    /// `z` and the output `y`. ReLU masks by the output, which is 0 exactly where the pre-activation is not positive:
    /// a caller may then keep only the output (`InferenceModel`'s ReLU stages do).
    func backward(
        _ g: UnsafeMutablePointer<Float>, z: UnsafePointer<Float>, y: UnsafePointer<Float>, count n: Int, columns: Int
    ) {
        switch self {
        case .linear: break
        case .relu: Self.reluBackward(g, y, n)
        case .leakyRelu: Self.leakyBackward(g, z, n)
        case .gelu:
            for i in 0..<n {
                let x = z[i]
                let pdf = Float.exp(-0.5 * x * x) * 0.398_942_28
                g[i] *= 0.5 * (1 + Float.erf(x * 0.707_106_77)) + x * pdf
            }
        case .tanh: for i in 0..<n { g[i] *= 1 - y[i] * y[i] }
        case .sigmoid: for i in 0..<n { g[i] *= y[i] * (1 - y[i]) }
        case .softmax:
            for r in 0..<(n / max(columns, 1)) {
                var dot: Float = 0
                for c in 0..<columns { dot += g[r * columns + c] * y[r * columns + c] }
                for c in 0..<columns {
                    g[r * columns + c] = y[r * columns + c] * (g[r * columns + c] - dot)
                }
            }
        }
    }

    // Explicit SIMD selects: the scalar ternaries compile to unpredictable branches.
    static func reluBackward(_ g: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + 16 <= n {
            let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            var gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
            gv.replace(with: 0, where: yv .<= 0)
            UnsafeMutableRawPointer(g + i).storeBytes(of: gv, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            if y[i] <= 0 { g[i] = 0 }
            i += 1
        }
    }

    static func leakyBackward(_ g: UnsafeMutablePointer<Float>, _ z: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + 16 <= n {
            let zv = UnsafeRawPointer(z + i).loadUnaligned(as: SIMD16<Float>.self)
            var gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
            gv.replace(with: gv * leakySlope, where: zv .<= 0)
            UnsafeMutableRawPointer(g + i).storeBytes(of: gv, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            if z[i] <= 0 { g[i] *= leakySlope }
            i += 1
        }
    }

    static func relu(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 16 <= n {
            var v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
            v.replace(with: 0, where: v .< 0)
            UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            p[i] = max(p[i], 0)
            i += 1
        }
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float {
        x >= 0
            ? 1 / (1 + Float.exp(-x))
            : {
                let e = Float.exp(x); return e / (1 + e)
            }()
    }

    @inline(__always) static func gelu(_ x: Float) -> Float { 0.5 * x * (1 + Float.erf(x * 0.707_106_77)) }

    @inline(__always) static func softmax(_ row: UnsafeMutableBufferPointer<Float>) {
        var maximum = -Float.infinity
        for v in row { maximum = max(maximum, v) }
        var sum: Float = 0
        for i in row.indices {
            row[i] = Float.exp(row[i] - maximum)
            sum += row[i]
        }
        for i in row.indices { row[i] /= sum }
    }
}
