import Bus
import Buses
import Connectors
import Foundation
import Plant
import Primitives
import TestSupport
import Testing
import Topics

/// The OPC UA source and setpoint target against asyncua's server (Tests/ConnectorsTests/Peer/opcua_server.py),
/// writing to an embedded bus.
@Suite struct OPCUASourceTests {
    static func yaml(_ server: OPCUAServerPeer, extra: String = "", machineExtra: String = "") -> String {
        ProcessConfig.millingYAML + """

            connectors:
              opcua:
                - url: \(server.endpoint)
                  publishing_interval_ms: 20
                  sampling_interval_ms: 0
            \(extra)
                  machines:
                    - machine: plant1/line1/m01
                      nodes:
                        air_temp_k: ns=2;s=m01/AirTemperature
                        process_temp_k: nsu=urn:millstream:test-machines;s=m01/ProcessTemperature
                        rpm: ns=2;s=m01/SpindleSpeed
                        torque_nm: ns=2;s=m01/Torque
                        tool_wear_min: ns=2;s=m01/ToolWear
                      setpoints:
                        rpm: nsu=urn:millstream:test-machines;s=m01/SpeedSetpoint
                      state: ns=2;s=m01/State
                      good: ns=2;s=m01/Good
                      scrap: ns=2;s=m01/Scrap
            \(machineExtra)
            """
    }

    static func records(_ bus: any MessageBus, _ topic: String) async throws -> [[UInt8]] {
        try await SparkplugSourceTests.records(bus, topic)
    }

    static func until(_ what: String, _ condition: () async throws -> Bool) async throws {
        try await SparkplugSourceTests.until(what, condition)
    }

