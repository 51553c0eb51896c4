import Foundation
import Testing

/// `train --task rul | failure_within` and `evaluate --truth` on headerless history files, as C-MAPSS ships them.
@Suite(.serialized) struct HistoryTrainTests {
    /// Units that degrade to failure at different rates: "unit cycle wear noise", space separated, no header.
    /// With `cut`, each unit's history stops early and the true RUL at its last cycle is returned.
    func histories(units: Int, seed: UInt64, cut: Bool) -> (text: String, truth: [Int]) {
        var state = seed
        func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        var lines: [String] = []
        var truth: [Int] = []
        for u in 1...units {
            let life = 60 + Int(uniform() * 60)
            let end = cut ? life - 5 - Int(uniform() * 40) : life
            for t in 1...end {
                let wear = pow(Double(t) / Double(life), 1.5) + 0.02 * (uniform() - 0.5)
                lines.append("\(u) \(t) \(String(format: "%.4f", wear)) \(String(format: "%.3f", uniform()))  ")
            }
            truth.append(life - end)
        }
        return (lines.joined(separator: "\n") + "\n", truth)
    }

    @Test func remainingLifeAndFailsWithinFromHeaderlessFiles() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = histories(units: 40, seed: 1, cut: false)
        let test = histories(units: 20, seed: 2, cut: true)
        try train.text.write(toFile: dir + "/train.txt", atomically: true, encoding: .utf8)
        try test.text.write(toFile: dir + "/test.txt", atomically: true, encoding: .utf8)
        try (test.truth.map(String.init).joined(separator: "\n") + "\n").write(
            toFile: dir + "/truth.txt", atomically: true, encoding: .utf8)

        let fit = try await CLI.run([
            "train", "--task", "rul", "--data", dir + "/train.txt", "--columns", "unit,cycle,wear,x1..x1", "--unit",
            "unit", "--time", "cycle", "--drop", "x1", "--window", "10", "--rul-cap", "60", "--layers", "32",
            "--epochs", "40", "--name", "rul", "--registry", dir + "/models", "--quiet", "--json",
        ])
        #expect(fit.status == 0, "\(fit.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(fit.stdout.utf8)) as? [String: Any]
        #expect((summary?["features"] as? [String])?.contains("wear.slope") == true, "\(fit.stdout)")

        let evaluate = try await CLI.run([
            "evaluate", "--model", "rul", "--data", dir + "/test.txt", "--truth", dir + "/truth.txt", "--registry",
            dir + "/models", "--json",
        ])
        #expect(evaluate.status == 0, "\(evaluate.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(evaluate.stdout.utf8)) as? [String: Any]
        let metrics = result?["metrics"] as? [String: Double] ?? [:]
        #expect(result?["units"] as? Int == 20)
        // The true RULs run from 5 to 45 cycles; guessing their mean would be off by about 12.
        #expect((metrics["rmse"] ?? .infinity) < 8, "\(evaluate.stdout)")

        let within = try await CLI.run([
            "train", "--task", "failure_within", "--horizon", "15", "--data", dir + "/train.txt", "--columns",
            "unit,cycle,wear,x1", "--unit", "unit", "--time", "cycle", "--window", "10", "--epochs", "30", "--name",
            "lead", "--registry", dir + "/models", "--quiet", "--json",
        ])
        #expect(within.status == 0, "\(within.stderr)")
        let lead = try JSONSerialization.jsonObject(with: Data(within.stdout.utf8)) as? [String: Any]
        #expect(((lead?["metrics"] as? [String: Double])?["pr_auc"] ?? 0) > 0.8, "\(within.stdout)")
    }

    @Test func badHistoriesAreRefusedByName() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "1 1 0.5\n1 1 0.6\n".write(toFile: dir + "/dup.txt", atomically: true, encoding: .utf8)
        let dup = try await CLI.run([
            "train", "--task", "rul", "--data", dir + "/dup.txt", "--columns", "unit,cycle,wear", "--unit", "unit",
            "--time", "cycle", "--name", "x", "--registry", dir + "/models",
        ])
        #expect(dup.status != 0)
        #expect(dup.stderr.contains("two rows at time 1"), "\(dup.stderr)")
        let short = try await CLI.run([
            "train", "--task", "rul", "--data", dir + "/dup.txt", "--columns", "unit,cycle", "--unit", "unit",
            "--time", "cycle", "--name", "x", "--registry", dir + "/models",
        ])
        #expect(short.stderr.contains("3 fields, but --columns names 2"), "\(short.stderr)")
        let noUnit = try await CLI.run([
            "train", "--task", "rul", "--data", dir + "/dup.txt", "--name", "x", "--registry", dir + "/models",
        ])
        #expect(noUnit.status != 0)
        #expect(noUnit.stderr.contains("--unit COLUMN and --time COLUMN"), "\(noUnit.stderr)")
    }
}
