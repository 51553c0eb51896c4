import EventLog
import Foundation
import Testing

/// A "fails within 30 minutes" model trained from the stream's own history (`dataset snapshot`, failures from the
/// machine states) and scored by the pipeline with a window per machine, kept in its checkpointed state.
@Suite(.serialized) struct LeadTimeModelTests {
    @Test func snapshotTrainAndScoreWithWindowsThatSurviveKills() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let history = "embedded://\(dir)/history"
        let sim = try await CLI.run([
            "simulate", "--machines", "20", "--duration", "2d", "--fast", "--seed", "1", "--start",
            "2026-05-01T00:00:00Z", "--bus", history, "--json",
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        let simulated = try JSONSerialization.jsonObject(with: Data(sim.stdout.utf8)) as? [String: Any]

        let snap = try await CLI.run([
            "dataset", "snapshot", "--bus", history, "--out", dir + "/data", "--name", "history", "--json",
        ])
        #expect(snap.status == 0, "\(snap.stderr)")
        let manifest = try JSONSerialization.jsonObject(with: Data(snap.stdout.utf8)) as? [String: Any]
        // Every failure the simulator made is found from the machine states alone.
        #expect(manifest?["failures"] as? Int == simulated?["failures"] as? Int, "\(snap.stdout)")
        #expect((manifest?["machines"] as? [String])?.count == 20)
        let csv = try String(contentsOfFile: dir + "/data/history.csv", encoding: .utf8)
        #expect(
            csv.hasPrefix("machine,minutes,product,air_temp_k,process_temp_k,rpm,torque_nm,tool_wear_min,failure\n"))
        #expect(csv.split(separator: "\n").count - 1 == manifest?["rows"] as? Int)

        let fit = try await CLI.run([
            "train", "--task", "failure_within", "--horizon", "30", "--data", dir + "/data/history.csv", "--unit",
            "machine", "--time", "minutes", "--event", "failure", "--window", "10", "--layers", "16", "--epochs", "3",
            "--name", "lead", "--registry", dir + "/models", "--promote", "production", "--quiet", "--json",
        ])
        #expect(fit.status == 0, "\(fit.stderr)")
        let trained = try JSONSerialization.jsonObject(with: Data(fit.stdout.utf8)) as? [String: Any]
        #expect((trained?["features"] as? [String])?.contains("tool_wear_min.slope") == true, "\(fit.stdout)")
        // The model's lineage: the snapshot it was trained on, from its manifest.
        let show = try await CLI.run(["models", "show", "lead@v1", "--registry", dir + "/models"])
        #expect(show.stdout.contains("lineage:\n  dataset   history.csv (sha256 "), "\(show.stdout)")
        #expect(show.stdout.contains("  source    readings on \(history) up to offsets 0:"), "\(show.stdout)")
        #expect(show.stdout.contains("  validated yes"), "\(show.stdout)")

        // The same day of readings on two buses: one worker runs through, the other is killed three times.
        for name in ["whole", "killed"] {
            let run = try await CLI.run([
                "simulate", "--machines", "20", "--duration", "1d", "--fast", "--seed", "2", "--start",
                "2026-06-01T00:00:00Z", "--bus", "embedded://\(dir)/\(name)", "--json",
            ])
            #expect(run.status == 0, "\(run.stderr)")
        }
        let arguments = ["--model", "lead", "--registry", dir + "/models", "--checkpoint-every", "100ms"]
        let whole = try await CLI.run(
            ["run", "--bus", "embedded://\(dir)/whole", "--exit-when-idle", "1s", "--json"] + arguments)
        #expect(whole.status == 0, "\(whole.stderr)")
        for _ in 0..<3 {
            try await CLI.killWorker(bus: "embedded://\(dir)/killed", arguments: arguments, targets: 1_000...25_000) {
                try EventLog.open(directory: dir + "/killed", configuration: .init(readOnly: true))
                    .topic("predictions").recordCount
            }
        }
        let finish = try await CLI.run(
            ["run", "--bus", "embedded://\(dir)/killed", "--exit-when-idle", "1s", "--json"] + arguments)
        #expect(finish.status == 0, "\(finish.stderr)")
        // The last restart began from checkpoints (windows restored), not from the start of the topic.
        #expect(finish.stdout.contains("checkpoint at offset"), "\(finish.stdout)")

        let expected = try predictions(dir + "/whole")
        let got = try predictions(dir + "/killed")
        #expect(expected.count == got.count)
        let scored = expected.values.filter { $0["risk"] is Double }
        #expect(scored.count > 20_000, "running readings scored: \(scored.count)")
        #expect(scored.allSatisfy { $0["model"] as? String == "lead@v1" })
        var different = 0
        for (source, record) in expected where !(record["risk"] as? Double == got[source]?["risk"] as? Double) {
            different += 1
        }
        // Exactly once, window included: every risk after the restarts is the one of the uninterrupted run.
        #expect(different == 0, "\(different) of \(expected.count) predictions differ after the kills")
    }

