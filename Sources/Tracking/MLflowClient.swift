import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A client of MLflow's tracking server over its REST API (`/api/2.0/mlflow/...`, artifacts through the server's
/// proxy `/api/2.0/mlflow-artifacts/...`): experiments, runs with parameters, metrics per step and dataset inputs,
/// artifacts, and registered model versions. Foundation's URLSession: a few calls per training run need no more.
public struct MLflowClient: Sendable {
    public let url: URL
    /// A bearer token for servers behind authentication (`MLFLOW_TRACKING_TOKEN`).
    let token: String?
    let session: URLSession

    public init(url text: String, token: String? = nil, timeout: TimeInterval = 30) throws(MLflowError) {
        var trimmed = text
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let url = URL(string: trimmed), let scheme = url.scheme, ["http", "https"].contains(scheme),
            url.host != nil
        else {
            throw MLflowError("MLflow tracking URI '\(text)' is not an http:// or https:// URL")
        }
        self.url = url
        self.token = token
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        self.session = URLSession(configuration: configuration)
    }

    /// A metric value at a step (an epoch), with its wall-clock time in milliseconds.
    public struct Metric: Sendable {
        public var key: String
        public var value: Double
        public var step: Int
        public var timestamp: Int64
        public init(key: String, value: Double, step: Int, timestamp: Int64) {
            self.key = key
            self.value = value
            self.step = step
            self.timestamp = timestamp
        }
    }

    /// A dataset a run used (MLflow's `log-inputs`): its name, digest, where it came from, schema and profile (JSON).
    public struct Dataset: Sendable {
        public var name: String
        public var digest: String
        public var sourceType: String
        public var source: String
        public var schema: String?
        public var profile: String?
        public var context = "training"
        public init(
            name: String, digest: String, sourceType: String, source: String, schema: String? = nil,
            profile: String? = nil
        ) {
            self.name = name
            self.digest = digest
            self.sourceType = sourceType
            self.source = source
            self.schema = schema
            self.profile = profile
        }
    }

    public struct Run: Sendable {
        public var id: String
        public var experimentID: String
        /// The run's page in MLflow's UI.
        public var page: String
    }

    /// The experiment of that name, created when it does not exist yet.
    public func experiment(named name: String) async throws(MLflowError) -> String {
        do {
            let found = try await call(
                "GET", "/api/2.0/mlflow/experiments/get-by-name", query: ["experiment_name": name])
            if let e = found["experiment"] as? [String: Any], let id = e["experiment_id"] as? String { return id }
        } catch let error where error.code == "RESOURCE_DOES_NOT_EXIST" {}
        let created = try await call("POST", "/api/2.0/mlflow/experiments/create", body: ["name": name])
        guard let id = created["experiment_id"] as? String else {
            throw MLflowError("MLflow at \(url) created experiment '\(name)' without an experiment_id")
        }
        return id
    }

