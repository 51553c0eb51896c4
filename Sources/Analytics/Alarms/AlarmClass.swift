/// ISA-18.2 alarm priorities, lowest first.
public enum AlarmPriority: String, Sendable, Codable, CaseIterable, Comparable {
    case low, medium, high, urgent

    public static func < (a: AlarmPriority, b: AlarmPriority) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The priority an alarm philosophy gives a consequence and the time an operator has to respond: the matrix
    /// ISA-18.2 asks every plant to define (this one is the common four-band form).
    ///
    /// | time to respond | minor | major | severe |
    /// |---|---|---|---|
    /// | over 30 min | low | low | medium |
    /// | 10 to 30 min | low | medium | high |
    /// | 3 to 10 min | medium | high | urgent |
    /// | under 3 min | high | urgent | urgent |
    public static func of(_ consequence: AlarmConsequence, respondWithinMinutes minutes: Double) -> AlarmPriority {
        let band = minutes > 30 ? 0 : minutes >= 10 ? 1 : minutes >= 3 ? 2 : 3
        let table: [[AlarmPriority]] = [
            [.low, .low, .medium], [.low, .medium, .high], [.medium, .high, .urgent], [.high, .urgent, .urgent],
        ]
        return table[band][AlarmConsequence.allCases.firstIndex(of: consequence)!]
    }
}

/// What happens if nobody acts on an alarm.
public enum AlarmConsequence: String, Sendable, Codable, CaseIterable {
    /// Some scrap or a short stop.
    case minor
    /// A breakdown: the machine stops for a repair.
    case major
    /// Harm to people, the environment or the plant.
    case severe
}

/// How one class of alarms (failure risk, SPC, anomaly) is raised, cleared and suppressed: the process config's
/// `alarms:` section, one entry per class. Times are the machine's own (reading timestamps), so a replay raises the
/// same alarms as the live run.
public struct AlarmClass: Sendable, Equatable, Codable {
    public var name: String
    public var consequence: AlarmConsequence
    /// How long an operator has to act once it is raised.
    public var respondWithinMinutes: Double
    /// For an analog class (a risk): raised at or above this.
    public var limit: Double?
    /// The condition must hold this long before the alarm is raised (filters single-reading blips).
    public var onDelaySeconds: Double
    /// The condition must be absent this long before the alarm returns to normal (one alarm per episode, no chatter).
    public var offDelaySeconds: Double
    /// An analog alarm clears only below its limit minus this (risk: a probability).
    public var deadband: Double
    /// Machine states in which the class is not evaluated; an alarm active when the machine enters one returns to
    /// normal with that reason (a machine that is down needs a repair, not an alarm).
    public var suppressInStates: Set<String>
    /// After a machine starts running again (repair, tool change, setup), the class stays suppressed this long.
    public var startupSeconds: Double
    /// First-out: while an alarm of one of these classes is active on the same machine, this class's alarms are
    /// consequences of it and are suppressed (counted, with the reason).
    public var suppressedBy: [String]
    /// The operator must acknowledge it even after it clears.
    public var latched: Bool

    public init(
        name: String, consequence: AlarmConsequence, respondWithinMinutes: Double, limit: Double? = nil,
        onDelaySeconds: Double = 0,
        offDelaySeconds: Double = 0, deadband: Double = 0,
        suppressInStates: Set<String> = ["down", "tool_change", "setup", "idle", "maintenance"],
        startupSeconds: Double = 0, suppressedBy: [String] = [], latched: Bool = false
    ) {
        self.name = name
        self.consequence = consequence
        self.respondWithinMinutes = respondWithinMinutes
        self.limit = limit
        self.onDelaySeconds = onDelaySeconds
        self.offDelaySeconds = offDelaySeconds
        self.deadband = deadband
        self.suppressInStates = suppressInStates
        self.startupSeconds = startupSeconds
        self.suppressedBy = suppressedBy
        self.latched = latched
    }

    public var priority: AlarmPriority { .of(consequence, respondWithinMinutes: respondWithinMinutes) }

    /// A forecast of a breakdown: the operator has about the forecast horizon to act. Raised at a risk of 0.5 held
    /// for a minute (two parts), cleared once it has stayed below 0.3 for 10 minutes. Latched: a warning of a
    /// breakdown is acknowledged even if the risk fell again.
    public static let failureRisk = AlarmClass(
        name: "failure_risk", consequence: .major, respondWithinMinutes: 15, limit: 0.5, onDelaySeconds: 60,
        offDelaySeconds: 600, deadband: 0.2, startupSeconds: 300, latched: true)
    /// A process shift on a control chart: no breakdown follows by itself; one alarm per shift, cleared after 30 quiet
    /// minutes, and none while a failure warning on the same machine already says what is wrong.
    public static let spc = AlarmClass(
        name: "spc", consequence: .minor, respondWithinMinutes: 60, offDelaySeconds: 1_800, startupSeconds: 600,
        suppressedBy: ["failure_risk"])
    /// Operation unlike the normal data a detector learned.
    /// (The detector's own conditioning, three alarming readings in a row to raise and ten quiet ones to clear,
    /// comes first; these delays add to it.)
    public static let anomaly = AlarmClass(
        name: "anomaly", consequence: .major, respondWithinMinutes: 30, startupSeconds: 300)

    public static let defaults: [AlarmClass] = [failureRisk, spc, anomaly]
}

/// The classes in force: the config's, then the defaults for the rest.
public struct AlarmSettings: Sendable, Equatable, Codable {
    public var classes: [String: AlarmClass]
    /// How many machines one operator watches (the KPIs are per operator).
    public var machinesPerOperator: Int

    public init(classes: [AlarmClass] = AlarmClass.defaults, machinesPerOperator: Int = 20) {
        var all = Dictionary(uniqueKeysWithValues: AlarmClass.defaults.map { ($0.name, $0) })
        for c in classes { all[c.name] = c }
        self.classes = all
        self.machinesPerOperator = machinesPerOperator
    }

    /// The same classes on a clock `factor` times faster (a paced simulation that makes a minute's part in a
    /// fraction of a second): every delay divided by it. Priorities stay: they are the operator's time to respond.
    public func compressed(by factor: Double) -> AlarmSettings {
        var s = self
        for (name, c) in classes {
            var f = c
            f.onDelaySeconds /= factor
            f.offDelaySeconds /= factor
            f.startupSeconds /= factor
            s.classes[name] = f
        }
        return s
    }

    public subscript(name: String) -> AlarmClass {
        classes[name] ?? AlarmClass(name: name, consequence: .minor, respondWithinMinutes: 60)
    }
}
