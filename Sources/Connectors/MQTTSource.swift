public import Bus
import Foundation
public import Logging
import MQTT
import MQTTWire
import Plant
public import ServiceLifecycle
import Topics

/// Reads an MQTT broker's telemetry into the readings topic: subscribes to each mapping's topics in a persistent
/// session, turns every message into a reading (or a dead letter that says why not), writes each received batch to
/// the bus and only then acknowledges it, so a message the broker counts as delivered is on the bus. A lost broker is
/// reconnected with exponential backoff; the session's queued messages follow. Back-pressure: the bus's pace sets how
/// fast batches are taken, and the client stops reading the socket while they wait.
public struct MQTTSource: Service {
    public let settings: MQTTSourceSettings
    /// The machines of the process config (a reading of any other is a dead letter); empty: any machine.
    public let machines: Set<String>
    public let bus: any MessageBus
    public let stats: ConnectorStats
    public var readingsTopic = Topics.readings.name
    public var deadLettersTopic = Topics.deadLetters.name
    public var backoff = Backoff()
    let logger: Logger

    public init(
        settings: MQTTSourceSettings, machines: Set<String>, bus: any MessageBus, stats: ConnectorStats = .init(),
        logger: Logger = Logger(label: "millstream.connect.mqtt")
    ) {
        self.settings = settings
        self.machines = machines
        self.bus = bus
        self.stats = stats
        self.logger = logger
    }

    public func run() async throws {
        let producer = try await bus.producer()
        try await reconnecting(
            "MQTT source", endpoint: settings.client.endpoint, stats: stats, logger: logger, backoff: backoff
        ) { backoff in
            try await session(producer, backoff: &backoff)
        }
    }

    private func session(_ producer: any MessageProducer, backoff: inout Backoff) async throws {
        let connection = try await MQTTConnection.connect(settings.client)
        stats.update { $0.connections += 1 }
        logger.info(
            "MQTT source connected",
            metadata: [
                "endpoint": "\(settings.client.endpoint)", "client_id": "\(settings.client.clientID)",
                "session_present": "\(connection.connAck.sessionPresent)",
            ])
        do {
            try await connection.subscribe(settings.mappings.map { .init($0.topic.filter, qos: settings.qos) })
            backoff.reset()
            for try await batch in connection.messages {
                try await write(batch, producer)
                connection.acknowledge(batch)
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

    /// Maps a batch and writes its readings and dead letters in one send.
    private func write(_ batch: [MQTTMessage], _ producer: any MessageProducer) async throws {
        var out = ConnectorBatch()
        for message in batch {
            do {
                out.add(try map(message, now: out.now))
            } catch {
                out.reject(
                    error.reason, "\(settings.client.endpoint) topic \(message.topic): \(error.message)",
                    original: message.payload)
            }
        }
        try await out.write(
            producer, readingsTopic: readingsTopic, deadLettersTopic: deadLettersTopic, stats: stats,
            received: batch.count)
    }

    private func map(_ message: MQTTMessage, now: Int64) throws(Unmappable) -> Reading {
        for mapping in settings.mappings {
            guard let captured = mapping.topic.match(message.topic) else { continue }
            let reading: Reading
            do {
                reading = try mapping.reading(captured: captured, payload: message.payload, receivedAt: now)
            } catch {
                throw Unmappable(reason: "unmappable", message: error.message)
            }
            guard machines.isEmpty || machines.contains(reading.machine) else {
                throw Unmappable(
                    reason: "unknown_machine",
                    message: "machine \(reading.machine) (from \(mapping.machine.text)) is not in the process config")
            }
            return reading
        }
        throw Unmappable(reason: "unmappable", message: "no mapping's topic matches")
    }
}