    public func createRun(experimentID: String, name: String, tags: [String: String]) async throws(MLflowError) -> Run {
        let answer = try await call(
            "POST", "/api/2.0/mlflow/runs/create",
            body: [
                "experiment_id": experimentID, "run_name": name, "start_time": Self.now(),
                "tags": tags.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] },
            ])
        guard let run = answer["run"] as? [String: Any], let info = run["info"] as? [String: Any],
            let id = info["run_id"] as? String
        else { throw MLflowError("MLflow at \(url) answered runs/create without a run id") }
        return Run(id: id, experimentID: experimentID, page: "\(url)/#/experiments/\(experimentID)/runs/\(id)")
    }

    /// Parameters, metrics and tags, in batches within MLflow's limits (1,000 metrics, 100 parameters, 100 tags).
    public func log(
        run: Run, metrics: [Metric] = [], params: [String: String] = [:], tags: [String: String] = [:]
    ) async throws(MLflowError) {
        let p = params.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": String($0.value.prefix(6000))] }
        let t = tags.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] }
        let m = metrics.filter(\.value.isFinite).map {
            ["key": $0.key, "value": $0.value, "step": $0.step, "timestamp": $0.timestamp] as [String: Any]
        }
        var (pi, ti, mi) = (0, 0, 0)
        while pi < p.count || ti < t.count || mi < m.count {
            let batch: [String: Any] = [
                "run_id": run.id, "params": Array(p[pi..<min(p.count, pi + 100)]),
                "tags": Array(t[ti..<min(t.count, ti + 100)]), "metrics": Array(m[mi..<min(m.count, mi + 1000)]),
            ]
            _ = try await call("POST", "/api/2.0/mlflow/runs/log-batch", body: batch)
            (pi, ti, mi) = (pi + 100, ti + 100, mi + 1000)
        }
    }

    public func logInput(run: Run, dataset d: Dataset) async throws(MLflowError) {
        var dataset: [String: Any] = [
            "name": d.name, "digest": d.digest, "source_type": d.sourceType, "source": d.source,
        ]
        if let schema = d.schema { dataset["schema"] = schema }
        if let profile = d.profile { dataset["profile"] = profile }
        _ = try await call(
            "POST", "/api/2.0/mlflow/runs/log-inputs",
            body: [
                "run_id": run.id,
                "datasets": [["dataset": dataset, "tags": [["key": "mlflow.data.context", "value": d.context]]]],
            ])
    }

    /// Uploads one artifact of the run (`path` inside the run's artifacts, e.g. `model/model.json`) through the
    /// server's artifact proxy.
    public func upload(run: Run, path: String, bytes: [UInt8]) async throws(MLflowError) {
        _ = try await call(
            "PUT", "/api/2.0/mlflow-artifacts/artifacts/\(run.experimentID)/\(run.id)/artifacts/\(path)",
            raw: bytes)
    }

    /// Ends the run: FINISHED, FAILED or KILLED.
    public func finish(run: Run, status: String) async throws(MLflowError) {
        _ = try await call(
            "POST", "/api/2.0/mlflow/runs/update", body: ["run_id": run.id, "status": status, "end_time": Self.now()])
    }

    /// Registers the run's artifact directory `path` as a new version of the registered model `name` (created when
    /// new); returns MLflow's version number.
    public func registerVersion(
        name: String, run: Run, path: String, description: String, tags: [String: String]
    ) async throws(MLflowError) -> String {
        do {
            _ = try await call("POST", "/api/2.0/mlflow/registered-models/create", body: ["name": name])
        } catch let error where error.code == "RESOURCE_ALREADY_EXISTS" {}
        let answer = try await call(
            "POST", "/api/2.0/mlflow/model-versions/create",
            body: [
                "name": name, "source": "mlflow-artifacts:/\(run.experimentID)/\(run.id)/artifacts/\(path)",
                "run_id": run.id, "description": description,
                "tags": tags.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] },
            ])
        guard let v = answer["model_version"] as? [String: Any], let version = v["version"] as? String else {
            throw MLflowError("MLflow at \(url) answered model-versions/create without a version")
        }
        return version
    }

    static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// One request; MLflow's error (`error_code`, `message`) or the transport's becomes an `MLflowError` naming the
    /// server and the call.
    func call(
        _ method: String, _ path: String, query: [String: String] = [:], body: [String: Any]? = nil,
        raw: [UInt8]? = nil
    ) async throws(MLflowError) -> [String: Any] {
        var components = URLComponents(url: url.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.key, value: $0.value) } }
        var request = URLRequest(url: components.url!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try? JSONSerialization.data(withJSONObject: body)
        } else if let raw {
            request.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(raw)
        }
        let what = "\(method) \(path)"
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw MLflowError("MLflow at \(url) cannot be reached (\(what)): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        guard (200..<300).contains(status) else {
            let code = json["error_code"] as? String
            let message = json["message"] as? String ?? String(decoding: data.prefix(300), as: UTF8.self)
            throw MLflowError(
                "MLflow at \(url) refused \(what): HTTP \(status)\(code.map { " \($0)" } ?? ""): \(message)", code: code
            )
        }
        return json
    }
}

/// What went wrong talking to MLflow, naming the server and the call; `code` is MLflow's `error_code`.
public struct MLflowError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public var code: String?
    public init(_ description: String, code: String? = nil) {
        self.description = description
        self.code = code
    }
}
