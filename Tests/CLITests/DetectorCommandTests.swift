import Foundation
import Learn
import Testing

/// `train --detector` reports its calibration and `evaluate` measures a detector on a labelled faulty file
/// (docs/detectors.md).
@Suite struct DetectorCommandTests {
    static func csv(_ names: [String], _ rows: [[Double]], labels: [Int]? = nil) -> String {
        (names + (labels == nil ? [] : ["fault"])).joined(separator: ",") + "\n"
            + rows.enumerated().map { i, row in
                (row.map { String(format: "%.5f", $0) } + (labels.map { ["\($0[i])"] } ?? [])).joined(separator: ",")
            }.joined(separator: "\n") + "\n"
    }

    /// 500 rows of a 12-variable test process in DIR/normal.csv.
    static func normalOperation(in dir: String) throws -> (SyntheticProcess, [[Double]]) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let process = SyntheticProcess(variables: 12, seed: 5)
        let train = process.run(rows: 500, seed: 1)
        try csv(process.variables, train).write(toFile: dir + "/normal.csv", atomically: true, encoding: .utf8)
        return (process, train)
    }

    @Test func dynamicPCATrainsReportsAndEvaluates() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (process, train) = try Self.normalOperation(in: dir)
        let spread = SyntheticProcess.spread(of: 4, in: train)
        let faulty = process.run(rows: 800, seed: 2, fault: .step, variable: 4, start: 400, spread: spread, size: 3)
        try Self.csv(process.variables, faulty.rows, labels: faulty.labels).write(
            toFile: dir + "/faulty.csv", atomically: true, encoding: .utf8)
        let registry = dir + "/models"
        let trained = try await CLI.run([
            "train", "--detector", "pca", "--lags", "auto", "--data", dir + "/normal.csv", "--false-alarm-rate", "0.05",
            "--name", "unit-health", "--registry", registry,
        ])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stdout.contains("lags"), "\(trained.stdout)")
        #expect(trained.stdout.contains("PCA calibration: 500 rows of normal operation, 5 time-ordered folds"))
        #expect(trained.stdout.contains("expected false-alarm rate on new normal data: 5.00 %, 95 % interval"))
        #expect(trained.stdout.contains("smallest rate the held-out rows calibrate by themselves"))

        let evaluated = try await CLI.run([
            "evaluate", "--model", "unit-health", "--data", dir + "/faulty.csv", "--registry", registry, "--json",
        ])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let r = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as! [String: Any]
        #expect(r["normal_rows"] as? Int == 400 && r["faulty_rows"] as? Int == 400 && r["faults"] as? Int == 1)
        #expect((r["detection_rate"] as? Double ?? 0) > 0.8, "\(r)")
        #expect((r["false_alarm_rate"] as? Double ?? 1) < 0.2, "\(r)")
        #expect((r["median_delay_rows"] as? Int ?? 99) <= 10, "\(r)")
        #expect(r["top_variable"] as? String == "x5", "\(r)")
        let text = try await CLI.run([
            "evaluate", "--model", "unit-health", "--data", dir + "/faulty.csv", "--registry", registry,
        ])
        #expect(text.stdout.contains("detection on faulty rows") && text.stdout.contains("faults caught: 1 of 1"))

        // Bad input says what and where.
        try "x1,fault\n1,maybe\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        let missing = try await CLI.run([
            "evaluate", "--model", "unit-health", "--data", dir + "/faulty.csv", "--registry", registry, "--label",
            "broken",
        ])
        #expect(missing.status != 0 && missing.stderr.contains("broken"), "\(missing.stderr)")
        let lags = try await CLI.run([
            "train", "--detector", "pca", "--lags", "many", "--data", dir + "/normal.csv", "--name", "x", "--registry",
            registry,
        ])
        #expect(lags.status != 0 && lags.stderr.contains("--lags takes 0 to 10 or auto"), "\(lags.stderr)")
    }

    /// The pipeline scores a dynamic-PCA detector with each machine's own window of samples: every reading's score
    /// equals `predict`'s on the same machine's series, and the fault's alarm names the faulty sensor.
    @Test func thePipelineKeepsEachMachinesLags() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (process, train) = try Self.normalOperation(in: dir)
        var yaml =
            "process: unit\nsite: s1\nideal_cycle_s: 10\nlines:\n  - name: l1\n    machines: [m1, m2]\nvariables:\n"
        for v in process.variables { yaml += "  \(v): {unit: bar, min: -1000, max: 1000}\n" }
        try yaml.write(toFile: dir + "/unit.yaml", atomically: true, encoding: .utf8)
        let registry = dir + "/models"
        let trained = try await CLI.run([
            "train", "--detector", "pca", "--lags", "2", "--config", dir + "/unit.yaml", "--data", dir + "/normal.csv",
            "--false-alarm-rate", "0.01", "--name", "unit-health", "--registry", registry,
        ])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(try await CLI.run(["models", "promote", "unit-health@v1", "--registry", registry]).status == 0)

        // Two machines interleaved: m1 normal, m2 with a step of three spreads on x5 from its 60th reading.
        let spread = SyntheticProcess.spread(of: 4, in: train)
        let series = [
            "s1/l1/m1": process.run(rows: 120, seed: 7),
            "s1/l1/m2": process.run(rows: 120, seed: 8, fault: .step, variable: 4, start: 60, spread: spread, size: 3)
                .rows,
        ]
        var jsonl = ""
        for i in 0..<120 {
            for machine in series.keys.sorted() {
                let values = zip(process.variables, series[machine]![i]).map {
                    "\"\($0)\":\(String(format: "%.5f", $1))"
                }
                jsonl +=
                    "{\"machine\":\"\(machine)\",\"ts\":\"2026-01-01T00:\(String(format: "%02d", i / 60)):\(String(format: "%02d", i % 60)).000Z\",\"seq\":\(i + 1),\"values\":{\(values.joined(separator: ","))}}\n"
            }
        }
        try jsonl.write(toFile: dir + "/readings.jsonl", atomically: true, encoding: .utf8)
        let bus = "embedded://\(dir)/log"
        #expect(
            try await CLI.run(["import", dir + "/readings.jsonl", "--config", dir + "/unit.yaml", "--bus", bus]).status
                == 0)
        let run = try await CLI.run([
            "run", "--config", dir + "/unit.yaml", "--bus", bus, "--registry", registry, "--model", "unit-health",
            "--exit-when-idle", "1s", "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let predictions = try await CLI.run([
            "tail", "predictions", "--bus", bus, "--from-beginning", "--exit-at-end",
        ]).stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(predictions.count == 240)
        for machine in series.keys.sorted() {
            let ours = predictions.filter { $0["machine"] as? String == machine }
                .sorted { ($0["seq"] as? Int ?? 0) < ($1["seq"] as? Int ?? 0) }
                .compactMap { ($0["anomaly"] as? [String: Any])?["score"] as? Double }
            try Self.csv(process.variables, series[machine]!).write(
                toFile: dir + "/series.csv", atomically: true, encoding: .utf8)
            let predicted = try await CLI.run([
                "predict", "--model", "unit-health", "--data", dir + "/series.csv", "--out", dir + "/scores.csv",
                "--registry", registry,
            ])
            #expect(predicted.status == 0, "\(predicted.stderr)")
            let header = try String(contentsOfFile: dir + "/scores.csv", encoding: .utf8).split(separator: "\n")
            let column = header[0].split(separator: ",").firstIndex(of: "anomaly_score")!
            let batch = header.dropFirst().map { Double($0.split(separator: ",")[column])! }
            #expect(ours.count == 120 && batch.count == 120)
            let worst = zip(ours, batch).map { abs($0 - $1) / max(abs($1), 1e-3) }.max() ?? 1
            #expect(worst < 1e-3, "\(machine): pipeline and batch scores differ by up to \(worst)")
        }
        let alerts = try await CLI.run(["tail", "alerts", "--bus", bus, "--from-beginning", "--exit-at-end"]).stdout
        let raised = alerts.split(separator: "\n").filter {
            $0.contains("\"kind\":\"anomaly\"") && $0.contains("\"status\":\"raised\"")
        }
        #expect(raised.contains { $0.contains("s1/l1/m2") && $0.contains("\"variable\":\"x5\"") }, "\(raised)")
    }
}
