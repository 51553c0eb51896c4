import Analytics
import Optimizer
import Plant
import Topics

/// How a pipeline worker processes readings.
public struct PipelineSettings: Sendable {
    public var process: ProcessConfig
    public var inputTopic = Topics.readings.name
    public var predictionsTopic = Topics.predictions.name
    /// A challenger's scores beside the champion's (shadow scoring).
    public var shadowTopic = Topics.shadowPredictions.name
    public var alertsTopic = Topics.alerts.name
    public var kpisTopic = Topics.kpis.name
    public var deadLettersTopic = Topics.deadLetters.name
    public var checkpointsTopic = Topics.pipelineCheckpoints
    /// Setpoint recommendations, and the setpoint changes closed loop makes (what the plant applies).
    public var recommendationsTopic = Topics.recommendations.name
    public var setpointsTopic = Topics.setpoints.name
    /// Switches closed loop on and off while workers run: `{"closed_loop":false}` (the server's
    /// POST /api/optimizer/closed-loop writes it); the latest record wins.
    public var controlTopic = Topics.optimizerControl.name
    /// Apply recommendations without an operator (within the guardrails); from the config's `optimizer.closed_loop`
    /// or `millstream run --closed-loop`, and switched by records on the control topic.
    public var closedLoop = false
    /// The optimizer is asked about a machine at most once per this many milliseconds of its own time (an operator has time
    /// to decide; closed loop waits for the change to show in the readings).
    public var recommendationIntervalMilliseconds = RecommendationCadence.defaultIntervalMilliseconds
    /// Only readings at most this old (by the wall clock) get recommendations; nil: every reading, also history.
    public var recommendationMaxAgeMilliseconds: Int64? = 600_000
    public var group = "pipeline"
    /// Readings per variable a machine's SPC baseline is estimated from.
    public var spcBaseline = 100
    /// How alarms are raised, cleared, suppressed and prioritised (the process config's `alarms:`).
    public var alarms: AlarmSettings
    /// Readings older than the machine's newest by more than this go to dead letters as too late.
    public var allowedLatenessMilliseconds: Int64 = 60_000
    /// A KPI record per machine every this many readings.
    public var kpiEvery = 50
    /// How often state is checkpointed and input offsets committed. A checkpoint pauses the worker for some
    /// milliseconds; after a crash up to this much input is replayed (outputs are not repeated).
    public var checkpointInterval: Duration = .seconds(10)

    public init(process: ProcessConfig) {
        self.process = process
        self.closedLoop = process.optimizer?.closedLoop ?? false
        self.alarms = process.alarms
    }

    /// Every topic the worker writes per reading (exactly once, recovered after a crash).
    public var outputTopics: [String] {
        [
            predictionsTopic, shadowTopic, alertsTopic, kpisTopic, deadLettersTopic, recommendationsTopic,
            setpointsTopic,
        ]
    }
}
