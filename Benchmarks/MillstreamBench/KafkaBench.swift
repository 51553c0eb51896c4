import Foundation
import Kafka
import TestSupport

/// Swift client vs confluent-kafka (librdkafka), one run, one broker (Tansu 0.6 on loopback, started here): `count`
/// records of `size` bytes produced with acks=all, idempotent and not (librdkafka's default is not), and consumed
/// from the start.
enum KafkaBench {
    static func run(count: Int, size: Int, partitions: Int32) async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await broker.ready()
        let bootstrap = "127.0.0.1:\(broker.port)"
        let client = try KafkaClient(KafkaClientConfiguration(bootstrap: [bootstrap]))
        for t in ["swift-idempotent", "swift", "python-idempotent", "python"] {
            try await client.createTopic("bench-" + t, partitions: partitions)
        }
        print("kafka client: \(count) records of \(size) bytes, \(partitions) partitions, Tansu 0.6 on loopback")

        let idempotent = try await produce(client, "bench-swift-idempotent", count: count, size: size, idempotent: true)
        let plain = try await produce(client, "bench-swift", count: count, size: size, idempotent: false)
        await client.close()

        let consumerClient = try KafkaClient(KafkaClientConfiguration(bootstrap: [bootstrap]))
        let consumer = KafkaConsumer(
            client: consumerClient, configuration: .init(group: "bench-swift", topics: ["bench-swift"]))
        var seen = 0
        var first: ContinuousClock.Instant?
        while seen < count {
            let records = try await consumer.poll(maxRecords: 10_000, timeout: .seconds(5))
            if first == nil && !records.isEmpty { first = .now }
            seen += records.count
        }
        let consumeRate = Double(count) / (ContinuousClock.now - first!).seconds
        try await consumer.close()
        await consumerClient.close()

        let peerIdempotent = try peer([
            bootstrap, "bench-python-idempotent", "\(count)", "\(size)", "1", "produce-only",
        ])
        let peerPlain = try peer([bootstrap, "bench-python", "\(count)", "\(size)", "0"])
        row(
            "produce, idempotent", ours: idempotent, peer: peerIdempotent["produce"]!, peerName: "confluent-kafka",
            unit: "msg/s")
        row(
            "produce, not idempotent", ours: plain, peer: peerPlain["produce"]!, peerName: "confluent-kafka",
            unit: "msg/s")
        row(
            "consume (from the start)", ours: consumeRate, peer: peerPlain["consume"]!, peerName: "confluent-kafka",
            unit: "msg/s")
    }

    /// The records in sends of 10,000, four sends in flight (the producer pipelines them per broker).
    static func produce(_ client: KafkaClient, _ topic: String, count: Int, size: Int, idempotent: Bool) async throws
        -> Double
    {
        let value = [UInt8](repeating: 0x78, count: size)
        let chunk = 10_000
        let producer = KafkaProducer(client: client, configuration: .init(idempotent: idempotent))
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Int.self) { group in
            var next = 0
            func launch() {
                guard next < count else { return }
                let n = min(chunk, count - next)
                next += n
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let records = (0..<n).map { _ in KafkaProducerRecord(value: value, timestamp: now) }
                group.addTask { try await producer.send(records, to: topic).count }
            }
            for _ in 0..<4 { launch() }
            var acknowledged = 0
            while let n = try await group.next() {
                acknowledged += n
                launch()
            }
            precondition(acknowledged == count)
        }
        let rate = Double(count) / (ContinuousClock.now - started).seconds
        let note = idempotent ? "idempotent: \(await producer.idempotenceStatus ?? "on"), " : ""
        print(
            String(
                format: "  swift produce %.0f msg/s (%@retried batches %d, producer ids renewed %d)", rate, note,
                await producer.retries, await producer.producerIDResets))
        return rate
    }

    static func peer(_ arguments: [String]) throws -> [String: Double] {
        try pythonPeer(
            "Benchmarks/kafka/confluent_side.py", arguments,
            failure: "the confluent-kafka side failed (is confluent-kafka in .venv? run scripts/bootstrap)")
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
