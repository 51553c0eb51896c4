public import Bus
import Foundation
public import Logging
import MQTT
import MQTTWire
import Plant
public import ServiceLifecycle
import Sparkplug
import Topics

/// Reads Sparkplug B edge nodes into the readings topic as a host application: follows births, deaths, aliases and
/// sequence numbers (`SparkplugHost`), writes a reading of a machine whenever a birth or data message changes one of
/// its mapped metrics, and sends rebirth requests when it has lost track of a node (a sequence gap, data without a
/// birth). Messages whose values cannot be trusted (malformed, stale, out of sequence, bad quality, wrong type) go to
/// dead letters with the reason. Sessions are clean, as the specification asks of a host: after a reconnect the host
/// knows nothing and asks each node it hears from for a rebirth. Each received batch is on the bus before it is
/// acknowledged.
public struct SparkplugSource: Service {
    public let settings: SparkplugSettings
    public let machines: Set<String>
    public let bus: any MessageBus
    public let stats: ConnectorStats
    public let directory: SparkplugDirectory
    public var readingsTopic = Topics.readings.name
    public var deadLettersTopic = Topics.deadLetters.name
    public var backoff = Backoff()
    let logger: Logger

    public init(
        settings: SparkplugSettings, machines: Set<String>, bus: any MessageBus,
        directory: SparkplugDirectory = SparkplugDirectory(), stats: ConnectorStats = .init(),
        logger: Logger = Logger(label: "millstream.connect.sparkplug")
    ) {
        self.settings = settings
        self.machines = machines
        self.bus = bus
        self.directory = directory
        self.stats = stats
        self.logger = logger
    }

    public func run() async throws {
        let producer = try await bus.producer()
        try await reconnecting(
            "Sparkplug source", endpoint: settings.client.endpoint, stats: stats, logger: logger, backoff: backoff
        ) { backoff in
            try await session(producer, backoff: &backoff)
        }
    }

    /// The host application's STATE message (Sparkplug 3.0): `{"online":true,"timestamp":...}`.
    static func statePayload(online: Bool, timestamp: Int64) -> [UInt8] {
        Array("{\"online\":\(online),\"timestamp\":\(timestamp)}".utf8)
    }

    private func session(_ producer: any MessageProducer, backoff: inout Backoff) async throws {
        var options = settings.client
        let birth = Timestamp.now()
        if let host = settings.hostID {
            options.will = .init(
                topic: SparkplugTopic.state(hostID: host), payload: Self.statePayload(online: false, timestamp: birth),
                qos: .atLeastOnce, retain: true)
        }
        let connection = try await MQTTConnection.connect(options)
        stats.update { $0.connections += 1 }
        logger.info(
            "Sparkplug host connected",
            metadata: [
                "endpoint": "\(options.endpoint)", "group": "\(settings.group)", "client_id": "\(options.clientID)",
            ])
        var host = SparkplugHost()
        do {
            try await connection.subscribe([.init(SparkplugTopic.filter(group: settings.group), qos: settings.qos)])
            if let id = settings.hostID {
                try await connection.publish(
                    SparkplugTopic.state(hostID: id), payload: Self.statePayload(online: true, timestamp: birth),
                    qos: .atLeastOnce, retain: true)
            }
            backoff.reset()
            for try await batch in connection.messages {
                let rebirths = try await write(batch, &host, producer)
                connection.acknowledge(batch)
                for node in rebirths {
                    let now = UInt64(Timestamp.now())
                    try await connection.publish(
                        SparkplugTopic(.ncmd, SparkplugEntityID(node: node)).text,
                        payload: SparkplugPayload.rebirthRequest(timestamp: now).encoded(), qos: .atMostOnce)
                }
            }
        } catch {
            await connection.disconnect()
            throw error
        }
        await connection.disconnect()
        if !Task.isCancelled {
            throw MQTTError("the session with \(settings.client.endpoint) ended", retriable: true)
        }
    }

