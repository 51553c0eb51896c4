import Foundation
import ONNXProto

extension Sequential {
    /// The model as an ONNX file (opset 13) that onnxruntime runs: input "input" [batch, features] float32, output
    /// "output". Dense is MatMul + Add + activation (GELU as 0.5 x (1 + Erf(x / sqrt 2))), batch normalization the
    /// ONNX BatchNormalization operator; dropout is left out (identity at inference). Conv1D and GRU reshape each
    /// row to its sequence and back around ONNX's Conv and GRU operators, so the graph's input stays the row.
    public func onnx(producerVersion: String = "") throws -> [UInt8] {
        var g = ONNXGraphBuilder()
        var current = "input"
        for (index, layer) in layers.enumerated() {
            switch layer {
            case let conv as Conv1D: current = try g.conv(conv, index, current)
            case let gru as GRU: current = g.gru(gru, index, current)
            case let dense as Dense:
                let w = "layers.\(index).kernel"
                g.initializer(w, dense.kernel.shape, dense.kernel.value)
                current = g.node("MatMul", [current, w])
                if let bias = dense.bias {
                    let b = "layers.\(index).bias"
                    g.initializer(b, bias.shape, bias.value)
                    current = g.node("Add", [current, b])
                }
                current = try g.activation(dense.activation, current, index)
            case let bn as BatchNormalization:
                let p = "layers.\(index)."
                g.initializer(p + "gamma", bn.gamma.shape, bn.gamma.value)
                g.initializer(p + "beta", bn.beta.shape, bn.beta.value)
                g.initializer(p + "moving_mean", bn.movingMean.shape, bn.movingMean.value)
                g.initializer(p + "moving_variance", bn.movingVariance.shape, bn.movingVariance.value)
                current = g.node(
                    "BatchNormalization", [current, p + "gamma", p + "beta", p + "moving_mean", p + "moving_variance"],
                    attributes: [ONNXGraphBuilder.attribute("epsilon", float: bn.epsilon)])
            default:
                continue  // dropout
            }
        }
        return try g.model(
            output: current, inputSize: inputSize, outputSize: outputSize, producerVersion: producerVersion)
    }
}

/// Builds an ONNX graph node by node: unique names, initializers (the weights), attributes.
struct ONNXGraphBuilder {
    var graph = Onnx_GraphProto()
    private var counter = 0

    init() { graph.name = "millstream" }

    mutating func name(_ base: String) -> String {
        counter += 1
        return "\(base)_\(counter)"
    }

    mutating func initializer(_ n: String, _ shape: [Int], _ values: [Float]) {
        var t = Onnx_TensorProto()
        t.name = n
        t.dims = shape.map { Int64($0) }
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.rawData = values.withUnsafeBytes { Data($0) }
        graph.initializer.append(t)
    }

    /// Adds a node with one output; returns the output's name.
    mutating func node(_ op: String, _ inputs: [String], attributes: [Onnx_AttributeProto] = []) -> String {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = name(op.lowercased())
        n.input = inputs
        let out = n.name + "_out"
        n.output = [out]
        n.attribute = attributes
        graph.node.append(n)
        return out
    }

    static func attribute(_ n: String, float v: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = n
        a.type = .float
        a.f = v
        return a
    }

    static func attribute(_ n: String, int v: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = n
        a.type = .int
        a.i = Int64(v)
        return a
    }

    static func attribute(_ n: String, ints v: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = n
        a.type = .ints
        a.ints = v.map { Int64($0) }
        return a
    }

    mutating func activation(_ a: Activation, _ x: String, _ index: Int) throws -> String {
        switch a {
        case .linear: return x
        case .relu: return node("Relu", [x])
        case .leakyRelu:
            return node("LeakyRelu", [x], attributes: [Self.attribute("alpha", float: Activation.leakySlope)])
        case .sigmoid: return node("Sigmoid", [x])
        case .tanh: return node("Tanh", [x])
        case .softmax: return node("Softmax", [x], attributes: [Self.attribute("axis", int: -1)])
        case .gelu:
            let c = "layers.\(index).gelu_constants"
            initializer(c + ".sqrt2", [], [Float(2).squareRoot()])
            initializer(c + ".one", [], [1])
            initializer(c + ".half", [], [0.5])
            let erf = node("Erf", [node("Div", [x, c + ".sqrt2"])])
            return node("Mul", [node("Mul", [x, c + ".half"]), node("Add", [erf, c + ".one"])])
        }
    }

