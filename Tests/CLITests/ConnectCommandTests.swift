import Foundation
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

        let connect = Process()
        connect.executableURL = URL(fileURLWithPath: CLI.binary)
        connect.arguments = [
            "connect", "--connectors", config, "--bus", "embedded://\(dir)/bus", "--stats-every", "200ms",
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
        let last = printed().split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("connect: 1,000 messages"), "\(printed())")
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
}
