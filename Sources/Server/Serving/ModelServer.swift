import Foundation
import Hummingbird
import Learn
import Registry
import Synchronization

/// TensorFlow Serving's REST API over the model registry: status, metadata and predict, by version or label.
///
/// Without a version or label, the production version answers (the one the pipeline scores), or the highest
/// version when none is in production. Labels are the registry's stages (`production`, `staging`) and the model's
/// aliases (`champion`, `canary`, ...).
final class ModelServer: Sendable {
    let registry: ModelRegistry
    /// Loaded models by directory, with model.json's modification time and when it was last looked at.
    private let cache = Mutex<[String: (stamp: Date?, checked: ContinuousClock.Instant, model: ServedModel)]>([:])
    /// Each model's versions as last read from the registry: a request reads the disk at most once a second per
    /// model (a promotion is served within a second).
    private let versionCache = Mutex<[String: (read: ContinuousClock.Instant, versions: [ModelVersion])]>([:])

    private func versions(of name: String) -> [ModelVersion] {
        let now = ContinuousClock.now
        if let hit = versionCache.withLock({ $0[name] }), now - hit.read < .seconds(1) { return hit.versions }
        let versions = (try? registry.versions(of: name)) ?? []
        versionCache.withLock {
            if $0.count > 1_000 { $0.removeAll() }
            $0[name] = (now, versions)
        }
        return versions
    }

    init(registry: ModelRegistry) { self.registry = registry }

    enum Selector {
        case latest
        case version(String)
        case label(String)
    }

    /// The version a request names, with TensorFlow Serving's "Servable not found" wording when there is none.
    func resolve(_ name: String, _ selector: Selector) throws -> ModelVersion {
        let versions = versions(of: name)
        switch selector {
        case .latest:
            guard !versions.isEmpty else { throw APIError.notFound("Servable not found for request: Latest(\(name))") }
            return versions.first { $0.stage == .production } ?? versions.max { $0.version < $1.version }!
        case .version(let text):
            guard let n = Int(text), n > 0 else {
                throw APIError.badRequest("version '\(text)' is not a positive integer")
            }
            guard let v = versions.first(where: { $0.version == n }) else {
                throw APIError.notFound("Servable not found for request: Specific(\(name), \(n))")
            }
            return v
        case .label(let label):
            // TensorFlow Serving's version labels are the registry's stages and the model's aliases.
            if let stage = Stage(rawValue: label), stage == .production || stage == .staging {
                guard let v = versions.first(where: { $0.stage == stage }) else {
                    throw APIError.notFound("Servable not found for request: Label(\(name), \(label))")
                }
                return v
            }
            let aliases = (try? registry.aliases(of: name)) ?? [:]
            guard let n = aliases[label], let v = versions.first(where: { $0.version == n }) else {
                throw APIError.notFound(
                    "Unrecognized servable version label: \(label) (labels are production, staging and the model's "
                        + "aliases: \(aliases.isEmpty ? "none" : aliases.keys.sorted().joined(separator: ", ")))")
            }
            return v
        }
    }

    func load(_ version: ModelVersion) throws -> ServedModel {
        let now = ContinuousClock.now
        let hit = cache.withLock { $0[version.path] }
        if let hit, now - hit.checked < .seconds(1) { return hit.model }
        let stamp =
            (try? FileManager.default.attributesOfItem(atPath: version.path + "/model.json"))?[.modificationDate]
            as? Date
        if let hit, hit.stamp == stamp {
            cache.withLock { $0[version.path]?.checked = now }
            return hit.model
        }
        let file: ModelFile
        do {
            (file, _) = try registry.load(ModelReference("\(version.name)@v\(version.version)"))
        } catch {
            throw APIError(.serviceUnavailable, "model \(version.name) v\(version.version) cannot be loaded: \(error)")
        }
        let model = try ServedModel(version: version, file: file)
        cache.withLock { $0[version.path] = (stamp, now, model) }
        return model
    }

