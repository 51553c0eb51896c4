public import Bus
public import Logging
public import MQTT
import MQTTWire
public import Plant
import Primitives
public import ServiceLifecycle
public import Topics

/// Where setpoint changes go on the broker and how their effect is confirmed.
public struct MQTTSinkSettings: Sendable {
    public var client: MQTTClientOptions
    /// The command topic of a machine, from its id's levels `{site}`, `{line}`, `{machine}`.
    public var topic: NameTemplate
    /// How long the machine has to report the new setpoints in a reading before the write is `unconfirmed`.
    public var confirmWithin: Duration
    /// Relative difference under which a reported setpoint equals the commanded one.
    public var tolerance: Double

    public init(
        client: MQTTClientOptions, topic: NameTemplate, confirmWithin: Duration = .seconds(30),
        tolerance: Double = 1e-3
    ) {
        self.client = client
        self.topic = topic
        self.confirmWithin = confirmWithin
        self.tolerance = tolerance
    }
}

/// The message a machine receives on its command topic:
/// `{"id":"rec-42","machine":"plant1/line1/m01","setpoints":{"rpm":1600},"change_tool":false,"ts":"..."}`.
public struct SetpointCommand: Codable, Sendable {
    /// The recommendation's id (or `setpoints/<partition>/<offset>`): a machine may use it to skip a repeat.
    public var id: String
    public var machine: String
    public var setpoints: NamedValues
    public var changeTool: Bool
    public var ts: String

    /// Reads a command strictly (the error names the field).
    public static func decode(_ bytes: [UInt8]) throws -> SetpointCommand {
        try RecordDecoder.decode(SetpointCommand.self, from: bytes)
    }

    /// The change it asks the machine for.
    public var change: SetpointChange {
        SetpointChange(
            machine: machine, values: setpoints.entries.map { Measurement($0.name, $0.value) }, changeTool: changeTool)
    }

    enum CodingKeys: String, CodingKey {
        case id, machine, setpoints
        case changeTool = "change_tool"
        case ts
    }
}

/// Where a setpoint sink writes: a protocol's way to hand machines their new setpoints.
public protocol SetpointTarget: Sendable {
    /// For logs: `mqtt://host:1883`.
    var endpoint: String { get }
    /// How long a written change may take to show in the machine's readings before it is `unconfirmed`.
    var confirmWithin: Duration { get }
    /// Relative difference under which a reported setpoint equals the commanded one.
    var tolerance: Double { get }
    func open() async throws -> any SetpointWriter
}

/// An open target (one session).
public protocol SetpointWriter: Sendable {
    /// Where a machine's setpoints go (`mqtt://host:1883 topic plant1/line1/m01/cmd`); nil when this target cannot
    /// write `variables` of that machine.
    func place(of machine: String, variables: [String]) -> String?
    /// Writes the command; true when the write itself was read back equal (Modbus registers), false when the
    /// machine's readings are to confirm it (MQTT).
    func write(_ command: SetpointCommand) async throws -> Bool
    func close() async
}

/// Writes the plant's setpoint changes (the `setpoints` topic: approved recommendations and closed loop) to the
/// machines through a target (MQTT commands, Modbus registers), after the guardrails of the process config; each
/// write is audited on `setpoint-writes` and confirmed by reading back (the registers, or a reading of the machine
/// that reports the new setpoints). Once only: before a command goes out its id is recorded as `sending`, after it as
/// `written`; a restart skips ids already written and reads a `sending` one's machine back, writing again only if the
/// machine does not have the values.
public struct SetpointSink: Service {
    public let target: any SetpointTarget
    public let process: ProcessConfig
    public let bus: any MessageBus
    public let stats: ConnectorStats
    public var group = "connect-setpoints"
    let logger: Logger

    public init(
        target: any SetpointTarget, process: ProcessConfig, bus: any MessageBus, stats: ConnectorStats = .init(),
        logger: Logger = Logger(label: "millstream.connect.setpoints")
    ) {
        self.target = target
        self.process = process
        self.bus = bus
        self.stats = stats
        self.logger = logger
    }

