import Foundation
import Kafka
import TestSupport
import Testing

/// The same commands on `kafka://` as on `embedded://`, against a real broker.
@Suite(.serialized) struct KafkaPipelineTests {
    /// simulate -> describe -> tail -> run, with the worker SIGKILLed three times: predictions + dead letters =
    /// readings, and no source offset has outputs twice.
    @Test func exactlyOnceOverKafkaAcrossKills() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await broker.ready()
        let bus = "kafka://127.0.0.1:\(broker.port)"
        let total = 50_000
        let sim = try await CLI.run([
            "simulate", "--machines", "20", "--count", "\(total)", "--fast", "--bad-fraction", "0.01", "--bus", bus,
            "--json",
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        let describe = try await CLI.run(["topics", "describe", "readings", "--bus", bus])
        #expect(describe.stdout.contains("8 partitions, 50,000 records"), "\(describe.stdout)")
        let tail = try await CLI.run(["tail", "readings", "--bus", bus, "--count", "5"])
        #expect(tail.status == 0 && tail.stdout.split(separator: "\n").count == 5, "\(tail.stderr)")

        let client = try KafkaClient(KafkaClientConfiguration(bootstrap: ["127.0.0.1:\(broker.port)"]))
        for _ in 0..<3 {
            try await CLI.killWorker(bus: bus, targets: 1_000...20_000) {
                try await client.describeTopic("predictions").partitions.reduce(0) { $0 + $1.latestOffset }
            }
        }
        let finish = try await CLI.run(["run", "--bus", bus, "--exit-when-idle", "2s", "--json"])
        #expect(finish.status == 0, "\(finish.stderr)")

        let (counts, duplicates) = try await Self.audit(client)
        await client.close()
        #expect(duplicates == 0)
        #expect(counts.values.reduce(0, +) == total, "predictions + dead letters = \(counts)")
        #expect(counts["dead-letters"] == total / 100)
    }

    /// Two workers in one group share the partitions; one is SIGKILLed mid-stream and the other takes its partitions
    /// over (after the group's session timeout), rebuilding their state from the checkpoints: predictions + dead
    /// letters = readings, no source offset twice.
    @Test func twoWorkersOneKilled() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await broker.ready()
        let bus = "kafka://127.0.0.1:\(broker.port)"
        let total = 100_000
        let sim = try await CLI.run([
            "simulate", "--machines", "20", "--count", "\(total)", "--fast", "--bad-fraction", "0.01", "--bus", bus,
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        let client = try KafkaClient(KafkaClientConfiguration(bootstrap: ["127.0.0.1:\(broker.port)"]))
        func outputs() async throws -> Int64 {
            var n: Int64 = 0
            for topic in ["predictions", "dead-letters"] {
                n += try await client.describeTopic(topic).partitions.reduce(0) { $0 + $1.latestOffset }
            }
            return n
        }
        // Each worker logs its partitions to stderr whenever they change.
        let logs = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: logs) }
        func worker(_ name: String) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = ["run", "--bus", bus]
            p.standardOutput = FileHandle.nullDevice
            FileManager.default.createFile(atPath: "\(logs)/\(name)", contents: nil)
            p.standardError = FileHandle(forWritingAtPath: "\(logs)/\(name)")
            try p.run()
            return p
        }
        /// The partitions a worker last said it owns.
        func owned(_ name: String) -> String? {
            let text = (try? String(contentsOfFile: "\(logs)/\(name)", encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").last(where: { $0.contains("partitions of readings now") }),
                let open = line.range(of: "now ["), let close = line[open.upperBound...].firstIndex(of: "]")
            else { return nil }
            return String(line[open.upperBound..<close])
        }
        let a = try worker("a")
        let b = try worker("b")
        // Both members of the group, each owning some of the 8 partitions, before one dies.
        var deadline = ContinuousClock.now + .seconds(60)
        func shared() -> Bool {
            guard let pa = owned("a"), let pb = owned("b") else { return false }
            let na = pa.split(separator: ",").count
            let nb = pb.split(separator: ",").count
            return na > 0 && nb > 0 && na + nb == 8
        }
        while !shared() && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
        #expect(
            shared(), "the two workers did not share the partitions: a \(owned("a") ?? "-"), b \(owned("b") ?? "-")")
        while (try? await outputs()) ?? 0 < 15_000 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(a.processIdentifier, SIGKILL)
        a.waitUntilExit()
        deadline = ContinuousClock.now + .seconds(120)
        while (try? await outputs()) ?? 0 < Int64(total) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        // b took a's partitions over.
        #expect(owned("b")?.split(separator: ",").count == 8, "b owns \(owned("b") ?? "-")")
        kill(b.processIdentifier, SIGTERM)
        b.waitUntilExit()
        let (counts, duplicates) = try await Self.audit(client)
        await client.close()
        #expect(duplicates == 0)
        #expect(counts.values.reduce(0, +) == total, "predictions + dead letters = \(counts)")
        #expect(counts["dead-letters"] == total / 100)
    }

    /// Reads predictions and dead letters to their ends: how many of each, and how many source offsets appear twice.
    static func audit(_ client: KafkaClient) async throws -> (counts: [String: Int], duplicates: Int) {
        var seen = Set<String>()
        var duplicates = 0
        var counts: [String: Int] = [:]
        for topic in ["predictions", "dead-letters"] {
            let end = try await client.describeTopic(topic).partitions.reduce(0) { $0 + $1.latestOffset }
            let consumer = KafkaConsumer(client: client, configuration: .init(group: nil, topics: [topic]))
            var read: Int64 = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while read < end && ContinuousClock.now < deadline {
                for r in try await consumer.poll(timeout: .milliseconds(500)) {
                    read += 1
                    let p = r.headers.first { $0.name == "src-partition" }!.value!
                    let o = r.headers.first { $0.name == "src-offset" }!.value!
                    if !seen.insert("\(p)/\(o)").inserted { duplicates += 1 }
                    counts[topic, default: 0] += 1
                }
            }
        }
        return (counts, duplicates)
    }
}
