public import MQTT
import MQTTWire
public import Plant
public import Sparkplug
import Synchronization

/// A Sparkplug B source: the broker, the host application's identity and how edge nodes' and devices' metrics map to
/// the config's machines and variables.
public struct SparkplugSettings: Sendable {
    public var client: MQTTClientOptions
    /// Subscription QoS (edge nodes publish data at QoS 0; the broker delivers at the lower of the two).
    public var qos: MQTTQoS
    /// The group(s) read: a group id, or `+` for all.
    public var group: String
    /// The host application id: when set, Millstream publishes its STATE (`spBv1.0/STATE/<id>`, retained, with a
    /// will that says offline), so edge nodes that wait for their primary host publish to it.
    public var hostID: String?
    public var mapping: SparkplugMapping
    /// Setpoint changes back to the devices as DCMD (NCMD for a node machine); nil: none are written.
    public var commands: SparkplugCommandSettings?

    public init(
        client: MQTTClientOptions, qos: MQTTQoS = .atLeastOnce, group: String, hostID: String? = nil,
        mapping: SparkplugMapping, commands: SparkplugCommandSettings? = nil
    ) {
        self.client = client
        self.qos = qos
        self.group = group
        self.hostID = hostID
        self.mapping = mapping
        self.commands = commands
    }
}

/// How long a command may take to show in the device's data, and what counts as equal.
public struct SparkplugCommandSettings: Sendable {
    public var confirmWithin: Duration = .seconds(30)
    public var tolerance: Double = 1e-3
    public init(confirmWithin: Duration = .seconds(30), tolerance: Double = 1e-3) {
        self.confirmWithin = confirmWithin
        self.tolerance = tolerance
    }
}

/// Which entity is a machine and which metrics are its variables: `machine: plant1/{node}/{device}` makes every device
/// a machine (a template without `{device}` makes edge nodes the machines and leaves devices out); the metric names
/// are the births'. A reading is the entity's current metrics whenever a birth or data message changed a mapped one.
public struct SparkplugMapping: Sendable {
    public var machine: NameTemplate
    public var values: [(variable: String, metric: String)]
    public var setpoints: [(variable: String, metric: String)]
    public var state: String?
    public var product: String?
    public var good: String?
    public var scrap: String?

    public init(
        machine: NameTemplate, values: [(variable: String, metric: String)],
        setpoints: [(variable: String, metric: String)] = [], state: String? = nil, product: String? = nil,
        good: String? = nil, scrap: String? = nil
    ) {
        self.machine = machine
        self.values = values
        self.setpoints = setpoints
        self.state = state
        self.product = product
        self.good = good
        self.scrap = scrap
    }

    var devicesAreMachines: Bool { machine.names.contains("device") }

    /// The machine an entity is (nil: the mapping leaves it out).
    public func machineID(of entity: SparkplugEntityID) -> String? {
        guard (entity.device != nil) == devicesAreMachines else { return nil }
        return machine.fill(["group": entity.node.group, "node": entity.node.node, "device": entity.device ?? ""])
    }

    var mappedMetrics: [String] {
        values.map(\.metric) + setpoints.map(\.metric) + [state, product, good, scrap].compactMap { $0 }
    }