    public func run() async throws {
        try await reconnecting(
            "setpoint sink", endpoint: target.endpoint, stats: stats, logger: logger, backoff: Backoff()
        ) { backoff in
            var state = SinkState(history: try await auditHistory())
            try await session(&state, backoff: &backoff)
        }
    }

    /// The latest state of every id written before (the whole audit topic).
    func auditHistory() async throws -> [String: SetpointWriteRecord.State] {
        let existing = try await bus.topicNames()
        if !existing.contains(Topics.setpointWrites.name) {
            try await bus.createTopic(Topics.setpointWrites.name, partitions: 1)
        }
        // The changes' topic, so that the group has its partitions from the start (the pipeline writes it later).
        if !existing.contains(Topics.setpoints.name) { try await bus.createTopic(Topics.setpoints.name, partitions: 8) }
        let end = try await bus.describeTopic(Topics.setpointWrites.name).records
        var history: [String: SetpointWriteRecord.State] = [:]
        guard end > 0 else { return history }
        let consumer = try await bus.consumer(ConsumerOptions(topics: [Topics.setpointWrites.name]))
        var read: Int64 = 0
        while read < end {
            let records = try await consumer.poll(maxRecords: 10_000, timeout: .seconds(5))
            if records.isEmpty { break }
            read += Int64(records.count)
            for r in records {
                if let w = try? Topics.setpointWrites.decode(r.value) { history[w.id] = w.state }
            }
        }
        try await consumer.close()
        return history
    }

    private func session(_ state: inout SinkState, backoff: inout Backoff) async throws {
        let connection = try await target.open()
        stats.update { $0.connections += 1 }
        let producer = try await bus.producer()
        let setpoints = try await bus.consumer(ConsumerOptions(group: group, topics: [Topics.setpoints.name]))
        let readings = try await recentReadings()
        backoff.reset()
        let writer = Writer(sink: self, connection: connection, producer: producer)
        do {
            while !Task.isCancelled {
                for r in try await readings.poll(maxRecords: 10_000, timeout: .milliseconds(20)) {
                    if let reading = try? Topics.readings.decode(r.value) { try await writer.observe(reading, &state) }
                }
                let changes = try await setpoints.poll(maxRecords: 100, timeout: .milliseconds(100))
                var offsets: [TopicPartition: Int64] = [:]
                for r in changes {
                    try await writer.handle(r, &state)
                    offsets[r.topicPartition] = r.offset + 1
                }
                if !offsets.isEmpty { try await setpoints.commit(offsets) }
                try await writer.expire(&state)
            }
        } catch {
            await close(connection, setpoints, readings)
            throw error
        }
        await close(connection, setpoints, readings)
    }

    /// Ends a session: the consumers leave (the group's partition goes to the next sink at once), then the broker.
    private func close(_ connection: any SetpointWriter, _ consumers: (any MessageConsumer)...) async {
        for c in consumers { try? await c.close() }
        await connection.close()
    }
}

extension SetpointSink {
    /// A reader of the readings topic from its last 10,000 records per partition on, so that the setpoints each
    /// machine reported lately are known before the first change is checked against them.
    func recentReadings() async throws -> any MessageConsumer {
        let consumer = try await bus.consumer(ConsumerOptions(topics: [Topics.readings.name], start: .latest))
        let partitions = try await bus.describeTopic(Topics.readings.name).partitions
        for tp in try await consumer.assignment() {
            guard let p = partitions.first(where: { $0.partition == tp.partition }) else { continue }
            try await consumer.seek(tp, to: max(p.earliestOffset, p.latestOffset - 10_000))
        }
        return consumer
    }
}

/// What the sink knows: each id's latest state, each machine's reported setpoints, the writes awaiting read-back.
struct SinkState {
    var history: [String: SetpointWriteRecord.State]
    var reported: [String: [String: Double]] = [:]
    var pending: [String: (record: SetpointWriteRecord, deadline: ContinuousClock.Instant)] = [:]
}

extension SetpointSink {
    /// One session's writing: the command, the audit records, the read-back.
    struct Writer {
        let sink: SetpointSink
        let connection: any SetpointWriter
        let producer: any MessageProducer

