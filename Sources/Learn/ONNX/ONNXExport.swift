import Foundation
import ONNXProto

extension Sequential {
    /// The model as an ONNX file (opset 13) that onnxruntime runs: input "input" [batch, features] float32, output
    /// "output". Dense is MatMul + Add + activation (GELU as 0.5 x (1 + Erf(x / sqrt 2))), batch normalization the
    /// ONNX BatchNormalization operator; dropout is left out (identity at inference). Conv1D and GRU reshape each
    /// row to its sequence and back around ONNX's Conv and GRU operators, so the graph's input stays the row.
    public func onnx(producerVersion: String = "") throws -> [UInt8] {
        var graph = Onnx_GraphProto()
        graph.name = "millstream"
        var current = "input"
        var counter = 0
        func name(_ base: String) -> String {
            counter += 1
            return "\(base)_\(counter)"
        }
        func initializer(_ n: String, _ shape: [Int], _ values: [Float]) {
            var t = Onnx_TensorProto()
            t.name = n
            t.dims = shape.map { Int64($0) }
            t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            t.rawData = values.withUnsafeBytes { Data($0) }
            graph.initializer.append(t)
        }
        func node(_ op: String, _ inputs: [String], attributes: [Onnx_AttributeProto] = []) -> String {
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
        func floatAttribute(_ n: String, _ v: Float) -> Onnx_AttributeProto {
            var a = Onnx_AttributeProto()
            a.name = n
            a.type = .float
            a.f = v
            return a
        }
        func intAttribute(_ n: String, _ v: Int) -> Onnx_AttributeProto {
            var a = Onnx_AttributeProto()
            a.name = n
            a.type = .int
            a.i = Int64(v)
            return a
        }
        func activation(_ a: Activation, _ x: String, _ index: Int) throws -> String {
            switch a {
            case .linear: return x
            case .relu: return node("Relu", [x])
            case .leakyRelu:
                return node("LeakyRelu", [x], attributes: [floatAttribute("alpha", Activation.leakySlope)])
            case .sigmoid: return node("Sigmoid", [x])
            case .tanh: return node("Tanh", [x])
            case .softmax: return node("Softmax", [x], attributes: [intAttribute("axis", -1)])
            case .gelu:
                let c = "layers.\(index).gelu_constants"
                initializer(c + ".sqrt2", [], [Float(2).squareRoot()])
                initializer(c + ".one", [], [1])
                initializer(c + ".half", [], [0.5])
                let erf = node("Erf", [node("Div", [x, c + ".sqrt2"])])
                return node("Mul", [node("Mul", [x, c + ".half"]), node("Add", [erf, c + ".one"])])
            }
        }
        func intsAttribute(_ n: String, _ v: [Int]) -> Onnx_AttributeProto {
            var a = Onnx_AttributeProto()
            a.name = n
            a.type = .ints
            a.ints = v.map { Int64($0) }
            return a
        }
        func reshape(_ input: String, _ shape: [Int]) -> String {
            let n = name("shape")
            var t = Onnx_TensorProto()
            t.name = n
            t.dims = [Int64(shape.count)]
            t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
            t.int64Data = shape.map { Int64($0) }
            graph.initializer.append(t)
            return node("Reshape", [input, n])
        }
        func transpose(_ input: String, _ perm: [Int]) -> String {
            node("Transpose", [input], attributes: [intsAttribute("perm", perm)])
        }
        for (index, layer) in layers.enumerated() {
            switch layer {
            case let conv as Conv1D:
                // Rows are time-major sequences; ONNX's Conv takes (batch, channels, steps).
                let k = conv.kernelSize, c = conv.channels, f = conv.filters
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
                        intsAttribute("kernel_shape", [k]), intsAttribute("pads", [conv.padLeft, conv.padRight]),
                    ])
                y = try activation(conv.activation, y, index)
                current = reshape(transpose(y, [0, 2, 1]), [-1, conv.outputSteps * f])
            case let gru as GRU:
                // ONNX's GRU with linear_before_reset is Keras's reset_after; gates in the same order (z, r, h).
                let h = gru.units, c = gru.channels, width = 3 * gru.units
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
                n.attribute = [intAttribute("hidden_size", h), intAttribute("linear_before_reset", 1)]
                graph.node.append(n)
                if gru.returnSequences {
                    // Y is (steps, directions, batch, units): back to time-major rows.
                    let y = transpose(reshape(n.output[0], [gru.timesteps, -1, h]), [1, 0, 2])
                    current = reshape(y, [-1, gru.timesteps * h])
                } else {
                    current = reshape(n.output[1], [-1, h])
                }
            case let dense as Dense:
                let w = "layers.\(index).kernel"
                initializer(w, dense.kernel.shape, dense.kernel.value)
                current = node("MatMul", [current, w])
                if let bias = dense.bias {
                    let b = "layers.\(index).bias"
                    initializer(b, bias.shape, bias.value)
                    current = node("Add", [current, b])
                }
                current = try activation(dense.activation, current, index)
            case let bn as BatchNormalization:
                let p = "layers.\(index)."
                initializer(p + "gamma", bn.gamma.shape, bn.gamma.value)
                initializer(p + "beta", bn.beta.shape, bn.beta.value)
                initializer(p + "moving_mean", bn.movingMean.shape, bn.movingMean.value)
                initializer(p + "moving_variance", bn.movingVariance.shape, bn.movingVariance.value)
                current = node(
                    "BatchNormalization", [current, p + "gamma", p + "beta", p + "moving_mean", p + "moving_variance"],
                    attributes: [floatAttribute("epsilon", bn.epsilon)])
            default:
                continue  // dropout
            }
        }
        current = node("Identity", [current])
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
