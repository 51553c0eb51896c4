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

extension PCADetector: Predictor {
    /// Columns: score, T², Q, alarm (0 or 1), index of the top contributing variable. The rows are a series in
    /// time order when the model has lags (the first rows repeat the earliest as their history).
    public func predictBatch(_ x: Tensor) throws -> Tensor {
        guard x.columns == variables.count else {
            throw LearnError("the detector takes \(variables.count) variables per row, got \(x.columns)")
        }
        var out = Tensor(rows: x.rows, columns: 5)
        let rows = (0..<x.rows).map { x.row($0).map(Double.init) }
        for r in 0..<x.rows {
            let e = evaluate(sample(rows, at: r))
            let top = e.contributions.indices.max { e.contributions[$0] < e.contributions[$1] } ?? 0
            for (c, v) in [e.score, e.t2, e.q, e.alarm ? 1 : 0, Double(top)].enumerated() { out[r, c] = Float(v) }
        }
        return out
    }
}
