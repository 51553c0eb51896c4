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
    let categoricalNames: [String]

    init(name: String, version: Int, file: ModelFile) throws {
        guard let pre = file.description.preprocessing, file.onnx == nil else {
            throw LearnError(
                "model \(name) v\(version) has no saved preprocessing; the pipeline scores models trained by Millstream"
            )
        }
        self.name = name
        self.version = version
        self.model = InferenceModel(try file.makeModel())
        self.preprocessing = pre
        self.threshold = file.description.threshold
        self.binary = file.description.task == .binary || file.description.task == .multilabel
        self.modeLabels = Array((file.description.labels ?? []).dropFirst())
        self.numericNames = pre.numericInputs
        self.categoricalNames = pre.categorical.map(\.name)
    }

    var label: String { "\(name)@v\(version)" }

    /// The probability of failure (binary) or of the highest class, for a running reading; nil if an input is missing.
    func score(_ reading: Reading, scratch: inout Scratch) -> Double? {
        for (i, n) in numericNames.enumerated() {
            guard let v = reading[n] else { return nil }
            scratch.numeric[i] = v
        }
        for (j, n) in categoricalNames.enumerated() {
            let value = n == "product" ? (reading.product ?? "") : ""
            scratch.categories[j] = preprocessing.categoryIndex(of: value, for: j)
        }
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
        return Double(binary ? scratch.output[0] : scratch.output.max() ?? 0)
    }

    struct Scratch: Sendable {
        var numeric: [Double]
        var categories: [Int]
        var features: [Float]
        var output: [Float]
        var model: InferenceModel.Scratch
    }

    func makeScratch() -> Scratch {
        Scratch(
            numeric: [Double](repeating: 0, count: numericNames.count),
            categories: [Int](repeating: -1, count: categoricalNames.count),
            features: [Float](repeating: 0, count: preprocessing.featureCount),
            output: [Float](repeating: 0, count: model.outputSize),
            model: model.makeScratch())
    }
}
