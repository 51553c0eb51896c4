import Foundation
import Learn
import Registry
import Tracking

/// One training run logged to MLflow: opened before training, then the parameters, each epoch's figures, the test
/// metrics, the dataset, the model's files and a registered model version, and closed FINISHED (or FAILED).
final class MLflowRun {
    let client: MLflowClient
    let run: MLflowClient.Run
    var epochs: [(log: EpochLog, time: Int64)] = []

    private init(client: MLflowClient, run: MLflowClient.Run) {
        self.client = client
        self.run = run
    }

    static func start(_ uri: String, _ train: Millstream.Train) async throws -> MLflowRun {
        let token = ProcessInfo.processInfo.environment["MLFLOW_TRACKING_TOKEN"]
        do {
            let client = try MLflowClient(url: uri, token: token)
            let experiment = try await client.experiment(named: train.mlflowExperiment)
            let run = try await client.createRun(
                experimentID: experiment, name: "\(train.name) \(ISO8601DateFormatter().string(from: Date()))",
                tags: [
                    "mlflow.source.name": "millstream train", "mlflow.source.type": "LOCAL",
                    "mlflow.user": ProcessInfo.processInfo.environment["USER"] ?? "unknown",
                    "millstream.model": train.name, "millstream.code_version": Millstream.configuration.version,
                ])
            return MLflowRun(client: client, run: run)
        } catch {
            throw CommandError("\(error) (nothing was trained; leave out --mlflow to train without it)")
        }
    }

    /// Called by the trainer after each epoch.
    func append(_ log: EpochLog) { epochs.append((log, Int64((Date().timeIntervalSince1970 * 1000).rounded()))) }

    func fail() async throws { try await client.finish(run: run, status: "FAILED") }

    /// Logs everything about the trained version and closes the run; returns MLflow's version of the registered model.
    func finish(_ train: Millstream.Train, version: ModelVersion, result: TrainingResult) async throws -> String {
        let file = result.model
        let d = file.description
        do {
            var metrics: [MLflowClient.Metric] = []
            for (log, time) in epochs {
                // An ensemble's members each have their epochs: their figures are kept apart by key.
                let prefix = log.member.map { "member\($0.0)_" } ?? ""
                for (key, value) in log.values {
                    metrics.append(.init(key: prefix + key, value: value, step: log.epoch, timestamp: time))
                }
            }
            let end = Int64((Date().timeIntervalSince1970 * 1000).rounded())
            for (key, value) in result.testMetrics {
                metrics.append(.init(key: "test_" + key, value: value, step: 0, timestamp: end))
            }
            try await client.log(
                run: run, metrics: metrics, params: Self.parameters(result),
                tags: [
                    "millstream.version": "\(version.name)@v\(version.version)", "millstream.registry": train.registry,
                    "millstream.task": d.task.rawValue,
                ])
            if let sha = d.metadata.datasetSHA256 {
                try await client.logInput(run: run, dataset: Self.dataset(train, sha, d))
            }
            // The model as the registry holds it, and as ONNX (the feature vector in, after preprocessing) where it
            // exports, with an MLmodel file naming Millstream's flavor.
            let (json, weights) = try file.encoded()
            try await client.upload(run: run, path: "model/model.json", bytes: [UInt8](json))
            try await client.upload(
                run: run, path: file.onnx == nil ? "model/weights.safetensors" : "model/model.onnx", bytes: weights)
            if file.onnx == nil,
                let onnx = try? file.makeModel().onnx(producerVersion: Millstream.configuration.version)
            {
                try await client.upload(run: run, path: "model/model.onnx", bytes: onnx)
            }
            try await client.upload(run: run, path: "model/MLmodel", bytes: Array(Self.mlmodel(version, run).utf8))
            let registered = try await client.registerVersion(
                name: train.name, run: run, path: "model",
                description: "Millstream \(version.name)@v\(version.version) (\(d.task.rawValue))",
                tags: ["millstream.version": "v\(version.version)"])
            try await client.finish(run: run, status: "FINISHED")
            return registered
        } catch {
            try? await client.finish(run: run, status: "FAILED")
            throw CommandError(
                "\(version.name) v\(version.version) is trained and registered in \(train.registry), but logging it to MLflow failed: \(error)"
            )
        }
    }

    /// The command's settings (as the model's metadata keeps them) and the rows of each part.
    static func parameters(_ result: TrainingResult) -> [String: String] {
        var p = result.model.description.metadata.hyperparameters
        p["task"] = result.model.description.task.rawValue
        p["train_rows"] = "\(result.trainRows)"
        p["validation_rows"] = "\(result.validationRows)"
        p["test_rows"] = "\(result.testRows)"
        return p
    }

    /// The training data as an MLflow dataset: the snapshot (its source offsets) when it is one, else the file.
    static func dataset(_ t: Millstream.Train, _ sha: String, _ d: ModelFile.Description) -> MLflowClient.Dataset {
        // The columns the model reads, and its target.
        let numeric = (d.preprocessing?.numericInputs ?? []).map { ["name": $0, "type": "double"] }
        let categorical = (d.preprocessing?.categorical ?? []).map { ["name": $0.name, "type": "string"] }
        let target = d.target.isEmpty ? [] : [["name": d.target, "type": d.task == .regression ? "double" : "string"]]
        let schema = ["mlflow_colspec": numeric + categorical + target]
        var profile: [String: Any] = ["num_rows": d.metadata.datasetRows ?? 0]
        var source: [String: Any] = ["uri": URL(fileURLWithPath: t.data).absoluteString]
        var name = (t.data as NSString).lastPathComponent
        if let snapshot = d.metadata.dataset {
            name = snapshot.name
            profile["num_rows"] = snapshot.rows
            profile["failures"] = snapshot.failures ?? NSNull()
            profile["from"] = snapshot.from ?? NSNull()
            profile["to"] = snapshot.to ?? NSNull()
            profile["validated"] = snapshot.validated ?? NSNull()
            source["stream"] = snapshot.source ?? NSNull()
        }
        func json(_ o: Any) -> String {
            String(
                decoding: (try? JSONSerialization.data(
                    withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data(), as: UTF8.self)
        }
        return MLflowClient.Dataset(
            name: name, digest: String(sha.prefix(8)),
            sourceType: d.metadata.dataset == nil ? "local" : "millstream_snapshot",
            source: json(source), schema: json(schema), profile: json(profile))
    }

    /// MLflow's model description: Millstream's flavor (the registry's files), and the ONNX export beside them.
    static func mlmodel(_ v: ModelVersion, _ run: MLflowClient.Run) -> String {
        """
        artifact_path: model
        flavors:
          millstream:
            model: model.json
            weights: weights.safetensors
            onnx: model.onnx
            registry_version: \(v.name)@v\(v.version)
            millstream_version: \(Millstream.configuration.version)
        run_id: \(run.id)
        utc_time_created: '\(ISO8601DateFormatter().string(from: Date()))'

        """
    }
}
