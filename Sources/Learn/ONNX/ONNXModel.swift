import Foundation
import ONNXProto
import RealModule

/// A model imported from ONNX (for instance a Keras model converted by tf2onnx), run by a small interpreter over
/// the operators of MLPs (Gemm, MatMul, Add, Sub, Mul, Div, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, Erf,
/// BatchNormalization, Flatten, Reshape, Identity, Cast, Dropout) and of sequence models (Conv, GRU, LSTM and the
/// shape operators converters put around them: Transpose, Unsqueeze, Squeeze, Shape, Slice, Concat, Expand), on
/// tensors of any rank. A model whose input is (batch, steps, channels) takes rows of steps * channels values, each
/// sequence time-major, as Millstream's sequence models do.
public struct ONNXModel: Sendable {
    struct Node: Sendable {
        var op: String
        var name: String
        var inputs: [String]
        var outputs: [String]
        var floats: [String: Float]
        var ints: [String: Int]
        var intLists: [String: [Int]]
        var strings: [String: [String]]
    }

    public static let supportedOperators = [
        "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax", "Erf",
        "BatchNormalization", "Flatten", "Reshape", "Identity", "Cast", "Dropout", "Conv", "GRU", "LSTM", "Transpose",
        "Unsqueeze", "Squeeze", "Shape", "Slice", "Concat", "Expand",
    ]