    // MARK: - Answers

    func status(_ name: String, _ selector: Selector?) throws -> [String: Any] {
        let versions: [ModelVersion]
        if let selector {
            versions = [try resolve(name, selector)]
        } else {
            versions = self.versions(of: name)
            guard !versions.isEmpty else { throw APIError.notFound("Could not find any versions of model \(name)") }
        }
        return [
            "model_version_status": versions.sorted { $0.version > $1.version }.map { v in
                [
                    "version": "\(v.version)", "state": "AVAILABLE",
                    "status": ["error_code": "OK", "error_message": ""],
                ] as [String: Any]
            }
        ]
    }

    func metadata(_ name: String, _ selector: Selector) throws -> [String: Any] {
        let model = try load(try resolve(name, selector))
        func tensor(_ name: String, dims: [Int], dtype: String) -> [String: Any] {
            [
                "dtype": dtype, "name": "serving_default_\(name):0",
                "tensor_shape": ["dim": dims.map { ["size": "\($0)", "name": ""] }, "unknown_rank": false],
            ]
        }
        var inputs: [String: Any] = [:]
        for i in model.inputs {
            inputs[i.name] = tensor(
                // A window variable takes any number of readings per instance (the window keeps its newest).
                i.name, dims: i.sequence != nil ? [-1, -1] : i.categorical || i.width == 1 ? [-1] : [-1, i.width],
                dtype: i.categorical ? "DT_STRING" : "DT_FLOAT")
        }
        let outputs: [String: Any]
        if case .detector = model.engine {
            outputs = [
                "score": tensor("score", dims: [-1], dtype: "DT_FLOAT"),
                "alarm": tensor("alarm", dims: [-1], dtype: "DT_FLOAT"),
                "top_variable": tensor("top_variable", dims: [-1], dtype: "DT_FLOAT"),
            ]
        } else {
            outputs = [model.outputName: tensor(model.outputName, dims: [-1, model.outputWidth], dtype: "DT_FLOAT")]
        }
        return [
            "model_spec": ["name": name, "signature_name": "", "version": "\(model.version.version)"],
            "metadata": [
                "signature_def": [
                    "signature_def": [
                        "serving_default": [
                            "inputs": inputs, "outputs": outputs, "method_name": "tensorflow/serving/predict",
                        ]
                    ]
                ]
            ],
        ]
    }

    /// Scores a predict request: the model, the request's format and one output vector per instance.
    private func score(_ name: String, _ selector: Selector, body: [String: Any]) throws
        -> (model: ServedModel, format: PredictRequest.Format, outputs: [[Float]])
    {
        let model = try load(try resolve(name, selector))
        let request = try PredictRequest(body, for: model)
        do {
            return (model, request.format, try model.predict(request.instances))
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.badRequest("\(error)")
        }
    }

    /// The answer's bytes and instance count: floats written directly for networks and graphs, named fields for
    /// detectors.
    func predictJSON(_ name: String, _ selector: Selector, body: [String: Any]) throws -> (
        bytes: [UInt8], instances: Int
    ) {
        let (model, format, outputs) = try score(name, selector, body: body)
        guard case .detector(let detector) = model.engine else {
            return (PredictionWriter.rows(format == .row ? "predictions" : "outputs", outputs), outputs.count)
        }
        let rows = outputs.map { o -> [String: Any] in
            ["score": Double(o[0]), "alarm": o[1] > 0, "top_variable": detector.variables[Int(o[2])]]
        }
        let answer: [String: Any]
        switch format {
        case .row: answer = ["predictions": rows]
        case .columnar:
            answer = [
                "outputs": [
                    "score": rows.map { $0["score"]! }, "alarm": rows.map { $0["alarm"]! },
                    "top_variable": rows.map { $0["top_variable"]! },
                ]
            ]
        }
        return (JSON.encode(answer), rows.count)
    }

