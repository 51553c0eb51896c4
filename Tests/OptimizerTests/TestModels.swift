import Optimizer
import Plant

/// A risk model given as a function of the milling variables, for tests: gradients by central differences when
/// `gradients` is true (it stands for a differentiable model), none otherwise (the derivative-free path).
struct FunctionModel: RiskModel {
    let numericInputs = ["air_temp_k", "process_temp_k", "rpm", "torque_nm", "tool_wear_min"]
    let categoricalInputs: [String] = []
    let reference = [300.0, 310, 1510, 40, 100]
    let providesGradients: Bool
    let risk: @Sendable ([Double]) -> Double

    init(gradients: Bool = true, _ risk: @escaping @Sendable ([Double]) -> Double) {
        self.providesGradients = gradients
        self.risk = risk
    }

    func categoryIndex(of value: String, for input: Int) -> Int { -1 }

    func evaluate(_ batch: inout RiskBatch) {
        let n = numericInputs.count
        for r in 0..<batch.rows {
            let row = Array(batch.numeric[r * n..<(r + 1) * n])
            batch.risk[r] = risk(row)
            guard batch.wantsGradient && providesGradients else { continue }
            for (k, d) in batch.directions.enumerated() {
                let h = max(1e-6, abs(row[d]) * 1e-6)
                var plus = row
                var minus = row
                plus[d] += h
                minus[d] -= h
                batch.gradient[r * batch.directions.count + k] = (risk(plus) - risk(minus)) / (2 * h)
            }
        }
    }
}

enum Fixture {
    static let machine = "plant1/line1/m01"

    /// The milling config, optionally without its throughput term (so that only the model's risk matters).
    static func config(throughput: Bool = true, minGain: Double? = nil) -> ProcessConfig {
        var c = ProcessConfig.milling()
        // Fewer scenarios than the shipped config: the properties tested do not depend on the count, the time does.
        c.optimizer?.scenarios = 16
        c.optimizer?.history = 64
        if !throughput { c.optimizer?.throughput = nil }
        if let minGain { c.optimizer?.minGain = minGain }
        return c
    }

    /// A running reading of the machine at `seconds`, with its variables near the setpoints.
    static func reading(
        _ seconds: Int64, rpm: Double = 1510, torque: Double = 40, wear: Double = 100, machine: String = machine
    ) -> Reading {
        Reading(
            machine: machine, timestamp: seconds * 1000,
            values: [
                Measurement("air_temp_k", 300), Measurement("process_temp_k", 310), Measurement("rpm", rpm),
                Measurement("torque_nm", torque), Measurement("tool_wear_min", wear),
            ], product: "M", state: .running, good: 1)
    }

    /// A machine context that has seen `parts` parts, spread around the nominal setpoints.
    static func context(_ problem: OptimizationProblem, model: some RiskModel, parts: Int = 16, wear: Double = 100)
        -> MachineContext
    {
        var c = MachineContext(machine: machine, problem: problem)
        for i in 0..<parts {
            let torqueNoise = Double((i * 7) % 11 - 5)
            let speedNoise = Double((i * 5) % 9 - 4) * 0.01
            c.observe(
                reading(Int64(i * 60), rpm: 1510 * (1 + speedNoise), torque: 40 + torqueNoise, wear: wear),
                model: model, problem: problem)
        }
        return c
    }
}
