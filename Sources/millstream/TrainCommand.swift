import ArgumentParser
import Foundation
import Learn
import Plant
import Registry
import Tabular

extension Millstream {
    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a neural network on a CSV file and register it as a new model version.",
            discussion: """
                The data is split (stratified) into train, validation and test parts; scaling is learned on the train \
                part only; training stops early when the validation loss stops improving and keeps the best epoch; \
                for binary targets the decision threshold is the one with the best F1 on validation. Reported metrics \
                are on the test part, which training never saw.

                Example (the AI4I recipe, see examples/ai4i/README.md):
                  millstream train --config examples/ai4i/process.yaml --data data/ai4i2020.csv \\
                      --target "Machine failure" --name failure --registry ./models
                """)

        @Option(help: "Training data (CSV with a header row).") var data: String
        @Option(
            help:
                "The column to predict (not with --detector); several comma separated make a multi-label model (0/1 each)."
        )
        var target: String?
        @Option(help: "Train an unsupervised anomaly detector on normal operation instead: pca or autoencoder.")
        var detector: String?
        @Option(help: "With --detector: the share of normal samples allowed to alarm.") var falseAlarmRate = 0.01
        @Option(
            help:
                "With --detector pca: previous samples in each model row (dynamic PCA; the rows must be in time order), or auto to choose from the data."
        )
        var lags = "0"
        @Option(help: "Process config whose variables and features are the inputs (else: every column but the target).")
        var config: String?
        @Option(
            help: "Columns to leave out, comma separated.", transform: { $0.split(separator: ",").map(String.init) })
        var drop: [String] = []
        @Option(
            name: .customLong("derive"),
            help: ArgumentHelp(
                "A feature computed from each row's numeric inputs, NAME=EXPRESSION (+ - * / ^, abs sqrt log exp min max pow); repeatable. A history's window holds it like a column.",
                valueName: "name=expression"),
            transform: { text in
                guard let eq = text.firstIndex(of: "=") else {
                    throw ValidationError("--derive takes NAME=EXPRESSION, e.g. temp_diff_k=process_temp_k-air_temp_k")
                }
                let name = text[..<eq].trimmingCharacters(in: .whitespaces)
                let expression = text[text.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty, !expression.isEmpty else {
                    throw ValidationError("--derive '\(text)': a name and an expression are needed")
                }
                return DerivedVariable(name: name, expression: expression)
            })
        var derived: [DerivedVariable] = []
        @Option(
            help: "Hidden layer widths, comma separated.",
            transform: {
                try $0.split(separator: ",").map {
                    guard let n = Int($0), n > 0 else { throw ValidationError("--layers takes widths like 64,64") };
                    return n
                }
            })
        var layers: [Int] = [64, 64]
        @Option(help: "Hidden activation: relu, leaky_relu, gelu, tanh, sigmoid.") var activation: String = "relu"
        @Option(help: "Dropout rate after each hidden layer (0 for none).") var dropout: Float = 0
        @Flag(help: "Batch normalization after each hidden layer.") var batchNorm = false
        @Option(help: "Maximum epochs (early stopping usually ends sooner).") var epochs = 100
        @Option(help: "Samples per gradient step.") var batchSize = 32
        @Option(help: "Adam learning rate.") var learningRate: Float = 0.001
        @Option(help: "Decoupled weight decay (AdamW) when above 0.") var weightDecay: Float = 0
        @Option(help: "Fraction of the training part held out for validation.") var validationSplit = 0.2
        @Option(help: "Fraction of the data held out for the test metrics.") var testSplit = 0.2
        @Option(help: "Class weights: none or balanced (rare classes weigh more).") var classWeight: String = "none"
        @Option(help: "Epochs without validation improvement before stopping.") var patience = 10
        @Option(help: "What early stopping watches: val_loss, val_accuracy, val_pr_auc (binary default).") var monitor:
            String?
        @Option(help: "Input scaling: standard, min_max, piecewise_linear, piecewise_linear_tree, tree_steps or none.")
        var scaling: String = "standard"
        @Option(help: "Bins per feature for piecewise_linear scaling.") var bins = 16
        @Option(
            help:
                "Task: binary, multiclass, regression, or for histories (--unit, --time) rul or failure_within (default: from the target's values)."
        )
        var task: String?
        @OptionGroup var history: HistoryOptions
        @Option(help: "Train this many networks from different initial weights and merge them (averaged logits).")
        var ensemble = 1
        @Option(help: "Random seed (splits, weights, shuffling).") var seed: UInt64 = 0
        @Option(help: "Model name in the registry.") var name: String
        @Option(help: "Registry directory.") var registry: String = "./models"
        @Option(help: "Also move the new version to this stage (staging or production).") var promote: String?
        @Flag(help: "No per-epoch lines on stderr.") var quiet = false
        @Option(
            help:
                "Also write the test metrics, rows and dataset digest to this JSON file (DVC's metrics, CI checks): only what the data and the seed decide, no times."
        )
        var metrics: String?
        @Option(
            help: ArgumentHelp(
                "Log the run to this MLflow tracking server (default: $MLFLOW_TRACKING_URI when set; none otherwise).",
                discussion:
                    "Parameters, metrics per epoch, the test metrics, the dataset, the model's files and a registered model version of the same name; $MLFLOW_TRACKING_TOKEN is sent as a bearer token."
            ))
        var mlflow: String?
        @Option(help: "The MLflow experiment (created when new).") var mlflowExperiment = "millstream"
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if let detector {
                guard detector == "pca" || detector == "autoencoder" else {
                    throw ValidationError("--detector takes pca or autoencoder, not '\(detector)'")
                }
                guard target == nil else {
                    throw ValidationError("a detector learns normal operation and takes no --target")
                }
                guard falseAlarmRate > 0 && falseAlarmRate < 0.5 else {
                    throw ValidationError("--false-alarm-rate must be above 0 and below 0.5")
                }
            } else if target == nil && task != "rul" && task != "failure_within" {
                throw ValidationError("give --target COLUMN (or --detector pca for data without labels)")
            }
            if detector != nil && mlflow != nil {
                throw ValidationError("--mlflow logs neural-network training; detectors are not logged to MLflow")
            }
            try history.validate(task: task)
            guard Activation(rawValue: activation) != nil, activation != "softmax", activation != "linear" else {
                throw ValidationError("--activation \(activation) is not one of relu, leaky_relu, gelu, tanh, sigmoid")
            }
            guard ["none", "balanced"].contains(classWeight) else {
                throw ValidationError("--class-weight takes none or balanced")
            }
            guard Preprocessing.Scaling(rawValue: scaling) != nil else {
                throw ValidationError(
                    "--scaling takes standard, min_max, piecewise_linear, piecewise_linear_tree, tree_steps or none")
            }
            if let task, ModelFile.Task(rawValue: task) == nil, task != "rul", task != "failure_within" {
                throw ValidationError("--task takes binary, multiclass, regression, rul or failure_within")
            }
            guard epochs >= 1, batchSize >= 1, patience >= 1 else {
                throw ValidationError("--epochs, --batch-size and --patience must be at least 1")
            }
            guard learningRate > 0 else { throw ValidationError("--learning-rate must be greater than 0") }
            if let promote, !["staging", "production"].contains(promote) {
                throw ValidationError("--promote takes staging or production")
            }
        }

        /// Where the data came from and what is predicted; the trainer adds the network's and the fit's settings.
        func hyperparameters(target: String) -> [String: String] {
            var p: [String: String] = ["data": data, "target": target, "config": config ?? ""]
            if let monitor { p["monitor"] = monitor }
            if let unit = history.unit {
                p["unit"] = unit
                p["time"] = history.time ?? ""
                if let horizon = history.horizon { p["horizon"] = "\(horizon)" }
            }
            return p
        }

        /// The tracking server: --mlflow, else $MLFLOW_TRACKING_URI.
        var trackingURI: String? { mlflow ?? ProcessInfo.processInfo.environment["MLFLOW_TRACKING_URI"] }

        /// What a training produced: the registered version, the result, its seconds, and the MLflow run and
        /// registered version when it was tracked.
        struct Trained {
            var version: ModelVersion
            var result: TrainingResult
            var seconds: Double
            var mlflowRun: String?
            var mlflowVersion: String?
        }

        /// Trains and registers the model, logged to MLflow when asked (nil for a detector, which `fit` reports).
        func trainAndTrack() async throws -> Trained? {
            // The MLflow run is opened before training, so an unreachable server fails at once, not after the epochs.
            var tracked: MLflowRun?
            if let uri = trackingURI, detector == nil { tracked = try await MLflowRun.start(uri, self) }
            let fitted: (ModelVersion, TrainingResult, Double)?
            do {
                fitted = try fit(observe: tracked.map { run in { run.append($0) } }, trackingRun: tracked?.run.page)
            } catch {
                try? await tracked?.fail()
                throw error
            }
            guard let (version, result, seconds) = fitted else { return nil }
            var registered: String?
            if let tracked { registered = try await tracked.finish(self, version: version, result: result) }
            return Trained(
                version: version, result: result, seconds: seconds, mlflowRun: tracked?.run.page,
                mlflowVersion: registered)
        }

        func run() async throws {
            guard let trained = try await trainAndTrack() else { return }
            let (version, result, seconds) = (trained.version, trained.result, trained.seconds)
            defer {
                if let page = trained.mlflowRun, let registered = trained.mlflowVersion, !output.json {
                    print("MLflow: \(page) (registered model \(name) version \(registered))")
                }
            }
            if let metrics {
                var figures: [String: Any] = [
                    "test": result.testMetrics, "train_rows": result.trainRows,
                    "validation_rows": result.validationRows, "test_rows": result.testRows,
                    "dataset_sha256": result.model.description.metadata.datasetSHA256 ?? NSNull(),
                ]
                if let d = result.model.description.metadata.dataset { figures["dataset"] = d.name }
                let data = try JSONSerialization.data(withJSONObject: figures, options: [.prettyPrinted, .sortedKeys])
                do {
                    try data.write(to: URL(fileURLWithPath: metrics), options: .atomic)
                } catch {
                    throw CommandError("cannot write \(metrics): \(error.localizedDescription)")
                }
            }
            if output.json {
                print(
                    Terminal.jsonLine([
                        "model": name, "version": version.version, "path": version.path,
                        "task": result.model.description.task.rawValue,
                        "metrics": result.testMetrics, "epochs": result.history.epochs.count,
                        "best_epoch": result.history.bestEpoch ?? result.history.epochs.count,
                        "train_rows": result.trainRows, "validation_rows": result.validationRows,
                        "test_rows": result.testRows,
                        "features": result.model.description.preprocessing?.featureNames ?? [],
                        "seconds": (seconds * 100).rounded() / 100,
                        "mlflow_run": trained.mlflowRun ?? NSNull(),
                        "mlflow_version": trained.mlflowVersion ?? NSNull(),
                    ]))
            } else {
                print("registered \(name) v\(version.version) at \(version.path)")
                print(
                    "trained \(result.history.epochs.count) epochs (best \(result.history.bestEpoch ?? result.history.epochs.count)) in \(String(format: "%.2f", seconds)) s on \(result.trainRows) rows; validation \(result.validationRows), test \(result.testRows)"
                )
                print(
                    "test metrics: "
                        + result.testMetrics.sorted { $0.key < $1.key }.map {
                            "\($0.key) \(String(format: "%.4f", $0.value))"
                        }.joined(separator: ", "))
                if let report = result.report { print("\n" + report.text) }
            }
        }

        /// Trains and registers the model (a detector is registered and reported by itself: nil); prints nothing
        /// else, so other commands can train as `millstream train` does.
        /// `observe` sees every epoch's figures; `trackingRun` is recorded in the model's metadata.
        func fit(observe: ((EpochLog) -> Void)? = nil, trackingRun: String? = nil) throws -> (
            ModelVersion, TrainingResult, Double
        )? {
            let process = try config.map { try loadProcessConfig($0) }
            let targets =
                target.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } ?? []
            var table = try TrainingTable(
                path: data, header: try history.header(), target: targets.first,
                extraTargets: Array(targets.dropFirst()),
                drop: drop + [history.unit, history.time].compactMap { $0 }, config: process)
            for d in derived {
                guard
                    !(table.data.numericNames + table.data.categoricalNames + table.data.derived.map(\.name))
                        .contains(d.name)
                else {
                    throw CommandError(
                        "--derive \(d.name): \(data) (or the process config) already has an input of that name")
                }
                table.data.derived.append((d.name, d.expression))
            }
            let registry = try ModelRegistry(root: registry)
            if detector != nil {
                try trainDetector(table, registry)
                return nil
            }
            var spec = TrainingSpec()
            spec.task = task.flatMap(ModelFile.Task.init(rawValue:))
            spec.hiddenLayers = layers
            spec.activation = Activation(rawValue: activation)!
            spec.dropout = dropout
            spec.batchNormalization = batchNorm
            spec.epochs = epochs
            spec.batchSize = batchSize
            spec.learningRate = learningRate
            spec.weightDecay = weightDecay
            spec.validationSplit = validationSplit
            spec.testSplit = testSplit
            spec.balancedClassWeights = classWeight == "balanced"
            spec.patience = patience
            spec.monitor = monitor
            spec.scaling = Preprocessing.Scaling(rawValue: scaling)!
            spec.bins = bins
            spec.seed = seed
            spec.ensemble = ensemble
            spec.convolutionFilters = history.conv
            spec.recurrentUnits = history.gru
            spec.kernelSize = history.kernelSize
            let target = targets.first ?? task ?? ""
            var metadata = ModelFile.Metadata(
                created: ISO8601DateFormatter().string(from: Date()), datasetSHA256: table.sha256,
                hyperparameters: hyperparameters(target: target),
                codeVersion: Millstream.configuration.version, source: "millstream train")
            metadata.dataset = DatasetLineage.reference(for: data, sha256: table.sha256)
            metadata.trackingRun = trackingRun
            metadata.datasetRows = table.data.rows
            let started = ContinuousClock.now
            let onEpoch: (EpochLog) -> Void = { log in
                if !quiet { Terminal.error(log.line) }
                observe?(log)
            }
            var result =
                if history.unit != nil {
                    try history.train(table, target: targets.first, task: task, spec: spec, metadata: metadata, onEpoch)
                } else {
                    try Trainer.train(table.data, spec: spec, metadata: metadata, onEpoch: onEpoch)
                }
            result.model.description.columns = table.columns
            let version = try registry.register(result.model, as: name)
            if let promote { try registry.promote(name, version: version.version, to: Stage(rawValue: promote)!) }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            return (version, result, seconds)
        }
    }

    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Measure a registered model on a labelled CSV file.")
        @Option(help: "NAME, NAME@vN, NAME@production or NAME@staging.") var model: String
        @Option(help: "Labelled data (CSV) with the model's input columns and its target.") var data: String
        @Option(help: "Registry directory.") var registry: String = "./models"
        @Option(help: "Decision threshold (binary); default: the model's.") var threshold: Double?
        @Option(
            help:
                "Remaining-life models: the true RUL at each unit's last reading, one per line in the data's unit order (C-MAPSS's RUL files)."
        )
        var truth: String?
        @Option(help: "Remaining-life models: the alarm \"RUL at most N\" whose precision and recall are reported.")
        var alarmBelow: Double = 30
        @Option(help: "Anomaly detectors: the 0/1 column that marks faulty rows (rows in time order).")
        var label = "fault"
        @Option(
            help:
                "\"Fails within\" models: the 0/1 column of events (a plant's failures, several per unit); default: each unit's last row is its failure (run-to-failure histories)."
        )
        var event: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let (file, version) = try ModelRegistry(root: registry).load(try ModelReference(model))
            let d = file.description
            if let history = d.history {
                try evaluateHistory(file, name: "\(version.name)@v\(version.version)", history: history)
                return
            }
            if d.task == .anomaly {
                try evaluateDetector(file, name: "\(version.name)@v\(version.version)")
                return
            }
            let (x, table) = try TrainingTable.features(path: data, model: d)
            let c = try table.column(d.target)
            let actual = try table.rows.enumerated().map { i, row -> Int in
                let v = row[c].trimmingCharacters(in: .whitespaces)
                guard let index = d.classes.firstIndex(of: v) else {
                    throw CommandError(
                        "\(data):\(table.lines[i]): target '\(v)' is not one of the model's classes \(d.classes)")
                }
                return index
            }
            let output = try file.makePredictor().predictBatch(x)
            var result: [String: Any] = ["model": "\(version.name)@v\(version.version)", "rows": table.rows.count]
            var report: ClassificationReport
            if d.task == .binary || d.task == .multilabel {
                let first = (0..<output.rows).map { output[$0, 0] }
                let m = BinaryMetrics(scores: first, labels: actual, threshold: threshold ?? d.threshold)
                result["metrics"] = [
                    "f1": m.f1, "precision": m.precision, "recall": m.recall, "accuracy": m.accuracy,
                    "roc_auc": m.rocAUC, "pr_auc": m.prAUC, "threshold": m.threshold,
                ]
                report = ClassificationReport(
                    predicted: output.scalars.map { Double($0) >= m.threshold ? 1 : 0 }, actual: actual,
                    labels: d.classes)
            } else {
                let predicted = (0..<output.rows).map { r in (0..<output.columns).max { output[r, $0] < output[r, $1] }!
                }
                report = ClassificationReport(predicted: predicted, actual: actual, labels: d.classes)
                result["metrics"] = [
                    "accuracy": report.accuracy, "macro_f1": report.macro.f1, "weighted_f1": report.weighted.f1,
                ]
            }
            if self.output.json {
                let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report))
                result["report"] = encoded
                print(Terminal.jsonLine(result))
            } else {
                print("\(version.name) v\(version.version) on \(data) (\(table.rows.count) rows)")
                print(
                    (result["metrics"] as! [String: Double]).sorted { $0.key < $1.key }.map {
                        "\($0.key) \(String(format: "%.4f", $0.value))"
                    }.joined(separator: ", "))
                print("\n" + report.text)
            }
        }
    }

    struct Predict: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score a CSV file with a registered model; writes probabilities and labels per row.")
        @Option(help: "NAME, NAME@vN, NAME@production or NAME@staging.") var model: String
        @Option(help: "Input data (CSV).") var data: String
        @Option(help: "Output CSV: the input columns, then probability columns and the predicted label.") var out:
            String
        @Option(help: "Registry directory.") var registry: String = "./models"

        func run() async throws {
            let (file, version) = try ModelRegistry(root: registry).load(try ModelReference(model))
            let d = file.description
            let (x, table) = try TrainingTable.features(path: data, model: d)
            let output = try file.makePredictor().predictBatch(x)
            let quote = CSVField.escape
            var lines = [table.header.map(quote).joined(separator: ",")]
            switch d.task {
            case .multilabel:
                lines[0] +=
                    ","
                    + (d.labels ?? []).map { quote("probability_\($0)") + "," + quote("predicted_\($0)") }.joined(
                        separator: ",")
            case .binary: lines[0] += ",probability,predicted"
            case .multiclass:
                lines[0] += "," + d.classes.map { quote("probability_\($0)") }.joined(separator: ",") + ",predicted"
            case .regression: lines[0] += ",predicted"
            case .anomaly: lines[0] += ",anomaly_score,t2,q,alarm,top_variable"
            }
            for r in 0..<table.rows.count {
                var line = table.rows[r].map(quote).joined(separator: ",")
                switch d.task {
                case .multilabel:
                    for (c, t) in (d.thresholds ?? []).enumerated() {
                        let p = Double(output[r, c])
                        line += ",\(p),\(p >= t ? 1 : 0)"
                    }
                case .binary:
                    let p = Double(output.scalars[r])
                    line += ",\(p),\(quote(d.classes[p >= d.threshold ? 1 : 0]))"
                case .multiclass:
                    let row = (0..<output.columns).map { output[r, $0] }
                    line +=
                        "," + row.map { String($0) }.joined(separator: ",") + ","
                        + quote(d.classes[row.indices.max { row[$0] < row[$1] }!])
                case .regression:
                    line += ",\(output.scalars[r])"
                case .anomaly:
                    let names = d.anomalyDetector?.variables ?? []
                    let top = Int(output[r, 4])
                    line +=
                        ",\(output[r, 0]),\(output[r, 1].isNaN ? "" : "\(output[r, 1])"),\(output[r, 2]),\(output[r, 3] > 0 ? 1 : 0),\(top < names.count ? names[top] : "")"
                }
                lines.append(line)
            }
            do {
                try (lines.joined(separator: "\n") + "\n").write(toFile: out, atomically: true, encoding: .utf8)
            } catch {
                throw CommandError("cannot write \(out): \(error.localizedDescription)")
            }
            print("scored \(table.rows.count) rows of \(data) with \(version.name) v\(version.version) into \(out)")
        }
    }
}

