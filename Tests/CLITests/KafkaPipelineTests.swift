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
        await client.close()
        #expect(duplicates == 0)
        #expect(counts.values.reduce(0, +) == total, "predictions + dead letters = \(counts)")
        #expect(counts["dead-letters"] == total / 100)
    }
}
