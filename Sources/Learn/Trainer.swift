import Foundation
import Primitives

/// Tabular training data: columns of raw values, named.
public struct TabularData: Sendable {
    public var numericNames: [String]
    public var numeric: [[Double]]
    public var categoricalNames: [String]
    public var categorical: [[String]]
    /// Fixed category lists (others are learned from the training rows).
    public var categories: [String: [String]]
    /// Derived features: name and expression over the numeric inputs.
    public var derived: [(name: String, expression: String)]
    public var targetName: String
    public var target: [String]
    /// More yes/no (0/1) targets for a multi-label model: output 0 is `target`, then these in order.
    public var extraTargets: [(name: String, values: [String])] = []
    /// The unit (machine, engine) of each row, for histories: the splits then keep each unit's rows together, so no
    /// model is tested on a unit whose neighbouring rows it trained on.
    public var groups: [String]?

    public init(
        numericNames: [String], numeric: [[Double]], categoricalNames: [String] = [], categorical: [[String]] = [],
        categories: [String: [String]] = [:], derived: [(name: String, expression: String)] = [], targetName: String,
        target: [String]
    ) {
        self.numericNames = numericNames
        self.numeric = numeric
        self.categoricalNames = categoricalNames
        self.categorical = categorical
        self.categories = categories
        self.derived = derived
        self.targetName = targetName
        self.target = target
    }

    public var rows: Int { target.count }
}

/// How to train: architecture, optimization, splits. Defaults follow Keras.
public struct TrainingSpec: Sendable {
    public var task: ModelFile.Task?
    public var hiddenLayers: [Int] = [64, 64]
    public var activation: Activation = .relu
    public var dropout: Float = 0
    public var batchNormalization = false
    public var epochs = 50
    public var batchSize = 32
    public var learningRate: Float = 0.001
    public var weightDecay: Float = 0
    /// Held out from the training part, stratified, for early stopping and the decision threshold.
    public var validationSplit = 0.2
    /// Held out first, stratified, for the reported metrics.
    public var testSplit = 0.2
    public var balancedClassWeights = false
    public var patience = 10
    /// What early stopping watches: val_loss, or for binary targets val_pr_auc (the default there).
    public var monitor: String?
    public var scaling: Preprocessing.Scaling = .standard
    /// Networks trained from different initial weights and merged into one by averaging their logits.
    public var ensemble = 1
    /// Bins per feature for piecewise-linear scaling.
    public var bins = 16
    public var seed: UInt64 = 0
    /// Numeric inputs that reach the model only through derived features (their own column is held at 0), e.g. a
    /// torque whose effect is through power and strain: a network cannot then pin on it what the mechanism does.
    public var hiddenInputs: [String] = []
    /// 1-D convolutions before the Dense layers (filters per layer, "same" padding, the hidden activation), for
    /// inputs that are a sequence window (`WindowSpec.Layout.sequence`) of `sequenceChannels` variables per step.
    public var convolutionFilters: [Int] = []
    public var kernelSize = 10
    /// GRU layers after the convolutions (units per layer; all but the last return their sequence), before the
    /// Dense layers, for sequence windows.
    public var recurrentUnits: [Int] = []
    public var sequenceChannels: Int?

    public init() {}

    var hyperparameters: [String: String] {
        [
            "layers": hiddenLayers.map(String.init).joined(separator: ","), "activation": activation.rawValue,
            "dropout": "\(dropout)", "batch_normalization": "\(batchNormalization)", "epochs": "\(epochs)",
            "batch_size": "\(batchSize)", "learning_rate": "\(learningRate)", "weight_decay": "\(weightDecay)",
            "optimizer": weightDecay > 0 ? "adamw" : "adam", "validation_split": "\(validationSplit)",
            "test_split": "\(testSplit)", "class_weight": balancedClassWeights ? "balanced" : "none",
            "patience": "\(patience)", "ensemble": "\(ensemble)", "scaling": scaling.rawValue, "bins": "\(bins)",
            "seed": "\(seed)",
        ].merging(
            convolutionFilters.isEmpty
                ? [:]
                : ["conv": convolutionFilters.map(String.init).joined(separator: ","), "kernel_size": "\(kernelSize)"]
        ) { $1 }.merging(recurrentUnits.isEmpty ? [:] : ["gru": recurrentUnits.map(String.init).joined(separator: ",")])
        {
            $1
        }
    }
}

