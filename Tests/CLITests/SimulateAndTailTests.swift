import AtRest
import CRC32C
import EventLog
import Foundation
import Plant
import Testing

@Suite(.serialized) struct SimulateAndTailTests {
    /// What `simulate` wrote is exactly what the simulator makes for that seed and start, and `tail` reads all of it
    /// back byte for byte (compared as sorted lines: tail interleaves partitions).
    @Test func simulateDescribeAndTailAgree() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = "embedded://\(dir)"
        let start = "2026-01-01T00:00:00Z"
        let sim = try await CLI.run([
            "simulate", "--machines", "20", "--count", "100000", "--fast", "--seed", "9", "--start", start, "--bus",
            bus, "--json",
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(sim.stdout.utf8)) as! [String: Any]
        #expect(summary["readings"] as? Int == 100_000)
        #expect(summary["durable"] as? Int == 100_000)

        let describe = try await CLI.run(["topics", "describe", "readings", "--bus", bus, "--json"])
        #expect(describe.status == 0, "\(describe.stderr)")
        let topic = try JSONSerialization.jsonObject(with: Data(describe.stdout.utf8)) as! [String: Any]
        #expect(topic["records"] as? Int == 100_000)

        let tail = try await CLI.run(["tail", "readings", "--bus", bus, "--from-beginning", "--count", "100000"])
        #expect(tail.status == 0, "\(tail.stderr)")
        let read = tail.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(read.count == 100_000)

        var simulator = try PlantSimulator(
            config: .milling(), machines: 20, seed: 9, start: Timestamp.parse(start)!, profile: .realistic)
        let written = (0..<100_000).map { _ in
            String(decoding: ReadingEncoder.encode(simulator.next().reading), as: UTF8.self)
        }
        func digest(_ lines: [String]) -> UInt32 {
            let bytes = Array(lines.sorted().joined(separator: "\n").utf8)
            return millstream_crc32c(0, bytes, bytes.count)
        }
        #expect(digest(read) == digest(written))
        #expect(read.sorted() == written.sorted())
        // Per machine, tail keeps the order they were written in.
        let machine = "plant1/line1/m05"
        #expect(read.filter { $0.contains(machine) } == written.filter { $0.contains(machine) })
    }

