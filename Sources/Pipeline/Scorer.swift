import Learn
import Plant

/// A production model bound to the reading format: maps a reading's values and product to the model's inputs and
/// scores it without allocating.
struct Scorer: Sendable {
    let name: String
    let version: Int
    let model: InferenceModel
    let preprocessing: Preprocessing
    let threshold: Double
    let binary: Bool
    /// For multi-label models, the labels of outputs 1... (failure modes); output 0 is the overall risk.
    let modeLabels: [String]
    let numericNames: [String]
    /// Where each numeric input is in the process's variables (-1: not one of them): readings send their variables
    /// in that order, as a rule, and a value is looked for there first (`Reading.value(_:at:)`).
    let numericPlaces: [Int]
    let categoricalNames: [String]
    /// A model of histories: its inputs come from each machine's window (kept in `MachineTracker.history`).
    let history: HistoryInputs?
    /// A model of histories: how its window reading comes from a reading (raw variables read, derived computed).
    let windowVariables: WindowVariables?
    /// A regression model (a remaining life): its output is an estimate of `target`, not a risk.
    let regression: Bool
    let target: String
    /// A "fails within" model's horizon (minutes, in the training data's time units).
    let horizon: Double?

    /// `variables`: the process's variables in the config's order.
    init(name: String, version: Int, file: ModelFile, variables: [String]) throws {
        guard let pre = file.description.preprocessing, file.onnx == nil else {
            throw LearnError(
                "model \(name) v\(version) has no saved preprocessing; the pipeline scores models trained by Millstream"
            )
        }
        self.name = name
        self.version = version
        self.label = "\(name)@v\(version)"
        self.model = InferenceModel(try file.makeModel())
        self.preprocessing = pre
        self.threshold = file.description.threshold
        self.binary = file.description.task == .binary || file.description.task == .multilabel
        self.regression = file.description.task == .regression
        self.target = file.description.target
        self.modeLabels = Array((file.description.labels ?? []).dropFirst())
        self.numericNames = pre.numericInputs
        self.numericPlaces = pre.numericInputs.map { variables.firstIndex(of: $0) ?? -1 }
        self.categoricalNames = pre.categorical.map(\.name)
        self.history = file.description.history.map { HistoryInputs(pre.numericInputs, window: $0.window) }
        self.windowVariables = try file.description.history.map(WindowVariables.init)
        self.horizon = file.description.history?.horizon
    }

    /// "failure@v3": made once (each prediction carries it; formatting it per reading was a string a reading).
    let label: String

    /// The probability of failure (binary), of the highest class, or the estimate (regression), for a running
    /// reading; nil if an input is missing. A model of histories first adds the reading to the machine's `window`
    /// (started afresh when the model's window differs from the one kept).
    func score(_ reading: Reading, scratch: inout Scratch, window: inout MachineWindow?) -> Double? {
        if let history, let windowVariables {
            for (j, name) in windowVariables.raw.enumerated() {
                guard let v = reading[name] else { return nil }
                scratch.rawReading[j] = v
            }
            windowVariables.fill(&scratch.windowReading, raw: scratch.rawReading)
            if window?.spec != history.window { window = MachineWindow(spec: history.window) }
            window!.state.append(scratch.windowReading)
            window!.state.features(history.window, into: &scratch.windowFeatures)
            guard history.fill(&scratch.numeric, features: scratch.windowFeatures, raw: { reading[$0] }) else {
                return nil
            }
        } else {
            for (i, n) in numericNames.enumerated() {
                guard let v = reading.value(n, at: numericPlaces[i]) else { return nil }
                scratch.numeric[i] = v
            }
        }
        for (j, n) in categoricalNames.enumerated() {
            let value = n == "product" ? (reading.product ?? "") : ""
            scratch.categories[j] = preprocessing.categoryIndex(of: value, for: j)
        }
        return evaluate(&scratch)
    }

    /// Scores the numeric and categorical inputs already in `scratch`.
    private func evaluate(_ scratch: inout Scratch) -> Double {
        scratch.numeric.withUnsafeBufferPointer { num in
            scratch.categories.withUnsafeBufferPointer { cat in
                scratch.features.withUnsafeMutableBufferPointer {
                    preprocessing.transform(numeric: num, categoryIndex: cat, into: $0)
                }
            }
        }
        scratch.features.withUnsafeBufferPointer { f in
            scratch.output.withUnsafeMutableBufferPointer { model.predict(f, into: $0, scratch: &scratch.model) }
        }
        return Double(binary || regression ? scratch.output[0] : scratch.output.max() ?? 0)
    }

    /// One input's share in the current score: its value, and how much the score falls when it alone is set to its
    /// training mean.
    struct Contribution: Sendable {
        var name: String
        var value: Double
        var effect: Double
    }

    /// The `top` inputs that raise the last score most (occlusion: each numeric input set to its training mean in
    /// turn; standardized inputs only, whose offset is that mean). One model call per input, so it is asked only
    /// when an alarm is raised. Leaves `scratch` as `score` left it.
    func contributions(_ scratch: inout Scratch, top: Int) -> [Contribution] {
        guard preprocessing.scaling == .standard || preprocessing.scaling == .treeSteps else { return [] }
        let base = Double(scratch.output[0])
        var found: [Contribution] = []
        for i in numericNames.indices {
            let value = scratch.numeric[i]
            scratch.numeric[i] = preprocessing.offsets[i]
            let effect = base - evaluate(&scratch)
            scratch.numeric[i] = value
            if effect > 0 { found.append(Contribution(name: numericNames[i], value: value, effect: effect)) }
        }
        _ = evaluate(&scratch)
        return Array(found.sorted { $0.effect > $1.effect }.prefix(top))
    }

    struct Scratch: Sendable {
        var rawReading: [Double]
        var windowReading: [Double]
        var windowFeatures: [Double]
        var numeric: [Double]
        var categories: [Int]
        var features: [Float]
        var output: [Float]
        var model: InferenceModel.Scratch
    }

    func makeScratch() -> Scratch {
        Scratch(
            rawReading: [Double](repeating: 0, count: windowVariables?.raw.count ?? 0),
            windowReading: [Double](repeating: 0, count: history?.window.variables.count ?? 0),
            windowFeatures: [Double](repeating: 0, count: history?.window.featureCount ?? 0),
            numeric: [Double](repeating: 0, count: numericNames.count),
            categories: [Int](repeating: -1, count: categoricalNames.count),
            features: [Float](repeating: 0, count: preprocessing.featureCount),
            output: [Float](repeating: 0, count: model.outputSize),
            model: model.makeScratch())
    }
}

/// One machine's recent running readings for a model of histories: the window and the spec it was built for.
/// Part of `MachineTracker`, so it is checkpointed with the input offsets and a restarted worker scores exactly as an
/// uninterrupted one.
struct MachineWindow: Codable, Sendable {
    var spec: WindowSpec
    var state: WindowState

    init(spec: WindowSpec) {
        self.spec = spec
        self.state = WindowState(spec)
    }
}