    /// The reading of a snapshot; nil when no mapped metric changed. A mapped metric of bad or stale quality, or of
    /// a type a variable cannot take, is an error naming it.
    public func reading(_ s: SparkplugHost.Snapshot, machine: String, receivedAt: Int64) throws(Unmappable)
        -> Reading?
    {
        guard mappedMetrics.contains(where: s.changed.contains) else { return nil }
        var reading = Reading(machine: machine, timestamp: receivedAt, values: [])
        var acquired: UInt64?
        for name in mappedMetrics where s.changed.contains(name) {
            guard let m = s.metrics[name] else { continue }
            if let q = m.quality, q != SparkplugQuality.good {
                throw Unmappable(
                    reason: q == SparkplugQuality.stale ? "stale" : "bad_quality",
                    message: "metric \(name) has quality \(q) (\(SparkplugQuality.describe(q)))")
            }
            if let t = m.timestamp { acquired = max(acquired ?? 0, t) }
        }
        if let t = acquired ?? s.timestamp { reading.timestamp = Int64(clamping: t) }
        for (variable, metric) in values {
            if let x = try number(metric, s) { reading.values.append(Measurement(variable, x)) }
        }
        for (variable, metric) in setpoints {
            if let x = try number(metric, s) { reading.setpoints.append(Measurement(variable, x)) }
        }
        if let state, let text = try text(state, s) {
            guard let value = MachineState(rawValue: text) else {
                throw Unmappable(
                    reason: "unmappable",
                    message: "metric \(state) (state) is \"\(text)\", expected one of "
                        + MachineState.allCases.map(\.rawValue).joined(separator: ", "))
            }
            reading.state = value
        }
        if let product { reading.product = try text(product, s) }
        if let good { reading.good = try count(good, s) ?? 0 }
        if let scrap { reading.scrap = try count(scrap, s) ?? 0 }
        return reading
    }

    private func number(_ name: String, _ s: SparkplugHost.Snapshot) throws(Unmappable) -> Double? {
        guard let m = s.metrics[name] else { return nil }
        if m.value == .null { return nil }
        guard let x = m.value.number, x.isFinite else {
            throw Unmappable(
                reason: "wrong_type", message: "metric \(name) is \(m.dataType) \(m.value), expected a number")
        }
        return x
    }

    private func text(_ name: String, _ s: SparkplugHost.Snapshot) throws(Unmappable) -> String? {
        guard let m = s.metrics[name] else { return nil }
        switch m.value {
        case .null: return nil
        case .string(let t): return t
        default:
            throw Unmappable(reason: "wrong_type", message: "metric \(name) is \(m.dataType) \(m.value), expected text")
        }
    }

    private func count(_ name: String, _ s: SparkplugHost.Snapshot) throws(Unmappable) -> Int? {
        guard let x = try number(name, s) else { return nil }
        guard x >= 0, x == x.rounded(), x < 1e15 else {
            throw Unmappable(reason: "wrong_type", message: "metric \(name) is \(x), expected a whole number from 0")
        }
        return Int(x)
    }
}

/// The `Quality` property's codes as Ignition and most Sparkplug edge software send them.
public enum SparkplugQuality {
    public static let good = 192
    public static let bad = 0
    public static let stale = 500

    static func describe(_ q: Int) -> String {
        switch q {
        case good: "good"
        case bad: "bad"
        case stale: "stale"
        default: "not good"
        }
    }
}

/// A message, or a value in one, that cannot become a reading: a short reason for the dead letter and what is wrong.
public struct Unmappable: Error, Sendable {
    public let reason: String
    public let message: String
    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }
}

/// What the Sparkplug source knows of the edge nodes (births, aliases, who is online) and which entity each machine
/// is, for the command sink of the same process: a command names metrics by the aliases the birth gave and goes
/// only to an entity that is online.
public final class SparkplugDirectory: Sendable {
    struct State {
        var host = SparkplugHost()
        var machines: [String: SparkplugEntityID] = [:]
    }
    let state = Mutex(State())

    public init() {}

    func update(host: SparkplugHost, machines: [String: SparkplugEntityID]) {
        state.withLock {
            $0.host = host
            $0.machines.merge(machines) { $1 }
        }
    }

    /// The machine's entity, whether it is online, and each metric's alias and type from its birth.
    public func lookup(machine: String, metrics: [String]) -> (
        entity: SparkplugEntityID, online: Bool, metrics: [String: (alias: UInt64?, type: SparkplugDataType)]
    )? {
        state.withLock { s in
            guard let entity = s.machines[machine] else { return nil }
            var known: [String: (alias: UInt64?, type: SparkplugDataType)] = [:]
            for name in metrics { known[name] = s.host.metric(name, of: entity) }
            return (entity, s.host.isOnline(entity), known)
        }
    }
}
