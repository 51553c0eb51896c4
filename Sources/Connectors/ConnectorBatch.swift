import Bus
import Foundation
import Plant
import Primitives
import Topics

/// What one received batch becomes: readings and dead letters, written to the bus in one send and then counted. The
/// MQTT, Sparkplug and OPC UA sources fill one per batch.
struct ConnectorBatch {
    let now: Int64
    private(set) var readings: [Record] = []
    private(set) var dead: [Record] = []
    private(set) var reasons: [String: Int] = [:]

    init(now: Int64 = Timestamp.now()) { self.now = now }

    mutating func add(_ reading: Reading) {
        readings.append(Record(key: Array(reading.machine.utf8), value: reading.encoded(), timestamp: now))
    }

    /// A dead letter: the reason code, what and where, and the original message (as text when it is UTF-8, else
    /// base64).
    mutating func reject(_ reason: String, _ error: String, original payload: [UInt8]) {
        reasons[reason, default: 0] += 1
        let text = String(validating: payload, as: UTF8.self)
        let record = DeadLetterRecord(
            reason: reason, error: error, original: text,
            originalBase64: text == nil ? Data(payload).base64EncodedString() : nil, ts: Timestamp.format(now),
            source: nil)
        dead.append(Record(key: nil, value: record.encoded(), timestamp: now))
    }

    /// Writes the readings and dead letters in one send, then adds `received` messages and what they became to
    /// the stats.
    func write(
        _ producer: any MessageProducer, readingsTopic: String, deadLettersTopic: String, stats: ConnectorStats,
        received: Int
    ) async throws {
        var groups: [(topic: String, records: [Record])] = []
        if !readings.isEmpty { groups.append((readingsTopic, readings)) }
        if !dead.isEmpty { groups.append((deadLettersTopic, dead)) }
        if !groups.isEmpty { _ = try await producer.send(groups) }
        stats.update {
            $0.received += received
            $0.readings += readings.count
            $0.deadLetters.merge(reasons, uniquingKeysWith: +)
        }
    }
}
