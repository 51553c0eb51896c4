import Foundation
import Testing

/// A challenger scored in shadow by the pipeline: beside the champion on every reading it scores, on its own topic,
/// exactly once across a killed worker, never in alarms; it follows the registry's `challenger` alias.
@Suite(.serialized) struct ShadowTests {
    @Test func challengerScoresInShadowExactlyOnceAndNeverAlarms() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (bus, registry) = ("embedded://\(dir)/bus", dir + "/models")
        for (epochs, promote) in [("8", ["--promote", "production"]), ("2", [])] {
            let train = try await CLI.run(
                [
                    "train", "--config", TrainTests.recipe, "--data", TrainTests.ai4i, "--target", "Machine failure",
                    "--epochs", epochs, "--batch-size", "128", "--name", "failure", "--registry", registry, "--quiet",
                ] + promote)
            #expect(train.status == 0, "\(train.stderr)")
        }
        let alias = try await CLI.run(["models", "alias", "failure@v2", "challenger", "--registry", registry])
        #expect(alias.status == 0, "\(alias.stderr)")
        let simulate = try await CLI.run([
            "simulate", "--machines", "8", "--count", "20000", "--fast", "--labels", "--start",
            "2026-06-01T06:00:00Z", "--bus", bus,
        ])
        #expect(simulate.status == 0, "\(simulate.stderr)")
        let worker = ["--registry", registry, "--model", "failure"]
        try await CLI.killWorker(bus: bus, arguments: worker, targets: 2_000...12_000) {
            Int64(try Self.records(dir, "shadow-predictions").count)
        }
        let run = try await CLI.run(["run", "--bus", bus, "--exit-when-idle", "1s", "--json"] + worker)
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        #expect(summary["shadow"] as? String == "failure@v2")

        let predictions = try Self.records(dir, "predictions")
        let scored = predictions.filter { $0.json["risk"] is Double }
        let shadow = try Self.records(dir, "shadow-predictions")
        // One shadow record per reading the champion scored, none twice (the killed worker's replay wrote no copy).
        #expect(shadow.count == scored.count)
        #expect(Set(shadow.map(\.source)).count == shadow.count)
        #expect(Set(shadow.map(\.source)) == Set(scored.map(\.source)))
        #expect(shadow.allSatisfy { $0.json["model"] as? String == "failure@v2" })
        #expect(shadow.allSatisfy { $0.json["champion"] as? String == "failure@v1" })
        #expect(shadow.allSatisfy { $0.json["risk"] is Double && $0.json["champion_risk"] is Double })
        // The champion's risk in the shadow record is the one the prediction carried.
        let championRisk = Dictionary(uniqueKeysWithValues: scored.map { ($0.source, $0.json["risk"] as! Double) })
        #expect(shadow.allSatisfy { championRisk[$0.source] == $0.json["champion_risk"] as? Double })
        // The two models disagree somewhere (else the test would not tell them apart).
        #expect(shadow.contains { $0.json["risk"] as? Double != $0.json["champion_risk"] as? Double })
        // Alarms and recommendations come from the champion only.
        for topic in ["alerts", "recommendations", "setpoints"] {
            #expect(try Self.records(dir, topic).allSatisfy { !$0.text.contains("failure@v2") }, "\(topic)")
        }

        // The alias removed (the challenger settled): the next run scores no challenger.
        let remove = try await CLI.run(["models", "alias", "failure", "challenger", "--remove", "--registry", registry])
        #expect(remove.status == 0, "\(remove.stderr)")
        let more = try await CLI.run([
            "simulate", "--machines", "8", "--count", "2000", "--fast", "--labels", "--start",
            "2026-06-03T06:00:00Z", "--bus", bus,
        ])
        #expect(more.status == 0, "\(more.stderr)")
        let again = try await CLI.run(["run", "--bus", bus, "--exit-when-idle", "1s", "--json"] + worker)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.records(dir, "predictions").count > predictions.count)
        #expect(try Self.records(dir, "shadow-predictions").count == shadow.count)
    }

    struct Output {
        var source: String
        var text: String
        var json: [String: Any]
    }

    /// Every record of `topic` in the embedded log, with the source offset it carries.
    static func records(_ dir: String, _ topic: String) throws -> [Output] {
        try logRecords(dir + "/bus", topic).map { r in
            Output(
                source: (r.headers["src-partition"] ?? "?") + "/" + (r.headers["src-offset"] ?? "?"),
                text: String(decoding: r.value, as: UTF8.self),
                json: (try? JSONSerialization.jsonObject(with: Data(r.value))) as? [String: Any] ?? [:])
        }
    }
}
