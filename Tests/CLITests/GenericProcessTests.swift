import EventLog
import Foundation
import Primitives
import Testing

/// Nothing is specific to milling: a chemical plant with 50 sensors, described only by its config, gets an anomaly
/// detector and a running pipeline without code changes.
@Suite(.serialized) struct GenericProcessTests {
    static let sensors = (1...50).map { String(format: "s%02d", $0) }

    static func config() -> String {
        var yaml =
            "process: reactor\nsite: chem1\nideal_cycle_s: 10\nlines:\n  - name: unit1\n    machines: [r1, r2]\nvariables:\n"
        for s in sensors { yaml += "  \(s): {unit: bar, min: -1000, max: 1000}\n" }
        return yaml
    }

    /// Rows driven by 6 hidden factors plus noise; `fault` shifts sensor 17.
    static func rows(_ n: Int, seed: UInt64, fault: Double = 0) -> [[Double]] {
        var rng = RandomSource(seed: seed)
        var weights = RandomSource(seed: 99)
        let loadings = (0..<50).map { _ in (0..<6).map { _ in weights.normal() } }
        return (0..<n).map { _ in
            let f = (0..<6).map { _ in rng.normal() }
            return (0..<50).map { i in
                var v = 100.0
                for k in 0..<6 { v += 2 * loadings[i][k] * f[k] }
                return v + 0.2 * rng.normal() + (i == 16 ? fault : 0)
            }
        }
    }

    static func csv(_ rows: [[Double]]) -> String {
        sensors.joined(separator: ",") + "\n"
            + rows.map { $0.map { String(format: "%.4f", $0) }.joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// PCA catches sensor 17 off by 3 (15 times its noise, 0.6 of its signal's spread): this process is linear, PCA's
    /// home ground. The autoencoder (default size, 3,000 training rows) rebuilds normal data less exactly, so it is
    /// given a shift of 15 (3 signal spreads); both must keep the false-alarm rate.
    @Test(arguments: ["pca", "autoencoder"])
    func detectorAndPipelineForAFiftySensorProcess(detector: String) async throws {
        let shift = detector == "pca" ? 3.0 : 15.0
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.config().write(toFile: dir + "/reactor.yaml", atomically: true, encoding: .utf8)
        try Self.csv(Self.rows(4000, seed: 1)).write(toFile: dir + "/normal.csv", atomically: true, encoding: .utf8)
        try Self.csv(Self.rows(4000, seed: 2)).write(toFile: dir + "/heldout.csv", atomically: true, encoding: .utf8)
        try Self.csv(Self.rows(500, seed: 3, fault: shift)).write(
            toFile: dir + "/fault.csv", atomically: true, encoding: .utf8)
        let registry = dir + "/models"
        let train = try await CLI.run([
            "train", "--detector", detector, "--config", dir + "/reactor.yaml", "--data", dir + "/normal.csv",
            "--false-alarm-rate", "0.01",
            "--name", "reactor-health", "--registry", registry,
        ])
        #expect(train.status == 0, "\(train.stderr)")
        func alarms(_ file: String) async throws -> (rate: Double, top: [String]) {
            let r = try await CLI.run([
                "predict", "--model", "reactor-health", "--data", dir + "/" + file, "--out", dir + "/out.csv",
                "--registry", registry,
            ])
            #expect(r.status == 0, "\(r.stderr)")
            let lines = try String(contentsOfFile: dir + "/out.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            let cells = lines.map { $0.split(separator: ",") }
            return (
                Double(cells.filter { $0[$0.count - 2] == "1" }.count) / Double(cells.count),
                cells.map { String($0.last!) }
            )
        }
        let normal = try await alarms("heldout.csv")
        #expect(abs(normal.rate - 0.01) < 0.01, "false-alarm rate \(normal.rate) for 0.01")
        let fault = try await alarms("fault.csv")
        #expect(fault.rate > 0.9, "fault alarm rate \(fault.rate)")
        #expect(
            Double(fault.top.filter { $0 == "s17" }.count) / Double(fault.top.count) > (detector == "pca" ? 0.9 : 0.75))

        // The pipeline takes the same config: readings in, predictions and anomaly alerts out, no code for "reactor"
        // anywhere. The last 60 readings have sensor 17 off.
        #expect(try await CLI.run(["models", "promote", "reactor-health@v1", "--registry", registry]).status == 0)
        var jsonl = ""
        for (i, row) in (Self.rows(300, seed: 4) + Self.rows(60, seed: 5, fault: shift)).enumerated() {
            let values = zip(Self.sensors, row).map { "\"\($0)\":\(String(format: "%.3f", $1))" }.joined(separator: ",")
            jsonl +=
                "{\"machine\":\"chem1/unit1/r\(i % 2 + 1)\",\"ts\":\"2026-01-01T00:\(String(format: "%02d", i / 60)):\(String(format: "%02d", i % 60)).000Z\",\"seq\":\(i / 2 + 1),\"values\":{\(values)}}\n"
        }
        try jsonl.write(toFile: dir + "/readings.jsonl", atomically: true, encoding: .utf8)
        let bus = "embedded://\(dir)/log"
        let imported = try await CLI.run([
            "import", dir + "/readings.jsonl", "--config", dir + "/reactor.yaml", "--bus", bus,
        ])
        #expect(imported.status == 0, "\(imported.stderr)")
        let run = try await CLI.run([
            "run", "--config", dir + "/reactor.yaml", "--bus", bus, "--registry", registry, "--model", "reactor-health",
            "--exit-when-idle", "1s", "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        #expect(summary["predictions"] as? Int == 360)
        #expect(summary["model"] as? String == "reactor-health@v1")
        let alerts = try await CLI.run(["tail", "alerts", "--bus", bus, "--from-beginning", "--exit-at-end"]).stdout
        let anomalies = alerts.split(separator: "\n").filter {
            $0.contains("\"kind\":\"anomaly\"") && $0.contains("\"status\":\"raised\"")
        }
        #expect(anomalies.count >= 1 && anomalies.count <= 4, "\(anomalies.count) anomaly alerts")
        #expect(anomalies.allSatisfy { $0.contains("\"variable\":\"s17\"") }, "\(anomalies)")
    }
}
