import Foundation
import TestSupport
import Testing

/// `millstream connect` with an OPC UA section, as a user runs it against asyncua's server: Basic256Sha256
/// SignAndEncrypt, a user and a password from the environment, readings on its bus; a refused password is a clear
/// error and exit status 1.
@Suite struct ConnectOPCUACommandTests {
    func config(_ server: OPCUAServerPeer, in dir: String) throws -> String {
        let d = server.directory!
        let text = """
            connectors:
              opcua:
                - url: \(server.endpoint)
                  security: basic256sha256
                  certificate: \(d)/client_cert.pem
                  private_key: \(d)/client_key.pem
                  server_certificate: \(d)/server_cert.pem
                  username: operator
                  password_env: OPCUA_PASSWORD
                  publishing_interval_ms: 50
                  machines:
                    - machine: plant1/line1/m01
                      nodes:
                        air_temp_k: ns=2;s=m01/AirTemperature
                        process_temp_k: ns=2;s=m01/ProcessTemperature
                        rpm: ns=2;s=m01/SpindleSpeed
                        torque_nm: ns=2;s=m01/Torque
                        tool_wear_min: ns=2;s=m01/ToolWear
                      state: ns=2;s=m01/State
            """
        let path = dir + "/opcua.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func readsASecureServerAndRefusesAWrongPassword() async throws {
        let server = try await OPCUAServerPeer(
            secure: true, users: ["operator": "s3cret"], periodMs: 100, root: TansuBroker.root)
        defer { server.stop() }
        let dir = NSTemporaryDirectory() + "connect-opcua-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try config(server, in: dir)

        let refused = try await CLI.run(
            ["connect", "--connectors", path, "--bus", "embedded://\(dir)/bus"], shell: "export OPCUA_PASSWORD=guess")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("refused ActivateSession: BadUserAccessDenied"), "\(refused.stderr)")

        let connect = Process()
        connect.executableURL = URL(fileURLWithPath: "/bin/bash")
        connect.arguments = [
            "-c", "export OPCUA_PASSWORD=s3cret; exec \"$0\" \"$@\"", CLI.binary, "connect", "--connectors", path,
            "--bus", "embedded://\(dir)/bus", "--stats-every", "200ms",
        ]
        let out = dir + "/connect.out"
        FileManager.default.createFile(atPath: out, contents: nil)
        connect.standardOutput = FileHandle(forWritingAtPath: out)
        connect.standardError = FileHandle.nullDevice
        try connect.run()
        defer { if connect.isRunning { kill(connect.processIdentifier, SIGKILL) } }
        func printed() -> String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
        let started = ContinuousClock.now
        // The server's machine moves every 100 ms: wait for 20 readings.
        while ContinuousClock.now - started < .seconds(60) {
            let counts = printed().split(separator: "\n").compactMap { line -> Int? in
                guard line.hasPrefix("connect: "), let r = line.components(separatedBy: " readings").first else {
                    return nil
                }
                return Int(r.components(separatedBy: "messages, ").last!.filter(\.isNumber))
            }
            if (counts.last ?? 0) >= 20 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(printed().contains("connect: subscribing to \(server.endpoint) (Basic256Sha256) for plant1/line1/m01"))
        kill(connect.processIdentifier, SIGINT)
        connect.waitUntilExit()
        #expect(connect.terminationStatus == 0)
        let summary = printed().split(separator: "\n").last.map(String.init) ?? ""
        #expect(summary.contains("0 dead letters") && summary.contains("1 connections"), "\(printed())")
        let topics = try await CLI.run(["topics", "list", "--bus", "embedded://\(dir)/bus", "--json"])
        #expect(topics.stdout.contains("\"readings\""), "\(topics.stdout)")
    }
}
