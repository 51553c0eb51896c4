import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `train --mlflow` against a real MLflow tracking server (PyPI's mlflow, started here): the run, its parameters,
/// each epoch's metrics, the test metrics, the dataset (the snapshot's digest and source), the model's files and a
/// registered model version per Millstream version appear there; an unreachable server fails before any training.
@Suite(.serialized) struct MLflowTests {
    static let mlflow = LiveDemo.repository + "/.venv-mlflow/bin/mlflow"

    @Test func trainingRunsAppearInMLflow() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = TansuBroker.freePort()
        let server = try Child(
            Self.mlflow,
            [
                "server", "--host", "127.0.0.1", "--port", "\(port)", "--workers", "1", "--backend-store-uri",
                "sqlite:///\(dir)/mlflow.db", "--artifacts-destination", dir + "/artifacts",
            ], stderr: nil, directory: dir)
        // MLflow's CLI leaves its uvicorn server and job runners behind when it is stopped: stop them all.
        defer {
            let family = Self.descendants(of: server.pid)
            for pid in family { kill(pid, SIGTERM) }
            server.stop()
            for pid in family { kill(pid, SIGKILL) }
        }
        let url = "http://127.0.0.1:\(port)"
        try await Self.waitUntilUp(url)

        // A snapshot of a simulated plant, and two versions of a model trained on it.
        let bus = "embedded://\(dir)/bus"
        #expect(
            try await CLI.run([
                "simulate", "--machines", "20", "--duration", "2d", "--fast", "--seed", "1", "--start",
                "2026-05-01T00:00:00Z", "--bus", bus,
            ]).status == 0)
        let snap = try await CLI.run([
            "dataset", "snapshot", "--bus", bus, "--out", dir + "/data", "--name", "history", "--json",
        ])
        #expect(snap.status == 0, "\(snap.stderr)")
        let sha =
            (try JSONSerialization.jsonObject(with: Data(snap.stdout.utf8)) as? [String: Any])?["sha256"] as? String
        var runs: [String] = []
        for epochs in ["3", "4"] {
            let train = try await CLI.run([
                "train", "--task", "failure_within", "--horizon", "30", "--data", dir + "/data/history.csv", "--unit",
                "machine", "--time", "minutes", "--event", "failure", "--epochs", epochs, "--patience", "10", "--name",
                "lead", "--registry", dir + "/models", "--quiet", "--json", "--mlflow", url, "--mlflow-experiment",
                "plant-1",
            ])
            #expect(train.status == 0, "\(train.stderr)")
            let o = try JSONSerialization.jsonObject(with: Data(train.stdout.utf8)) as? [String: Any]
            let page = o?["mlflow_run"] as? String ?? ""
            #expect(page.hasPrefix(url + "/#/experiments/"), "\(train.stdout)")
            runs.append(String(page.split(separator: "/").last ?? ""))
        }

        // The runs, as MLflow's own REST API reports them.
        for (run, epochs) in zip(runs, [3, 4]) {
            let r = try await Self.get(url, "/api/2.0/mlflow/runs/get?run_id=\(run)")
            let info = (r["run"] as? [String: Any])?["info"] as? [String: Any]
            let data = (r["run"] as? [String: Any])?["data"] as? [String: Any]
            #expect(info?["status"] as? String == "FINISHED")
            let params = Dictionary(
                uniqueKeysWithValues: (data?["params"] as? [[String: String]] ?? []).map { ($0["key"]!, $0["value"]!) })
            #expect(params["epochs"] == "\(epochs)" && params["task"] == "binary" && params["horizon"] == "30.0")
            let metrics = (data?["metrics"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
            #expect(Set(["loss", "val_loss", "test_roc_auc", "test_f1"]).isSubset(of: metrics), "\(metrics)")
            let history = try await Self.get(url, "/api/2.0/mlflow/metrics/get-history?run_id=\(run)&metric_key=loss")
            let steps = (history["metrics"] as? [[String: Any]] ?? []).compactMap { $0["step"] as? Int }
            #expect(steps == Array(1...epochs), "one loss per epoch: \(steps)")
            // The dataset: the snapshot, by its digest, with the stream it came from.
            let inputs =
                ((r["run"] as? [String: Any])?["inputs"] as? [String: Any])?["dataset_inputs"] as? [[String: Any]]
            let dataset = inputs?.first?["dataset"] as? [String: Any]
            #expect(dataset?["name"] as? String == "history.csv")
            #expect(dataset?["digest"] as? String == sha.map { String($0.prefix(8)) })
            #expect((dataset?["source"] as? String)?.contains("readings on \(bus)") == true)
            // The model's files.
            let files = try await Self.get(
                url,
                "/api/2.0/mlflow-artifacts/artifacts?path=\(info?["experiment_id"] as? String ?? "")/\(run)/artifacts/model"
            )
            let names = Set((files["files"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String })
            #expect(names == ["MLmodel", "model.json", "weights.safetensors", "model.onnx"], "\(names)")
        }
        // One registered model, a version per Millstream version, each tied to its run.
        let versions = try await Self.get(url, "/api/2.0/mlflow/model-versions/search?filter=name%3D%27lead%27")
        let found = (versions["model_versions"] as? [[String: Any]] ?? []).sorted {
            Int($0["version"] as? String ?? "") ?? 0 < Int($1["version"] as? String ?? "") ?? 0
        }
        #expect(found.compactMap { $0["version"] as? String } == ["1", "2"])
        #expect(found.compactMap { $0["run_id"] as? String } == runs)
        // The registry's model names its run.
        let show = try await CLI.run(["models", "show", "lead@v2", "--registry", dir + "/models"])
        #expect(show.stdout.contains("  run       \(url)/#/experiments/"), "\(show.stdout)")

        // Unreachable: an error before any training, and nothing registered.
        let down = try await CLI.run([
            "train", "--task", "failure_within", "--horizon", "30", "--data", dir + "/data/history.csv", "--unit",
            "machine", "--time", "minutes", "--event", "failure", "--name", "lead", "--registry", dir + "/models",
            "--mlflow", "http://127.0.0.1:\(TansuBroker.freePort())",
        ])
        #expect(down.status != 0)
        #expect(
            down.stderr.contains("cannot be reached") && down.stderr.contains("nothing was trained"), "\(down.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/models/lead/v3"))
    }

    /// Every process below `pid`, from /proc.
    static func descendants(of pid: Int32) -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let p = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // pid (comm) state ppid ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { children[parent, default: []].append(p) }
        }
        var out: [Int32] = []
        var queue = children[pid] ?? []
        while let p = queue.popLast() {
            out.append(p)
            queue += children[p] ?? []
        }
        return out
    }

    static func waitUntilUp(_ url: String) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if let (_, r) = try? await URLSession.shared.data(from: URL(string: url + "/health")!),
                (r as? HTTPURLResponse)?.statusCode == 200
            {
                return
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        Issue.record("MLflow's server at \(url) did not answer /health within 120 s")
    }

    static func get(_ url: String, _ path: String) async throws -> [String: Any] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url + path)!)
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

}
