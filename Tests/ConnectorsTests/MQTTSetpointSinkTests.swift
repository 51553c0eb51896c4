import Bus
import Buses
import Connectors
import Foundation
import MQTT
import MQTTWire
import Plant
import Primitives
import Synchronization
import TestSupport
import Testing
import Topics

/// Setpoint changes to a machine through Mosquitto: guardrails, the command, the read-back, the audit, and once only
/// across a restart. The machine is an MQTT client of the test that takes commands and reports its setpoints in a
/// reading on the bus (as the MQTT source would write it).
@Suite struct MQTTSetpointSinkTests {
    static func reading(rpm: Double, torque: Double = 40) -> Record {
        let r = Reading(
            machine: "plant1/line1/m01", timestamp: 1_796_479_200_000, values: [Measurement("rpm", rpm)],
            setpoints: [Measurement("rpm", rpm), Measurement("torque_nm", torque)])
        return Record(key: Array(r.machine.utf8), value: r.encoded(), timestamp: r.timestamp)
    }

    static func change(_ id: String, rpm: Double) -> Record {
        let s = SetpointRecord(machine: "plant1/line1/m01", values: ["rpm": rpm], by: "test", recommendation: id)
        return Record(key: Array(s.machine.utf8), value: s.encoded(), timestamp: 0)
    }

    static func until(_ what: String, _ condition: () async throws -> Bool) async throws {
        let start = ContinuousClock.now
        while try await !condition() {
            if ContinuousClock.now - start > .seconds(120) { throw MQTTError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func guardedConfirmedAuditedAndOnceOnly() async throws {
        let broker = try Mosquitto()
        defer { broker.remove() }
        try await broker.ready()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sink-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = try openBus("embedded://\(dir)?partitions=1&fsync=never")
        let producer = try await bus.producer()
        _ = try await producer.send([Self.reading(rpm: 1500)], to: Topics.readings.name)

        // The machine: applies each command by reporting the new setpoints.
        let machine = try await MQTTConnection.connect(
            MQTTClientOptions(host: "127.0.0.1", port: broker.port, clientID: "plc-m01"))
        try await machine.subscribe([.init("factory/+/+/cmd")])
        let settings = MQTTSinkSettings(
            client: MQTTClientOptions(host: "127.0.0.1", port: broker.port, clientID: "sink"),
            topic: NameTemplate("factory/{line}/{machine}/cmd"), confirmWithin: .seconds(20))
        let commands = Counter()  // the commands the machine received

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await batch in machine.messages {
                    for m in batch {
                        #expect(m.topic == "factory/line1/m01/cmd")
                        let command = try JSONValue(parsing: m.payload)
                        guard case .object(let o) = command, case .object(let sp)? = o["setpoints"],
                            case .number(let rpm)? = sp["rpm"]
                        else { throw MQTTError("unexpected command \(command)") }
                        _ = try await producer.send([Self.reading(rpm: rpm)], to: Topics.readings.name)
                    }
                    commands.count(batch.count)
                }
            }
            let sink = SetpointSink(target: MQTTSetpointTarget(settings), process: .milling(), bus: bus)
            try await withThrowingTaskGroup(of: Void.self) { first in
                first.addTask { try await sink.run() }
                _ = try await producer.send(
                    [
                        Self.change("r1", rpm: 1550), Self.change("r2", rpm: 2000), Self.change("r3", rpm: 9000),
                        Self.change("r1", rpm: 1550),
                    ],
                    to: Topics.setpoints.name)
                try await Self.until("the confirmation") { sink.stats.snapshot.setpointWrites["confirmed"] == 1 }
                try await Task.sleep(for: .milliseconds(300))
                first.cancelAll()
            }
            #expect(commands.received == 1)
            #expect(sink.stats.snapshot.setpointWrites == ["sending": 1, "written": 1, "confirmed": 1, "refused": 2])

            // A restart: r1 comes again (written before: skipped); r4 was `sending` when the sink stopped, and the
            // machine already has its value (read back: confirmed, not written again); r5 is new.
            let audit = SetpointWriteRecord(
                id: "r4", machine: "plant1/line1/m01", values: ["rpm": 1550], state: .sending, endpoint: "test",
                ts: "")
            _ = try await producer.send(
                [Record(key: nil, value: audit.encoded(), timestamp: 0)], to: Topics.setpointWrites.name)
            let restarted = SetpointSink(target: MQTTSetpointTarget(settings), process: .milling(), bus: bus)
            group.addTask { try await restarted.run() }
            _ = try await producer.send(
                [Self.change("r1", rpm: 1550), Self.change("r4", rpm: 1550), Self.change("r5", rpm: 1600)],
                to: Topics.setpoints.name)
            try await Self.until("the second confirmation") {
                restarted.stats.snapshot.setpointWrites["confirmed"] == 2
            }
            #expect(commands.received == 2)
            group.cancelAll()
        }
        let consumer = try await bus.consumer(ConsumerOptions(topics: [Topics.setpointWrites.name]))
        var writes: [SetpointWriteRecord] = []
        while writes.count < 10 {
            let got = try await consumer.poll(maxRecords: 100, timeout: .seconds(2))
            if got.isEmpty { break }
            writes += try got.map { try Topics.setpointWrites.decode($0.value) }
        }
        #expect(
            writes.map { "\($0.id) \($0.state.rawValue)" } == [
                "r1 sending", "r1 written", "r2 refused", "r3 refused", "r1 confirmed", "r4 sending", "r4 confirmed",
                "r5 sending", "r5 written", "r5 confirmed",
            ])
        #expect(writes.first { $0.id == "r2" }?.reason == "rpm from 1500.0 to 2000.0 is a step larger than 100.0")
        #expect(writes.first { $0.id == "r3" }?.reason?.contains("outside its range") == true)
        #expect(
            writes.first { $0.id == "r1" }?.endpoint == "mqtt://127.0.0.1:\(broker.port) topic factory/line1/m01/cmd")
        await machine.disconnect()
        try await bus.close()
    }
}

final class Counter: Sendable {
    private let value = Mutex(0)
    func count(_ n: Int) { value.withLock { $0 += n } }
    var received: Int { value.withLock { $0 } }
}
