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
            "--derive", "temp_diff_k = process_temp_k - air_temp_k", "--name", "lead", "--registry", dir + "/models",
            "--promote", "production", "--quiet", "--json",
        ])
        #expect(fit.status == 0, "\(fit.stderr)")
        let trained = try JSONSerialization.jsonObject(with: Data(fit.stdout.utf8)) as? [String: Any]
        let features = trained?["features"] as? [String] ?? []
        // The window holds the raw variables and the difference derived from each reading.
        #expect(features.contains("tool_wear_min.slope") && features.contains("temp_diff_k.ewma"), "\(fit.stdout)")
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
        try await pipelineScoresAsPredict(dir: dir, bus: "embedded://\(dir)/whole")
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

        // A second run on the same bus counts its machines' parts from 1 again: each label still finds its own
        // reading (by time), and the failures of both runs are those the simulator made, no more.
        let again = try await CLI.run([
            "simulate", "--machines", "5", "--duration", "12h", "--fast", "--labels", "--seed", "7", "--start",
            "2026-05-01T12:00:00Z", "--bus", bus, "--json",
        ])
        #expect(again.status == 0, "\(again.stderr)")
        let second = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
        let both = try await CLI.run([
            "dataset", "snapshot", "--bus", bus, "--labels", "labels", "--out", dir, "--name", "both", "--json",
        ])
        #expect(both.status == 0, "\(both.stderr)")
        let joined = try JSONSerialization.jsonObject(with: Data(both.stdout.utf8)) as? [String: Any]
        let made = (simulated?["failures"] as? Int ?? -1) + (second?["failures"] as? Int ?? -1)
        #expect(joined?["failures"] as? Int == made, "\(both.stdout)")
        #expect(joined?["unlabelled_readings"] as? Int == 0)

        // An hour whose labels have not come yet (they arrive later than readings): left out, not unlabelled.
        let unlabelledHour = try await CLI.run([
            "simulate", "--machines", "5", "--duration", "1h", "--fast", "--seed", "8", "--start",
            "2026-05-02T00:00:00Z", "--bus", bus,
        ])
        #expect(unlabelledHour.status == 0, "\(unlabelledHour.stderr)")
        let waiting = try await CLI.run([
            "dataset", "snapshot", "--bus", bus, "--labels", "labels", "--out", dir, "--name", "waiting", "--json",
        ])
        #expect(waiting.status == 0, "\(waiting.stderr)")
        let w = try JSONSerialization.jsonObject(with: Data(waiting.stdout.utf8)) as? [String: Any]
        #expect(w?["rows"] as? Int == joined?["rows"] as? Int, "\(waiting.stdout)")
        #expect((w?["awaiting_labels"] as? Int ?? 0) > 200 && w?["unlabelled_readings"] as? Int == 0)
    }

    /// The pipeline's risk at each running reading is what `predict` gives the same reading in a snapshot of the
    /// same stream: the window and the derived difference are built alike in training, evaluate and the pipeline.
    func pipelineScoresAsPredict(dir: String, bus: String) async throws {
        let snap = try await CLI.run([
            "dataset", "snapshot", "--bus", bus, "--out", dir + "/data", "--name", "whole", "--min-failures", "0",
        ])
        #expect(snap.status == 0, "\(snap.stderr)")
        let scored = try await CLI.run([
            "predict", "--model", "lead", "--registry", dir + "/models", "--data", dir + "/data/whole.csv", "--out",
            dir + "/data/scored.csv",
        ])
        #expect(scored.status == 0, "\(scored.stderr)")
        let lines = try String(contentsOfFile: dir + "/data/scored.csv", encoding: .utf8).split(separator: "\n")
        let header = lines.first?.split(separator: ",").map(String.init) ?? []
        let machine = header.firstIndex(of: "machine") ?? 0
        let minutes = header.firstIndex(of: "minutes") ?? 0
        let probability = header.firstIndex(of: "probability") ?? 0
        var offline: [String: Double] = [:]
        for line in lines.dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            let millis = Int64(((Double(f[minutes]) ?? 0) * 60_000).rounded())
            offline["\(f[machine]) \(millis)"] = Double(f[probability])
        }
        let dates = ISO8601DateFormatter()
        dates.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var compared = 0
        var largest = 0.0
        for record in try predictions(dir + "/whole").values {
            guard let risk = record["risk"] as? Double, let ts = (record["ts"] as? String).flatMap(dates.date(from:))
            else { continue }
            let key = "\(record["machine"] as? String ?? "") \(Int64((ts.timeIntervalSince1970 * 1000).rounded()))"
            guard let expected = offline[key] else { continue }
            compared += 1
            largest = max(largest, abs(risk - expected))
        }
        #expect(compared == offline.count && compared > 20_000, "\(compared) of \(offline.count) readings compared")
        #expect(largest < 1e-5, "largest difference between the pipeline's and predict's risk: \(largest)")
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
