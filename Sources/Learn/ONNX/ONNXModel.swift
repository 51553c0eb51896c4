import Foundation
import ONNXProto

/// A model imported from ONNX (for instance a Keras model converted by tf2onnx), run by a small interpreter over
/// the operators MLPs use: Gemm, MatMul, Add, Sub, Mul, Div, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, Erf,
/// BatchNormalization, Flatten, Reshape, Identity, Cast (to float), Dropout (identity). Tensors of rank 1 and 2.
public struct ONNXModel: Sendable {
    struct Node: Sendable {
        var op: String
        var name: String
        var inputs: [String]
        var outputs: [String]
        var floats: [String: Float]
        var ints: [String: Int]
        var intLists: [String: [Int]]
    }

    public static let supportedOperators = [
        "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax", "Erf",
        "BatchNormalization", "Flatten", "Reshape", "Identity", "Cast", "Dropout",
    ]

    let nodes: [Node]
    let constants: [String: ONNXTensor]
    public let inputName: String
    public let outputName: String
    /// The input's feature count (nil if the file leaves it open).
    public let inputSize: Int?
    public let producer: String
    public let opset: Int

    /// Parses an ONNX file; errors name the file (`source`) and what is wrong.
    public init(bytes: [UInt8], source: String) throws {
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: bytes)
        } catch {
            throw LearnError("\(source) is not an ONNX model: \(error)")
        }
        let graph = model.graph
        var constants: [String: ONNXTensor] = [:]
        for t in graph.initializer { constants[t.name] = try ONNXTensor(t, source: source) }
        var nodes: [Node] = []
        for n in graph.node {
            guard n.domain.isEmpty || n.domain == "ai.onnx" else {
                throw LearnError("\(source): operator \(n.domain).\(n.opType) (node '\(n.name)') is not supported")
            }
            if n.opType == "Constant" {
                guard let attribute = n.attribute.first(where: { $0.name == "value" }), let output = n.output.first
                else {
                    throw LearnError("\(source): Constant node '\(n.name)' has no tensor value")
                }
                constants[output] = try ONNXTensor(attribute.t, source: source)
                continue
            }
            guard Self.supportedOperators.contains(n.opType) else {
                throw LearnError(
                    "\(source): operator '\(n.opType)' (node '\(n.name)') is not supported; supported: \(Self.supportedOperators.joined(separator: ", "))"
                )
            }
            var floats: [String: Float] = [:]
            var ints: [String: Int] = [:]
            var lists: [String: [Int]] = [:]
            for a in n.attribute {
                switch a.type {
                case .float: floats[a.name] = a.f
                case .int: ints[a.name] = Int(a.i)
                case .ints: lists[a.name] = a.ints.map { Int($0) }
                default: break
                }
            }
            nodes.append(
                Node(
                    op: n.opType, name: n.name, inputs: n.input, outputs: n.output, floats: floats, ints: ints,
                    intLists: lists))
        }
        let inputs = graph.input.filter { constants[$0.name] == nil }
        guard inputs.count == 1, let output = graph.output.first else {
            throw LearnError(
                "\(source): a model with exactly one input and at least one output is needed (has \(inputs.count) inputs, \(graph.output.count) outputs)"
            )
        }
        let dims = inputs[0].type.tensorType.shape.dim
        self.nodes = nodes
        self.constants = constants
        self.inputName = inputs[0].name
        self.outputName = output.name
        if dims.count == 2, case .dimValue(let v)? = dims[1].value {
            self.inputSize = Int(v)
        } else {
            self.inputSize = nil
        }
        self.producer = model.producerName + (model.producerVersion.isEmpty ? "" : " " + model.producerVersion)
        self.opset = Int(model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version ?? 0)
    }

    /// Runs the graph on a batch (rows x features).
    public func predict(_ x: Tensor) throws -> Tensor {
        if let inputSize, x.columns != inputSize {
            throw LearnError("the ONNX model takes \(inputSize) features per row, got \(x.columns)")
        }
        var values = constants
        values[inputName] = ONNXTensor(shape: [x.rows, x.columns], values: x.scalars)
        for node in nodes {
            let result = try run(node, values)
            for (name, tensor) in zip(node.outputs, result) where !name.isEmpty { values[name] = tensor }
        }
        guard let out = values[outputName] else {
            throw LearnError("the ONNX graph never computes its output '\(outputName)'")
        }
        return try out.matrix()
    }

    private func run(_ node: Node, _ values: [String: ONNXTensor]) throws -> [ONNXTensor] {
        func input(_ i: Int) throws -> ONNXTensor {
            guard i < node.inputs.count, let t = values[node.inputs[i]] else {
                throw LearnError(
                    "ONNX node '\(node.name)' (\(node.op)) reads '\(i < node.inputs.count ? node.inputs[i] : "?")', which is not computed"
                )
            }
            return t
        }
        switch node.op {
        case "Identity", "Dropout", "Cast": return [try input(0)]
        case "Relu": return [try input(0).map { max($0, 0) }]
        case "LeakyRelu":
            let alpha = node.floats["alpha"] ?? 0.01
            return [try input(0).map { $0 < 0 ? $0 * alpha : $0 }]
        case "Sigmoid": return [try input(0).map(Activation.sigmoid)]
        case "Tanh": return [try input(0).map { Foundation.tanh($0) }]
        case "Erf": return [try input(0).map { Foundation.erf($0) }]
        case "Softmax":
            var t = try input(0)
            let axis = node.ints["axis"] ?? (opset >= 13 ? -1 : 1)
            guard t.shape.count <= 2, axis == -1 || axis == t.shape.count - 1 || (axis == 1 && t.shape.count == 2)
            else {
                throw LearnError("ONNX Softmax over axis \(axis) of a rank-\(t.shape.count) tensor is not supported")
            }
            let width = t.shape.last ?? 1
            t.values.withUnsafeMutableBufferPointer { p in
                for r in 0..<(p.count / max(width, 1)) {
                    Activation.softmax(UnsafeMutableBufferPointer(rebasing: p[r * width..<(r + 1) * width]))
                }
            }
            return [t]
        case "Add", "Sub", "Mul", "Div":
            let op: (Float, Float) -> Float =
                switch node.op {
                case "Add": (+)
                case "Sub": (-)
                case "Mul": (*)
                default: (/)
                }
            return [try ONNXTensor.broadcast(try input(0), try input(1), op)]
        case "MatMul":
            let a = try input(0).matrix(), b = try input(1).matrix()
            guard a.columns == b.rows else {
                throw LearnError("ONNX MatMul '\(node.name)': \(a.shape) x \(b.shape) do not fit")
            }
            var c = Tensor(rows: a.rows, columns: b.columns)
            BLAS.gemm(a, b, into: &c)
            return [ONNXTensor(c)]
        case "Gemm":
            let a = try input(0).matrix(), b = try input(1).matrix()
            let transA = node.ints["transA"] == 1, transB = node.ints["transB"] == 1
            var c = Tensor(rows: transA ? a.columns : a.rows, columns: transB ? b.rows : b.columns)
            BLAS.gemm(a, transposeA: transA, b, transposeB: transB, into: &c, alpha: node.floats["alpha"] ?? 1)
            var out = ONNXTensor(c)
            if node.inputs.count > 2, !node.inputs[2].isEmpty {
                let beta = node.floats["beta"] ?? 1
                out = try ONNXTensor.broadcast(out, try input(2).map { $0 * beta }, +)
            }
            return [out]
        case "BatchNormalization":
            var x = try input(0)
            let scale = try input(1), bias = try input(2), mean = try input(3), variance = try input(4)
            let epsilon = node.floats["epsilon"] ?? 1e-5
            let channels = x.shape.count > 1 ? x.shape[1] : x.shape[0]
            guard x.shape.count <= 2, scale.values.count == channels else {
                throw LearnError("ONNX BatchNormalization '\(node.name)' over shape \(x.shape) is not supported")
            }
            for i in x.values.indices {
                let c = i % channels
                x.values[i] =
                    (x.values[i] - mean.values[c]) / (variance.values[c] + epsilon).squareRoot() * scale.values[c]
                    + bias.values[c]
            }
            return [x]
        case "Flatten":
            let x = try input(0)
            let axis = node.ints["axis"] ?? 1
            let rows = x.shape.prefix(axis).reduce(1, *)
            return [ONNXTensor(shape: [rows, x.values.count / max(rows, 1)], values: x.values)]
        case "Reshape":
            let x = try input(0)
            let requested = try input(1).integers
            var shape = requested.enumerated().map { i, d in d == 0 && i < x.shape.count ? x.shape[i] : d }
            if let unknown = shape.firstIndex(of: -1) {
                let known = shape.enumerated().filter { $0.offset != unknown }.map(\.element).reduce(1, *)
                shape[unknown] = x.values.count / max(known, 1)
            }
            guard shape.reduce(1, *) == x.values.count else {
                throw LearnError("ONNX Reshape '\(node.name)': \(x.shape) cannot become \(requested)")
            }
            return [ONNXTensor(shape: shape, values: x.values)]
        default:
            throw LearnError("ONNX operator '\(node.op)' is not supported")
        }
    }
}

