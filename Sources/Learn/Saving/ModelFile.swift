import Foundation

/// A trained model as files: `model.json` (architecture, preprocessing, metadata) and `weights.safetensors`.
public struct ModelFile: Sendable {
    /// What the model predicts.
    public enum Task: String, Sendable, Codable {
        /// One output, the probability of class 1.
        case binary
        /// One probability per class (softmax).
        case multiclass
        case regression
        /// No labels: an anomaly score and an alarm flag per sample.
        case anomaly
        /// Several yes/no labels at once (e.g. failure, and each failure mode): one probability each.
        case multilabel
    }

    /// What runs the model.
    public enum Engine: String, Sendable, Codable {
        /// Millstream's own layers (weights.safetensors).
        case millstream
        /// An imported ONNX graph (model.onnx), run by Millstream's ONNX interpreter.
        case onnx
        /// A PCA anomaly detector (its parameters are in model.json).
        case pca
        /// An autoencoder anomaly detector (its weights and limits are in model.json).
        case autoencoder
    }

    public struct Description: Sendable, Codable, Equatable {
        public var format = "millstream-model"
        public var formatVersion = 1
        public var engine: Engine = .millstream
        public var task: Task
        public var inputSize: Int
        public var outputSize: Int
        public var layers: [LayerConfiguration]
        public var preprocessing: Preprocessing?
        /// The target column and its class labels (index i is output i, or class 1 for binary).
        public var target: String
        public var classes: [String]
        /// Decision threshold for binary models, chosen on validation data.
        public var threshold: Double
        public var metadata: Metadata
        /// Where each input comes from in a CSV file (input name -> column), for evaluate and predict.
        public var columns: [String: String]?
        /// For models without preprocessing (imported ONNX): the CSV columns that form the input, in order.
        public var inputColumns: [String]?
        /// The detector of an anomaly model: PCA or autoencoder.
        public var detector: PCADetector?
        public var autoencoder: AutoencoderDetector?

        /// Whichever detector this anomaly model has.
        public var anomalyDetector: (any AnomalyDetector)? { detector ?? autoencoder }
        /// Multi-label models: the label of each output and its decision threshold (chosen on validation data).
        public var labels: [String]?
        public var thresholds: [Double]?
        /// The training data's distribution of each numeric input, for drift checks on live data.
        public var reference: [String: ReferenceDistribution]?
        /// The distribution of output 0 (the risk) on the validation rows, for drift of the predictions.
        public var predictionReference: ReferenceDistribution?
        /// The joint spread of the numeric inputs in training (mean, covariance, reach): the optimizer's trust region.
        public var support: InputSupport?
        /// Models of histories: how each unit's readings become the model's inputs.
        public var history: HistorySpec?

        enum CodingKeys: String, CodingKey {
            case format, formatVersion = "format_version", engine, task, inputSize = "input_size", outputSize =
                "output_size"
            case layers, preprocessing, target, classes, threshold, metadata, columns
            case inputColumns = "input_columns", detector, autoencoder, labels, thresholds, reference
            case predictionReference = "prediction_reference", support, history
        }

        public init(
            task: Task, inputSize: Int, outputSize: Int, layers: [LayerConfiguration], preprocessing: Preprocessing?,
            target: String, classes: [String], threshold: Double, metadata: Metadata
        ) {
            self.task = task
            self.inputSize = inputSize
            self.outputSize = outputSize
            self.layers = layers
            self.preprocessing = preprocessing
            self.target = target
            self.classes = classes
            self.threshold = threshold
            self.metadata = metadata
        }
    }

    /// A model of histories: its inputs are windows (`WindowSpec`) of each unit's readings in time order; a
    /// remaining-life model's target is capped at `cap`.
    public struct HistorySpec: Sendable, Codable, Equatable {
        /// The column that names the unit (machine, engine) and the one that orders its readings.
        public var unit: String
        public var time: String
        public var window: WindowSpec
        public var cap: Double?
        /// The column names of a training file without a header row, for reading files like it.
        public var header: [String]?
        /// A "fails within" model: the horizon, in the time column's units.
        public var horizon: Double?
        /// Variables computed from each reading before it enters the window (a temperature difference, a power):
        /// the window's variables of these names are not read but derived (`WindowVariables`).
        public var derived: [DerivedVariable]?

        public init(
            unit: String, time: String, window: WindowSpec, cap: Double? = nil, header: [String]? = nil,
            horizon: Double? = nil
        ) {
            self.unit = unit
            self.time = time
            self.window = window
            self.cap = cap
            self.header = header
            self.horizon = horizon
        }
    }

    /// Where a model came from and how good it was.
    public struct Metadata: Sendable, Codable, Equatable {
        public var created: String
        public var datasetSHA256: String?
        public var datasetRows: Int?
        public var hyperparameters: [String: String]
        public var metrics: [String: Double]
        public var codeVersion: String
        public var source: String?
        /// The snapshot of the stream the model was trained on (`dataset snapshot`'s manifest), when it had one.
        public var dataset: DatasetReference?
        /// The training run in an experiment tracker (an MLflow run's page), when one was logged.
        public var trackingRun: String?

