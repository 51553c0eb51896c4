import Foundation
import Kafka
import KafkaWire
import TestSupport
import Testing

/// A proxy (Tests/KafkaTests/Peer/proxy.py) between client and broker that drops every connection periodically.
final class CuttingProxy: @unchecked Sendable {
    let port: Int
    let process = Process()
    let countFile = FileManager.default.temporaryDirectory.appendingPathComponent("cuts-\(UUID().uuidString)").path

    /// How many connections the proxy has cut so far.
    var cuts: Int { Int((try? String(contentsOfFile: countFile, encoding: .utf8)) ?? "0") ?? 0 }

    init(port: Int, target: Int, cutEveryMs: Int) throws {
        self.port = port
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
            .standardized
        process.executableURL = root.appendingPathComponent(".venv/bin/python")
        process.arguments = [
            root.appendingPathComponent("Tests/KafkaTests/Peer/proxy.py").path, "\(port)", "\(target)", "\(cutEveryMs)",
            countFile,
        ]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        _ = out.fileHandleForReading.availableData  // "ready"
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: countFile)
    }
}

@Suite(.serialized) struct ConnectionCutTests {
    /// Every connection is cut every 100 ms while 100,000 records are produced and consumed through the proxy:
    /// every record acknowledged to the caller is on the broker and is read back.
    @Test func noAcknowledgedRecordIsLost() async throws {
        let proxyPort = TansuBroker.freePort()
        let broker = try TansuBroker(advertisedPort: proxyPort)
        defer { broker.stop() }
        try await broker.ready()
        let client = try KafkaClient(
            KafkaClientConfiguration(
                bootstrap: ["127.0.0.1:\(proxyPort)"], requestTimeout: .seconds(5), retryTimeout: .seconds(30)))
        // The topic is made through a proxy that does not cut yet: setting up is not what this test is about, and on
        // a loaded machine a create's round trips can take longer than the 100 ms between cuts.
        let calm = try CuttingProxy(port: proxyPort, target: broker.port, cutEveryMs: 3_600_000)
        try await client.retrying("create") { try await client.createTopic("cut", partitions: 3, ifNotExists: true) }
        calm.stop()
        let proxy = try CuttingProxy(port: proxyPort, target: broker.port, cutEveryMs: 100)
        defer { proxy.stop() }
        let producer = KafkaProducer(client: client)
        var acknowledged: [Int: KafkaRecordMetadata] = [:]
        var failures = 0
        for round in 0..<100 {
            let records = (0..<1000).map { j in
                let i = round * 1000 + j
                return KafkaProducerRecord(
                    key: Array("k\(i % 13)".utf8), value: Array("\(i)".utf8), timestamp: Int64(i))
            }
            do {
                let positions = try await producer.send(records, to: "cut")
                for (j, p) in positions.enumerated() { acknowledged[round * 1000 + j] = p }
            } catch {
                failures += 1  // not acknowledged: the caller knows, and may send again
            }
        }
        let cutWhileProducing = proxy.cuts
        #expect(cutWhileProducing >= 10, "the proxy cut only \(cutWhileProducing) connections")
        // What is tested is that nothing acknowledged is lost; this bound only keeps the test from passing on nothing.
        // Sends that a cut catches past their retries fail (the caller knows), more of them on a loaded machine: 79,000
        // to 87,000 of 100,000 got through when other builds shared the two cores, 90,000 and more on a quiet one.
        #expect(acknowledged.count >= 50_000, "too few sends got through: \(failures) of 100 failed")
        // Read everything on the broker (to the end it describes), noting where each record is.
        let end = try await client.retrying("describe") { try await client.describeTopic("cut") }
        let total = end.partitions.reduce(0) { $0 + $1.latestOffset - $1.earliestOffset }
        let consumer = KafkaConsumer(
            client: client, configuration: .init(group: nil, topics: ["cut"], fetchMaxWait: .milliseconds(100)))
        var locations: [Int: [KafkaRecordMetadata]] = [:]
        var read: Int64 = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while read < total && ContinuousClock.now < deadline {
            do {
                for r in try await consumer.poll(timeout: .milliseconds(500)) {
                    locations[Int(String(decoding: r.value!, as: UTF8.self))!, default: []].append(
                        KafkaRecordMetadata(partition: r.partition, offset: r.offset))
                    read += 1
                }
            } catch let e as KafkaError where e.retriable {
                continue
            }
        }
        #expect(proxy.cuts > cutWhileProducing, "no connection was cut while consuming")
        let lost = acknowledged.keys.filter { locations[$0] == nil }
        #expect(lost.isEmpty, "\(lost.count) acknowledged records lost")
        // Every record is where the producer said (offset -1: acknowledged, offset unknown: a retried batch the
        // broker answered DUPLICATE_SEQUENCE_NUMBER, to which Tansu gives no offset).
        let misplaced = acknowledged.filter { i, p in
            p.offset != -1 && !(locations[i] ?? []).contains(p)
        }
        #expect(
            misplaced.count == 0,
            "\(misplaced.count) records not where the producer said, e.g. \(misplaced.first.map { "\($0)" } ?? "")")
        // Written twice: only possible for a batch that was retried. Kafka's per-partition deduplication makes it
        // never happen; Tansu 0.6, when a retry on a new connection races its first try still inside the broker, can
        // write both (seen only on a loaded machine). Counted, and bounded by what was retried.
        let duplicates = locations.values.filter { $0.count > 1 }.count
        let retried = await producer.retries
        #expect(duplicates <= retried * 1000, "\(duplicates) records written twice, \(retried) batches retried")
        await client.close()
    }
}

