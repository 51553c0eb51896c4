import Plant
import Topics

/// Which alerts go where, and when an unacknowledged one escalates: the routes of a `NotificationConfig` applied to
/// the alert records and the operators' actions, in the order they arrive. No I/O: the notifier sends what it says.
public struct AlertRouter: Sendable {
    public struct Delivery: Sendable, Equatable {
        public var alert: AlertRecord
        /// The record as it came on the bus (the JSON a generic webhook receives).
        public var record: [UInt8]
        public var route: String
        public var channel: String
        public var escalation: Bool
    }

    struct Escalation: Sendable {
        var due: Int64
        var delivery: [Delivery]
    }

    public let config: NotificationConfig
    /// Alert id -> the escalation waiting for it (when due, ms), until an operator acts or the alert clears.
    private(set) var pending: [String: Escalation] = [:]
    /// Alerts an operator has acted on, the newest 10,000: the two topics are read at their own pace, so an action
    /// may come before the alert it is about, which then must not escalate.
    private var acted: Set<String> = []
    private var actedOrder: [String] = []

    public init(config: NotificationConfig) { self.config = config }

    /// The deliveries a new alert record makes now; a raised alert whose route escalates is remembered until `now`
    /// passes its deadline, an operator acknowledges, clears or shelves it, or it clears by itself.
    public mutating func alert(_ a: AlertRecord, record: [UInt8], now: Int64) -> [Delivery] {
        guard a.status == "raised" else {
            pending.removeValue(forKey: a.id)
            return []
        }
        let at = Timestamp.parse(a.ts) ?? now
        var out: [Delivery] = []
        var escalations: [Delivery] = []
        var due = Int64.max
        for route in config.routes where matches(route, a, at: at) {
            for channel in route.channels {
                out.append(Delivery(alert: a, record: record, route: route.name, channel: channel, escalation: false))
            }
            if let after = route.escalateAfter {
                due = min(due, now + Int64(after * 1000))
                for channel in route.escalateTo {
                    escalations.append(
                        Delivery(alert: a, record: record, route: route.name, channel: channel, escalation: true))
                }
            }
        }
        if !escalations.isEmpty && !acted.contains(a.id) {
            pending[a.id] = Escalation(due: due, delivery: escalations)
        }
        return out
    }

    /// An operator's action on an alert: any of them (acknowledge, clear, shelve) stops its escalation.
    public mutating func action(_ a: AlertActionRecord) {
        pending.removeValue(forKey: a.alert)
        if acted.insert(a.alert).inserted { actedOrder.append(a.alert) }
        if actedOrder.count > 10_000 {
            for id in actedOrder.prefix(2_500) { acted.remove(id) }
            actedOrder.removeFirst(2_500)
        }
    }

    /// The escalations due at `now`, forgotten once returned.
    public mutating func due(now: Int64) -> [Delivery] {
        let ready = pending.filter { $0.value.due <= now }
        for id in ready.keys { pending.removeValue(forKey: id) }
        return ready.values.sorted { $0.due < $1.due }.flatMap(\.delivery)
    }

    /// An escalation as a record for `notifier-escalations`: `pending` with when and to which channels, or `done`.
    static func record(_ e: Escalation, done: Bool, ts: String) -> EscalationRecord? {
        guard let alert = e.delivery.first?.alert else { return nil }
        guard !done else { return EscalationRecord(alert: alert, state: "done", due: nil, targets: [], ts: ts) }
        return EscalationRecord(
            alert: alert, state: "pending", due: Timestamp.format(e.due),
            targets: e.delivery.map { .init(route: $0.route, channel: $0.channel) }, ts: ts)
    }

    /// Takes back an escalation a notifier wrote before it stopped: `pending` waits again (and goes out at once if it
    /// is overdue), `done` forgets it.
    public mutating func restore(_ e: EscalationRecord) {
        guard e.state == "pending", let due = e.due.flatMap(Timestamp.parse) else {
            pending.removeValue(forKey: e.alert.id)
            return
        }
        let record = e.alert.encoded()
        pending[e.alert.id] = Escalation(
            due: due,
            delivery: e.targets.map {
                Delivery(alert: e.alert, record: record, route: $0.route, channel: $0.channel, escalation: true)
            })
    }

    /// The soonest escalation deadline, if any.
    public var nextDue: Int64? { pending.values.map(\.due).min() }

    func matches(_ route: NotificationConfig.Route, _ a: AlertRecord, at millis: Int64) -> Bool {
        if !route.priorities.isEmpty && !route.priorities.contains(a.priority ?? "") { return false }
        if !route.kinds.isEmpty && !route.kinds.contains(a.kind) { return false }
        if let pattern = route.machine, !Self.glob(pattern, a.machine) { return false }
        if !route.shifts.isEmpty {
            guard let shift = config.shift(at: millis), route.shifts.contains(shift) else { return false }
        }
        return true
    }

    /// `*` stands for any run of characters (slashes included); everything else must be equal.
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return pattern == text }
        var rest = Substring(text)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let r = rest.range(of: part) else { return false }
            rest = rest[r.upperBound...]
        }
        return rest.hasSuffix(parts.last!)
    }
}
