import Plant

/// What the optimizer proposes for one machine, with the numbers behind it and the reasons in words.
public struct Recommendation: Sendable, Equatable {
    /// A setpoint move.
    public struct Change: Sendable, Equatable {
        public var variable: String
        public var from: Double
        public var to: Double
        public var unit: String
    }

    /// How much one input pushes the current risk above what it is at typical values (risk points, 0.01 = 1 point).
    public struct Contribution: Sendable, Equatable {
        public var variable: String
        public var value: Double
        public var unit: String
        public var effect: Double
    }

    /// "machine@timestamp": unique per machine and reading.
    public var id: String
    public var machine: String
    /// The time of the reading it was made from (ms since the epoch).
    public var timestamp: Int64
    /// The risk model ("failure@v3").
    public var model: String
    public var changes: [Change]
    /// Maintenance actions to do now ("tool_change").
    public var maintenance: [String]
    /// Expected probability of failure per part, now and after the recommendation.
    public var riskBefore: Double
    public var riskAfter: Double
    /// Relative change of the production rate from the setpoints (maintenance downtime not included).
    public var rateChange: Double
    /// Improvement of the objective, in good parts per part.
    public var gain: Double
    public var contributions: [Contribution]
    public var explanation: String

    /// The record for the `setpoints` topic that carries this recommendation out.
    public var setpointChange: SetpointChange {
        SetpointChange(
            machine: machine, values: changes.map { Measurement($0.variable, $0.to) },
            changeTool: maintenance.contains("tool_change"))
    }
}

/// Why the optimizer proposes nothing for a machine this time.
public struct Hold: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Too few running parts seen yet to estimate the spread around the setpoints.
        case notEnoughData = "not_enough_data"
        /// Nothing worth at least `min_gain` parts per part.
        case noGain = "no_gain"
        /// Every control is within its minimum interval and no maintenance is due.
        case rateLimited = "rate_limited"
        /// The model gave NaN or infinity: no decision rests on it.
        case modelNotFinite = "model_not_finite"
        /// The solver did not settle within its iteration limit.
        case notConverged = "not_converged"
    }

    public var kind: Kind
    public var message: String
    public var description: String { "\(kind.rawValue): \(message)" }
}

/// The optimizer's answer for one machine.
public enum Decision: Sendable, Equatable {
    case recommend(Recommendation)
    case hold(Hold)

    public var recommendation: Recommendation? {
        if case .recommend(let r) = self { return r }
        return nil
    }

    public var hold: Hold? {
        if case .hold(let h) = self { return h }
        return nil
    }
}
