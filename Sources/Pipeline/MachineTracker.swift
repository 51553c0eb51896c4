import Analytics
import Optimizer
import Plant

/// Everything the pipeline remembers about one machine; Codable so it is checkpointed with the input offset.
struct MachineTracker: Codable, Sendable {
    var lastTimestamp: Int64?
    var lastState: String?
    var readings = 0
    /// Last `window` running values per variable, oldest first.
    var windows: [String: [Double]] = [:]
    var ewma: [String: Double] = [:]
    var spc: [String: VariableSPC] = [:]
    var hour = RollingOEE(minutes: 60)
    var shift = RollingOEE(minutes: 480, bucketMinutes: 10)
    var riskAlertActive = false
    var anomalyAlertActive = false
    /// Consecutive alarming (positive) or quiet (negative) readings of the anomaly detector.
    var anomalyRun = 0
    var lastRisk: Double?
    /// The window of a model of histories (its running readings, oldest first).
    var history: MachineWindow?
    /// What the optimizer knows of the machine, for the model it was built for.
    var optimizer: MachineContext?
    var optimizerModel: String?
    /// When the optimizer was last asked about the machine (reading time), whether it recommended or held.
    var lastRecommendation: Int64?

    /// SPC for one variable: the baseline being collected, then the limits and the running charts.
    struct VariableSPC: Codable, Sendable {
        var baseline: [Double] = []
        var limits: ControlLimits?
        var checker: RuleChecker?
        var ewma: EWMAChart?
        var cusum: CUSUMChart?
        /// Readings left before this variable may raise another SPC alert (no alarm floods).
        var quiet = 0
    }
}
