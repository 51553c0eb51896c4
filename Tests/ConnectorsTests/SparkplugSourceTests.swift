import Bus
import Buses
import Connectors
import Foundation
import Plant
import Primitives
import Sparkplug
import TestSupport
import Testing
import Topics

/// The Sparkplug B host against an edge node of another implementation (Tests/ConnectorsTests/Peer/sparkplug_edge.py:
/// Eclipse Tahu's payload helpers and paho-mqtt) through Debian's Mosquitto, writing to an embedded bus.
@Suite struct SparkplugSourceTests {
    /// The edge node process: commands on its stdin, events (JSON lines) from its stdout.
    final class EdgeNode: @unchecked Sendable {
        let process = Process()
        let input = Pipe()
        let output = Pipe()

        init(port: Int, group: String = "plant1", node: String = "line1", device: String = "m01") async throws {
            process.executableURL = TansuBroker.root.appendingPathComponent(".venv/bin/python")
            process.arguments = [
                TansuBroker.root.appendingPathComponent("Tests/ConnectorsTests/Peer/sparkplug_edge.py").path,
                "\(port)", group, node, device,
            ]
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            _ = try await event("born")
        }

        /// Waits for the next event of that name (others are skipped), at most 30 s.
        func event(_ name: String) async throws -> [String: Any] {
            let reader = output.fileHandleForReading
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let line = try await blocking { () -> [UInt8] in
                    var line = [UInt8]()
                    while let byte = try reader.read(upToCount: 1)?.first, byte != 10 { line.append(byte) }
                    return line
                }
                if line.isEmpty { throw SparkplugError("the edge node ended (is mqtt-spb-wrapper in .venv?)") }
                let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] ?? [:]
                if object["event"] as? String == name { return object }
            }
            throw SparkplugError("no \(name) event from the edge node in 30 s")
        }

        /// Sends a command and waits until the node has done it.
        func send(_ command: String) async throws {
            try input.fileHandleForWriting.write(contentsOf: Data((command + "\n").utf8))
            _ = try await event("done")
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    static func yaml(port: Int) -> String {
        ProcessConfig.millingYAML + """

            connectors:
              sparkplug:
                url: mqtt://127.0.0.1:\(port)
                version: 3.1.1
                group: plant1
                host_id: millstream-test
                machine: plant1/{node}/{device}
                metrics:
                  air_temp_k: Temperatures/Air
                  process_temp_k: Temperatures/Process
                  rpm: Spindle/Speed
                  torque_nm: Spindle/Torque
                  tool_wear_min: Tool/Wear
                setpoints: {rpm: Setpoints/Speed}
                state: State
                good: Counts/Good
                scrap: Counts/Scrap
                commands: {confirm_within_s: 20}
            """
    }

    /// Everything the bus got on a topic so far.
    static func records(_ bus: any MessageBus, _ topic: String) async throws -> [[UInt8]] {
        guard try await bus.topicNames().contains(topic) else { return [] }
        let end = try await bus.describeTopic(topic).records
        let consumer = try await bus.consumer(ConsumerOptions(topics: [topic]))
        var got: [[UInt8]] = []
        while got.count < end {
            let batch = try await consumer.poll(maxRecords: 10_000, timeout: .seconds(2))
            if batch.isEmpty { break }
            got += batch.map(\.value)
        }
        try await consumer.close()
        return got
    }

    static func until(_ what: String, _ condition: () async throws -> Bool) async throws {
        let start = ContinuousClock.now
        while try await !condition() {
            if ContinuousClock.now - start > .seconds(30) { throw SparkplugError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func birthsAndDataBecomeReadingsAndASetpointGoesBackAsDCMD() async throws {
        let broker = try Mosquitto()
        defer { broker.remove() }
        try await broker.ready()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spb-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = try openBus("embedded://\(dir)?partitions=1&fsync=never")
        let process = ProcessConfig.milling()
        let settings = try #require(
            try ConnectorSettings.load(yaml: Self.yaml(port: broker.port), source: "plant.yaml", process: process)
                .sparkplug)
        let directory = SparkplugDirectory()
        let source = SparkplugSource(
            settings: settings, machines: Set(process.machineIDs), bus: bus, directory: directory)
        let sink = SetpointSink(
            target: SparkplugSetpointTarget(settings: settings, directory: directory), process: process, bus: bus)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run() }
            group.addTask { try await sink.run() }
            try await Self.until("the host's subscription") { source.stats.snapshot.connections > 0 }
            try await Task.sleep(for: .milliseconds(300))
            let edge = try await EdgeNode(port: broker.port)
            defer { edge.stop() }
            try await Self.until("the birth's reading") { source.stats.snapshot.readings >= 1 }
            for i in 1...20 {
                try await edge.send(#"{"do": "data", "metrics": {"Tool/Wear": \#(i), "Counts/Good": \#(i)}}"#)
            }
            try await Self.until("20 data readings") { source.stats.snapshot.readings >= 21 }

            // A setpoint change: checked against what the device reported, sent as a DCMD by the birth's alias and
            // type, applied by the device and confirmed by its next DDATA.
            let producer = try await bus.producer()
            let change = SetpointRecord(machine: "plant1/line1/m01", values: ["rpm": 1550], recommendation: "r1")
            _ = try await producer.send(
                [Record(key: Array(change.machine.utf8), value: change.encoded(), timestamp: 0)],
                to: Topics.setpoints.name)
            let command = try await edge.event("dcmd")
            #expect((command["metrics"] as? [String: Double])?["Setpoints/Speed"] == 1550)
            try await Self.until("the confirmation") { sink.stats.snapshot.setpointWrites["confirmed"] == 1 }
            group.cancelAll()
        }
        let readings = try await Self.records(bus, Topics.readings.name).map { try Topics.readings.decode($0) }
        #expect(readings.count == 22)
        let first = try #require(readings.first)
        #expect(first.machine == "plant1/line1/m01")
        #expect(first["air_temp_k"] == 300.1 && first["rpm"] == 1500 && first["torque_nm"] == 40)
        #expect(first.setpoints.first?.value == 1500 && first.state == .running)
        // Data carries only what changed; each reading has the device's every metric.
        #expect(readings[1...20].map { Int($0["tool_wear_min"]!) } == Array(1...20))
        #expect(readings[1...20].allSatisfy { $0["air_temp_k"] == 300.1 && $0.good == Int($0["tool_wear_min"]!) })
        #expect(readings.last?["rpm"] == 1550 && readings.last?.setpoints.first?.value == 1550)
        let writes = try await Self.records(bus, Topics.setpointWrites.name).map {
            try Topics.setpointWrites.decode($0)
        }
        #expect(writes.map(\.state.rawValue) == ["sending", "written", "confirmed"])
        #expect(writes.first?.endpoint == "mqtt://127.0.0.1:\(broker.port) spBv1.0/plant1/DCMD/line1/m01")
        #expect(source.stats.snapshot.deadLetters.isEmpty)
        try await bus.close()
    }

    @Test func lostMessagesDeathsAndBadValuesGoToDeadLettersAndRebirthRecovers() async throws {
        let broker = try Mosquitto()
        defer { broker.remove() }
        try await broker.ready()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spb-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = try openBus("embedded://\(dir)?partitions=1&fsync=never")
        let process = ProcessConfig.milling()
        let settings = try #require(
            try ConnectorSettings.load(yaml: Self.yaml(port: broker.port), source: "plant.yaml", process: process)
                .sparkplug)
        let directory = SparkplugDirectory()
        let source = SparkplugSource(
            settings: settings, machines: Set(process.machineIDs), bus: bus, directory: directory)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run() }
            try await Self.until("the host's subscription") { source.stats.snapshot.connections > 0 }
            try await Task.sleep(for: .milliseconds(300))
            let edge = try await EdgeNode(port: broker.port)
            defer { edge.stop() }
            try await Self.until("the birth's reading") { source.stats.snapshot.readings == 1 }
            // Bad and stale quality: the values stay out of the readings.
            try await edge.send(
                #"{"do": "data", "metrics": {"Spindle/Torque": 41}, "quality": {"Spindle/Torque": 500}}"#)
            try await edge.send(#"{"do": "data", "metrics": {"Spindle/Torque": 42}, "quality": {"Spindle/Torque": 0}}"#)
            // A malformed payload (it uses no sequence number).
            try await edge.send(#"{"do": "raw", "hex": "12050a"}"#)
            // A lost message: the next one is out of sequence; the host asks for a rebirth and takes data again after it.
            try await edge.send(#"{"do": "skip"}"#)
            try await edge.send(#"{"do": "data", "metrics": {"Tool/Wear": 7}}"#)
            _ = try await edge.event("rebirth")
            try await Self.until("the rebirth's reading") { source.stats.snapshot.readings == 2 }
            try await edge.send(#"{"do": "data", "metrics": {"Tool/Wear": 8}}"#)
            try await Self.until("data after the rebirth") { source.stats.snapshot.readings == 3 }
            // The node dies (the broker publishes its will): it is offline, and a command has no place.
            try await edge.send(#"{"do": "die"}"#)
            try await Self.until("the death") {
                directory.lookup(machine: "plant1/line1/m01", metrics: [])?.online == false
            }
            try await edge.send(#"{"do": "connect"}"#)
            try await Self.until("the new birth") { source.stats.snapshot.readings == 4 }
            #expect(directory.lookup(machine: "plant1/line1/m01", metrics: ["Setpoints/Speed"])?.online == true)
            group.cancelAll()
        }
        #expect(
            source.stats.snapshot.deadLetters == ["stale": 1, "bad_quality": 1, "malformed": 1, "sequence_gap": 1])
        let dead = try await Self.records(bus, Topics.deadLetters.name).map { try Topics.deadLetters.decode($0) }
        let byReason = Dictionary(dead.map { ($0.reason, $0.error) }, uniquingKeysWith: { a, _ in a })
        #expect(byReason["stale"]?.contains("metric Spindle/Torque has quality 500 (stale)") == true)
        #expect(byReason["sequence_gap"]?.contains("spBv1.0/plant1/DDATA/line1/m01: seq 5 where 4 was next") == true)
        #expect(byReason["malformed"]?.contains("is not a Sparkplug B protobuf") == true)
        let readings = try await Self.records(bus, Topics.readings.name).map { try Topics.readings.decode($0) }
        #expect(readings.map { $0["torque_nm"] } == [40, 40, 40, 40])  // never the bad ones
        #expect(readings[2]["tool_wear_min"] == 8)
        try await bus.close()
    }
}

@Suite struct SparkplugSettingsTests {
    @Test func configurationErrorsNameTheKey() throws {
        let yaml = SparkplugSourceTests.yaml(port: 1883)
        func error(_ replace: String, _ with: String) -> String {
            do {
                _ = try ConnectorSettings.load(
                    yaml: yaml.replacingOccurrences(of: replace, with: with), source: "plant.yaml",
                    process: .milling())
                return "no error"
            } catch { return "\(error)" }
        }
        let s = try #require(
            try ConnectorSettings.load(yaml: yaml, source: "plant.yaml", process: .milling()).sparkplug)
        #expect(s.group == "plant1" && s.hostID == "millstream-test" && s.client.cleanStart)
        #expect(s.mapping.values.map(\.metric).first == "Temperatures/Air")
        #expect(s.commands?.confirmWithin == .seconds(20))
        #expect(error("machine: plant1/{node}/{device}", "machine: \"{device}\"").contains("must name the edge node"))
        #expect(
            error("machine: plant1/{node}/{device}", "machine: \"{node}/{line}\"").contains("{line} is not {group}"))
        #expect(
            error("setpoints: {rpm: Setpoints/Speed}", "setpoints: {tool_wear_min: Tool/Wear}")
                .contains("tool_wear_min is not a setpoint"))
        #expect(error("air_temp_k: Temperatures/Air", "air_temp: Temperatures/Air").contains("no variable air_temp"))
        #expect(error("url: mqtt://", "url: http://").contains("is not mqtt://HOST"))
    }
}
