import Analytics

/// A process configuration: the plant's assets, the variables a reading carries and what is known about each.
///
/// Nothing here is specific to milling: any continuous process is described by its variables, their valid ranges,
/// spec limits and which ones can be changed (see `config/milling.yaml` for the format).
public struct ProcessConfig: Sendable, Equatable {
    public var process: String
    public var description: String
    public var site: String
    /// The ideal (fastest) cycle time per unit, for the performance factor of OEE.
    public var idealCycleSeconds: Double
    public var lines: [ProductionLine]
    public var products: [ProductType]
    public var variables: [ProcessVariable]
    public var csv: CSVMapping
    /// Features for models: derived expressions and categorical inputs.
    public var features: FeatureSettings
    /// How setpoint recommendations are made (nil: the defaults, no throughput term, no maintenance actions).
    public var optimizer: OptimizerSettings?
    /// How alarms are raised, cleared, suppressed and prioritised, per class (the defaults where the config is silent).
    public var alarms: AlarmSettings

    public init(
        process: String, description: String = "", site: String, idealCycleSeconds: Double, lines: [ProductionLine],
        products: [ProductType], variables: [ProcessVariable], csv: CSVMapping = .init(),
        features: FeatureSettings = .init(), optimizer: OptimizerSettings? = nil, alarms: AlarmSettings = .init()
    ) {
        self.optimizer = optimizer
        self.alarms = alarms
        self.process = process
        self.description = description
        self.site = site
        self.idealCycleSeconds = idealCycleSeconds
        self.lines = lines
        self.products = products
        self.variables = variables
        self.csv = csv
        self.features = features
    }

    /// Every machine id ("site/line/machine"), line by line.
    public var machineIDs: [String] { lines.flatMap(\.machines) }

    public func variable(_ name: String) -> ProcessVariable? { variables.first { $0.name == name } }

    public var controllables: [ProcessVariable] { variables.filter { $0.controllable != nil } }
}

/// A production line and the full ids of its machines.
public struct ProductionLine: Sendable, Equatable {
    public var name: String
    public var machines: [String]

    public init(name: String, machines: [String]) {
        self.name = name
        self.machines = machines
    }
}

/// A product variant and its share of production.
public struct ProductType: Sendable, Equatable {
    public var name: String
    public var share: Double

    public init(name: String, share: Double) {
        self.name = name
        self.share = share
    }
}

/// One measured variable of the process.
public struct ProcessVariable: Sendable, Equatable {
    public var name: String
    public var unit: String
    public var description: String
    /// The CSV column that holds it, for `millstream import` (defaults to the name).
    public var column: String
    /// Physically possible values; a reading outside is rejected as bad data.
    public var validRange: ClosedRange<Double>?
    /// Lower and upper specification limits, for capability (Cp, Cpk) and alarms.
    public var lsl: Double?
    public var usl: Double?
    /// Set when the variable is a setpoint the process lets us change.
    public var controllable: Controllable?
    /// Whether the pipeline keeps a control chart of it (`spc: false` for counters such as tool wear and for
    /// ambient conditions, which walk by nature and would alarm all day).
    public var spc = true
    /// The control-chart tests that raise SPC alarms for it: Western Electric / Nelson rule names
    /// (`RuleChecker.Rule`), `ewma` and `cusum`; nil: the Western Electric rules, EWMA and CUSUM.
    public var spcRules: [String]?
    /// Machine states after which the chart's limits are estimated anew (e.g. `setup`: a new lot of material
    /// runs at its own level).
    public var spcRestartAfter: Set<String> = []
    /// Parts per subgroup: above 1, the chart takes the mean of each n consecutive parts (X-bar), which averages
    /// out part-to-part scatter; 1: an individuals chart.
    public var spcSubgroup = 1
    /// Parts whose values estimate the chart's limits (nil: the pipeline's default, 100). More parts, limits nearer
    /// the truth and fewer false alarms (each limit from 20 points is off by 15 % or so), but longer unwatched.
    public var spcBaseline: Int?

    public init(
        name: String, unit: String = "", description: String = "", column: String? = nil,
        validRange: ClosedRange<Double>? = nil, lsl: Double? = nil, usl: Double? = nil,
        controllable: Controllable? = nil
    ) {
        self.name = name
        self.unit = unit
        self.description = description
        self.column = column ?? name
        self.validRange = validRange
        self.lsl = lsl
        self.usl = usl
        self.controllable = controllable
    }
}

/// How a controllable variable may be changed.
public struct Controllable: Sendable, Equatable {
    public var min: Double
    public var max: Double
    /// The largest change in one step.
    public var maxStep: Double
    /// The shortest time between two changes on one machine.
    public var minIntervalSeconds: Double
    /// The setpoint a machine starts with.
    public var nominal: Double
    /// How the measured value varies around the setpoint: by an amount (additive) or by a share (relative).
    public var variation: Variation

    public enum Variation: String, Sendable, Equatable {
        case additive
        case relative
    }

    public init(
        min: Double, max: Double, maxStep: Double, minIntervalSeconds: Double = 0, nominal: Double,
        variation: Variation = .additive
    ) {
        self.variation = variation
        self.min = min
        self.max = max
        self.maxStep = maxStep
        self.minIntervalSeconds = minIntervalSeconds
        self.nominal = nominal
    }
}

/// Which CSV columns hold the non-variable parts of a reading, for `millstream import`.
public struct CSVMapping: Sendable, Equatable {
    public var machine: String?
    public var timestamp: String?
    public var product: String?

    public init(machine: String? = nil, timestamp: String? = nil, product: String? = nil) {
        self.machine = machine
        self.timestamp = timestamp
        self.product = product
    }
}

/// What models built for this process use besides the variables.
public struct FeatureSettings: Sendable, Equatable {
    /// Name and arithmetic expression over the variables, e.g. ("power_w", "torque_nm * rpm * 2 * pi / 60").
    public var derived: [Derived]
    /// Categorical inputs (one-hot encoded) and their categories; "product" reads the reading's product.
    public var categorical: [Categorical]

    public struct Derived: Sendable, Equatable {
        public var name: String
        public var expression: String
        public init(name: String, expression: String) {
            self.name = name
            self.expression = expression
        }
    }

    public struct Categorical: Sendable, Equatable {
        public var name: String
        public var categories: [String]?
        public init(name: String, categories: [String]?) {
            self.name = name
            self.categories = categories
        }
    }

    public init(derived: [Derived] = [], categorical: [Categorical] = []) {
        self.derived = derived
        self.categorical = categorical
    }
}

/// A configuration problem; the message starts with `file:line:column:` when the place is known.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
