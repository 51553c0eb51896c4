/// One sample from one machine, as it travels on the bus (see the wire format in docs/readings.md).
public struct Reading: Sendable, Equatable {
    /// Full machine id, "site/line/machine".
    public var machine: String
    /// Milliseconds since the Unix epoch (UTC).
    public var timestamp: Int64
    /// Per-machine sequence number, increasing by one per reading; nil if the source has none.
    public var sequence: Int64?
    /// The measured variables, in the order they were sent.
    public var values: [Measurement]
    /// The setpoints the machine ran at, as the plant reports them (optional; the optimizer learns changes from them).
    public var setpoints: [Measurement]
    public var product: String?
    public var state: MachineState
    /// Units made since the previous reading that passed or failed quality.
    public var good: Int
    public var scrap: Int

    public init(
        machine: String, timestamp: Int64, sequence: Int64? = nil, values: [Measurement], product: String? = nil,
        state: MachineState = .running, good: Int = 0, scrap: Int = 0, setpoints: [Measurement] = []
    ) {
        self.setpoints = setpoints
        self.machine = machine
        self.timestamp = timestamp
        self.sequence = sequence
        self.values = values
        self.product = product
        self.state = state
        self.good = good
        self.scrap = scrap
    }

    /// The value of the variable called `name`.
    public subscript(name: String) -> Double? {
        for m in values where m.name == name { return m.value }
        return nil
    }

    /// The value of the variable called `name`, looked for at `place` first: a source sends its variables in one
    /// order (the simulator and the connectors in the process config's), and a name decoded as the config's String
    /// (`KnownTexts`) is equal to it without comparing bytes. Anywhere else, by name.
    @inlinable public func value(_ name: String, at place: Int) -> Double? {
        if place >= 0 && place < values.count && values[place].name == name { return values[place].value }
        return self[name]
    }
}

/// A named value in a reading.
public struct Measurement: Sendable, Equatable {
    public var name: String
    public var value: Double

    public init(_ name: String, _ value: Double) {
        self.name = name
        self.value = value
    }
}

/// What a machine is doing; OEE's availability counts time by state.
public enum MachineState: String, Sendable, CaseIterable {
    case running
    case idle
    case down
    case toolChange = "tool_change"
    case setup
    case maintenance
}