/// What training produced.
public struct TrainingResult: Sendable {
    public var model: ModelFile
    public var history: History
    /// Metrics on the test split (binary: f1, precision, recall, accuracy, roc_auc, pr_auc; multiclass: accuracy,
    /// macro_f1, weighted_f1; regression: mse, mae).
    public var testMetrics: [String: Double]
    public var binary: BinaryMetrics?
    public var report: ClassificationReport?
    public var trainRows: Int
    public var validationRows: Int
    public var testRows: Int
}

public enum Trainer {
    /// Splits, fits the preprocessing on the training rows only, trains, chooses the threshold on validation rows and
    /// measures on test rows.
    public static func train(
        _ data: TabularData, spec: TrainingSpec, metadata: ModelFile.Metadata, onEpoch: (EpochLog) -> Void = { _ in }
    ) throws -> TrainingResult {
        try check(spec, rows: data.rows)
        let targets = try Targets(data, spec: spec)
        let sets = try DataSets(data, targets: targets, spec: spec)
        let (layers, loss) = try network(spec, targets: targets, inputs: sets.preprocessing.featureCount)
        let (model, history) = try fitEnsemble(
            layers, loss: loss, sets: sets, task: targets.task, spec: spec, onEpoch: onEpoch)
        let evaluation = evaluate(model, sets: sets, targets: targets)
        var meta = metadata
        meta.hyperparameters.merge(spec.hyperparameters) { $1 }
        meta.metrics = evaluation.metrics
        meta.datasetRows = data.rows
        var description = ModelFile.Description(
            task: targets.task, inputSize: sets.preprocessing.featureCount, outputSize: model.outputSize,
            layers: model.configurations, preprocessing: sets.preprocessing, target: data.targetName,
            classes: targets.classes, threshold: evaluation.threshold, metadata: meta)
        if targets.task == .multilabel {
            description.labels = targets.names
            description.thresholds = evaluation.thresholds
        }
        // What the training data looked like, for drift checks on live data (docs/server.md).
        description.reference = Dictionary(
            uniqueKeysWithValues: zip(data.numericNames, data.numeric).map { ($0, ReferenceDistribution($1)) })
        // Where the training inputs lie, jointly: the optimizer's trust region (docs/optimizer.md).
        description.support = InputSupport.fit(names: data.numericNames, columns: data.numeric)
        if targets.task == .binary || targets.task == .multilabel {
            let validation = model.predict(sets.xValid)
            description.predictionReference = ReferenceDistribution(
                (0..<validation.rows).map { Double(validation[$0, 0]) })
        }
        return TrainingResult(
            model: ModelFile(description: description, model: model), history: history,
            testMetrics: evaluation.metrics, binary: evaluation.binary, report: evaluation.report,
            trainRows: sets.trainRows, validationRows: sets.validationRows, testRows: sets.testRows)
    }

    /// The spec's limits and enough rows.
    static func check(_ spec: TrainingSpec, rows: Int) throws {
        guard rows >= 10 else {
            throw LearnError("\(rows) rows are too few to train and test a model (need at least 10)")
        }
        guard !spec.hiddenLayers.contains(where: { $0 < 1 }) else {
            throw LearnError("every layer needs at least 1 unit")
        }
        guard (0..<1).contains(spec.dropout) else { throw LearnError("dropout must be in 0..<1, got \(spec.dropout)") }
        guard spec.testSplit > 0 && spec.testSplit < 0.9, spec.validationSplit > 0 && spec.validationSplit < 0.9 else {
            throw LearnError("test and validation splits must be above 0 and below 0.9")
        }
        guard spec.ensemble >= 1 && spec.ensemble <= 50 else {
            throw LearnError("ensemble must be from 1 to 50 members, got \(spec.ensemble)")
        }
        guard spec.ensemble == 1 || !spec.batchNormalization else {
            throw LearnError("ensembles are merged from Dense and Dropout layers; leave out batch normalization")
        }
    }

