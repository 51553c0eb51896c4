import Foundation
import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `millstream demo` running in a temporary directory with its server on a free port, as a user starts it.
final class LiveDemo: Sendable {
    let directory: String
    let child: Child
    var process: Process { child.process }
    let port: Int
    let token: String
    var base: String { "http://127.0.0.1:\(port)" }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
        .standardized.path

    init(machines: Int = 5, rate: Double = 20) async throws {
        directory = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let err = directory + "/stderr.txt"
        FileManager.default.createFile(atPath: err, contents: nil)
        child = try Child(
            CLI.binary,
            [
                "demo", "--port", "0", "--machines", "\(machines)", "--rate-per-machine", "\(rate)", "--training-data",
                Self.repository + "/data/ai4i2020.csv",
            ], stderr: err, directory: directory)
        let process = child.process
        let started = ContinuousClock.now
        var found: (Int, String)?
        while found == nil {
            guard ContinuousClock.now - started < .seconds(120), process.isRunning else {
                let text = String(decoding: FileManager.default.contents(atPath: err) ?? Data(), as: UTF8.self)
                child.stop(SIGKILL)
                throw CLIError("the demo did not print its dashboard address: \(text)")
            }
            let text = String(decoding: FileManager.default.contents(atPath: err) ?? Data(), as: UTF8.self)
            let lines = text.split(separator: "\n")
            if let line = lines.first(where: { $0.hasPrefix("dashboard: ") }),
                let url = URLComponents(string: String(line.dropFirst("dashboard: ".count))), let port = url.port,
                let tokenLine = lines.first(where: { $0.hasPrefix("admin token") }),
                let token = tokenLine.split(separator: " ").last.map(String.init), token.hasPrefix("ms_")
            {
                found = (port, token)
            } else {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        (port, token) = found!
    }

    /// GET with the token; the status and body.
    func get(_ path: String, token: String? = nil) async throws -> (Int, Data) {
        try await HTTP.get(base + path, token: token ?? self.token)
    }

    /// Waits until `condition` holds for the answer of `path` (at most `seconds`).
    func wait(for path: String, seconds: Int = 60, _ condition: (Int, Data) -> Bool) async throws {
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(seconds) {
            if let (status, body) = try? await get(path), condition(status, body) { return }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw CLIError("\(path) did not answer as expected within \(seconds) s")
    }

    func stop() async throws {
        let child = self.child
        try await blocking { child.stop(SIGINT) }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Plain HTTP requests with URLSession (FoundationNetworking on Linux).
enum HTTP {
    static func get(_ url: String, token: String?) async throws -> (Int, Data) {
        var request = URLRequest(url: URL(string: url)!)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }
}

/// Runs a program to its end (stdout and stderr together in the result).
func runTool(_ executable: String, _ arguments: [String], directory: String? = nil) async throws -> (Int32, String) {
    let out = NSTemporaryDirectory() + "tool-" + UUID().uuidString
    FileManager.default.createFile(atPath: out, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: out) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let handle = FileHandle(forWritingAtPath: out)
    process.standardOutput = handle
    process.standardError = handle
    try await exit(of: process)
    return (
        process.terminationStatus, String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self)
    )
}

/// A child process that can be stopped without Foundation's `waitUntilExit`, which spins a thread of the cooperative
/// pool until the child exits (other tests then starve): the exit is signalled by the termination handler.
final class Child: @unchecked Sendable {
    let process = Process()
    private let exited = DispatchSemaphore(value: 0)

    init(_ executable: String, _ arguments: [String], stderr: String? = nil, directory: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr.flatMap { FileHandle(forWritingAtPath: $0) } ?? FileHandle.nullDevice
        process.terminationHandler = { [exited] _ in exited.signal() }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Sends `signal` and waits (a blocked thread, briefly: our children exit within a second of SIGTERM).
    func stop(_ signal: Int32 = SIGTERM) {
        kill(process.processIdentifier, signal)
        if exited.wait(timeout: .now() + 10) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
        }
        exited.signal()  // a second stop returns at once
    }
}