    // MARK: - Routes

    func register(on routes: inout RouteTable, maxBodyBytes: Int, metrics: ServerMetrics) {
        routes.add(.get, "/v1/models/{name}", role: .viewer, "TensorFlow Serving: status of every version") {
            _, c in
            JSON.response(try self.status(try c.parameters.require("name"), nil))
        }
        routes.add(
            .get, "/v1/models/{name}/versions/{version}", role: .viewer, "TensorFlow Serving: status of a version"
        ) {
            _, c in
            JSON.response(
                try self.status(try c.parameters.require("name"), .version(try c.parameters.require("version"))))
        }
        routes.add(.get, "/v1/models/{name}/labels/{label}", role: .viewer, "TensorFlow Serving: status by label") {
            _, c in
            JSON.response(try self.status(try c.parameters.require("name"), .label(try c.parameters.require("label"))))
        }
        routes.add(
            .get, "/v1/models/{name}/metadata", role: .viewer, "TensorFlow Serving: signature of the default version"
        ) {
            _, c in
            JSON.response(try self.metadata(try c.parameters.require("name"), .latest))
        }
        routes.add(
            .get, "/v1/models/{name}/versions/{version}/metadata", role: .viewer,
            "TensorFlow Serving: signature of a version"
        ) { _, c in
            JSON.response(
                try self.metadata(try c.parameters.require("name"), .version(try c.parameters.require("version"))))
        }
        routes.add(
            .get, "/v1/models/{name}/labels/{label}/metadata", role: .viewer, "TensorFlow Serving: signature by label"
        ) { _, c in
            JSON.response(
                try self.metadata(try c.parameters.require("name"), .label(try c.parameters.require("label"))))
        }
        // `name:predict` arrives as one path segment.
        routes.add(.post, "/v1/models/{name}", role: .viewer, "TensorFlow Serving: predict with the default version") {
            request, c in
            let (name, verb) = try Self.verb(try c.parameters.require("name"))
            return try await self.answer(verb, name, .latest, request, maxBodyBytes, metrics)
        }
        routes.add(
            .post, "/v1/models/{name}/versions/{version}", role: .viewer, "TensorFlow Serving: predict with a version"
        ) {
            request, c in
            let (version, verb) = try Self.verb(try c.parameters.require("version"))
            return try await self.answer(
                verb, try c.parameters.require("name"), .version(version), request, maxBodyBytes, metrics)
        }
        routes.add(.post, "/v1/models/{name}/labels/{label}", role: .viewer, "TensorFlow Serving: predict by label") {
            request, c in
            let (label, verb) = try Self.verb(try c.parameters.require("label"))
            return try await self.answer(
                verb, try c.parameters.require("name"), .label(label), request, maxBodyBytes, metrics)
        }
    }

    private func answer(
        _ verb: String, _ name: String, _ selector: Selector, _ request: Request, _ limit: Int, _ metrics: ServerMetrics
    ) async throws -> Response {
        guard verb == "predict" else {
            throw APIError.badRequest(
                verb == "classify" || verb == "regress"
                    ? "\(verb) is not supported; use :predict" : "unknown method ':\(verb)'; use :predict")
        }
        var request = request
        let bytes = try await request.collectBody(upTo: limit)
        let started = ContinuousClock.now
        let body = try JSON.fastObject(bytes)
        let (answer, count) = try predictJSON(name, selector, body: body)
        let response = Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: answer)))
        metrics.predictDuration(seconds: (ContinuousClock.now - started).seconds, instances: count)
        return response
    }

    private static func verb(_ segment: String) throws -> (String, String) {
        guard let colon = segment.lastIndex(of: ":") else {
            throw APIError.notFound("POST needs a method: .../\(segment):predict")
        }
        return (String(segment[..<colon]), String(segment[segment.index(after: colon)...]))
    }
}