        enum CodingKeys: String, CodingKey {
            case created, datasetSHA256 = "dataset_sha256", datasetRows = "dataset_rows", hyperparameters, metrics
            case codeVersion = "code_version", source, dataset
            case trackingRun = "tracking_run"
        }

        public init(
            created: String, datasetSHA256: String? = nil, datasetRows: Int? = nil,
            hyperparameters: [String: String] = [:],
            metrics: [String: Double] = [:], codeVersion: String, source: String? = nil
        ) {
            self.created = created
            self.datasetSHA256 = datasetSHA256
            self.datasetRows = datasetRows
            self.hyperparameters = hyperparameters
            self.metrics = metrics
            self.codeVersion = codeVersion
            self.source = source
        }
    }

    public var description: Description
    /// Weights by parameter name.
    public var weights: [String: (shape: [Int], values: [Float])]
    /// The ONNX file of an imported model.
    public var onnx: [UInt8]?

    public init(description: Description, model: Sequential) {
        self.description = description
        self.weights = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, ($0.shape, $0.value)) })
    }

    public init(description: Description, weights: [String: (shape: [Int], values: [Float])]) {
        self.description = description
        self.weights = weights
    }

    /// An imported ONNX model; the description's engine is set to onnx.
    public init(description: Description, onnx: [UInt8]) {
        var d = description
        d.engine = .onnx
        self.description = d
        self.weights = [:]
        self.onnx = onnx
    }

    /// The two files' contents: model.json, and weights.safetensors (or model.onnx for an imported model).
    public func encoded() throws -> (json: Data, weights: [UInt8]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try encoder.encode(description)
        if let onnx { return (json, onnx) }
        let tensors = weights.keys.sorted().map { (name: $0, shape: weights[$0]!.shape, values: weights[$0]!.values) }
        return (json, try Safetensors.encode(tensors, metadata: ["format": "millstream"]))
    }

    /// Reads an imported ONNX model from its description and model.onnx.
    public static func decode(json: Data, onnx bytes: [UInt8], source: String) throws -> ModelFile {
        let description = try decodeDescription(json, source: source)
        _ = try ONNXModel(bytes: bytes, source: source + "/model.onnx")
        return ModelFile(description: description, onnx: bytes)
    }

    static func decodeDescription(_ json: Data, source: String) throws -> Description {
        let description: Description
        do {
            description = try JSONDecoder().decode(Description.self, from: json)
        } catch let error as LearnError {
            throw LearnError("\(source)/model.json: \(error.message)")
        } catch {
            throw LearnError("\(source)/model.json is not a valid model description: \(error)")
        }
        guard description.format == "millstream-model" else {
            throw LearnError("\(source)/model.json is not a Millstream model (format '\(description.format)')")
        }
        return description
    }

    /// Whatever runs this model: its layers, its ONNX graph, or its detector.
    public func makePredictor() throws -> any Predictor {
        if let onnx { return try ONNXModel(bytes: onnx, source: "model.onnx") }
        if let detector = description.detector { return detector }
        if let autoencoder = description.autoencoder { return autoencoder }
        return try makeModel()
    }

    /// Reads a model from its two files' contents, checking that the weights match the architecture.
    public static func decode(json: Data, weights bytes: [UInt8], source: String) throws -> ModelFile {
        let description = try decodeDescription(json, source: source)
        let file = ModelFile(
            description: description, weights: try Safetensors.decode(bytes, source: source + "/weights.safetensors"))
        if description.engine == .millstream { _ = try file.makeModel() }  // every weight present with the right shape
        return file
    }

    /// A Sequential model with these weights.
    public func makeModel() throws -> Sequential {
        let model = try Sequential(description.layers.map { $0.makeLayer() }, inputSize: description.inputSize)
        guard model.outputSize == description.outputSize else {
            throw LearnError(
                "model.json says output size \(description.outputSize), its layers give \(model.outputSize)")
        }
        for p in model.parameters {
            guard let w = weights[p.name] else { throw LearnError("the weights file has no tensor '\(p.name)'") }
            guard w.shape == p.shape else {
                throw LearnError("weights '\(p.name)' have shape \(w.shape), the architecture needs \(p.shape)")
            }
            p.value = w.values
        }
        return model
    }
}

/// A model's lineage: the dataset snapshot it was trained on, as its manifest describes it.
public struct DatasetReference: Sendable, Codable, Equatable {
    /// The snapshot's file name (content-addressed by default: readings-<sha256 prefix>.csv).
    public var name: String
    public var sha256: String
    public var rows: Int
    public var failures: Int?
    /// The readings' time range.
    public var from: String?
    public var to: String?
    /// Where the readings came from: bus, topic and the end offsets read.
    public var source: String?
    /// Whether the snapshot passed its validation against the process config.
    public var validated: Bool?

    public init(
        name: String, sha256: String, rows: Int, failures: Int? = nil, from: String? = nil, to: String? = nil,
        source: String? = nil, validated: Bool? = nil
    ) {
        self.name = name
        self.sha256 = sha256
        self.rows = rows
        self.failures = failures
        self.from = from
        self.to = to
        self.source = source
        self.validated = validated
    }
}