        func handle(_ r: ConsumedRecord, _ state: inout SinkState) async throws {
            guard let change = try? Topics.setpoints.decode(r.value) else { return }
            let id = change.recommendation ?? "setpoints/\(r.partition)/\(r.offset)"
            switch state.history[id] {
            case .written?, .confirmed?, .unconfirmed?, .refused?:
                sink.logger.info("setpoint change already written; not again", metadata: ["id": "\(id)"])
                return
            case .sending?:
                if matches(change.values, state.reported[change.machine]) {
                    try await audit(
                        id, change, .confirmed, "the machine has the values (read back after a restart)", &state)
                    return
                }
            case nil:
                if let refusal = guardrails(change, reported: state.reported[change.machine]) {
                    try await audit(id, change, .refused, refusal, &state)
                    return
                }
            }
            try await audit(id, change, .sending, nil, &state)
            let command = SetpointCommand(
                id: id, machine: change.machine, setpoints: change.values, changeTool: change.changeTool,
                ts: Timestamp.format(Timestamp.now()))
            let readBack: Bool
            do {
                readBack = try await connection.write(command)
            } catch let refused as SetpointRefused {
                try await audit(id, change, .refused, refused.reason, &state)
                return
            }
            let written = try await audit(id, change, .written, nil, &state)
            if readBack {
                try await record(written, .confirmed, "read back from the device", &state)
            } else {
                state.pending[change.machine] = (written, .now + sink.target.confirmWithin)
            }
        }

        /// A reading: the machine's reported setpoints, and the confirmation of a pending write they match.
        func observe(_ reading: Reading, _ state: inout SinkState) async throws {
            guard !reading.setpoints.isEmpty else { return }
            let values = Dictionary(reading.setpoints.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
            state.reported[reading.machine] = values
            if let (written, _) = state.pending[reading.machine], matches(written.values, values) {
                state.pending[reading.machine] = nil
                try await record(written, .confirmed, "read back from the machine's reading", &state)
            }
        }

        func expire(_ state: inout SinkState) async throws {
            let now = ContinuousClock.now
            for (machine, p) in state.pending where p.deadline <= now {
                state.pending[machine] = nil
                sink.logger.warning(
                    "the machine did not report the new setpoints",
                    metadata: ["machine": "\(machine)", "id": "\(p.record.id)"])
                try await record(
                    p.record, .unconfirmed, "no reading with the new setpoints within \(sink.target.confirmWithin)",
                    &state)
            }
        }

        /// Why a change may not be written (nil: it may): a variable that is not a setpoint, a value outside its
        /// range, a step larger than the process allows from what the machine reports.
        func guardrails(_ change: SetpointRecord, reported: [String: Double]?) -> String? {
            guard connection.place(of: change.machine, variables: change.values.entries.map(\.name)) != nil else {
                return "\(sink.target.endpoint) has no place for these setpoints of \(change.machine)"
            }
            for e in change.values.entries {
                guard let c = sink.process.variable(e.name)?.controllable else {
                    return "\(e.name) is not a setpoint of the process"
                }
                guard (c.min...c.max).contains(e.value) else {
                    return "\(e.name) \(e.value) is outside its range \(c.min)...\(c.max)"
                }
                if let now = reported?[e.name], abs(e.value - now) > c.maxStep * (1 + 1e-9) {
                    return "\(e.name) from \(now) to \(e.value) is a step larger than \(c.maxStep)"
                }
            }
            return nil
        }

        func matches(_ target: NamedValues, _ reported: [String: Double]?) -> Bool {
            guard let reported else { return false }
            return target.entries.allSatisfy { e in
                guard let v = reported[e.name] else { return false }
                return abs(v - e.value) <= sink.target.tolerance * max(abs(e.value), 1e-9)
            }
        }

        @discardableResult
        func audit(
            _ id: String, _ change: SetpointRecord, _ s: SetpointWriteRecord.State, _ reason: String?,
            _ state: inout SinkState
        ) async throws -> SetpointWriteRecord {
            let w = SetpointWriteRecord(
                id: id, machine: change.machine, values: change.values, state: s, reason: reason,
                endpoint: connection.place(of: change.machine, variables: change.values.entries.map(\.name))
                    ?? sink.target.endpoint, ts: "")
            return try await record(w, s, reason, &state)
        }

        @discardableResult
        func record(
            _ write: SetpointWriteRecord, _ s: SetpointWriteRecord.State, _ reason: String?, _ state: inout SinkState
        ) async throws -> SetpointWriteRecord {
            var w = write
            w.state = s
            w.reason = reason
            let now = Timestamp.now()
            w.ts = Timestamp.format(now)
            _ = try await producer.send(
                [Record(key: Array(w.machine.utf8), value: w.encoded(), timestamp: now)],
                to: Topics.setpointWrites.name)
            state.history[w.id] = s
            sink.stats.update { $0.setpointWrites[s.rawValue, default: 0] += 1 }
            if s == .refused {
                sink.logger.warning(
                    "setpoint change refused", metadata: ["id": "\(w.id)", "reason": "\(reason ?? "")"])
            }
            return w
        }
    }
}

extension NameTemplate {
    /// The subscription filter of the topics it makes: each `{name}` a single-level wildcard.
    public var filter: String {
        parts.map {
            switch $0 {
            case .literal(let s): s
            case .name: "+"
            }
        }.joined()
    }

