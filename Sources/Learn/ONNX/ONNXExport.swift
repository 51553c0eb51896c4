import Foundation
import ONNXProto

extension Sequential {
    /// The model as an ONNX file (opset 13) that onnxruntime runs: input "input" [batch, features] float32, output
    /// "output". Dense is MatMul + Add + activation (GELU as 0.5 x (1 + Erf(x / sqrt 2))), batch normalization the
    /// ONNX BatchNormalization operator; dropout is left out (identity at inference).
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
        for (index, layer) in layers.enumerated() {
            switch layer {
            case let dense as Dense:
                let w = "layers.\(index).kernel"
                initializer(w, dense.kernel.shape, dense.kernel.value)
                current = node("MatMul", [current, w])
                if let bias = dense.bias {
                    let b = "layers.\(index).bias"
                    initializer(b, bias.shape, bias.value)
                    current = node("Add", [current, b])
                }
                switch dense.activation {
                case .linear: break
                case .relu: current = node("Relu", [current])
                case .leakyRelu:
                    current = node("LeakyRelu", [current], attributes: [floatAttribute("alpha", Activation.leakySlope)])
                case .sigmoid: current = node("Sigmoid", [current])
                case .tanh: current = node("Tanh", [current])
                case .softmax: current = node("Softmax", [current], attributes: [intAttribute("axis", -1)])
                case .gelu:
                    let c = "layers.\(index).gelu_constants"
                    initializer(c + ".sqrt2", [], [Float(2).squareRoot()])
                    initializer(c + ".one", [], [1])
                    initializer(c + ".half", [], [0.5])
                    let erf = node("Erf", [node("Div", [current, c + ".sqrt2"])])
                    current = node("Mul", [node("Mul", [current, c + ".half"]), node("Add", [erf, c + ".one"])])
                }
            case let bn as BatchNormalization:
                let p = "layers.\(index)."
                initializer(p + "gamma", bn.gamma.shape, bn.gamma.value)
                initializer(p + "beta", bn.beta.shape, bn.beta.value)
                initializer(p + "moving_mean", bn.movingMean.shape, bn.movingMean.value)
                initializer(p + "moving_variance", bn.movingVariance.shape, bn.movingVariance.value)
                current = node(
                    "BatchNormalization", [current, p + "gamma", p + "beta", p + "moving_mean", p + "moving_variance"],
                    attributes: [floatAttribute("epsilon", bn.epsilon)])
            case is Conv1D, is GRU:
                throw LearnError(
                    "ONNX export of Conv1D and GRU layers is not built yet; the model is served by Millstream's own engine"
                )
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