    /// Takes a batch through the host's state; writes its readings and dead letters in one send; returns the nodes to
    /// ask for a rebirth.
    private func write(_ batch: [MQTTMessage], _ host: inout SparkplugHost, _ producer: any MessageProducer)
        async throws -> [SparkplugNodeID]
    {
        var out = ConnectorBatch()
        var rebirths: [SparkplugNodeID] = []
        var born: [String: SparkplugEntityID] = [:]
        let now = out.now
        func reject(_ reason: String, _ message: String, _ original: MQTTMessage) {
            out.reject(reason, "\(settings.client.endpoint) \(message)", original: original.payload)
        }
        for message in batch {
            let topic: SparkplugTopic
            do {
                guard let t = try SparkplugTopic(parsing: message.topic) else { continue }
                topic = t
            } catch {
                reject("malformed", error.message, message)
                continue
            }
            for event in host.receive(topic: topic, payload: message.payload, now: UInt64(now)) {
                switch event {
                case .snapshot(let s):
                    guard let machine = settings.mapping.machineID(of: s.entity) else { continue }
                    guard machines.isEmpty || machines.contains(machine) else {
                        reject(
                            "unknown_machine",
                            "topic \(topic): machine \(machine) (from \(settings.mapping.machine.text)) is not in the "
                                + "process config", message)
                        continue
                    }
                    born[machine] = s.entity
                    do {
                        guard let reading = try settings.mapping.reading(s, machine: machine, receivedAt: now)
                        else { continue }
                        out.add(reading)
                    } catch {
                        reject(error.reason, "topic \(topic): \(error.message)", message)
                    }
                case .rejected(_, let reason, let text):
                    reject(reason, text, message)
                case .rebirth(let node, let why):
                    logger.warning("requesting a rebirth", metadata: ["node": "\(node)", "why": "\(why)"])
                    rebirths.append(node)
                case .online(let entity):
                    logger.info("Sparkplug entity online", metadata: ["entity": "\(entity)"])
                case .offline(let entity, let why):
                    logger.warning("Sparkplug entity offline", metadata: ["entity": "\(entity)", "why": "\(why)"])
                }
            }
        }
        directory.update(host: host, machines: born)
        try await out.write(
            producer, readingsTopic: readingsTopic, deadLettersTopic: deadLettersTopic, stats: stats,
            received: batch.count)
        return rebirths
    }
}

/// Setpoint changes as Sparkplug commands: a DCMD to a device machine (NCMD to a node machine) with the setpoint
/// metrics by the aliases and data types of its birth. Refused (no place) while the machine's entity is not online.
/// Confirmed by the device's data reporting the new values.
public struct SparkplugSetpointTarget: SetpointTarget {
    public let settings: SparkplugSettings
    public let directory: SparkplugDirectory
    let commands: SparkplugCommandSettings

    public init(settings: SparkplugSettings, directory: SparkplugDirectory) {
        self.settings = settings
        self.directory = directory
        self.commands = settings.commands ?? SparkplugCommandSettings()
    }

    public var endpoint: String { settings.client.endpoint }
    public var confirmWithin: Duration { commands.confirmWithin }
    public var tolerance: Double { commands.tolerance }

    public func open() async throws -> any SetpointWriter {
        var client = settings.client
        client.clientID += "-commands"
        client.will = nil
        return Writer(target: self, connection: try await MQTTConnection.connect(client))
    }

    struct Writer: SetpointWriter {
        let target: SparkplugSetpointTarget
        let connection: MQTTConnection

        func metricNames(_ variables: [String]) -> [String]? {
            let names = variables.map { v in target.settings.mapping.setpoints.first { $0.variable == v }?.metric }
            return names.contains(nil) ? nil : names.compactMap { $0 }
        }

        func place(of machine: String, variables: [String]) -> String? {
            guard let names = metricNames(variables),
                let found = target.directory.lookup(machine: machine, metrics: names), found.online,
                found.metrics.count == names.count
            else { return nil }
            let type: SparkplugMessageType = found.entity.device == nil ? .ncmd : .dcmd
            return "\(connection.endpoint) \(SparkplugTopic(type, found.entity))"
        }

        func write(_ command: SetpointCommand) async throws -> Bool {
            let variables = command.setpoints.entries.map(\.name)
            guard let names = metricNames(variables),
                let found = target.directory.lookup(machine: command.machine, metrics: names), found.online
            else {
                throw MappingError(
                    "\(command.machine) is not online on \(connection.endpoint); the command is not sent")
            }
            let now = UInt64(Timestamp.now())
            var metrics: [SparkplugMetric] = []
            for (entry, name) in zip(command.setpoints.entries, names) {
                guard let known = found.metrics[name] else {
                    throw MappingError("metric \(name) is not in the birth of \(found.entity)")
                }
                guard
                    let m = SparkplugMetric.number(
                        entry.value, as: known.type, name: known.alias == nil ? name : nil, alias: known.alias,
                        timestamp: now)
                else {
                    throw MappingError(
                        "\(entry.value) for \(name) cannot be written as its birth's \(known.type) (\(found.entity))")
                }
                metrics.append(m)
            }
            let type: SparkplugMessageType = found.entity.device == nil ? .ncmd : .dcmd
            try await connection.publish(
                SparkplugTopic(type, found.entity).text,
                payload: SparkplugPayload(timestamp: now, metrics: metrics).encoded(), qos: .atMostOnce)
            return false
        }

        func close() async { await connection.disconnect() }
    }
}
