/// Anything that turns a batch of feature rows into outputs: a trained Sequential or an imported ONNX graph.
public protocol Predictor {
    func predictBatch(_ x: Tensor) throws -> Tensor
}

extension Sequential: Predictor {
    public func predictBatch(_ x: Tensor) throws -> Tensor {
        guard x.columns == inputSize else {
            throw LearnError("the model takes \(inputSize) features per row, got \(x.columns)")
        }
        return predict(x)
    }
}

extension ONNXModel: Predictor {
    public func predictBatch(_ x: Tensor) throws -> Tensor { try predict(x) }
}
