import Foundation
import Testing

/// examples/dvc under DVC (PyPI): `dvc repro` snapshots the stream and trains on it through the CLI; the model's
/// metrics are those of the same commands run by hand, a second `dvc repro` without new readings skips training, and
/// the model's lineage names the snapshot.
@Suite struct DVCTests {
    static let repo = LiveDemo.repository

    @Test func dvcReproSnapshotsAndTrainsAsTheCommandsDo() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = "embedded://\(dir)/bus"
        let sim = try await CLI.run([
            "simulate", "--machines", "20", "--duration", "2d", "--fast", "--seed", "1", "--start",
            "2026-05-01T00:00:00Z", "--bus", bus,
        ])
        #expect(sim.status == 0, "\(sim.stderr)")

        // The example, pointed at this bus, with fewer epochs for the test.
        let project = dir + "/project"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.repo + "/examples/dvc/dvc.yaml", toPath: project + "/dvc.yaml")
        let params = try String(contentsOfFile: Self.repo + "/examples/dvc/params.yaml", encoding: .utf8)
            .replacingOccurrences(of: "embedded://./plant-data", with: bus)
            .replacingOccurrences(of: "epochs: 10", with: "epochs: 3")
        #expect(params.contains(bus) && params.contains("epochs: 3"))
        try params.write(toFile: project + "/params.yaml", atomically: true, encoding: .utf8)
        let dvc = Self.repo + "/.venv/bin/dvc"
        let path =
            (CLI.binary as NSString).deletingLastPathComponent + ":"
            + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        func run(_ arguments: [String]) async throws -> (Int32, String) {
            try await runTool(
                "/usr/bin/env", ["PATH=\(path)", "DVC_NO_ANALYTICS=1", dvc] + arguments, directory: project)
        }
        let initialized = try await run(["init", "--no-scm", "-q"])
        #expect(initialized.0 == 0, "\(initialized.1)")
        let first = try await run(["repro"])
        #expect(first.0 == 0, "\(first.1)")
        #expect(first.1.contains("Running stage 'snapshot'") && first.1.contains("Running stage 'train'"), "\(first.1)")

        // The same commands by hand give the same snapshot and the same metrics.
        let byHand = dir + "/by-hand"
        let snap = try await CLI.run([
            "dataset", "snapshot", "--bus", bus, "--out", byHand + "/data", "--name", "readings", "--min-rows", "1000",
            "--min-failures", "10",
        ])
        #expect(snap.status == 0, "\(snap.stderr)")
        let train = try await CLI.run([
            "train", "--task", "failure_within", "--horizon", "30", "--data", byHand + "/data/readings.csv", "--unit",
            "machine", "--time", "minutes", "--event", "failure", "--epochs", "3", "--seed", "42", "--name", "lead",
            "--registry", byHand + "/models", "--quiet", "--metrics", byHand + "/metrics.json",
        ])
        #expect(train.status == 0, "\(train.stderr)")
        let viaDVC = try Self.json(project + "/metrics.json")
        let direct = try Self.json(byHand + "/metrics.json")
        #expect(NSDictionary(dictionary: viaDVC).isEqual(to: direct), "\(viaDVC) vs \(direct)")
        #expect((viaDVC["test"] as? [String: Any])?["roc_auc"] is Double)
        #expect(viaDVC["dataset"] as? String == "readings.csv")

        // DVC sees the metrics; nothing new on the bus: the snapshot is the same file and training is skipped.
        let metrics = try await run(["metrics", "show"])
        #expect(metrics.1.contains("test.roc_auc"), "\(metrics.1)")
        let second = try await run(["repro"])
        #expect(second.0 == 0, "\(second.1)")
        #expect(second.1.contains("Stage 'train' didn't change, skipping"), "\(second.1)")

        // The model's lineage names the snapshot and where its readings came from.
        let show = try await CLI.run(["models", "show", "lead@v1", "--registry", project + "/models"])
        #expect(show.stdout.contains("  dataset   readings.csv (sha256 "), "\(show.stdout)")
        #expect(show.stdout.contains("  source    readings on \(bus)"), "\(show.stdout)")
    }

    static func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }
}
