import Foundation

/// asyncua's OPC UA server with a model of milling machines (Tests/ConnectorsTests/Peer/opcua_server.py, from the
/// project venv under `root`, the repository) on a free port; commands on its stdin, events from its stdout;
/// SIGKILLed by `stop`. The tests, the benchmark and `demo --source opcua` start it.
public final class OPCUAServerPeer: @unchecked Sendable {
    public let port: Int
    public let directory: String?
    let process = Process()
    let input = Pipe()
    let output = Pipe()

    public var endpoint: String { "opc.tcp://127.0.0.1:\(port)/millstream/" }

    /// `secure`: Basic256Sha256 only, with certificates written to a temporary directory (`directory`). `rate`: the
    /// bench nodes (`benchNodes` of them) written that many times a second (0: as fast as the server can; -1: none).
    public init(
        machines: [String] = ["m01"], secure: Bool = false, users: [String: String] = [:], rate: Int = -1,
        benchNodes: Int = 1, periodMs: Int = 0, writable: Bool = false, port: Int? = nil,
        root: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    ) async throws {
        self.port = port ?? freeLoopbackPort()
        directory =
            secure
            ? FileManager.default.temporaryDirectory.appendingPathComponent("opcua-\(UUID().uuidString)").path : nil
        if let directory {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        process.executableURL = root.appendingPathComponent(".venv/bin/python")
        var arguments = [
            root.appendingPathComponent("Tests/ConnectorsTests/Peer/opcua_server.py").path, "\(self.port)",
            "--machines", machines.joined(separator: ","),
        ]
        if let directory { arguments += ["--secure", directory] }
        if !users.isEmpty { arguments += ["--users", users.map { "\($0.key):\($0.value)" }.joined(separator: ",")] }
        if rate >= 0 { arguments += ["--rate", "\(rate)", "--bench-nodes", "\(benchNodes)"] }
        if periodMs > 0 { arguments += ["--period-ms", "\(periodMs)"] }
        if writable { arguments.append("--writable") }
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard FileManager.default.isExecutableFile(atPath: process.executableURL!.path) else {
            throw Failed(
                description: "no \(process.executableURL!.path): run scripts/bootstrap in the repository first")
        }
        try process.run()
        _ = try await event("ready")
    }

    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    /// The next event of that name (others are skipped), at most 30 s away.
    @discardableResult
    public func event(_ name: String) async throws -> String {
        let reader = output.fileHandleForReading
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let line = try await blocking { () -> String in
                var line = [UInt8]()
                while let byte = try reader.read(upToCount: 1)?.first, byte != 10 { line.append(byte) }
                return String(decoding: line, as: UTF8.self)
            }
            if line.isEmpty { throw Failed(description: "the OPC UA server ended (is asyncua in .venv?)") }
            if line.contains("\"event\": \"\(name)\"") { return line }
        }
        throw Failed(description: "no \(name) event from the OPC UA server in 30 s")
    }

    /// Sends a command (a JSON object) and waits until it is done.
    public func send(_ command: String) async throws {
        try input.fileHandleForWriting.write(contentsOf: Data((command + "\n").utf8))
        try await event("done")
    }

    /// A file the server wrote (its certificates under `secure`).
    public func file(_ name: String) throws -> String {
        try String(contentsOfFile: (directory ?? "") + "/" + name, encoding: .utf8)
    }

    /// A server no one stopped (a test that failed half-way) does not outlive its peer.
    deinit { stop() }

    /// Kills the server (at once: it keeps nothing) and removes its certificates; a second call does nothing.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
}
