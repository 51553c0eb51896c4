import Plant

/// What the optimizer knows about one machine: its setpoints and when each last changed, its latest state, and its
/// recent running parts, whose spread around the setpoints makes the scenarios of the expected risk.
public struct MachineContext: Sendable, Codable {
    public let machine: String
    /// Current setpoints, one per control of the problem.
    public private(set) var setpoints: [Double]
    /// When each control last changed (ms since the epoch), nil if never.
    public private(set) var lastChange: [Int64?]
    /// Parts made since each maintenance action was last done (or since the optimizer started watching).
    public private(set) var partsSinceMaintenance: [Int]
    public private(set) var latestTimestamp: Int64?
    let capacity: Int
    let numericWidth: Int
    let categoricalWidth: Int
    let controlCount: Int
    /// Ring buffers of the last `capacity` running parts: their numeric inputs, category indices and the setpoints
    /// they were made at.
    var numeric: [Double]
    var categories: [Int]
    var madeAt: [Double]
    public private(set) var count = 0
    var head = 0
    /// Where the last search for this machine ended: the next one starts there (the machine's problem moves little
    /// from one reading to the next). Nil before the first search and after one that failed.
    public internal(set) var warmStart: WarmStart?

    public struct WarmStart: Sendable, Codable, Equatable {
        /// The setpoints the search ended at (before rounding).
        public var setpoints: [Double]
        /// Searches that started only from here and the current setpoints since the last that also explored.
        public var searches: Int
    }

    public init(machine: String, problem: OptimizationProblem, setpoints: [Double]? = nil) {
        self.machine = machine
        self.setpoints = setpoints ?? problem.controls.map(\.limits.nominal)
        lastChange = problem.controls.map { _ in nil }
        partsSinceMaintenance = problem.maintenance.map { _ in 0 }
        capacity = max(1, problem.history)
        numericWidth = problem.numericInputs.count
        categoricalWidth = problem.categoricalInputs.count
        controlCount = problem.controls.count
        numeric = [Double](repeating: 0, count: capacity * numericWidth)
        categories = [Int](repeating: -1, count: capacity * categoricalWidth)
        madeAt = [Double](repeating: 0, count: capacity * controlCount)
    }

    /// Records a reading. Setpoints the reading reports replace the known ones (a change counts from this reading's
    /// time). Only running parts whose every model input is present and finite are kept; returns whether this one was.
    @discardableResult
    public mutating func observe(_ reading: Reading, model: some RiskModel, problem: OptimizationProblem) -> Bool {
        record(reading, model: model, problem: problem)
    }

    /// `observe` for the pipeline's model. Called from another module, the generic form is not specialized, and its
    /// caller copied the model (its arrays retained and released) to pass it, per reading: 1.3 % of the pipeline
    /// worker in a profile.
    @discardableResult
    public mutating func observe(_ reading: Reading, model: NetworkRiskModel, problem: OptimizationProblem) -> Bool {
        record(reading, model: model, problem: problem)
    }

    private mutating func record(_ reading: Reading, model: some RiskModel, problem: OptimizationProblem) -> Bool {
        guard reading.machine == machine else { return false }
        for m in reading.setpoints where m.value.isFinite {
            if let c = problem.controls.firstIndex(where: { $0.name == m.name }), setpoints[c] != m.value {
                setpoints[c] = m.value
                lastChange[c] = reading.timestamp
            }
        }
        guard reading.state == .running else { return false }
        // Every input present and finite before the slot (the oldest part, still in the history) is overwritten.
        let inputs = model.numericInputs
        let slot = head
        let complete = withUnsafeTemporaryAllocation(of: Double.self, capacity: max(1, inputs.count)) { values in
            for (i, name) in inputs.enumerated() {
                guard let v = reading[name], v.isFinite else { return false }
                values[i] = v
            }
            for i in inputs.indices { numeric[slot * numericWidth + i] = values[i] }
            return true
        }
        guard complete else { return false }
        for (j, name) in model.categoricalInputs.enumerated() {
            let value = name == "product" ? (reading.product ?? "") : ""
            categories[slot * categoricalWidth + j] = model.categoryIndex(of: value, for: j)
        }
        for c in 0..<controlCount { madeAt[slot * controlCount + c] = setpoints[c] }
        head = (head + 1) % capacity
        count = min(count + 1, capacity)
        latestTimestamp = reading.timestamp
        for a in partsSinceMaintenance.indices { partsSinceMaintenance[a] += 1 }
        return true
    }

    /// The ring slot of the latest running part, nil before the first.
    var latestSlot: Int? { count > 0 ? (head + capacity - 1) % capacity : nil }

    /// The latest running part's numeric inputs (model order), nil before the first.
    public var latest: [Double]? {
        latestSlot.map { Array(numeric[$0 * numericWidth..<($0 + 1) * numericWidth]) }
    }

    /// Records setpoints that took effect at `time` (from a recommendation, an operator, or the plant).
    public mutating func setpointsChanged(_ values: [(control: Int, value: Double)], at time: Int64) {
        for (c, v) in values where v != setpoints[c] {
            setpoints[c] = v
            lastChange[c] = time
        }
    }

    /// Records that maintenance action `action` was done.
    public mutating func maintained(_ action: Int) {
        partsSinceMaintenance[action] = 0
        // The parts made before the action describe a state that is gone (e.g. a worn tool); the spread of the
        // controllable inputs is still valid, so the history stays, with the reset variable taken from `latest`.
    }
}
