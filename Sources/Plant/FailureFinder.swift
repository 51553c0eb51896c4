import Analytics

/// Failures in a stream of readings: a running reading after which its machine is down.
public struct FailureFinder: Sendable {
    private var lastRunning: [String: Reading] = [:]
    public private(set) var events: [FailureEvent] = []
    public private(set) var machines = Set<String>()
    public private(set) var first: Int64?
    public private(set) var last: Int64?

    public init() {}

    /// `modes`: the failure modes of a failed reading (from a labels topic), where known.
    public mutating func add(_ reading: Reading, modes: (Reading) -> [String] = { _ in [] }) {
        machines.insert(reading.machine)
        first = min(first ?? reading.timestamp, reading.timestamp)
        last = max(last ?? reading.timestamp, reading.timestamp)
        if reading.state == .running {
            lastRunning[reading.machine] = reading
        } else if reading.state == .down, let failed = lastRunning.removeValue(forKey: reading.machine) {
            events.append(
                FailureEvent(
                    machine: failed.machine, time: failed.timestamp,
                    modes: modes(failed)))
        } else {
            lastRunning[reading.machine] = nil
        }
    }

    /// Forgets failures before `time` (a live view keeps a bounded history).
    public mutating func dropEvents(before time: Int64) { events.removeAll { $0.time < time } }
}
