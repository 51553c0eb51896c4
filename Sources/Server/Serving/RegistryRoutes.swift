import Foundation
import Hummingbird
import Learn
import Registry

/// The model registry over HTTP: list and show for everyone, promote and roll back for engineers.
struct RegistryRoutes {
    let registry: ModelRegistry
    let audit: AuditLog
    let maxBodyBytes: Int

    func versionRow(_ v: ModelVersion) -> [String: Any] {
        var row: [String: Any] = ["name": v.name, "version": v.version, "stage": v.stage.rawValue]
        row["aliases"] = ((try? registry.aliases(of: v.name)) ?? [:]).filter { $0.value == v.version }.keys.sorted()
        if let (file, _) = try? registry.load(ModelReference("\(v.name)@v\(v.version)")) {
            let d = file.description
            row["task"] = d.task.rawValue
            row["created"] = d.metadata.created
            row["metrics"] = d.metadata.metrics
            row["engine"] = file.onnx != nil ? "onnx" : d.anomalyDetector != nil ? "detector" : "millstream"
            row["inputs"] = d.inputSize
            row["outputs"] = d.outputSize
            row["threshold"] = d.threshold
            if let labels = d.labels { row["labels"] = labels }
            // What versions are compared by: their parameters, their data and where they were tracked.
            row["hyperparameters"] = d.metadata.hyperparameters
            row["dataset_sha256"] = d.metadata.datasetSHA256 ?? NSNull()
            row["dataset_rows"] = d.metadata.datasetRows ?? NSNull()
            if let ds = d.metadata.dataset {
                row["dataset"] =
                    [
                        "name": ds.name, "sha256": ds.sha256, "rows": ds.rows, "failures": ds.failures ?? NSNull(),
                        "from": ds.from ?? NSNull(), "to": ds.to ?? NSNull(), "source": ds.source ?? NSNull(),
                        "validated": ds.validated ?? NSNull(),
                    ] as [String: Any]
            }
            row["tracking_run"] = d.metadata.trackingRun ?? NSNull()
        }
        return row
    }

    func register(on routes: inout RouteTable) {
        routes.add(.get, "/api/models", role: .viewer, "Every model with its versions, stages and metrics") { _, _ in
            let names = (try? self.registry.names()) ?? []
            let rows = names.map { name -> [String: Any] in
                ["name": name, "versions": ((try? self.registry.versions(of: name)) ?? []).map(self.versionRow)]
            }
            return JSON.response(["models": rows])
        }
        routes.add(.get, "/api/models/{name}", role: .viewer, "One model: versions and the history of its stages") {
            _, c in
            let name = try c.parameters.require("name")
            guard let versions = try? self.registry.versions(of: name), !versions.isEmpty else {
                throw APIError.notFound("no model '\(name)' in the registry")
            }
            let history = ((try? self.registry.history(of: name)) ?? []).map { h -> [String: Any] in
                var o: [String: Any] = [
                    "time": h.time, "action": h.action, "version": h.version, "stage": h.stage.rawValue, "user": h.user,
                ]
                o["from"] = h.from?.rawValue ?? NSNull()
                o["replaced"] = h.replaced ?? NSNull()
                return o
            }
            return JSON.response(["name": name, "versions": versions.map(self.versionRow), "history": history])
        }
        routes.add(
            .post, "/api/models/{name}/versions/{version}/promote", role: .engineer,
            "Move a version to a stage (body {\"stage\": \"production\"}); the pipeline reloads within seconds",
            changesState: true, audit: audit
        ) { request, c in
            let name = try c.parameters.require("name")
            let versionText = try c.parameters.require("version")
            var request = request
            let body = try JSON.object(try await request.collectBody(upTo: self.maxBodyBytes))
            let stageText = (body["stage"] as? String) ?? "production"
            guard let stage = Stage(rawValue: stageText) else {
                throw APIError.badRequest(
                    "stage must be one of \(Stage.allCases.map(\.rawValue).joined(separator: ", ")), got '\(stageText)'"
                )
            }
            guard let version = Int(versionText), version > 0 else {
                throw APIError.badRequest("version '\(versionText)' is not a positive integer")
            }
            guard ((try? self.registry.versions(of: name)) ?? []).contains(where: { $0.version == version }) else {
                throw APIError.notFound("no version \(version) of model '\(name)'")
            }
            do {
                try self.registry.promote(name, version: version, to: stage)
            } catch {
                throw APIError(.conflict, "\(error)")
            }
            return JSON.response(["name": name, "version": version, "stage": stage.rawValue])
        }
        routes.add(
            .post, "/api/models/{name}/rollback", role: .engineer,
            "Put the previous production version back in production", changesState: true, audit: audit
        ) { _, c in
            let name = try c.parameters.require("name")
            guard ((try? self.registry.versions(of: name)) ?? []).isEmpty == false else {
                throw APIError.notFound("no model '\(name)' in the registry")
            }
            do {
                let version = try self.registry.rollback(name)
                return JSON.response(["name": name, "version": version, "stage": "production"])
            } catch {
                throw APIError(.conflict, "\(error)")
            }
        }
    }
}
