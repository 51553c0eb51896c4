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

    @Test func dynamicPCATrainsReportsAndEvaluates() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let process = SyntheticProcess(variables: 12, seed: 5)
        let train = process.run(rows: 500, seed: 1)
        try Self.csv(process.variables, train).write(toFile: dir + "/normal.csv", atomically: true, encoding: .utf8)
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
}
