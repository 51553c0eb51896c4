public import Plant
import Topics

/// A field of a JSON object by its keys, `spindle.rpm` for `{"spindle": {"rpm": 1510}}`.
public struct FieldPath: Sendable, Equatable, CustomStringConvertible {
    public let keys: [String]
    public init(_ text: String) { keys = text.split(separator: ".").map(String.init) }
    public var description: String { keys.joined(separator: ".") }

    func value(in root: JSONValue) -> JSONValue? {
        var node = root
        for key in keys {
            guard case .object(let members) = node, let next = members[key] else { return nil }
            node = next
        }
        return node
    }
}

/// How one MQTT topic's JSON messages become readings: a message is one reading of one machine, named by the topic's
/// levels, with its variables, setpoints, state, counts and time at the fields named here. A variable's field may be
/// absent or null (the reading lacks it); a field of the wrong type is an error.
public struct JSONReadingMapping: Sendable, Equatable {
    public enum TimeUnit: String, Sendable { case milliseconds = "ms", seconds = "s" }

    public var topic: TopicPattern
    public var machine: NameTemplate
    public var values: [(variable: String, field: FieldPath)]
    public var setpoints: [(variable: String, field: FieldPath)]
    /// The source's time (a number in `timeUnit` since the Unix epoch, or an RFC 3339 text); without it, the time
    /// the message arrived.
    public var timestamp: FieldPath?
    public var timeUnit: TimeUnit
    public var state: FieldPath?
    public var product: FieldPath?
    public var good: FieldPath?
    public var scrap: FieldPath?
    public var sequence: FieldPath?

    public init(
        topic: TopicPattern, machine: NameTemplate, values: [(variable: String, field: FieldPath)],
        setpoints: [(variable: String, field: FieldPath)] = [], timestamp: FieldPath? = nil,
        timeUnit: TimeUnit = .milliseconds, state: FieldPath? = nil, product: FieldPath? = nil,
        good: FieldPath? = nil, scrap: FieldPath? = nil, sequence: FieldPath? = nil
    ) {
        self.topic = topic
        self.machine = machine
        self.values = values
        self.setpoints = setpoints
        self.timestamp = timestamp
        self.timeUnit = timeUnit
        self.state = state
        self.product = product
        self.good = good
        self.scrap = scrap
        self.sequence = sequence
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.topic == b.topic && a.machine == b.machine && a.values.elementsEqual(b.values, by: ==)
            && a.setpoints.elementsEqual(b.setpoints, by: ==) && a.timestamp == b.timestamp
            && a.timeUnit == b.timeUnit && a.state == b.state && a.product == b.product && a.good == b.good
            && a.scrap == b.scrap && a.sequence == b.sequence
    }

    /// The reading in a message on `topic` (which matched `captured`); an error names the field and what is wrong.
    public func reading(captured: [String: String], payload: [UInt8], receivedAt: Int64) throws(MappingError)
        -> Reading
    {
        let root: JSONValue
        do { root = try JSONValue(parsing: payload) } catch { throw MappingError("the payload is not JSON: \(error)") }
        guard case .object = root else { throw MappingError("the payload is \(root.kind), expected a JSON object") }
        var reading = Reading(machine: machine.fill(captured), timestamp: receivedAt, values: [])
        // A variable the message lacks (absent or null) is left out: whether the reading may lack it is the
        // validator's to judge (a running machine's reading must have every variable, an idle one need not).
        for (v, field) in values {
            if let x = try optionalNumber(field, for: v, in: root) { reading.values.append(Measurement(v, x)) }
        }
        for (v, field) in setpoints {
            if let x = try optionalNumber(field, for: "setpoint \(v)", in: root) {
                reading.setpoints.append(Measurement(v, x))
            }
        }
        if let timestamp { reading.timestamp = try time(timestamp, in: root) }
        // The other fields may be absent or null too (the reading keeps its default: running, no product, no counts).
        if let state, let text = try optionalString(state, for: "state", in: root) {
            guard let s = MachineState(rawValue: text) else {
                throw MappingError(
                    "field \(state) (state) is \"\(text)\", expected one of "
                        + MachineState.allCases.map(\.rawValue).joined(separator: ", "))
            }
            reading.state = s
        }
        if let product { reading.product = try optionalString(product, for: "product", in: root) }
        if let good { reading.good = try count(good, for: "good", in: root) ?? 0 }
        if let scrap { reading.scrap = try count(scrap, for: "scrap", in: root) ?? 0 }
        if let sequence { reading.sequence = try count(sequence, for: "sequence", in: root).map(Int64.init) }
        return reading
    }

    private func optionalNumber(_ path: FieldPath, for what: String, in root: JSONValue) throws(MappingError)
        -> Double?
    {
        switch path.value(in: root) {
        case nil, .null?: return nil
        case .number(let x)?: return x
        case let value?: throw MappingError("field \(path) (\(what)) is \(value.kind), expected a number")
        }
    }

    private func optionalString(_ path: FieldPath, for what: String, in root: JSONValue) throws(MappingError)
        -> String?
    {
        switch path.value(in: root) {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let value?: throw MappingError("field \(path) (\(what)) is \(value.kind), expected a string")
        }
    }

    private func count(_ path: FieldPath, for what: String, in root: JSONValue) throws(MappingError) -> Int? {
        guard let x = try optionalNumber(path, for: what, in: root) else { return nil }
        guard x >= 0, x == x.rounded(), x < 1e15 else {
            throw MappingError("field \(path) (\(what)) is \(x), expected a whole number from 0")
        }
        return Int(x)
    }

    private func time(_ path: FieldPath, in root: JSONValue) throws(MappingError) -> Int64 {
        guard let value = path.value(in: root) else { throw MappingError("field \(path) (timestamp) is missing") }
        switch value {
        case .number(let x) where x.isFinite && abs(x) < 1e16:
            return Int64((timeUnit == .seconds ? x * 1000 : x).rounded())
        case .string(let s):
            guard let ms = Timestamp.parse(s) else {
                throw MappingError("field \(path) (timestamp) is \"\(s)\", expected an RFC 3339 time")
            }
            return ms
        default:
            throw MappingError("field \(path) (timestamp) is \(value.kind), expected a number or an RFC 3339 text")
        }
    }
}

extension JSONReadingMapping {
    /// The mapping of messages already in Millstream's reading format (docs/readings.md) on `topic`: what
    /// `millstream simulate --mqtt` publishes, and what examples/connectors/mqtt.yaml spells out.
    public static func readingFormat(topic: TopicPattern, machine: NameTemplate, process: ProcessConfig)
        -> JSONReadingMapping
    {
        JSONReadingMapping(
            topic: topic, machine: machine, values: process.variables.map { ($0.name, FieldPath("values." + $0.name)) },
            setpoints: process.controllables.map { ($0.name, FieldPath("setpoints." + $0.name)) },
            timestamp: FieldPath("ts"), state: FieldPath("state"), product: FieldPath("product"),
            good: FieldPath("good"), scrap: FieldPath("scrap"), sequence: FieldPath("seq"))
    }
}
