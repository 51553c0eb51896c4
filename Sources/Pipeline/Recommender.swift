import Learn
import Optimizer
import Plant

/// The optimizer bound to the production model: makes the pipeline's setpoint recommendations.
struct Recommender: Sendable {
    var optimizer: SetpointOptimizer<NetworkRiskModel>
    let label: String

    /// Nil when the process has nothing to optimize (no controllable variable and no maintenance action).
    init?(file: ModelFile, label: String, process: ProcessConfig) throws {
        guard !process.controllables.isEmpty || !(process.optimizer?.maintenance.isEmpty ?? true) else { return nil }
        let model = try NetworkRiskModel(file: file, label: label)
        let problem = try OptimizationProblem(config: process, model: model)
        optimizer = try SetpointOptimizer(problem: problem, model: model, label: label)
        self.label = label
    }

    var problem: OptimizationProblem { optimizer.problem }
}