extension Millstream.Train {
    /// Fits a PCA or autoencoder detector on the numeric inputs (normal operation) and registers it.
    func trainDetector(_ table: TrainingTable, _ registry: ModelRegistry) throws {
        let data = table.data
        guard data.categoricalNames.isEmpty || config != nil else {
            throw CommandError(
                "\(self.data): text columns \(data.categoricalNames) cannot feed a detector; drop them with --drop")
        }
        let rows = (0..<(data.numeric.first?.count ?? 0)).map { r in data.numeric.map { $0[r] } }
        let kind = self.detector ?? "pca"
        let lagCount: Int?
        if lags == "auto" {
            lagCount = nil
        } else if let n = Int(lags), (0...10).contains(n) {
            guard n == 0 || kind == "pca" else { throw ValidationError("--lags is for --detector pca") }
            lagCount = n
        } else {
            throw ValidationError("--lags takes 0 to 10 or auto, not '\(lags)'")
        }
        let pca =
            kind == "pca"
            ? try PCADetector.fit(
                variables: data.numericNames, rows: rows, falseAlarmRate: falseAlarmRate, lags: lagCount) : nil
        let autoencoder =
            kind == "autoencoder"
            ? try AutoencoderDetector.fit(
                variables: data.numericNames, rows: rows, falseAlarmRate: falseAlarmRate, seed: seed)
            : nil
        let limit = pca?.limit ?? autoencoder!.limit
        let calibration = pca?.calibration ?? autoencoder?.calibration
        let structure =
            pca.map { "\($0.components.count) components" + ($0.lags > 0 ? ", \($0.lags) lags" : "") }
            ?? "bottleneck \(autoencoder!.biases.count > 1 ? autoencoder!.biases[1].count : 0)"
        var description = ModelFile.Description(
            task: .anomaly, inputSize: data.numericNames.count, outputSize: 5, layers: [], preprocessing: nil,
            target: "",
            classes: [], threshold: limit,
            metadata: .init(
                created: ISO8601DateFormatter().string(from: Date()), datasetSHA256: table.sha256,
                datasetRows: rows.count,
                hyperparameters: [
                    "detector": kind, "false_alarm_rate": "\(falseAlarmRate)", "structure": structure,
                ],
                codeVersion: Millstream.configuration.version, source: "millstream train --detector \(kind)"))
        description.metadata.dataset = DatasetLineage.reference(for: self.data, sha256: table.sha256)
        description.engine = pca != nil ? .pca : .autoencoder
        description.detector = pca
        description.autoencoder = autoencoder
        description.inputColumns = data.numericNames.map { table.columns[$0] ?? $0 }
        let version = try registry.register(ModelFile(description: description, weights: [:]), as: name)
        if output.json {
            print(
                Terminal.jsonLine([
                    "model": name, "version": version.version, "detector": kind, "structure": structure,
                    "variables": data.numericNames, "false_alarm_rate": falseAlarmRate,
                    "lags": pca?.lags ?? 0, "calibration": calibration.map(Self.calibrationJSON) ?? NSNull(),
                ]))
        } else {
            print(
                "registered detector \(name) v\(version.version): \(kind == "pca" ? "PCA" : "autoencoder") on \(data.numericNames.count) variables, \(structure), limits at a \(falseAlarmRate) false-alarm rate"
            )
            if let calibration { print(calibration.report(detector: kind == "pca" ? "PCA" : "autoencoder")) }
        }
    }

    static func calibrationJSON(_ c: DetectorCalibration) -> [String: Any] {
        [
            "rows": c.rows, "folds": c.folds, "autocorrelation": c.autocorrelation, "effective_rows": c.effectiveRows,
            "method": c.method, "asked_rate": c.askedRate, "held_out_rate": c.heldOutRate, "fold_rates": c.foldRates,
            "interval": [c.interval.lowerBound, c.interval.upperBound],
            "smallest_empirical_rate": c.smallestEmpiricalRate,
        ]
    }
}