    /// Filled from a machine id's levels "site/line/machine" (`{site}`, `{line}`, `{machine}`; an id of another
    /// shape is all `{machine}`).
    public func fill(machineID: String) -> String {
        let levels = machineID.split(separator: "/").map(String.init)
        guard levels.count == 3 else { return fill(["machine": machineID]) }
        return fill(["site": levels[0], "line": levels[1], "machine": levels[2]])
    }
}

/// MQTT commands (QoS 1) on a topic per machine; confirmed by the machine's readings.
public struct MQTTSetpointTarget: SetpointTarget {
    public let settings: MQTTSinkSettings
    public init(_ settings: MQTTSinkSettings) { self.settings = settings }
    public var endpoint: String { settings.client.endpoint }
    public var confirmWithin: Duration { settings.confirmWithin }
    public var tolerance: Double { settings.tolerance }

    public func open() async throws -> any SetpointWriter {
        Writer(settings: settings, connection: try await MQTTConnection.connect(settings.client))
    }

    struct Writer: SetpointWriter {
        let settings: MQTTSinkSettings
        let connection: MQTTConnection

        func place(of machine: String, variables: [String]) -> String? {
            "\(connection.endpoint) topic \(settings.topic.fill(machineID: machine))"
        }

        func write(_ command: SetpointCommand) async throws -> Bool {
            try await connection.publish(
                settings.topic.fill(machineID: command.machine), payload: try RecordEncoder.encode(command),
                qos: .atLeastOnce)
            return false
        }

        func close() async { await connection.disconnect() }
    }
}

/// Several targets as one (MQTT for some machines, Modbus for others): a machine's change goes to the first target
/// that has a place for it, so one sink, one audit trail and one once-only bookkeeping cover them all.
public struct SetpointTargets: SetpointTarget {
    public let targets: [any SetpointTarget]

    public init(_ targets: [any SetpointTarget]) { self.targets = targets }

    public var endpoint: String { targets.map(\.endpoint).joined(separator: ", ") }
    public var confirmWithin: Duration { targets.map(\.confirmWithin).max() ?? .seconds(30) }
    public var tolerance: Double { targets.first?.tolerance ?? 1e-3 }

    public func open() async throws -> any SetpointWriter {
        var writers: [any SetpointWriter] = []
        do {
            for t in targets { writers.append(try await t.open()) }
        } catch {
            for w in writers { await w.close() }
            throw error
        }
        return Writer(writers: writers)
    }

    struct Writer: SetpointWriter {
        let writers: [any SetpointWriter]

        func place(of machine: String, variables: [String]) -> String? {
            writers.lazy.compactMap { $0.place(of: machine, variables: variables) }.first
        }

        func write(_ command: SetpointCommand) async throws -> Bool {
            let names = command.setpoints.entries.map(\.name)
            guard let w = writers.first(where: { $0.place(of: command.machine, variables: names) != nil }) else {
                throw MappingError(
                    "no target takes the setpoints \(names.joined(separator: ", ")) of \(command.machine)")
            }
            return try await w.write(command)
        }

        func close() async {
            for w in writers { await w.close() }
        }
    }
}