/// A float tensor of any rank inside the ONNX interpreter (integer tensors keep their values for shapes).
struct ONNXTensor: Sendable {
    var shape: [Int]
    var values: [Float]
    var integers: [Int] = []

    init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    init(_ t: Tensor) { self.init(shape: [t.rows, t.columns], values: t.scalars) }

    init(_ proto: Onnx_TensorProto, source: String) throws {
        shape = proto.dims.map { Int($0) }
        let count = shape.reduce(1, *)
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
            if !proto.rawData.isEmpty {
                integers = proto.rawData.withUnsafeBytes { raw in
                    (0..<count).map {
                        Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)))
                    }
                }
            } else {
                integers = proto.int64Data.map { Int($0) }
            }
            values = integers.map { Float($0) }
        default:
            throw LearnError(
                "\(source): tensor '\(proto.name)' has ONNX data type \(proto.dataType); only float32 and int64 are supported"
            )
        }
        guard values.count == count else {
            throw LearnError("\(source): tensor '\(proto.name)' has \(values.count) values for shape \(shape)")
        }
    }

    func map(_ f: (Float) -> Float) -> ONNXTensor {
        var t = self
        t.values = values.map(f)
        return t
    }

    func matrix() throws -> Tensor {
        switch shape.count {
        case 1: return Tensor(rows: 1, columns: shape[0], scalars: values)
        case 2: return Tensor(rows: shape[0], columns: shape[1], scalars: values)
        default: throw LearnError("a rank-\(shape.count) tensor \(shape) where a matrix is needed")
        }
    }

    /// Element-wise with numpy broadcasting, for ranks up to 2.
    static func broadcast(_ a: ONNXTensor, _ b: ONNXTensor, _ op: (Float, Float) -> Float) throws -> ONNXTensor {
        let rank = max(a.shape.count, b.shape.count)
        guard rank <= 2 else { throw LearnError("broadcasting rank-\(rank) tensors is not supported") }
        func padded(_ s: [Int]) -> [Int] { Array(repeating: 1, count: rank - s.count) + s }
        let sa = padded(a.shape), sb = padded(b.shape)
        var shape: [Int] = []
        for (x, y) in zip(sa, sb) {
            guard x == y || x == 1 || y == 1 else {
                throw LearnError("shapes \(a.shape) and \(b.shape) do not broadcast")
            }
            shape.append(max(x, y))
        }
        let rows = rank == 2 ? shape[0] : 1, cols = shape.last ?? 1
        var out = [Float](repeating: 0, count: rows * cols)
        let aRows = rank == 2 ? sa[0] : 1, aCols = sa.last ?? 1, bRows = rank == 2 ? sb[0] : 1, bCols = sb.last ?? 1
        for r in 0..<rows {
            for c in 0..<cols {
                out[r * cols + c] = op(
                    a.values[(aRows == 1 ? 0 : r) * aCols + (aCols == 1 ? 0 : c)],
                    b.values[(bRows == 1 ? 0 : r) * bCols + (bCols == 1 ? 0 : c)])
            }
        }
        return ONNXTensor(shape: shape, values: out)
    }
}