    @Test func snapshotTakesLabelsAndRefusesWhatItCannotRead() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = "embedded://\(dir)/bus"
        let sim = try await CLI.run([
            "simulate", "--machines", "5", "--duration", "12h", "--fast", "--labels", "--bad-fraction", "0.01",
            "--start", "2026-05-01T00:00:00Z", "--bus", bus, "--json",
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        let simulated = try JSONSerialization.jsonObject(with: Data(sim.stdout.utf8)) as? [String: Any]
        let fromStates = try await CLI.run(["dataset", "snapshot", "--bus", bus, "--out", dir, "--json"])
        let fromLabels = try await CLI.run([
            "dataset", "snapshot", "--bus", bus, "--labels", "labels", "--out", dir, "--name", "labelled", "--json",
        ])
        #expect(fromStates.status == 0 && fromLabels.status == 0, "\(fromStates.stderr) \(fromLabels.stderr)")
        let a = try JSONSerialization.jsonObject(with: Data(fromStates.stdout.utf8)) as? [String: Any]
        let b = try JSONSerialization.jsonObject(with: Data(fromLabels.stdout.utf8)) as? [String: Any]
        // Bad readings are left out as the pipeline dead-letters them; both sources of failures agree.
        #expect(a?["bad_readings"] as? Int == simulated?["bad"] as? Int, "\(fromStates.stdout)")
        #expect(a?["failures"] as? Int == b?["failures"] as? Int)
        #expect(b?["unlabelled_readings"] as? Int == 0)
        // Content addressed: the default name carries the file's digest.
        #expect((a?["file"] as? String) == "readings-\(((a?["sha256"] as? String) ?? "").prefix(12)).csv")
        // Validated against the process config: every check reported, the bad readings by reason.
        let validation = b?["validation"] as? [String: Any]
        #expect(validation?["passed"] as? Bool == true)
        let checks = (validation?["checks"] as? [[String: Any]] ?? []).compactMap { $0["check"] as? String }
        #expect(checks == ["rows", "failures", "failure_fraction", "bad_readings", "unlabelled", "gaps"])
        // Below a threshold: refused with what failed, nothing written; --force writes it and says so.
        let strict = try await CLI.run([
            "dataset", "snapshot", "--bus", bus, "--out", dir + "/strict", "--min-failures", "100", "--max-gap", "30s",
        ])
        #expect(strict.status != 0)
        #expect(strict.stderr.contains("failures: 5 failures (at least 100)"), "\(strict.stderr)")
        #expect(strict.stderr.contains("gaps: longest silence"), "\(strict.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/strict"))
        let forced = try await CLI.run([
            "dataset", "snapshot", "--bus", bus, "--out", dir + "/strict", "--min-failures", "100", "--force", "--json",
        ])
        #expect(forced.status == 0, "\(forced.stderr)")
        let f = try JSONSerialization.jsonObject(with: Data(forced.stdout.utf8)) as? [String: Any]
        #expect((f?["validation"] as? [String: Any])?["passed"] as? Bool == false)

        let missing = try await CLI.run(["dataset", "snapshot", "--bus", "embedded://\(dir)/none", "--out", dir])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no Millstream log at"), "\(missing.stderr)")
        let topic = try await CLI.run(["dataset", "snapshot", "--bus", bus, "--topic", "nope", "--out", dir])
        #expect(topic.stderr.contains("topic nope does not exist"), "\(topic.stderr)")
        let range = try await CLI.run([
            "dataset", "snapshot", "--bus", bus, "--since", "2001-01-01T00:00:00Z", "--until", "2001-01-02T00:00:00Z",
            "--out", dir,
        ])
        #expect(range.stderr.contains("no valid running readings in the time range"), "\(range.stderr)")
    }

    /// The predictions by source partition/offset, decoded.
    func predictions(_ dir: String) throws -> [String: [String: Any]] {
        let log = try EventLog.open(directory: dir, configuration: .init(readOnly: true))
        var out: [String: [String: Any]] = [:]
        for partition in try log.topic("predictions").partitions {
            var offset = partition.earliestOffset
            while true {
                let r = try partition.read(from: offset, maxBytes: 1 << 20)
                if r.records.isEmpty { break }
                for record in r.records {
                    let p = String(decoding: record.headers.first { $0.name == "src-partition" }!.value, as: UTF8.self)
                    let o = String(decoding: record.headers.first { $0.name == "src-offset" }!.value, as: UTF8.self)
                    out[p + "/" + o] = try JSONSerialization.jsonObject(with: Data(record.value)) as? [String: Any]
                }
                offset = r.nextOffset
            }
        }
        return out
    }
}
