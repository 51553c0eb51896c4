import Learn
import Registry

/// A registered model version ready to answer predict requests, with its signature in TensorFlow Serving's terms.
struct ServedModel: Sendable {
    enum Engine: Sendable {
        /// A Millstream network; with preprocessing its inputs are the raw columns, else the feature vector. A model
        /// of histories (`history`) takes each raw window variable as a sequence, derives the others at each step
        /// and computes the window's features.
        case network(InferenceModel, Preprocessing?, history: HistoryInputs?, variables: WindowVariables?)
        case onnx(ONNXModel)
        /// An anomaly detector: outputs score, alarm and the index of the top contributing variable.
        case detector(any AnomalyDetector)
    }

    /// One named input of the signature: a numeric vector of `width`, one string (a categorical column), or (a
    /// window variable of a model of histories) a sequence of one or more numbers, oldest first.
    struct Input: Sendable {
        var name: String
        var width: Int
        var categorical: Bool
        /// The model's window length when the input is a sequence: shorter ones are the start of a history, longer
        /// ones feed the EWMA and the window keeps the newest `sequence`.
        var sequence: Int? = nil
    }

    let version: ModelVersion
    let engine: Engine
    let inputs: [Input]
    let outputName: String
    let outputWidth: Int

    init(version: ModelVersion, file: ModelFile) throws {
        self.version = version
        let d = file.description
        if let onnx = file.onnx {
            let graph = try ONNXModel(bytes: onnx, source: version.path + "/model.onnx")
            engine = .onnx(graph)
            inputs = [Input(name: graph.inputName, width: graph.inputSize ?? d.inputSize, categorical: false)]
            outputName = graph.outputName
            outputWidth = d.outputSize
        } else if let detector = d.anomalyDetector {
            engine = .detector(detector)
            inputs = detector.variables.map { Input(name: $0, width: 1, categorical: false) }
            outputName = "anomaly"
            outputWidth = 3
        } else {
            let model = InferenceModel(try file.makeModel())
            let history = d.history.flatMap { h in
                d.preprocessing.map { HistoryInputs($0.numericInputs, window: h.window) }
            }
            let variables = try history.flatMap { _ in try d.history.map(WindowVariables.init) }
            engine = .network(model, d.preprocessing, history: history, variables: variables)
            if let pre = d.preprocessing, let history, let variables {
                inputs =
                    variables.raw.map {
                        Input(name: $0, width: 1, categorical: false, sequence: history.window.length)
                    }
                    + history.rawNames.map { Input(name: $0, width: 1, categorical: false) }
                    // The unit's age: a window of recent readings does not tell how long its history is.
                    + (history.window.age ? [Input(name: "age", width: 1, categorical: false)] : [])
                    + pre.categorical.map { Input(name: $0.name, width: 1, categorical: true) }
            } else if let pre = d.preprocessing {
                inputs =
                    pre.numericInputs.map { Input(name: $0, width: 1, categorical: false) }
                    + pre.categorical.map { Input(name: $0.name, width: 1, categorical: true) }
            } else {
                inputs = [Input(name: "input", width: model.inputSize, categorical: false)]
            }
            outputName = "output"
            outputWidth = model.outputSize
        }
    }

    /// One instance's inputs: numbers per numeric input (width each), a string per categorical input.
    struct Instance {
        var numbers: [[Double]]
        var strings: [String]
    }

    /// Scores instances; one output vector per instance.
    func predict(_ instances: [Instance]) throws -> [[Float]] {
        switch engine {
        case .onnx(let graph):
            var x = Tensor(rows: instances.count, columns: inputs[0].width)
            for (r, i) in instances.enumerated() {
                for (c, v) in i.numbers[0].enumerated() { x[r, c] = Float(v) }
            }
            let y = try graph.predict(x)
            return (0..<y.rows).map { y.row($0) }
        case .detector(let detector):
            // A request's instances are a series in time order (dynamic PCA reads the previous ones).
            return detector.checkSeries(instances.map { i in i.numbers.map { $0[0] } }).map { check in
                let top = check.contributions.indices.max { check.contributions[$0] < check.contributions[$1] } ?? 0
                return [Float(check.score), check.alarm ? 1 : 0, Float(top)]
            }
        case .network(let model, let pre, let history, let variables):
            // The instances' feature rows into one matrix, scored as a batch.
            let width = model.inputSize
            var features = [Float](repeating: 0, count: instances.count * width)
            var numeric = [Double](repeating: 0, count: pre?.numericInputs.count ?? 0)
            var windowFeatures = [Double](repeating: 0, count: history?.window.featureCount ?? 0)
            for (r, i) in instances.enumerated() {
                if let pre {
                    if let history, let variables {
                        try Self.windowInputs(
                            i, history, variables, instance: r, numeric: &numeric, features: &windowFeatures)
                    } else {
                        for (k, n) in i.numbers.enumerated() { numeric[k] = n[0] }
                    }
                    let categories = i.strings.enumerated().map { pre.categoryIndex(of: $0.element, for: $0.offset) }
                    numeric.withUnsafeBufferPointer { n in
                        categories.withUnsafeBufferPointer { c in
                            features.withUnsafeMutableBufferPointer {
                                pre.transform(
                                    numeric: n, categoryIndex: c,
                                    into: UnsafeMutableBufferPointer(rebasing: $0[(r * width)..<((r + 1) * width)]))
                            }
                        }
                    }
                } else {
                    for (c, v) in i.numbers[0].enumerated() { features[r * width + c] = Float(v) }
                }
            }
            let outputs = model.outputSize
            let output = model.predict(rows: instances.count, features)
            return (0..<instances.count).map { Array(output[($0 * outputs)..<(($0 + 1) * outputs)]) }
        }
    }

    /// A history instance's numeric inputs: its raw window variables (the first inputs, one sequence each, all of one
    /// length) appended to a window as the pipeline appends readings (with the derived ones computed at each step),
    /// then the raw inputs that follow them.
    private static func windowInputs(
        _ i: Instance, _ history: HistoryInputs, _ windowVariables: WindowVariables, instance r: Int,
        numeric: inout [Double], features: inout [Double]
    ) throws {
        let variables = windowVariables.raw
        let steps = i.numbers[0].count
        if let k = variables.indices.first(where: { i.numbers[$0].count != steps }) {
            throw APIError.badRequest(
                "instance \(r): \(variables[0]) has \(steps) values, \(variables[k]) \(i.numbers[k].count); each window variable needs one per reading"
            )
        }
        var state = WindowState(history.window)
        var values = [Double](repeating: 0, count: variables.count)
        var reading = [Double](repeating: 0, count: history.window.variables.count)
        for t in 0..<steps {
            for j in variables.indices { values[j] = i.numbers[j][t] }
            windowVariables.fill(&reading, raw: values)
            state.append(reading)
        }
        let age = history.window.age ? i.numbers[variables.count + history.rawNames.count][0] : nil
        state.features(history.window, into: &features, age: age)
        let raw = Dictionary(
            uniqueKeysWithValues: history.rawNames.enumerated().map { ($1, i.numbers[variables.count + $0][0]) })
        _ = history.fill(&numeric, features: features, raw: { raw[$0] })
    }
}
