import Foundation
import Kafka
import TestSupport
import Testing

/// `millstream connect` as a user runs it: the simulator publishes to a real Mosquitto (`simulate --mqtt`), connect
/// brings the readings to its bus; and its errors for a bad configuration and a refused connection.
@Suite struct ConnectCommandTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../examples/connectors/mqtt.yaml").standardized.path

    func connectors(port: Int, in dir: String, _ edit: (String) -> String = { $0 }) throws -> String {
        let text = try String(contentsOfFile: Self.example, encoding: .utf8)
            .replacingOccurrences(of: "mqtt://127.0.0.1:1883", with: "mqtt://127.0.0.1:\(port)")
        let path = dir + "/connectors.yaml"
        try edit(text).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func simulatedPlantThroughMosquittoToTheBus() async throws {
        let broker = try Mosquitto()
        defer { broker.remove() }
        try await broker.ready()
        let dir = NSTemporaryDirectory() + "connect-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try connectors(port: broker.port, in: dir)

        let token = try await CLI.run(["tokens", "create", "--role", "viewer", "--tokens", dir + "/tokens.json"])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let health = TansuBroker.freePort()
        let connect = Process()
        connect.executableURL = URL(fileURLWithPath: CLI.binary)
        connect.arguments = [
            "connect", "--connectors", config, "--bus", "embedded://\(dir)/bus", "--stats-every", "200ms",
            "--health-port", "\(health)", "--tokens", dir + "/tokens.json",
        ]
        let out = dir + "/connect.out"
        FileManager.default.createFile(atPath: out, contents: nil)
        connect.standardOutput = FileHandle(forWritingAtPath: out)
        connect.standardError = FileHandle.nullDevice
        try connect.run()
        defer { if connect.isRunning { kill(connect.processIdentifier, SIGKILL) } }
        func printed() -> String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
        let started = ContinuousClock.now
        while !printed().contains("1 connections"), ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(50))
        }

        let sim = try await CLI.run([
            "simulate", "--machines", "4", "--count", "1000", "--rate", "2000", "--bad-fraction", "0.02",
            "--mqtt", "mqtt://127.0.0.1:\(broker.port)", "--bus", "embedded://\(dir)/sim", "--progress", "none",
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        while !printed().contains("connect: 1,000 messages"), ContinuousClock.now - started < .seconds(90) {
            try await Task.sleep(for: .milliseconds(50))
        }
        while !printed().split(separator: "\n").contains(where: {
            $0.hasPrefix("connect: 1,000 messages") && $0.hasSuffix("connections")
        }), ContinuousClock.now - started < .seconds(90) {
            try await Task.sleep(for: .milliseconds(50))
        }
        // A whole line (connect may be writing the next one as it is read).
        let last =
            printed().split(separator: "\n").last {
                $0.hasPrefix("connect: 1,000 messages") && $0.hasSuffix("connections")
            }
            .map(String.init) ?? ""
        #expect(last.hasPrefix("connect: 1,000 messages"), "\(printed())")
        // The same figures for Prometheus (copied every 2 s).
        try await Task.sleep(for: .milliseconds(2500))
        let (status, body) = try await HTTP.get("http://127.0.0.1:\(health)/metrics", token: token)
        #expect(status == 200)
        #expect(String(decoding: body, as: UTF8.self).contains("millstream_connector_messages_count 1000.0"))
        // Killed: what it acknowledged to the broker is durable on its bus.
        kill(connect.processIdentifier, SIGKILL)
        connect.waitUntilExit()
        let described = try await CLI.run(["topics", "list", "--bus", "embedded://\(dir)/bus", "--json"])
        #expect(described.status == 0, "\(described.stderr)")
        // "connect: 1,000 messages, 980 readings, 20 dead letters (unmappable 20), 1 connections"
        let before = try #require(last.components(separatedBy: " readings").first)
        let readings = try #require(Int(before.components(separatedBy: "messages, ").last!.filter(\.isNumber)))
        #expect(readings > 900)
        #expect(described.stdout.contains("\"readings\"") && described.stdout.contains("\(readings)"))
    }

    @Test func badConfigurationAndRefusalAreClearErrors() async throws {
        let broker = try Mosquitto(users: ["connect": "right"])
        defer { broker.remove() }
        try await broker.ready()
        let dir = NSTemporaryDirectory() + "connect-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let badVariable = try connectors(port: broker.port, in: dir) {
            $0.replacingOccurrences(of: "rpm: values.rpm", with: "spindle_rpm: values.rpm")
        }
        let r1 = try await CLI.run(["connect", "--connectors", badVariable, "--bus", "embedded://\(dir)/bus"])
        #expect(r1.status == 1)
        #expect(r1.stderr.contains("connectors.yaml:") && r1.stderr.contains("has no variable spindle_rpm"))

        let wrongPassword = try connectors(port: broker.port, in: dir) {
            $0.replacingOccurrences(of: "# username: millstream", with: "username: connect")
                .replacingOccurrences(of: "# password_env: MQTT_PASSWORD", with: "password_env: MQTT_PASSWORD")
        }
        let r2 = try await CLI.run(
            ["connect", "--connectors", wrongPassword, "--bus", "embedded://\(dir)/bus"],
            shell: "export MQTT_PASSWORD=wrong")
        #expect(r2.status == 1)
        #expect(
            r2.stderr.contains("refused the connection of client millstream-connect: not authorized"), "\(r2.stderr)")

        let unset = try await CLI.run(["connect", "--connectors", wrongPassword, "--bus", "embedded://\(dir)/bus"])
        #expect(unset.status == 1)
        #expect(unset.stderr.contains("the environment variable MQTT_PASSWORD is not set"))
    }

    /// The loop through both brokers, each command a process: the simulator publishes to Mosquitto and takes setpoint
    /// commands there; connect reads its readings into a Kafka-compatible broker (Tansu) and writes the setpoint change
    /// put on `setpoints` back as a command; the simulated machine applies it and reports it, and connect confirms.
    @Test func aSetpointChangeReachesTheSimulatedMachineAndIsConfirmed() async throws {
        let mosquitto = try Mosquitto()
        defer { mosquitto.remove() }
        try await mosquitto.ready()
        let kafka = try TansuBroker()
        defer { kafka.stop() }
        try await kafka.ready()
        let bus = "kafka://127.0.0.1:\(kafka.port)"
        let dir = NSTemporaryDirectory() + "connect-loop-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try connectors(port: mosquitto.port, in: dir) {
            $0 + "    setpoints: {topic: \"{site}/{line}/{machine}/cmd\", confirm_within_s: 60}\n"
        }
        func start(_ arguments: [String]) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = arguments
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        let connect = try start(["connect", "--connectors", config, "--bus", bus, "--stats-every", "10s"])
        let simulate = try start([
            "simulate", "--machines", "2", "--rate", "20", "--duration", "120s", "--mqtt",
            "mqtt://127.0.0.1:\(mosquitto.port)", "--mqtt-commands", "{site}/{line}/{machine}/cmd", "--bus", bus,
            "--progress", "none",
        ])
        defer {
            for p in [connect, simulate] where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        let client = try KafkaClient(KafkaClientConfiguration(bootstrap: ["127.0.0.1:\(kafka.port)"]))
        let started = ContinuousClock.now
        func records(_ topic: String) async -> Int64 {
            (try? await client.describeTopic(topic).partitions.reduce(0) { $0 + $1.latestOffset }) ?? 0
        }
        while await records("readings") < 20, ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let change = #"{"machine":"plant1/line1/m01","values":{"rpm":1560},"by":"test","recommendation":"loop-1"}"#
        // The sink makes the topics it reads and writes.
        while try await !client.listTopics().contains("setpoints"), ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let producer = KafkaProducer(client: client)
        _ = try await producer.send(
            [KafkaProducerRecord(key: Array("plant1/line1/m01".utf8), value: Array(change.utf8), timestamp: 0)],
            to: "setpoints")
        var writes = ""
        while !writes.contains("\"state\":\"confirmed\""), ContinuousClock.now - started < .seconds(90) {
            try await Task.sleep(for: .milliseconds(500))
            writes = try await CLI.run(["tail", "setpoint-writes", "--from-beginning", "--exit-at-end", "--bus", bus])
                .stdout
        }
        await client.close()
        let states = writes.split(separator: "\n").compactMap { line in
            line.range(of: #""state":"[a-z]+""#, options: .regularExpression).map {
                String(line[$0].dropFirst(9).dropLast())
            }
        }
        #expect(states == ["sending", "written", "confirmed"], "\(writes)")
        #expect(writes.contains("\"id\":\"loop-1\"") && writes.contains("topic plant1/line1/m01/cmd"))
    }
}
