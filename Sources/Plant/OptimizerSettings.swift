/// What the optimizer may do and what it weighs, from the `optimizer:` section of a process config.
///
/// The objective is in parts: the expected good parts lost per part made. A failure costs `failureCost` parts (what
/// the machine would have made while it is repaired); a setpoint that speeds the process up gains its relative rate.
public struct OptimizerSettings: Sendable, Equatable {
    /// What one failure costs, in good parts.
    public var failureCost: Double
    /// How the production rate depends on one setpoint, if it does.
    public var throughput: Throughput?
    /// Actions that reset a variable (a tool change resets tool wear), each with its downtime.
    public var maintenance: [MaintenanceAction]
    /// Scenarios the expected risk is averaged over: strata of the machine's recent spread, tails included.
    public var scenarios: Int
    /// Recent running parts per machine whose spread around the setpoints the scenarios are drawn from.
    public var history: Int
    /// The least improvement of the objective (parts per part) worth a change; below it the machine is left alone.
    public var minGain: Double
    /// Apply recommendations without an operator (within the same guardrails); off unless set.
    public var closedLoop: Bool

    public init(
        failureCost: Double = 40, throughput: Throughput? = nil, maintenance: [MaintenanceAction] = [],
        scenarios: Int = 16, history: Int = 128, minGain: Double = 0.01, closedLoop: Bool = false
    ) {
        self.history = history
        self.failureCost = failureCost
        self.throughput = throughput
        self.maintenance = maintenance
        self.scenarios = scenarios
        self.minGain = minGain
        self.closedLoop = closedLoop
    }

    /// Production rate as a power of one setpoint, or a product of powers of several: rate / nominal rate =
    /// (value / nominal)^elasticity x the same for each of `further`.
    public struct Throughput: Sendable, Equatable {
        public var variable: String
        public var elasticity: Double
        /// Further setpoints the rate depends on (a milling cut's feed, which its torque follows, as well as its speed).
        public var further: [Term] = []
        /// The rate never goes below this share of the nominal rate (a hard constraint).
        public var floor: Double
        /// Weight of the throughput term against the risk term (1: a 1 % faster rate is worth 0.01 parts per part).
        public var weight: Double

        public init(variable: String, elasticity: Double, floor: Double = 0.95, weight: Double = 1) {
            self.variable = variable
            self.elasticity = elasticity
            self.floor = floor
            self.weight = weight
        }

        public struct Term: Sendable, Equatable {
            public var variable: String
            public var elasticity: Double

            public init(variable: String, elasticity: Double) {
                self.variable = variable
                self.elasticity = elasticity
            }
        }

        /// Every term of the rate, the first variable first.
        public var terms: [Term] { [Term(variable: variable, elasticity: elasticity)] + further }
    }

    /// A maintenance action: sets `variable` back to `value` and stops the machine for `downtime` parts.
    public struct MaintenanceAction: Sendable, Equatable {
        public var name: String
        public var variable: String
        public var value: Double
        public var downtime: Double

        public init(name: String, variable: String, value: Double, downtime: Double) {
            self.name = name
            self.variable = variable
            self.value = value
            self.downtime = downtime
        }
    }
}