@Suite(.serialized) struct BrokerRestartTests {
    /// The broker goes away and comes back on the same port (empty: Tansu's memory storage): the same client,
    /// producer and consumer carry on once the topic exists again, without being recreated.
    @Test func clientsCarryOnAcrossABrokerRestart() async throws {
        var broker = try TansuBroker()
        try await broker.ready()
        let port = broker.port
        let client = try KafkaClient(
            KafkaClientConfiguration(
                bootstrap: ["127.0.0.1:\(port)"], requestTimeout: .seconds(5), retryTimeout: .seconds(60)))
        try await client.createTopic("r", partitions: 2)
        let producer = KafkaProducer(client: client)
        let records = (0..<500).map {
            KafkaProducerRecord(key: Array("k\($0 % 5)".utf8), value: Array("\($0)".utf8), timestamp: 0)
        }
        _ = try await producer.send(records, to: "r")
        let consumer = KafkaConsumer(client: client, configuration: .init(group: nil, topics: ["r"]))
        var seen = 0
        while seen < 500 { seen += try await consumer.poll(timeout: .seconds(1)).count }

        broker.stop()
        broker = try TansuBroker(port: port)
        defer { broker.stop() }
        try await broker.ready()
        try await client.createTopic("r", partitions: 2)
        // Fewer records than before, so the consumer's positions lie beyond the new log's end.
        let positions = try await producer.send(Array(records.prefix(300)), to: "r")
        #expect(positions.count == 300 && positions.allSatisfy { $0.offset >= 0 })
        // The consumer's positions are beyond the new log's end (Tansu answers such fetches with nothing rather than
        // OFFSET_OUT_OF_RANGE): it resets to the earliest, as its start policy says, and reads the new records.
        let restarted = consumer
        var again = 0
        // Generous: what is tested is that the records come, not how fast (a loaded machine can take seconds).
        let deadline = ContinuousClock.now + .seconds(90)
        while again < 300 && ContinuousClock.now < deadline {
            again += try await restarted.poll(timeout: .seconds(1)).count
        }
        #expect(again == 300)
        await client.close()
    }
}
