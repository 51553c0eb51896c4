import Bus
import Buses
import Connectors
import Foundation
import MQTT
import Plant
import Primitives
import TestSupport
import Testing
import Topics

/// The MQTT source against Debian's Mosquitto, writing to an embedded bus: messages become readings or dead letters,
/// and a broker restart mid-stream loses nothing the source acknowledged.
@Suite struct MQTTSourceTests {
    static func message(_ machine: String, _ i: Int) -> [UInt8] {
        Array(
            """
            {"ts": \(1_796_479_200_000 + i * 1000), "air": {"temp": 300}, "process": {"temp": 310},
             "spindle": {"rpm": \(1400 + i), "torque": 40}, "tool": {"wear": \(i)}, "setpoint": {"rpm": 1500},
             "state": "running", "counts": {"good": 1, "scrap": 0}}
            """.utf8)
    }

    @Test func messagesBecomeReadingsAndBadOnesDeadLetters() async throws {
        let broker = try Mosquitto()
        defer { broker.remove() }
        try await broker.ready()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("connect-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = try openBus("embedded://\(dir)?partitions=2&fsync=never")
        let yaml = JSONMappingTests.yaml.replacingOccurrences(of: "1883", with: "\(broker.port)")
        var settings = try #require(
            try ConnectorSettings.load(yaml: yaml, source: "plant.yaml", process: .milling()).mqtt)
        settings.client.keepAliveSeconds = 2
        let process = ProcessConfig.milling()
        let source = MQTTSource(settings: settings, machines: Set(process.machineIDs), bus: bus)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run() }
            let pub = try await MQTTConnection.connect(
                MQTTClientOptions(host: "127.0.0.1", port: broker.port, clientID: "plc"))
            // Wait for the source's subscription.
            while source.stats.snapshot.connections == 0 { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
            for i in 0..<100 { try await pub.publish("factory/line1/m01/telemetry", payload: Self.message("m01", i)) }
            try await pub.publish("factory/line1/m01/telemetry", payload: Array("{not json".utf8))
            try await pub.publish("factory/line1/m01/telemetry", payload: [0xFF, 0xFE])
            try await pub.publish("factory/line9/m99/telemetry", payload: Self.message("m99", 0))
            await pub.disconnect()

            // The broker restarts; the source reconnects to its persistent session and goes on.
            while source.stats.snapshot.received < 103 { try await Task.sleep(for: .milliseconds(20)) }
            try await broker.restart()
            let again = try await MQTTConnection.connect(
                MQTTClientOptions(host: "127.0.0.1", port: broker.port, clientID: "plc"))
            while source.stats.snapshot.connections < 2 { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
            for i in 100..<200 {
                try await again.publish("factory/line1/m01/telemetry", payload: Self.message("m01", i))
            }
            await again.disconnect()
            while source.stats.snapshot.readings < 200 { try await Task.sleep(for: .milliseconds(20)) }
            // With a redelivered batch counted twice, 200 readings may come before the last message: wait until
            // nothing more arrives (the publisher is done; what the broker holds comes within milliseconds).
            var last = -1
            while source.stats.snapshot.received != last {
                last = source.stats.snapshot.received
                try await Task.sleep(for: .milliseconds(500))
            }
            group.cancelAll()
        }
        // At least once: every message arrives; one whose acknowledgement the restart cut off arrives again (the
        // broker redelivers it, marked duplicate), so the batch before the restart may be there twice.
        let stats = source.stats.snapshot
        #expect(stats.readings >= 200)
        #expect(Set(stats.deadLetters.keys) == ["unmappable", "unknown_machine"])
        #expect(stats.deadLetters["unmappable"]! >= 2 && stats.deadLetters["unknown_machine"]! >= 1)
        #expect(stats.lastError?.contains("127.0.0.1:\(broker.port)") == true)

        let consumer = try await bus.consumer(ConsumerOptions(topics: [Topics.readings.name, Topics.deadLetters.name]))
        var got: [ConsumedRecord] = []
        let expected = stats.readings + stats.deadLetters.values.reduce(0, +)
        while got.count < expected { got += try await consumer.poll(maxRecords: 1000, timeout: .seconds(5)) }
        let readings = try got.filter { $0.topic == Topics.readings.name }.map { try Topics.readings.decode($0.value) }
        let wear = readings.map { Int($0["tool_wear_min"]!) }
        #expect(Set(wear) == Set(0..<200))
        // In order, but for a repeat of the last batch before the restart.
        #expect(wear.filter { $0 >= 100 } == Array(100..<200))
        #expect(readings.allSatisfy { $0.machine == "plant1/line1/m01" })
        let dead = try got.filter { $0.topic == Topics.deadLetters.name }.map {
            try Topics.deadLetters.decode($0.value)
        }
        #expect(Set(dead.map(\.reason)) == ["unknown_machine", "unmappable"])
        // Bytes that are not text are kept in base64.
        #expect(dead.contains { $0.original == nil && $0.originalBase64 == "//4=" })
        #expect(
            dead.first { $0.reason == "unmappable" }?.error.contains(
                "topic factory/line1/m01/telemetry: the payload is not JSON") == true)
        #expect(dead.first { $0.reason == "unknown_machine" }?.error.contains("plant1/line9/m99") == true)
        try await bus.close()
    }

    @Test func aRefusedStartIsAnErrorNotARetryLoop() async throws {
        let broker = try Mosquitto(users: ["connect": "right"])
        defer { broker.remove() }
        try await broker.ready()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("connect-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = try openBus("embedded://\(dir)?fsync=never")
        var settings = try #require(try JSONMappingTests.settings().mqtt)
        settings.client.port = broker.port
        settings.client.username = "connect"
        settings.client.password = "wrong"
        let source = MQTTSource(settings: settings, machines: [], bus: bus)
        let error = await #expect(throws: MQTTError.self) { try await source.run() }
        #expect(error?.message.contains("refused the connection of client connect-test") == true)
        try await bus.close()
    }
}