    /// What the model learns: the task (asked for, or read from the target's values), the classes, and one label per
    /// row (for multi-label targets, a row of 0/1 per label as well).
    struct Targets {
        let task: ModelFile.Task
        var classes: [String] = []
        /// One per row: the class index, the number, or (multi-label) the first label, which splits are stratified on.
        var labels: [Float]
        /// Multi-label targets, row-major: rows x names.count.
        var matrix: [Float] = []
        let names: [String]

        init(_ data: TabularData, spec: TrainingSpec) throws {
            let distinct = Array(Set(data.target)).sorted {
                (Double($0) ?? .infinity, $0) < (Double($1) ?? .infinity, $1)
            }
            task =
                spec.task ?? (!data.extraTargets.isEmpty ? .multilabel : nil)
                ?? (distinct.count == 2
                    ? .binary
                    : distinct.allSatisfy { Double($0) != nil } && distinct.count > 20 ? .regression : .multiclass)
            names = [data.targetName] + data.extraTargets.map(\.name)
            switch task {
            case .multilabel:
                let columns = try Self.multilabel(data, names: names)
                classes = ["0", "1"]
                labels = columns[0]  // stratify (and bin) on the first label
                matrix = (0..<data.rows).flatMap { r in columns.map { $0[r] } }
            case .binary, .multiclass:
                guard distinct.count >= 2 else {
                    throw LearnError(
                        "target '\(data.targetName)' has a single class (\(distinct.first ?? "none")): there is nothing to learn"
                    )
                }
                guard task == .multiclass || distinct.count == 2 else {
                    throw LearnError(
                        "a binary target needs exactly 2 classes; '\(data.targetName)' has \(distinct.count)")
                }
                classes = distinct
                let index = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, Float($0)) })
                labels = data.target.map { index[$0]! }
            case .anomaly:
                throw LearnError(
                    "anomaly detectors learn without a target: use PCADetector (millstream train --detector pca)")
            case .regression:
                labels = try data.target.enumerated().map { i, v in
                    guard let x = Float(v), x.isFinite else {
                        throw LearnError("target '\(data.targetName)' row \(i + 1): '\(v)' is not a number")
                    }
                    return x
                }
            }
        }

        /// Each label's column of 0 and 1; every label must be 1 somewhere.
        static func multilabel(_ data: TabularData, names: [String]) throws -> [[Float]] {
            try zip(names, [data.target] + data.extraTargets.map(\.values)).map { name, values in
                guard values.count == data.rows else {
                    throw LearnError("target '\(name)' has \(values.count) values for \(data.rows) rows")
                }
                let column = try values.enumerated().map { i, v -> Float in
                    guard v == "0" || v == "1" else {
                        throw LearnError("multi-label target '\(name)' row \(i + 1): '\(v)' is not 0 or 1")
                    }
                    return v == "1" ? 1 : 0
                }
                guard column.contains(1) else {
                    throw LearnError("multi-label target '\(name)' is never 1: there is nothing to learn")
                }
                return column
            }
        }

        /// The rows' targets as the network's output tensor.
        func tensor(_ idx: [Int]) -> Tensor {
            if task == .multilabel {
                let k = names.count
                return Tensor(rows: idx.count, columns: k, scalars: idx.flatMap { matrix[($0 * k)..<($0 * k + k)] })
            }
            return Tensor(rows: idx.count, columns: 1, scalars: idx.map { labels[$0] })
        }
    }

    /// The rows split into training, validation and test sets (by unit when the data has units, else stratified),
    /// the preprocessing fitted on the training rows, and each set as tensors.
    struct DataSets {
        let preprocessing: Preprocessing
        let xTrain: Tensor, yTrain: Tensor
        let xValid: Tensor, yValid: Tensor
        let xTest: Tensor, yTest: Tensor
        var trainRows: Int { xTrain.rows }
        var validationRows: Int { xValid.rows }
        var testRows: Int { xTest.rows }

        init(_ data: TabularData, targets: Targets, spec: TrainingSpec) throws {
            if let groups = data.groups, groups.count != data.rows {
                throw LearnError("\(groups.count) unit labels for \(data.rows) rows")
            }
            var rng = RandomSource(seed: spec.seed)
            let split =
                if let groups = data.groups {
                    try Trainer.groupSplit(groups, spec: spec, rng: &rng)
                } else {
                    try Trainer.stratifiedSplit(
                        labels: targets.labels, task: targets.task, classes: targets.classes, spec: spec, rng: &rng)
                }
            var trainIdx = split.train
            trainIdx.shuffle(using: &rng)
            func columns<T>(_ cols: [[T]], _ idx: [Int]) -> [[T]] { cols.map { c in idx.map { c[$0] } } }
            let preprocessing = try Preprocessing.fit(
                numericInputs: data.numericNames, numeric: columns(data.numeric, trainIdx), derived: data.derived,
                categoricalInputs: data.categoricalNames, categoricalValues: columns(data.categorical, trainIdx),
                categories: data.categories, scaling: spec.scaling, bins: spec.bins,
                labels: targets.task == .regression ? nil : trainIdx.map { Int(targets.labels[$0]) },
                hidden: Set(spec.hiddenInputs))
            func features(_ idx: [Int]) throws -> Tensor {
                try preprocessing.transform(
                    numeric: columns(data.numeric, idx), categoricalValues: columns(data.categorical, idx))
            }
            self.preprocessing = preprocessing
            (xTrain, yTrain) = (try features(trainIdx), targets.tensor(trainIdx))
            (xValid, yValid) = (try features(split.validation), targets.tensor(split.validation))
            (xTest, yTest) = (try features(split.test), targets.tensor(split.test))
        }
    }

    /// The spec's layers and the head and loss the task needs.
    static func network(_ spec: TrainingSpec, targets: Targets, inputs: Int) throws -> ([any Layer], any Loss) {
        var layers = try convolutions(spec, inputs: inputs)
        for units in spec.hiddenLayers {
            layers.append(Dense(units, activation: spec.activation))
            if spec.batchNormalization { layers.append(BatchNormalization()) }
            if spec.dropout > 0 { layers.append(Dropout(spec.dropout)) }
        }
        switch targets.task {
        case .binary:
            return (layers + [Dense(1, activation: .sigmoid)], BinaryCrossEntropy())
        case .multiclass:
            return (layers + [Dense(targets.classes.count, activation: .softmax)], SparseCategoricalCrossEntropy())
        case .multilabel:
            return (layers + [Dense(targets.names.count, activation: .sigmoid)], BinaryCrossEntropy())
        case .regression, .anomaly:
            return (layers + [Dense(1)], MeanSquaredError())
        }
    }

    /// Trains `spec.ensemble` members (each from its own seed) and averages them into one model.
    static func fitEnsemble(
        _ layers: [any Layer], loss: any Loss, sets: DataSets, task: ModelFile.Task, spec: TrainingSpec,
        onEpoch: (EpochLog) -> Void
    ) throws -> (Sequential, History) {
        var classWeight: [Int: Float]?
        if spec.balancedClassWeights && task != .regression && task != .multilabel {
            // Keras / scikit-learn "balanced": n / (classes x count of the class).
            var counts = [Int: Int]()
            for i in 0..<sets.yTrain.rows { counts[Int(sets.yTrain.scalars[i]), default: 0] += 1 }
            classWeight = counts.mapValues { Float(sets.yTrain.rows) / Float(counts.count * $0) }
        }
        var members: [Sequential] = []
        var history = History()
        for member in 0..<spec.ensemble {
            let memberSeed = spec.seed &+ UInt64(member) &* 0x9E37_79B9
            let memberLayers = try layers.map { layer -> any Layer in
                member == 0 ? layer : layer.configuration.makeLayer()
            }
            let model = try Sequential(memberLayers, inputSize: sets.preprocessing.featureCount, seed: memberSeed)
            let optimizer: any Optimizer =
                spec.weightDecay > 0
                ? AdamW(learningRate: Constant(spec.learningRate), weightDecay: spec.weightDecay)
                : Adam(learningRate: Constant(spec.learningRate))
            let h = try model.fit(
                x: sets.xTrain, y: sets.yTrain, loss: loss, optimizer: optimizer,
                options: FitOptions(
                    epochs: spec.epochs, batchSize: spec.batchSize, validationData: (sets.xValid, sets.yValid),
                    seed: memberSeed, classWeight: classWeight,
                    earlyStopping: EarlyStopping(
                        monitor: spec.monitor ?? (task == .binary ? "val_pr_auc" : "val_loss"), patience: spec.patience)
                ),
                onEpoch: { log in
                    var l = log
                    if spec.ensemble > 1 { l.member = (member + 1, spec.ensemble) }
                    onEpoch(l)
                })
            if member == 0 { history = h } else { history.epochs += h.epochs }
            members.append(model)
        }
        return (try Sequential.averaging(members), history)
    }

    /// The test set's figures for the task, with the thresholds chosen on the validation set.
    struct Evaluation {
        var metrics: [String: Double] = [:]
        var binary: BinaryMetrics?
        var report: ClassificationReport?
        var threshold = 0.5
        var thresholds: [Double]?
    }

    static func evaluate(_ model: Sequential, sets: DataSets, targets: Targets) -> Evaluation {
        let testOutput = model.predict(sets.xTest)
        var e = Evaluation()
        switch targets.task {
        case .multilabel:
            e = evaluateMultilabel(model, testOutput: testOutput, sets: sets, targets: targets)
        case .binary:
            e.threshold = BinaryMetrics.bestThreshold(
                scores: model.predict(sets.xValid).scalars, labels: sets.yValid.scalars.map { Int($0) })
            let m = BinaryMetrics(
                scores: testOutput.scalars, labels: sets.yTest.scalars.map { Int($0) }, threshold: e.threshold)
            e.binary = m
            e.metrics = [
                "f1": m.f1, "precision": m.precision, "recall": m.recall, "accuracy": m.accuracy, "roc_auc": m.rocAUC,
                "pr_auc": m.prAUC, "threshold": e.threshold,
            ]
            e.report = ClassificationReport(
                predicted: testOutput.scalars.map { Double($0) >= e.threshold ? 1 : 0 },
                actual: sets.yTest.scalars.map { Int($0) }, labels: targets.classes)
        case .multiclass:
            let predicted = (0..<testOutput.rows).map { r in
                (0..<testOutput.columns).max { testOutput[r, $0] < testOutput[r, $1] }!
            }
            let r = ClassificationReport(
                predicted: predicted, actual: sets.yTest.scalars.map { Int($0) }, labels: targets.classes)
            e.report = r
            e.metrics = ["accuracy": r.accuracy, "macro_f1": r.macro.f1, "weighted_f1": r.weighted.f1]
        case .regression, .anomaly:
            var se = 0.0
            var ae = 0.0
            for i in 0..<testOutput.rows {
                let d = Double(testOutput.scalars[i] - sets.yTest.scalars[i])
                se += d * d
                ae += abs(d)
            }
            let mse = se / Double(testOutput.rows)
            e.metrics = ["mse": mse, "rmse": mse.squareRoot(), "mae": ae / Double(testOutput.rows)]
        }
        return e
    }

    /// Per label: the F1-best threshold on validation, metrics on test (the first label's without a suffix).
    static func evaluateMultilabel(_ model: Sequential, testOutput: Tensor, sets: DataSets, targets: Targets)
        -> Evaluation
    {
        var e = Evaluation()
        let validOutput = model.predict(sets.xValid)
        func column(_ t: Tensor, _ c: Int) -> [Float] { (0..<t.rows).map { t[$0, c] } }
        let thresholds = targets.names.indices.map { c in
            BinaryMetrics.bestThreshold(
                scores: column(validOutput, c), labels: column(sets.yValid, c).map { Int($0) })
        }
        for c in targets.names.indices {
            let m = BinaryMetrics(
                scores: column(testOutput, c), labels: column(sets.yTest, c).map { Int($0) }, threshold: thresholds[c])
            let suffix = c == 0 ? "" : "_" + targets.names[c]
            e.metrics["f1" + suffix] = m.f1
            e.metrics["roc_auc" + suffix] = m.rocAUC
            e.metrics["pr_auc" + suffix] = m.prAUC
            if c == 0 {
                e.binary = m
                e.metrics.merge(["precision": m.precision, "recall": m.recall, "accuracy": m.accuracy]) { $1 }
                e.report = ClassificationReport(
                    predicted: column(testOutput, 0).map { Double($0) >= thresholds[0] ? 1 : 0 },
                    actual: column(sets.yTest, 0).map { Int($0) }, labels: targets.classes)
            }
        }
        e.thresholds = thresholds
        e.threshold = thresholds[0]
        e.metrics["threshold"] = e.threshold
        return e
    }

    /// The sequence stack the spec asks for (convolutions, then GRUs), checked against the input width.
    static func convolutions(_ spec: TrainingSpec, inputs: Int) throws -> [any Layer] {
        guard !spec.convolutionFilters.isEmpty || !spec.recurrentUnits.isEmpty else { return [] }
        guard let channels = spec.sequenceChannels, channels > 0, inputs % channels == 0 else {
            throw LearnError(
                "convolution and recurrent layers need inputs that are a sequence window (time steps x variables, and no other inputs); got \(inputs) inputs for \(spec.sequenceChannels ?? 0) variables per step"
            )
        }
        guard spec.recurrentUnits.allSatisfy({ $0 >= 1 }) else { throw LearnError("every GRU needs at least 1 unit") }
        guard spec.convolutionFilters.isEmpty || (spec.kernelSize >= 1 && spec.kernelSize <= inputs / channels) else {
            throw LearnError(
                "the kernel size must be 1 to the window's \(inputs / channels) steps, not \(spec.kernelSize)")
        }
        guard spec.convolutionFilters.allSatisfy({ $0 >= 1 }) else {
            throw LearnError("every convolution needs at least 1 filter")
        }
        var layers: [any Layer] = []
        var width = channels
        for filters in spec.convolutionFilters {
            layers.append(
                Conv1D(
                    filters: filters, kernelSize: spec.kernelSize, channels: width, padding: .same,
                    activation: spec.activation))
            width = filters
        }
        for (i, units) in spec.recurrentUnits.enumerated() {
            layers.append(GRU(units: units, channels: width, returnSequences: i < spec.recurrentUnits.count - 1))
            width = units
        }
        return layers
    }

    /// Stratified splits (by class for classification): test first, then validation from the rest.
    static func stratifiedSplit(
        labels: [Float], task: ModelFile.Task, classes: [String], spec: TrainingSpec, rng: inout RandomSource
    ) throws -> (train: [Int], validation: [Int], test: [Int]) {
        let strata =
            task == .regression ? [0: Array(labels.indices)] : Dictionary(grouping: labels.indices) { Int(labels[$0]) }
        var trainIdx: [Int] = [], validIdx: [Int] = [], testIdx: [Int] = []
        for key in strata.keys.sorted() {
            var rows = strata[key]!
            rows.shuffle(using: &rng)
            let nTest = max(1, Int((Double(rows.count) * spec.testSplit).rounded()))
            let rest = rows.count - nTest
            let nValid = max(1, Int((Double(rest) * spec.validationSplit).rounded()))
            guard rest - nValid >= 1 else {
                throw LearnError(
                    "class '\(task == .regression ? "all" : classes[key])' has \(rows.count) rows: too few to split into train, validation and test"
                )
            }
            testIdx += rows[0..<nTest]
            validIdx += rows[nTest..<nTest + nValid]
            trainIdx += rows[(nTest + nValid)...]
        }
        return (trainIdx, validIdx, testIdx)
    }

    /// Splits by unit: each unit's rows all go to train, validation or test.
    static func groupSplit(
        _ groups: [String], spec: TrainingSpec, rng: inout RandomSource
    ) throws -> (train: [Int], validation: [Int], test: [Int]) {
        var rowsOf: [String: [Int]] = [:]
        for (r, g) in groups.enumerated() { rowsOf[g, default: []].append(r) }
        var units = rowsOf.keys.sorted { (Double($0) ?? .infinity, $0) < (Double($1) ?? .infinity, $1) }
        guard units.count >= 3 else {
            throw LearnError("\(units.count) units are too few to split by unit into train, validation and test")
        }
        units.shuffle(using: &rng)
        let nTest = max(1, Int((Double(units.count) * spec.testSplit).rounded()))
        let nValid = max(1, Int((Double(units.count - nTest) * spec.validationSplit).rounded()))
        guard units.count - nTest - nValid >= 1 else {
            throw LearnError("\(units.count) units leave none to train on after the test and validation splits")
        }
        func rows(_ part: ArraySlice<String>) -> [Int] { part.flatMap { rowsOf[$0]! } }
        return (rows(units[(nTest + nValid)...]), rows(units[nTest..<nTest + nValid]), rows(units[0..<nTest]))
    }
}
