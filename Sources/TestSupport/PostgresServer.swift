import Foundation

/// A real PostgreSQL server (Debian's postgresql, installed by scripts/bootstrap) in a fresh data directory on a free
/// loopback port, for a test: `initdb` with trust authentication, then `postgres` itself. As root it runs as the
/// `postgres` system user (PostgreSQL refuses root). `database(_:)` creates a database and returns its URL.
public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private let process: Process
    private let bin: String
    private let asUser: [String]

    public init() throws {
        let versions =
            ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init)
            .sorted()
        guard let version = versions.last else {
            throw PeerError("PostgreSQL is not installed: run scripts/bootstrap (it installs Debian's postgresql)")
        }
        bin = "/usr/lib/postgresql/\(version)/bin"
        port = TansuBroker.freePort()
        directory = NSTemporaryDirectory() + "postgres-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        asUser =
            getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : []
        if getuid() == 0 {
            try Self.run(["/bin/chown", "-R", "postgres:postgres", directory])
        }
        try Self.run(
            asUser + [
                bin + "/initdb", "-D", directory + "/data", "-U", "millstream", "--auth=trust", "--no-sync",
                "-E", "UTF8",
            ])
        process = Process()
        process.executableURL = URL(fileURLWithPath: asUser.first ?? bin + "/postgres")
        process.arguments =
            Array(asUser.dropFirst()) + (asUser.isEmpty ? [] : [bin + "/postgres"]) + [
                "-D", directory + "/data", "-p", "\(port)", "-k", directory, "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off", "-c", "synchronous_commit=off",
            ]
        let log = directory + "/postgres.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        if getuid() == 0 { try Self.run(["/bin/chown", "postgres:postgres", log]) }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        let started = Date()
        while (try? Self.run([bin + "/pg_isready", "-h", "127.0.0.1", "-p", "\(port)", "-q"])) == nil {
            guard process.isRunning, Date().timeIntervalSince(started) < 60 else {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                stop()
                throw PeerError("PostgreSQL did not start on port \(port): \(text.suffix(2000))")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// Creates a database; returns its URL for the user `millstream`.
    public func database(_ name: String) throws -> String {
        try Self.run([bin + "/createdb", "-h", "127.0.0.1", "-p", "\(port)", "-U", "millstream", name])
        return "postgres://millstream@127.0.0.1:\(port)/\(name)"
    }

    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGINT)  // fast shutdown
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: arguments[0])
        p.arguments = Array(arguments.dropFirst())
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw PeerError("\(arguments.joined(separator: " ")) failed (\(p.terminationStatus)): \(text.suffix(1000))")
        }
        return text
    }
}

public struct PeerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
