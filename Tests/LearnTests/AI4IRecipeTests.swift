import Foundation
import Tabular
import Testing

@testable import Learn

/// The protocol: predict "Machine failure" from the process variables, the product type and the three physics
/// features (not the mode columns), stratified 80/20 split, over seeds 0, 1, 2. Goal: mean F1 at least 0.90
/// (yardsticks: Keras MLP on raw features 0.66, random forest with the physics features 0.89).
@Suite struct AI4IRecipeTests {
    @Test func failurePredictionReachesTheGoal() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../data/ai4i2020.csv"
        ).path
        let table = try CSVParser.parse([UInt8](FileManager.default.contents(atPath: path)!), source: path)
        let columns = [
            "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
            "Tool wear [min]",
        ]
        let names = ["air_temp_k", "process_temp_k", "rpm", "torque_nm", "tool_wear_min"]
        let numeric = try columns.map { name in
            let c = try table.column(name)
            return try table.rows.indices.map { try table.number(row: $0, column: c) }
        }
        let target = try table.column("Machine failure")
        let data = TabularData(
            numericNames: names, numeric: numeric, categoricalNames: ["product"],
            categorical: [table.rows.map { $0[2] }],
            categories: ["product": ["L", "M", "H"]],
            derived: [
                ("power_w", "torque_nm * rpm * 2 * pi / 60"), ("temp_diff_k", "process_temp_k - air_temp_k"),
                ("strain_min_nm", "tool_wear_min * torque_nm"),
            ],
            targetName: "Machine failure", target: table.rows.map { $0[target] })
        var scores: [Double] = []
        for seed: UInt64 in [0, 1, 2] {
            var spec = TrainingSpec()
            spec.scaling = .treeSteps
            spec.bins = 8
            spec.patience = 30
            spec.epochs = 100
            spec.seed = seed
            let result = try Trainer.train(data, spec: spec, metadata: .init(created: "test", codeVersion: "test"))
            #expect(result.testRows == 2000 && result.report!.classes[1].support == 68)
            scores.append(result.testMetrics["f1"]!)
        }
        let mean = scores.reduce(0, +) / 3
        #expect(mean >= 0.90, "F1 per seed \(scores), mean \(mean)")
    }
}
