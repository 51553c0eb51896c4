import EventLog
import Foundation
import Testing

/// Runs the built `millstream` executable, as a user would.
enum CLI {
    static let binary: String = {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("millstream").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../.build/debug/millstream").standardized.path
    }()

    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs to completion, with stdout and stderr captured (in files, so large output cannot block the child). Waits
    /// by the termination handler: no thread blocks or spins while the command runs, so tests running alongside keep
    /// the cooperative pool.
    @discardableResult
    static func run(_ arguments: [String], shell prefix: String? = nil) async throws -> Result {
        let out = NSTemporaryDirectory() + "cli-out-" + UUID().uuidString
        let err = out + ".err"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: err)
        }
        let process = Process()
        if let prefix {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", prefix + "; exec \"$0\" \"$@\"", binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        try await exit(of: process)
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self),
            stderr: String(decoding: FileManager.default.contents(atPath: err) ?? Data(), as: UTF8.self))
    }
}

extension CLI {
    /// Starts a pipeline worker (`millstream run --bus BUS`), waits until `outputs()` reaches a random target in
    /// `targets` (at most 60 s), then a random 0-50 ms more, and SIGKILLs it: mid-batch or mid-checkpoint.
    static func killWorker(
        bus: String, arguments: [String] = [], targets: ClosedRange<Int64>, outputs: () async throws -> Int64
    ) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--bus", bus] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let target = Int64.random(in: targets)
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(60) {
            if let count = try? await outputs(), count >= target { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(Int.random(in: 0...50)))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Starts `process` and returns when it has exited.
func exit(of process: Process) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        process.terminationHandler = { _ in continuation.resume() }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
}

/// Reads lines from a pipe as they come (blocking).
struct LineReader {
    let handle: FileHandle
    var buffer = Data()

    mutating func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }
}

func temporaryDirectory() -> String {
    NSTemporaryDirectory() + "millstream-cli-" + UUID().uuidString
}

/// Every record of `topic` in the embedded log at `dir` (none when the topic does not exist): its headers by name
/// (the source partition and offset the pipeline stamps) and its value.
func logRecords(_ dir: String, _ topic: String) throws -> [(headers: [String: String], value: [UInt8])] {
    let log = try EventLog.open(directory: dir, configuration: .init(readOnly: true))
    guard try log.topicNames().contains(topic) else { return [] }
    var out: [(headers: [String: String], value: [UInt8])] = []
    for partition in try log.topic(topic).partitions {
        var offset = partition.earliestOffset
        while true {
            let r = try partition.read(from: offset, maxBytes: 1 << 20)
            if r.records.isEmpty { break }
            for record in r.records {
                let headers = Dictionary(
                    record.headers.map { ($0.name, String(decoding: $0.value, as: UTF8.self)) }
                ) { $1 }
                out.append((headers, record.value))
            }
            offset = r.nextOffset
        }
    }
    return out
}