    /// SIGKILL in the middle of a run, five times into the same log: every batch reported durable is there, every
    /// record is a complete reading, and each run continues the log after the cut. Encrypted at rest too
    /// (`MILLSTREAM_DATA_KEYS_FILE`), with a key added before the fourth run: the segments hold no reading in clear,
    /// and both keys' batches read back.
    @Test(arguments: [false, true]) func killedMidRunLosesNoDurableRecord(encrypted: Bool) async throws {
        let dir = temporaryDirectory()
        let keys = dir + ".keys"
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: keys)
        }
        var durableSoFar: Int64 = 0
        var rng = SystemRandomNumberGenerator()
        for round in 0..<5 {
            if encrypted && (round == 0 || round == 3) {
                let line =
                    "\(round == 0 ? 1 : 2) \(Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString())\n"
                let old = (try? String(contentsOfFile: keys, encoding: .utf8)) ?? ""
                try (old + line).write(toFile: keys, atomically: true, encoding: .utf8)
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            if encrypted {
                process.environment = ProcessInfo.processInfo.environment.merging(
                    ["MILLSTREAM_DATA_KEYS_FILE": keys], uniquingKeysWith: { $1 })
            }
            process.arguments = [
                "simulate", "--machines", "20", "--count", "5000000", "--fast", "--seed", String(round), "--progress",
                "json", "--bus", "embedded://\(dir)?fsync=batch",
            ]
            let pipe = Pipe()
            process.standardError = pipe
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            var lines = LineReader(handle: pipe.fileHandleForReading)
            let wanted = Int.random(in: 2...12, using: &rng)
            var durable: Int64 = 0
            var seen = 0
            while seen < wanted, let line = lines.next() {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    continue
                }
                durable = (object["durable"] as? NSNumber)?.int64Value ?? durable
                seen += 1
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            durableSoFar += durable

            // Open as the next run would (recovery cuts a torn tail), then check every record.
            let keyring = encrypted ? try Keyring.fromEnvironment(["MILLSTREAM_DATA_KEYS_FILE": keys]) : nil
            let log = try EventLog.open(
                directory: dir, configuration: .init(defaultTopic: .init(partitions: 8), keyring: keyring))
            let topic = try log.topic("readings")
            #expect(
                topic.recordCount >= durableSoFar,
                "round \(round): \(topic.recordCount) records, \(durableSoFar) reported durable")
            var lastSequence: [String: Int64] = [:]
            for partition in topic.partitions {
                var offset = partition.earliestOffset
                while true {
                    let result = try partition.read(from: offset, maxBytes: 1 << 20)
                    if result.records.isEmpty { break }
                    for record in result.records {
                        let reading = try ReadingDecoder.decode(record.value)
                        let previous = lastSequence[reading.machine] ?? 0
                        // Each run starts its machines at 1; within a run sequences have no gaps.
                        #expect(reading.sequence == previous + 1 || reading.sequence == 1)
                        lastSequence[reading.machine] = reading.sequence
                    }
                    offset = result.nextOffset
                }
            }
            try log.close()
            durableSoFar = topic.recordCount
        }
        // Machine ids are in clear in a plain log's segments, in none of an encrypted one's.
        let segments = try FileManager.default.subpathsOfDirectory(atPath: dir + "/topics/readings")
            .filter { $0.hasSuffix(".log") }
        #expect(!segments.isEmpty)
        let clear = try segments.filter {
            try Data(contentsOf: URL(fileURLWithPath: dir + "/topics/readings/" + $0)).range(of: Data("plant1/".utf8))
                != nil
        }
        #expect(encrypted ? clear.isEmpty : !clear.isEmpty, "segments with machine ids in clear: \(clear)")
        if encrypted {
            // Without the keys the log is refused.
            #expect(throws: EventLogError.self) { try EventLog.open(directory: dir) }
        }
    }

    /// The demo starts, shows live figures, stops cleanly on Ctrl-C (SIGINT) and appends on the next start.
    @Test func demoRunsAndStopsCleanly() async throws {
        let dir = temporaryDirectory()
        let registry = dir + "-models"
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: registry)
            try? FileManager.default.removeItem(atPath: dir + "-tokens.json")
            try? FileManager.default.removeItem(atPath: dir + "-audit.log")
        }
        let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../data/ai4i2020.csv"
        ).standardized.path
        var counts: [Int64] = []
        for _ in 0..<2 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = [
                "demo", "--machines", "5", "--bus", "embedded://\(dir)", "--registry", registry, "--training-data",
                data, "--port", "0", "--tokens", dir + "-tokens.json", "--audit-log", dir + "-audit.log",
            ]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            var lines = LineReader(handle: pipe.fileHandleForReading)
            let first = lines.next() ?? ""
            #expect(
                first.contains("readings") && first.contains("running") && first.contains("predictions"), "\(first)")
            kill(process.processIdentifier, SIGINT)
            var rest: [String] = []
            while let line = lines.next() { rest.append(line) }
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(rest.contains { $0.contains("stopped:") && $0.contains("all durable") }, "\(rest)")
            let log = try EventLog.open(directory: dir, configuration: .init(readOnly: true))
            counts.append(try log.topic("readings").recordCount)
            #expect(try log.topic("predictions").recordCount > 0)
        }
        #expect(counts[0] > 0 && counts[1] > counts[0])
        // The first start trained and promoted the failure model and the warnings' lead-time model; the second used
        // them.
        #expect(FileManager.default.fileExists(atPath: registry + "/failure/v1/weights.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: registry + "/failure/v2"))
        #expect(FileManager.default.fileExists(atPath: registry + "/lead/v1/weights.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: registry + "/lead/v2"))
    }
}