    let nodes: [Node]
    let constants: [String: ONNXTensor]
    public let inputName: String
    public let outputName: String
    /// The input's feature count per row (nil if the file leaves it open): steps * channels for a sequence input.
    public let inputSize: Int?
    /// The input's shape after the batch axis ([features], or [steps, channels] for a sequence).
    let inputShape: [Int]?
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
                // tf2onnx writes Keras 3's GRU as a while loop (its LSTM becomes ONNX's LSTM).
                let hint =
                    graph.node.contains { $0.opType == "Loop" }
                    ? " (the graph has a Loop, as tf2onnx writes a Keras GRU: convert an LSTM, or export GRU models from Millstream)"
                    : ""
                throw LearnError(
                    "\(source): operator '\(n.opType)' (node '\(n.name)') is not supported\(hint); supported: \(Self.supportedOperators.joined(separator: ", "))"
                )
            }
            var floats: [String: Float] = [:]
            var ints: [String: Int] = [:]
            var lists: [String: [Int]] = [:]
            var strings: [String: [String]] = [:]
            for a in n.attribute {
                switch a.type {
                case .float: floats[a.name] = a.f
                case .int: ints[a.name] = Int(a.i)
                case .ints: lists[a.name] = a.ints.map { Int($0) }
                case .string: strings[a.name] = [String(decoding: a.s, as: UTF8.self)]
                case .strings: strings[a.name] = a.strings.map { String(decoding: $0, as: UTF8.self) }
                default: break
                }
            }
            nodes.append(
                Node(
                    op: n.opType, name: n.name, inputs: n.input, outputs: n.output, floats: floats, ints: ints,
                    intLists: lists, strings: strings))
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
        let known = dims.dropFirst().compactMap { d -> Int? in
            if case .dimValue(let v)? = d.value { return Int(v) }
            return nil
        }
        if dims.count >= 2 && known.count == dims.count - 1 {
            self.inputShape = known
            self.inputSize = known.reduce(1, *)
        } else {
            self.inputShape = nil
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
        values[inputName] = ONNXTensor(shape: [x.rows] + (inputShape ?? [x.columns]), values: x.scalars)
        for node in nodes {
            let result = try run(node, values)
            for (name, tensor) in zip(node.outputs, result) where !name.isEmpty { values[name] = tensor }
        }
        guard let out = values[outputName] else {
            throw LearnError("the ONNX graph never computes its output '\(outputName)'")
        }
        // One row per sample, whatever the output's rank.
        return out.shape.count == 2 || out.shape.count == 1
            ? try out.matrix() : Tensor(rows: x.rows, columns: out.count / max(x.rows, 1), scalars: out.values)
    }

    private func run(_ node: Node, _ values: [String: ONNXTensor]) throws -> [ONNXTensor] {
        let input = NodeInputs(node: node, values: values)
        switch node.op {
        case "Identity", "Dropout": return [try input(0)]
        case "Cast": return [try Self.cast(try input(0), node)]
        case "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Erf", "Softmax": return [try activation(try input(0), node)]
        case "Add", "Sub", "Mul", "Div":
            let op: (Float, Float) -> Float =
                switch node.op {
                case "Add": (+)
                case "Sub": (-)
                case "Mul": (*)
                default: (/)
                }
            return [try ONNXTensor.broadcast(try input(0), try input(1), op)]
        case "MatMul", "Gemm", "BatchNormalization": return [try Self.linear(node, input)]
        case "Flatten", "Reshape", "Transpose", "Unsqueeze", "Squeeze": return [try Self.reshape(node, input)]
        case "Shape", "Slice", "Concat", "Expand": return [try Self.select(node, input)]
        case "Conv":
            return [try ONNXSequenceOperators.conv(try input(0), try input(1), input.optional(2), attributes: node)]
        case "GRU":
            return try ONNXSequenceOperators.gru(node, node.inputs.indices.map(input.optional))
        case "LSTM":
            return try ONNXSequenceOperators.lstm(node, node.inputs.indices.map(input.optional))
        default:
            throw LearnError("ONNX operator '\(node.op)' is not supported")
        }
    }

    /// A node's inputs by position, with errors that name the node.
    struct NodeInputs {
        let node: Node
        let values: [String: ONNXTensor]

        func callAsFunction(_ i: Int) throws -> ONNXTensor {
            guard i < node.inputs.count, let t = values[node.inputs[i]] else {
                throw LearnError(
                    "ONNX node '\(node.name)' (\(node.op)) reads '\(i < node.inputs.count ? node.inputs[i] : "?")', which is not computed"
                )
            }
            return t
        }

        /// An optional input: absent or named "".
        func optional(_ i: Int) -> ONNXTensor? {
            i < node.inputs.count && !node.inputs[i].isEmpty ? values[node.inputs[i]] : nil
        }

        /// Integers from an optional input (given as integers or as floats).
        func integers(_ i: Int) -> [Int]? { optional(i).map { $0.integers ?? $0.values.map { Int($0) } } }

        /// Axes from the second input (opset 13) or the `axes` attribute (earlier opsets).
        func axes() -> [Int]? { integers(1) ?? node.intLists["axes"] }
    }

    static func cast(_ t: ONNXTensor, _ node: Node) throws -> ONNXTensor {
        switch node.ints["to"] ?? 1 {
        case 1: return ONNXTensor(shape: t.shape, values: t.values)  // float
        case 6, 7:
            if let ints = t.integers { return ONNXTensor(shape: t.shape, integers: ints) }
            if let bad = t.values.first(where: { !($0.isFinite && abs($0) < 9.2e18) }) {
                throw LearnError("ONNX Cast '\(node.name)': \(bad) does not fit an integer")
            }
            return ONNXTensor(shape: t.shape, integers: t.values.map { Int($0) })
        case 9: return ONNXTensor(shape: t.shape, integers: t.values.map { $0 != 0 ? 1 : 0 })  // bool
        case let to: throw LearnError("ONNX Cast '\(node.name)' to type \(to) is not supported")
        }
    }

    /// Element-wise activations, and softmax over the last axis.
    private func activation(_ t: ONNXTensor, _ node: Node) throws -> ONNXTensor {
        switch node.op {
        case "Relu": return t.map { max($0, 0) }
        case "LeakyRelu":
            let alpha = node.floats["alpha"] ?? 0.01
            return t.map { $0 < 0 ? $0 * alpha : $0 }
        case "Sigmoid": return t.map(Activation.sigmoid)
        case "Tanh": return t.map { Float.tanh($0) }
        case "Erf": return t.map { Float.erf($0) }
        default:
            var t = t
            let axis = node.ints["axis"] ?? (opset >= 13 ? -1 : 1)
            guard axis == -1 || axis == t.shape.count - 1 else {
                throw LearnError("ONNX Softmax over axis \(axis) of a rank-\(t.shape.count) tensor is not supported")
            }
            let width = t.shape.last ?? 1
            t.values.withUnsafeMutableBufferPointer { p in
                for r in 0..<(p.count / max(width, 1)) {
                    Activation.softmax(UnsafeMutableBufferPointer(rebasing: p[r * width..<(r + 1) * width]))
                }
            }
            return t
        }
    }

    /// MatMul, Gemm and (inference) batch normalization.
    static func linear(_ node: Node, _ input: NodeInputs) throws -> ONNXTensor {
        switch node.op {
        case "MatMul":
            // (..., K) x (K, N): the leading axes of the first operand are rows.
            let x = try input(0)
            let b = try input(1).matrix()
            guard let k = x.shape.last, x.shape.count >= 2, k == b.rows else {
                throw LearnError("ONNX MatMul '\(node.name)': \(x.shape) x \(b.shape) do not fit")
            }
            let a = Tensor(rows: x.count / k, columns: k, scalars: x.values)
            var c = Tensor(rows: a.rows, columns: b.columns)
            BLAS.gemm(a, b, into: &c)
            return ONNXTensor(shape: x.shape.dropLast() + [b.columns], values: c.scalars)
        case "Gemm":
            let a = try input(0).matrix()
            let b = try input(1).matrix()
            let transA = node.ints["transA"] == 1
            let transB = node.ints["transB"] == 1
            var c = Tensor(rows: transA ? a.columns : a.rows, columns: transB ? b.rows : b.columns)
            BLAS.gemm(a, transposeA: transA, b, transposeB: transB, into: &c, alpha: node.floats["alpha"] ?? 1)
            var out = ONNXTensor(c)
            if node.inputs.count > 2, !node.inputs[2].isEmpty {
                let beta = node.floats["beta"] ?? 1
                out = try ONNXTensor.broadcast(out, try input(2).map { $0 * beta }, +)
            }
            return out
        default:
            var x = try input(0)
            let scale = try input(1)
            let bias = try input(2)
            let mean = try input(3)
            let variance = try input(4)
            let epsilon = node.floats["epsilon"] ?? 1e-5
            let channels = x.shape.count > 1 ? x.shape[1] : x.shape[0]
            let inner = x.shape.count > 2 ? x.shape[2...].reduce(1, *) : 1
            guard scale.values.count == channels else {
                throw LearnError("ONNX BatchNormalization '\(node.name)' over shape \(x.shape) is not supported")
            }
            for i in x.values.indices {
                let c = (i / inner) % channels
                x.values[i] =
                    (x.values[i] - mean.values[c]) / (variance.values[c] + epsilon).squareRoot() * scale.values[c]
                    + bias.values[c]
            }
            return x
        }
    }

    /// Operators that change a tensor's shape, not its values.
    static func reshape(_ node: Node, _ input: NodeInputs) throws -> ONNXTensor {
        let x = try input(0)
        switch node.op {
        case "Flatten":
            let axis = node.ints["axis"] ?? 1
            let rows = x.shape.prefix(axis).reduce(1, *)
            return ONNXTensor(shape: [rows, x.values.count / max(rows, 1)], values: x.values)
        case "Reshape":
            guard let requested = try input(1).integers else {
                throw LearnError("ONNX Reshape '\(node.name)': the shape is not an integer tensor")
            }
            var shape = requested.enumerated().map { i, d in d == 0 && i < x.shape.count ? x.shape[i] : d }
            if let unknown = shape.firstIndex(of: -1) {
                let known = shape.enumerated().filter { $0.offset != unknown }.map(\.element).reduce(1, *)
                shape[unknown] = x.values.count / max(known, 1)
            }
            guard shape.reduce(1, *) == x.values.count else {
                throw LearnError("ONNX Reshape '\(node.name)': \(x.shape) cannot become \(requested)")
            }
            return x.reshaped(shape)
        case "Transpose":
            return try x.transposed(node.intLists["perm"] ?? Array((0..<x.shape.count).reversed()))
        case "Unsqueeze":
            let rank = x.shape.count + (input.axes()?.count ?? 0)
            var shape = x.shape
            for a in try (input.axes() ?? []).map({ try ONNXTensor.axis($0, rank: rank, op: "Unsqueeze") }).sorted() {
                shape.insert(1, at: a)
            }
            return x.reshaped(shape)
        default:  // Squeeze
            let drop = try input.axes().map {
                try $0.map { try ONNXTensor.axis($0, rank: x.shape.count, op: "Squeeze") }
            }
            if let drop, let bad = drop.first(where: { x.shape[$0] != 1 }) {
                throw LearnError("ONNX Squeeze '\(node.name)': axis \(bad) of \(x.shape) is not 1")
            }
            // Without axes, every axis of length 1 goes.
            let kept = x.shape.indices.filter { a in drop.map { !$0.contains(a) } ?? (x.shape[a] != 1) }
            return x.reshaped(kept.map { x.shape[$0] })
        }
    }

    /// Operators that take parts of tensors or put them together: Shape, Slice, Concat, Expand.
    static func select(_ node: Node, _ input: NodeInputs) throws -> ONNXTensor {
        switch node.op {
        case "Shape":
            let x = try input(0)
            let r = x.shape.count
            func clamped(_ v: Int) -> Int { min(max(v < 0 ? v + r : v, 0), r) }
            let start = clamped(node.ints["start"] ?? 0)
            let end = max(clamped(node.ints["end"] ?? r), start)
            return ONNXTensor(shape: [end - start], integers: Array(x.shape[start..<end]))
        case "Slice":
            guard let starts = input.integers(1), let ends = input.integers(2) else {
                throw LearnError("ONNX Slice '\(node.name)' needs starts and ends inputs (opset 10 or later)")
            }
            return try input(0).sliced(starts: starts, ends: ends, axes: input.integers(3), steps: input.integers(4))
        case "Concat":
            let parts = try node.inputs.indices.map { try input($0) }
            return try ONNXTensor.concatenated(parts, axis: node.ints["axis"] ?? 0)
        default:  // Expand
            let x = try input(0)
            guard let shape = try input(1).integers else {
                throw LearnError("ONNX Expand '\(node.name)': the shape is not an integer tensor")
            }
            let target = ONNXTensor(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *)))
            var out = try ONNXTensor.broadcast(x, target) { a, _ in a }
            out.integers = x.integers.map { _ in out.values.map { Int($0) } }
            return out
        }
    }
}
