import Plant

/// How a pipeline worker processes readings.
public struct PipelineSettings: Sendable {
    public var process: ProcessConfig
    public var inputTopic = "readings"
    public var predictionsTopic = "predictions"
    public var alertsTopic = "alerts"
    public var kpisTopic = "kpis"
    public var deadLettersTopic = "dead-letters"
    public var checkpointsTopic = "pipeline-checkpoints"
    public var group = "pipeline"
    /// Readings per variable a machine's SPC baseline is estimated from.
    public var spcBaseline = 100
    /// A machine's risk at or above this raises an alert; it clears below `riskClear`.
    public var riskAlert = 0.5
    public var riskClear = 0.3
    /// Readings older than the machine's newest by more than this go to dead letters as too late.
    public var allowedLatenessMilliseconds: Int64 = 60_000
    /// A KPI record per machine every this many readings.
    public var kpiEvery = 50
    /// Rolling window (readings) for the per-machine feature summaries.
    public var window = 10
    /// How often state is checkpointed and input offsets committed. A checkpoint pauses the worker for some
    /// milliseconds; after a crash up to this much input is replayed (outputs are not repeated).
    public var checkpointInterval: Duration = .seconds(10)

    public init(process: ProcessConfig) { self.process = process }
}
