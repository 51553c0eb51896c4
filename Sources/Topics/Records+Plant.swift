public import Plant

extension SetpointRecord {
    /// The record of a setpoint change, with who made it, the recommendation it carries out and when.
    public init(_ change: SetpointChange, by: String? = nil, recommendation: String? = nil, at time: Int64? = nil) {
        self.init(
            machine: change.machine, values: NamedValues(change.values.map { ($0.name, $0.value) }),
            changeTool: change.changeTool, by: by, recommendation: recommendation, ts: time.map(Timestamp.format))
    }

    /// The change to apply.
    public var change: SetpointChange {
        SetpointChange(
            machine: machine, values: values.entries.map { Measurement($0.name, $0.value) }, changeTool: changeTool)
    }
}