    @Test func valuesBecomeReadingsBadOnesDeadLettersAndASetpointIsWrittenAndReadBack() async throws {
        let server = try await OPCUAServerPeer(root: TansuBroker.root)
        defer { server.stop() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opcua-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = try openBus("embedded://\(dir)?partitions=1&fsync=never")
        let process = ProcessConfig.milling()
        let yaml = Self.yaml(server, machineExtra: "          product: ns=2;s=m01/NoSuchNode")
        let settings = try ConnectorSettings.load(yaml: yaml, source: "plant.yaml", process: process)
        let source = OPCUASource(servers: settings.opcua, machines: Set(process.machineIDs), bus: bus)
        let sink = SetpointSink(target: OPCUASetpointTarget(servers: settings.opcua), process: process, bus: bus)
        var restarted: OPCUAServerPeer?
        defer { restarted?.stop() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run() }
            group.addTask { try await sink.run() }
            try await Self.until("the first reading") { source.stats.snapshot.readings >= 1 }
            // A node that does not exist is named and left out; the others are read.
            #expect(
                source.stats.snapshot.lastError?.contains("node ns=2;s=m01/NoSuchNode (product of plant1/line1/m01)")
                    == true)
            #expect(source.stats.snapshot.lastError?.contains("BadNodeIdUnknown") == true)
            try await server.send(#"{"do": "set", "machine": "m01", "name": "ToolWear", "value": 5}"#)
            try await Self.until("the change") { source.stats.snapshot.readings >= 2 }
            // A sensor fails: its machine's readings are dead letters until it is good again.
            try await server.send(
                #"{"do": "status", "machine": "m01", "name": "Torque", "status": "BadSensorFailure"}"#)
            try await Self.until("the dead letter") { source.stats.snapshot.deadLetters["bad_quality"] == 1 }
            try await server.send(#"{"do": "set", "machine": "m01", "name": "Torque", "value": 41}"#)
            try await Self.until("the good value") { source.stats.snapshot.readings >= 3 }

            // A setpoint change: written as the node's Float, read back at once; the spindle follows.
            let producer = try await bus.producer()
            let change = SetpointRecord(machine: "plant1/line1/m01", values: ["rpm": 1550], recommendation: "o1")
            _ = try await producer.send(
                [Record(key: Array(change.machine.utf8), value: change.encoded(), timestamp: 0)],
                to: Topics.setpoints.name)
            try await Self.until("the confirmation") { sink.stats.snapshot.setpointWrites["confirmed"] == 1 }
            try await Self.until("the spindle's new speed") {
                try await Self.records(bus, Topics.readings.name).last.map { try Topics.readings.decode($0)["rpm"] }
                    == 1550
            }

            // The server vanishes and comes back: the source reconnects and reads on.
            let before = source.stats.snapshot.readings
            server.stop()
            let again = try await OPCUAServerPeer(port: server.port, root: TansuBroker.root)
            restarted = again
            // The new subscription's first message carries every node's current value: a reading.
            try await Self.until("the reconnection's first reading") { source.stats.snapshot.readings > before }
            let after = source.stats.snapshot.readings
            try await again.send(#"{"do": "set", "machine": "m01", "name": "ToolWear", "value": 9}"#)
            try await Self.until("a reading of the change") { source.stats.snapshot.readings > after }
            group.cancelAll()
        }
        let readings = try await Self.records(bus, Topics.readings.name).map { try Topics.readings.decode($0) }
        let first = try #require(readings.first)
        #expect(first.machine == "plant1/line1/m01" && first.state == .running && first.product == nil)
        #expect(first["air_temp_k"] == 300.1 && first["process_temp_k"] == 310.2 && first["rpm"] == 1500)
        #expect(first.setpoints.first?.value == 1500)
        // The source's time is the server's SourceTimestamp of the change, not the arrival.
        #expect(readings.map { $0["tool_wear_min"] }.contains(5) && readings.last?["tool_wear_min"] == 9)
        #expect(readings.allSatisfy { $0["torque_nm"] != nil })
        let dead = try await Self.records(bus, Topics.deadLetters.name).map { try Topics.deadLetters.decode($0) }
        #expect(
            dead.first?.error.contains("node ns=2;s=m01/Torque (value(\"torque_nm\")) has status BadSensorFailure")
                == true)
        let writes = try await Self.records(bus, Topics.setpointWrites.name).map {
            try Topics.setpointWrites.decode($0)
        }
        #expect(writes.map(\.state.rawValue) == ["sending", "written", "confirmed"])
        #expect(writes.last?.reason == "read back from the device")
        try await bus.close()
    }

    @Test func signAndEncryptWithAPasswordFromTheEnvironment() async throws {
        let server = try await OPCUAServerPeer(secure: true, users: ["operator": "s3cret"], root: TansuBroker.root)
        defer { server.stop() }
        let variable = "OPCUA_TEST_PASSWORD_\(UInt32.random(in: 0...UInt32.max))"
        setenv(variable, "s3cret", 1)
        let d = server.directory!
        let extra = """
                  security: basic256sha256
                  certificate: \(d)/client_cert.pem
                  private_key: \(d)/client_key.pem
                  server_certificate: \(d)/server_cert.pem
                  username: operator
                  password_env: \(variable)
            """
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opcua-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = try openBus("embedded://\(dir)?partitions=1&fsync=never")
        let process = ProcessConfig.milling()
        let settings = try ConnectorSettings.load(
            yaml: Self.yaml(server, extra: extra), source: "plant.yaml", process: process)
        let source = OPCUASource(servers: settings.opcua, machines: Set(process.machineIDs), bus: bus)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run() }
            try await Self.until("the first reading") { source.stats.snapshot.readings >= 1 }
            group.cancelAll()
        }
        let reading = try #require(try await Self.records(bus, Topics.readings.name).first.map(Topics.readings.decode))
        #expect(reading["air_temp_k"] == 300.1)
        try await bus.close()

        // Configuration errors name the key.
        func error(_ replace: String, _ with: String) -> String {
            do {
                _ = try ConnectorSettings.load(
                    yaml: Self.yaml(server, extra: extra).replacingOccurrences(of: replace, with: with),
                    source: "plant.yaml", process: process)
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(
            error("security: basic256sha256", "security: aes128").contains("'aes128' is not none or basic256sha256"))
        #expect(error("ns=2;s=m01/Torque", "m01/Torque").contains("torque_nm: 'm01/Torque' is not a node id"))
        #expect(error("\(d)/client_key.pem", "/nonexistent/key.pem").contains("cannot read /nonexistent/key.pem"))
        #expect(error("url: opc.tcp://", "url: tcp://").contains("is not an opc.tcp://"))
        #expect(error("password_env: \(variable)", "password_env: NO_SUCH_VARIABLE_X").contains("is not set"))
    }
}
