import Learn

/// A Millstream-trained network with its preprocessing as a risk model: output 0 (the probability of failure of a
/// binary or multi-label model) with gradients by backpropagation through the network and forward-mode
/// differentiation through the preprocessing (derived features such as power = torque x speed included).
public struct NetworkRiskModel: RiskModel {
    public let label: String
    let network: InferenceModel
    let preprocessing: Preprocessing
    public let numericInputs: [String]
    public let categoricalInputs: [String]
    /// Typical values of the numeric inputs (training medians), the reference point of attributions.
    public let reference: [Double]
    public let support: InputSupport?

    public init(file: ModelFile, label: String) throws {
        let d = file.description
        guard file.onnx == nil, d.engine == .millstream, let pre = d.preprocessing else {
            throw OptimizerError(
                "model \(label) is not a Millstream-trained network with saved preprocessing; the optimizer needs one")
        }
        guard d.task == .binary || d.task == .multilabel else {
            throw OptimizerError(
                "model \(label) predicts \(d.task.rawValue); the optimizer needs a failure-risk model (binary or multilabel)"
            )
        }
        guard d.history == nil else {
            throw OptimizerError(
                "model \(label) reads a window of each machine's history; the optimizer needs a model of the current reading"
            )
        }
        self.label = label
        self.network = InferenceModel(try file.makeModel())
        self.preprocessing = pre
        self.numericInputs = pre.numericInputs
        self.categoricalInputs = pre.categorical.map(\.name)
        self.support = d.support.flatMap { $0.names == pre.numericInputs ? $0 : nil }
        self.reference = pre.numericInputs.enumerated().map { i, name in
            if let r = d.reference?[name], !r.sample.isEmpty {
                let sorted = r.sample.sorted()
                return sorted[sorted.count / 2]
            }
            return pre.scaling == .standard ? pre.offsets[i] : 0
        }
    }

    public func categoryIndex(of value: String, for input: Int) -> Int {
        preprocessing.categoryIndex(of: value, for: input)
    }

    public var providesGradients: Bool { preprocessing.isDifferentiable }

    /// The features that may differ between the batch's rows, in the scratch's `varying`, and whether the network
    /// should be told (some are shared): from the batch's `varyingInputs` and directions. Only for scaled inputs
    /// (without bins a numeric input is one feature); derived and categorical features count as varying.
    func varyingFeatures(_ batch: inout RiskBatch, width: Int) -> Bool {
        guard batch.rows >= 2, let inputs = batch.varyingInputs, preprocessing.edges == nil else { return false }
        let nw = batch.numericWidth
        batch.scratch.varying.removeAll(keepingCapacity: true)
        for i in 0..<nw where inputs.contains(i) || (batch.wantsGradient && batch.directions.contains(i)) {
            batch.scratch.varying.append(i)
        }
        batch.scratch.varying.append(contentsOf: nw..<width)
        return batch.scratch.varying.count < width
    }

    public func evaluate(_ batch: inout RiskBatch) {
        let rows = batch.rows
        let width = preprocessing.featureCount
        let nw = batch.numericWidth
        let cw = batch.categoricalWidth
        let gradient = batch.wantsGradient && providesGradients
        // The scratch's buffers are used in place, each a stored property of the batch apart from the others (a copy
        // of the scratch retained and released every buffer on each call; swapping it out moved its 200 bytes four
        // times a call, 2 to 3 % of the optimizer benchmark).
        if batch.scratch.features.count < rows * width {
            batch.scratch.features = [Float](repeating: 0, count: rows * width)
        }
        if batch.scratch.values.count < rows { batch.scratch.values = [Float](repeating: 0, count: rows) }
        if batch.scratch.tangent.count < nw { batch.scratch.tangent = [Double](repeating: 0, count: nw) }
        if batch.scratch.featureTangent.count < width {
            batch.scratch.featureTangent = [Float](repeating: 0, count: width)
        }
        batch.numeric.withUnsafeBufferPointer { numeric in
            batch.categories.withUnsafeBufferPointer { categories in
                batch.scratch.features.withUnsafeMutableBufferPointer { features in
                    for r in 0..<rows {
                        preprocessing.transform(
                            numeric: UnsafeBufferPointer(rebasing: numeric[r * nw..<(r + 1) * nw]),
                            categoryIndex: UnsafeBufferPointer(rebasing: categories[r * cw..<(r + 1) * cw]),
                            into: UnsafeMutableBufferPointer(rebasing: features[r * width..<(r + 1) * width]))
                    }
                }
            }
        }
        let varying = varyingFeatures(&batch, width: width) ? batch.scratch.varying : nil
        if gradient && batch.scratch.featureGradient.count < rows * width {
            batch.scratch.featureGradient = [Float](repeating: 0, count: rows * width)
        }
        batch.scratch.features.withUnsafeBufferPointer { features in
            batch.scratch.values.withUnsafeMutableBufferPointer { values in
                if gradient {
                    batch.scratch.featureGradient.withUnsafeMutableBufferPointer { g in
                        network.evaluate(
                            features, rows: rows, values: values, gradients: g, varying: varying,
                            workspace: &batch.scratch.network)
                    }
                } else {
                    network.evaluate(
                        features, rows: rows, values: values, gradients: nil, varying: varying,
                        workspace: &batch.scratch.network)
                }
            }
        }
        for r in 0..<rows { batch.risk[r] = Double(batch.scratch.values[r]) }
        guard gradient else { return }
        inputGradients(&batch, rows: 0..<rows)
    }

    /// The backward pass over the rows `rows` only, from the activations the last `evaluate` (without gradients)
    /// kept: the network's share of a row's work halves for the rows a solver then rejects.
    public func completeGradients(_ batch: inout RiskBatch, rows: [Int]) {
        guard providesGradients, !rows.isEmpty else { return }
        let width = preprocessing.featureCount
        if batch.scratch.featureGradient.count < rows.count * width {
            batch.scratch.featureGradient = [Float](repeating: 0, count: max(batch.rows, rows.count) * width)
        }
        batch.scratch.featureGradient.withUnsafeMutableBufferPointer { g in
            network.gradients(ofRows: rows, into: g, workspace: &batch.scratch.network)
        }
        inputGradients(&batch, rows: rows)
    }

    /// d risk / d input along the batch's directions for the rows `rows` (batch positions), from d risk / d feature
    /// in the scratch's `featureGradient` (in the order of `rows`): the chain rule through the preprocessing.
    private func inputGradients(_ batch: inout RiskBatch, rows: some Collection<Int>) {
        let (nw, width) = (batch.numericWidth, preprocessing.featureCount)
        let directions = batch.directions
        let dc = directions.count
        batch.numeric.withUnsafeBufferPointer { numeric in
            batch.scratch.featureGradient.withUnsafeBufferPointer { featureGradient in
                batch.scratch.tangent.withUnsafeMutableBufferPointer { tangent in
                    batch.scratch.featureTangent.withUnsafeMutableBufferPointer { featureTangent in
                        batch.gradient.withUnsafeMutableBufferPointer { out in
                            for (i, r) in rows.enumerated() {
                                preprocessing.inputGradient(
                                    numeric: UnsafeBufferPointer(rebasing: numeric[r * nw..<(r + 1) * nw]),
                                    featureGradient: UnsafeBufferPointer(
                                        rebasing: featureGradient[i * width..<(i + 1) * width]),
                                    directions: directions, tangent: tangent, featureTangent: featureTangent,
                                    into: UnsafeMutableBufferPointer(rebasing: out[r * dc..<(r + 1) * dc]))
                            }
                        }
                    }
                }
            }
        }
    }
}