    mutating func reshape(_ input: String, _ shape: [Int]) -> String {
        let n = name("shape")
        var t = Onnx_TensorProto()
        t.name = n
        t.dims = [Int64(shape.count)]
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        t.int64Data = shape.map { Int64($0) }
        graph.initializer.append(t)
        return node("Reshape", [input, n])
    }

    mutating func transpose(_ input: String, _ perm: [Int]) -> String {
        node("Transpose", [input], attributes: [Self.attribute("perm", ints: perm)])
    }

    /// Rows are time-major sequences; ONNX's Conv takes (batch, channels, steps).
    mutating func conv(_ conv: Conv1D, _ index: Int, _ current: String) throws -> String {
        let k = conv.kernelSize
        let c = conv.channels
        let f = conv.filters
        var w = [Float](repeating: 0, count: f * c * k)
        for t in 0..<k {
            for i in 0..<c {
                for o in 0..<f { w[(o * c + i) * k + t] = conv.kernel.value[(t * c + i) * f + o] }
            }
        }
        let p = "layers.\(index)."
        initializer(p + "kernel", [f, c, k], w)
        initializer(p + "bias", [f], conv.bias.value)
        let x = transpose(reshape(current, [-1, conv.timesteps, c]), [0, 2, 1])
        var y = node(
            "Conv", [x, p + "kernel", p + "bias"],
            attributes: [
                Self.attribute("kernel_shape", ints: [k]), Self.attribute("pads", ints: [conv.padLeft, conv.padRight]),
            ])
        y = try activation(conv.activation, y, index)
        return reshape(transpose(y, [0, 2, 1]), [-1, conv.outputSteps * f])
    }

    /// ONNX's GRU with linear_before_reset is Keras's reset_after; gates in the same order (z, r, h).
    mutating func gru(_ gru: GRU, _ index: Int, _ current: String) -> String {
        let h = gru.units
        let c = gru.channels
        let width = 3 * gru.units
        var w = [Float](repeating: 0, count: width * c)
        for i in 0..<c { for j in 0..<width { w[j * c + i] = gru.kernel.value[i * width + j] } }
        var r = [Float](repeating: 0, count: width * h)
        for m in 0..<h { for j in 0..<width { r[j * h + m] = gru.recurrentKernel.value[m * width + j] } }
        let p = "layers.\(index)."
        initializer(p + "kernel", [1, width, c], w)
        initializer(p + "recurrent_kernel", [1, width, h], r)
        initializer(p + "bias", [1, 2 * width], gru.bias.value)
        let x = transpose(reshape(current, [-1, gru.timesteps, c]), [1, 0, 2])
        var n = Onnx_NodeProto()
        n.opType = "GRU"
        n.name = name("gru")
        n.input = [x, p + "kernel", p + "recurrent_kernel", p + "bias"]
        n.output = gru.returnSequences ? [n.name + "_y", ""] : ["", n.name + "_y_h"]
        n.attribute = [Self.attribute("hidden_size", int: h), Self.attribute("linear_before_reset", int: 1)]
        graph.node.append(n)
        guard gru.returnSequences else { return reshape(n.output[1], [-1, h]) }
        // Y is (steps, directions, batch, units): back to time-major rows.
        let y = transpose(reshape(n.output[0], [gru.timesteps, -1, h]), [1, 0, 2])
        return reshape(y, [-1, gru.timesteps * h])
    }

    /// The model around the graph: the last node's output renamed "output", input and output [batch, width] float.
    mutating func model(output current: String, inputSize: Int, outputSize: Int, producerVersion: String) throws
        -> [UInt8]
    {
        _ = node("Identity", [current])
        graph.node[graph.node.count - 1].output = ["output"]
        func valueInfo(_ n: String, _ features: Int) -> Onnx_ValueInfoProto {
            var v = Onnx_ValueInfoProto()
            v.name = n
            var tensor = Onnx_TypeProto.Tensor()
            tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            var batch = Onnx_TensorShapeProto.Dimension()
            batch.dimParam = "batch"
            var width = Onnx_TensorShapeProto.Dimension()
            width.dimValue = Int64(features)
            tensor.shape.dim = [batch, width]
            v.type.tensorType = tensor
            return v
        }
        graph.input = [valueInfo("input", inputSize)]
        graph.output = [valueInfo("output", outputSize)]
        var model = Onnx_ModelProto()
        model.irVersion = 8
        model.producerName = "millstream"
        model.producerVersion = producerVersion
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 13
        model.opsetImport = [opset]
        model.graph = graph
        return try model.serializedBytes()
    }
}
