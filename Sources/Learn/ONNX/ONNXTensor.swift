import ONNXProto

/// A tensor of any rank inside the ONNX interpreter: float values, or integers (shapes, indices, axes) that also keep
/// their exact integer values.
struct ONNXTensor: Sendable {
    var shape: [Int]
    var values: [Float]
    /// The exact values of an integer tensor (int64, int32, bool); nil for a float tensor.
    var integers: [Int]?

    init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    init(shape: [Int], integers: [Int]) {
        self.shape = shape
        self.values = integers.map(Float.init)
        self.integers = integers
    }

    init(_ t: Tensor) { self.init(shape: [t.rows, t.columns], values: t.scalars) }

    init(_ proto: Onnx_TensorProto, source: String) throws {
        shape = proto.dims.map { Int($0) }
        let count = shape.reduce(1, *)
        func raw<T: FixedWidthInteger>(_: T.Type) -> [Int] {
            proto.rawData.withUnsafeBytes { raw in
                (0..<count).map {
                    Int(T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)))
                }
            }
        }
        switch proto.dataType {
        case Int32(Onnx_TensorProto.DataType.float.rawValue):
            if !proto.rawData.isEmpty {
                guard proto.rawData.count == count * 4 else {
                    throw LearnError(
                        "\(source): tensor '\(proto.name)' has \(proto.rawData.count) bytes for \(count) floats")
                }
                values = [Float](repeating: 0, count: count)
                values.withUnsafeMutableBytes { dst in proto.rawData.withUnsafeBytes { dst.copyMemory(from: $0) } }
            } else {
                values = proto.floatData
            }
        case Int32(Onnx_TensorProto.DataType.int64.rawValue):
            let ints = proto.rawData.isEmpty ? proto.int64Data.map { Int($0) } : raw(Int64.self)
            integers = ints
            values = ints.map(Float.init)
        case Int32(Onnx_TensorProto.DataType.int32.rawValue):
            let ints = proto.rawData.isEmpty ? proto.int32Data.map { Int($0) } : raw(Int32.self)
            integers = ints
            values = ints.map(Float.init)
        default:
            throw LearnError(
                "\(source): tensor '\(proto.name)' has ONNX data type \(proto.dataType); only float32, int64 and int32 are supported"
            )
        }
        guard values.count == count else {
            throw LearnError("\(source): tensor '\(proto.name)' has \(values.count) values for shape \(shape)")
        }
    }

    var count: Int { values.count }

    /// Row-major strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
        return s
    }

    /// An axis as ONNX gives it (negative counts from the end) for a tensor of `rank`.
    static func axis(_ a: Int, rank: Int, op: String) throws -> Int {
        let axis = a < 0 ? a + rank : a
        guard axis >= 0 && axis < max(rank, 1) else {
            throw LearnError("ONNX \(op): axis \(a) is out of range for rank \(rank)")
        }
        return axis
    }

    func map(_ f: (Float) -> Float) -> ONNXTensor {
        var t = self
        t.values = values.map(f)
        t.integers = nil
        return t
    }

    /// The same elements in a new shape.
    func reshaped(_ shape: [Int]) -> ONNXTensor {
        var t = self
        t.shape = shape
        return t
    }

    /// The elements at `sources` (flat indices into this tensor), in a tensor of `shape`.
    func gathering(_ sources: [Int], shape: [Int]) -> ONNXTensor {
        var t = ONNXTensor(shape: shape, values: sources.map { values[$0] })
        if let integers { t.integers = sources.map { integers[$0] } }
        return t
    }

    /// The flat source index of every element of a tensor of `shape` whose index i maps to sum(i[k] * steps[k]) +
    /// offset in this one (transpose, slice, broadcast all are such maps).
    static func indexMap(shape: [Int], steps: [Int], offset: Int = 0) -> [Int] {
        let count = shape.reduce(1, *)
        var out = [Int](repeating: 0, count: count)
        guard count > 0 else { return out }
        var index = [Int](repeating: 0, count: shape.count)
        var source = offset
        for e in 0..<count {
            out[e] = source
            var k = shape.count - 1
            while k >= 0 {
                index[k] += 1
                source += steps[k]
                if index[k] < shape[k] { break }
                source -= steps[k] * shape[k]
                index[k] = 0
                k -= 1
            }
        }
        return out
    }

    func matrix() throws -> Tensor {
        switch shape.count {
        case 1: return Tensor(rows: 1, columns: shape[0], scalars: values)
        case 2: return Tensor(rows: shape[0], columns: shape[1], scalars: values)
        default: throw LearnError("a rank-\(shape.count) tensor \(shape) where a matrix is needed")
        }
    }

    /// Element-wise with numpy broadcasting, any rank. Integer inputs give an integer result.
    static func broadcast(_ a: ONNXTensor, _ b: ONNXTensor, _ op: (Float, Float) -> Float) throws -> ONNXTensor {
        let rank = max(a.shape.count, b.shape.count)
        func padded(_ s: [Int]) -> [Int] { Array(repeating: 1, count: rank - s.count) + s }
        let sa = padded(a.shape), sb = padded(b.shape)
        var shape: [Int] = []
        for (x, y) in zip(sa, sb) {
            guard x == y || x == 1 || y == 1 else {
                throw LearnError("shapes \(a.shape) and \(b.shape) do not broadcast")
            }
            shape.append(x == 1 ? y : x)
        }
        let strideA = strides(sa), strideB = strides(sb)
        let ia = indexMap(shape: shape, steps: (0..<rank).map { sa[$0] == 1 ? 0 : strideA[$0] })
        let ib = indexMap(shape: shape, steps: (0..<rank).map { sb[$0] == 1 ? 0 : strideB[$0] })
        var out = ONNXTensor(shape: shape, values: zip(ia, ib).map { op(a.values[$0], b.values[$1]) })
        if a.integers != nil && b.integers != nil { out.integers = out.values.map { Int($0) } }
        return out
    }

    func transposed(_ perm: [Int]) throws -> ONNXTensor {
        guard perm.sorted() == Array(0..<shape.count) else {
            throw LearnError("ONNX Transpose: perm \(perm) does not fit a rank-\(shape.count) tensor")
        }
        let s = Self.strides(shape)
        let out = perm.map { shape[$0] }
        return gathering(Self.indexMap(shape: out, steps: perm.map { s[$0] }), shape: out)
    }

    /// ONNX Slice: per axis, start and end clamped as the operator says, any step but 0.
    func sliced(starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?) throws -> ONNXTensor {
        var begin = [Int](repeating: 0, count: shape.count)
        var size = shape
        var step = [Int](repeating: 1, count: shape.count)
        for (i, a) in (axes ?? Array(0..<starts.count)).enumerated() {
            let axis = try Self.axis(a, rank: shape.count, op: "Slice")
            let dim = shape[axis]
            let st = steps?[i] ?? 1
            guard st != 0 else { throw LearnError("ONNX Slice: step 0") }
            func clamp(_ v: Int) -> Int {
                let v = v < 0 ? v + dim : v
                return st > 0 ? min(max(v, 0), dim) : min(max(v, -1), dim - 1)
            }
            let s = clamp(starts[i]), e = clamp(ends[i])
            begin[axis] = s
            step[axis] = st
            size[axis] = st > 0 ? max(0, (e - s + st - 1) / st) : max(0, (s - e - st - 1) / -st)
        }
        let strides = Self.strides(shape)
        let offset = (0..<shape.count).reduce(0) { $0 + begin[$1] * strides[$1] }
        return gathering(
            Self.indexMap(shape: size, steps: (0..<shape.count).map { strides[$0] * step[$0] }, offset: offset),
            shape: size)
    }

    static func concatenated(_ parts: [ONNXTensor], axis a: Int) throws -> ONNXTensor {
        guard let first = parts.first else { throw LearnError("ONNX Concat of nothing") }
        let axis = try Self.axis(a, rank: first.shape.count, op: "Concat")
        for p in parts
        where p.shape.count != first.shape.count
            || zip(p.shape, first.shape).enumerated().contains(where: {
                $0.offset != axis && $0.element.0 != $0.element.1
            })
        {
            throw LearnError("ONNX Concat: shapes \(first.shape) and \(p.shape) differ off axis \(axis)")
        }
        let outer = first.shape[..<axis].reduce(1, *)
        var shape = first.shape
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        var values: [Float] = []
        values.reserveCapacity(shape.reduce(1, *))
        let integral = parts.allSatisfy { $0.integers != nil }
        var integers: [Int] = []
        for o in 0..<outer {
            for p in parts {
                let inner = p.shape[axis...].reduce(1, *)
                values += p.values[(o * inner)..<((o + 1) * inner)]
                if integral { integers += p.integers![(o * inner)..<((o + 1) * inner)] }
            }
        }
        var out = ONNXTensor(shape: shape, values: values)
        if integral { out.integers = integers }
        return out
    }
}
