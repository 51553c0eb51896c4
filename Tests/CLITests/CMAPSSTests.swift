import Foundation
import Testing

/// Remaining useful life on NASA's C-MAPSS FD001 (data/cmapss), as examples/cmapss/README.md runs it: one seed of the
/// window-80 MLP with the engine's age keeps RMSE at or below 13.5 at the test engines' last cycles (five seeds of the
/// benchmark's averaged networks: 11.95 on average, docs/learn.md).
@Suite struct CMAPSSTests {
    static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../data/cmapss"
    ).standardized.path

    @Test func remainingLifeOnFD001() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trained = try await CLI.run([
            "train", "--task", "rul", "--data", Self.data + "/train_FD001.txt", "--columns",
            "unit,cycle,setting1..setting3,s1..s21", "--unit", "unit", "--time", "cycle", "--drop",
            "setting1,setting2,setting3,s1,s5,s6,s10,s16,s18,s19", "--window", "80", "--age", "--layers", "64,64",
            "--epochs", "60", "--seed", "0", "--name", "rul", "--registry", dir + "/models",
        ])
        #expect(trained.status == 0, "\(trained.stderr)")
        let evaluated = try await CLI.run([
            "evaluate", "--model", "rul", "--data", Self.data + "/test_FD001.txt", "--truth",
            Self.data + "/RUL_FD001.txt", "--registry", dir + "/models", "--json",
        ])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: Any]
        let metrics = result?["metrics"] as? [String: Any]
        let rmse = metrics?["rmse"] as? Double ?? .infinity
        print("C-MAPSS FD001, seed 0: RMSE \(rmse), PHM08 score \(metrics?["score"] as? Double ?? .nan)")
        #expect(rmse <= 13.5, "RMSE \(rmse) at the last cycles of FD001's 100 test engines (\(evaluated.stdout))")
        #expect(result?["units"] as? Int == 100)
    }
}
