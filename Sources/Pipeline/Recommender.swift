import Learn
import Optimizer
import Plant

/// The optimizer bound to the production model: makes the pipeline's setpoint recommendations.
struct Recommender: Sendable {
    var optimizer: SetpointOptimizer<NetworkRiskModel>
    let label: String
    /// The pipeline's settings: the cadence, the maximum age and the topics (kept here, so that the processor's
    /// call into its recommender in place needs none of the processor's own properties).
    let settings: PipelineSettings

    /// Nil when the process has nothing to optimize (no controllable variable and no maintenance action).
    init?(file: ModelFile, label: String, settings: PipelineSettings) throws {
        let process = settings.process
        guard !process.controllables.isEmpty || !(process.optimizer?.maintenance.isEmpty ?? true) else { return nil }
        let model = try NetworkRiskModel(file: file, label: label)
        let problem = try OptimizationProblem(config: process, model: model)
        optimizer = try SetpointOptimizer(problem: problem, model: model, label: label)
        self.label = label
        self.settings = settings
    }

    var problem: OptimizationProblem { optimizer.problem }
}
