import Analytics
import Optimizer
import Plant

/// Everything the pipeline remembers about one machine; Codable so it is checkpointed with the input offset.
struct MachineTracker: Codable, Sendable {
    var lastTimestamp: Int64?
    var lastState: String?
    var readings = 0
    // Checkpoints written before 2026-12-07 also hold `windows`, the last ten running values per variable, which
    // nothing read: they are ignored when such a checkpoint is loaded.
    var ewma = RunningMeans()
    var spc: [String: VariableSPC] = [:]
    var hour = RollingOEE(minutes: 60)
    var shift = RollingOEE(minutes: 480, bucketMinutes: 10)
    /// The machine's alarm conditions by key ("failure_risk", "anomaly", "spc/torque_nm"): one conditioned alarm
    /// each (on- and off-delay, deadband, suppression). Optional so checkpoints written before alarms still load.
    var alarms: [String: AlarmPoint]?
    /// The variable an active alarm without one in its key was raised for (an anomaly's top variable).
    var alarmVariables: [String: String]?
    /// When the machine last started running (repair, tool change, setup over); Int64.min when it was already
    /// running when this worker first saw it (not a start-up).
    var runningSince: Int64?
    /// Consecutive alarming (positive) or quiet (negative) readings of the anomaly detector.
    var anomalyRun = 0
    /// The anomaly detector's latest samples, oldest first (dynamic PCA's lags and the current one).
    var detectorHistory: [[Double]]?
    var lastRisk: Double?
    /// The window of a model of histories (its running readings, oldest first).
    var history: MachineWindow?
    /// The window of the challenger in shadow, when it is a model of histories.
    var shadowWindow: MachineWindow?
    /// The window of the alarm model (`run --alarm-model`), when it is a model of histories.
    var forecastWindow: MachineWindow?
    /// What the optimizer knows of the machine, for the model it was built for.
    var optimizer: MachineContext?
    var optimizerModel: String?
    /// When the optimizer was last asked about the machine (reading time), whether it recommended or held.
    var lastRecommendation: Int64?
    /// The optimizer's latest recommendation for the machine, in words (for the failure alarm's "what to do").
    var lastAdvice: String?

    /// SPC for one variable: the baseline being collected, then the limits and the running charts.
    struct VariableSPC: Codable, Sendable {
        var baseline: [Double] = []
        var limits: ControlLimits?
        var checker: RuleChecker?
        var ewma: EWMAChart?
        var cusum: CUSUMChart?
        /// The parts of the subgroup being filled (X-bar charts).
        var subgroup: [Double]?
    }
}
