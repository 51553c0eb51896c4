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
        let proxy = try CuttingProxy(port: proxyPort, target: broker.port, cutEveryMs: 100)
        defer { proxy.stop() }
        let client = try KafkaClient(
            KafkaClientConfiguration(
                bootstrap: ["127.0.0.1:\(proxyPort)"], requestTimeout: .seconds(5), retryTimeout: .seconds(30)))
        try await client.retrying("create") { try await client.createTopic("cut", partitions: 3, ifNotExists: true) }
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
        #expect(acknowledged.count >= 90_000, "too few sends got through: \(failures) of 100 failed")
        let consumer = KafkaConsumer(
            client: client, configuration: .init(group: nil, topics: ["cut"], fetchMaxWait: .milliseconds(100)))
        var seen: [Int: Int] = [:]
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            do {
                for r in try await consumer.poll(timeout: .milliseconds(500)) {
                    seen[Int(String(decoding: r.value!, as: UTF8.self))!, default: 0] += 1
                    if let p = acknowledged[Int(String(decoding: r.value!, as: UTF8.self))!] {
                        #expect(p.partition == r.partition && p.offset == r.offset)
                    }
                }
            } catch let e as KafkaError where e.retriable {
                continue
            }
            if acknowledged.keys.allSatisfy({ seen[$0] != nil }) { break }
        }
        let lost = acknowledged.keys.filter { seen[$0] == nil }
        #expect(lost.isEmpty, "\(lost.count) acknowledged records lost")
        #expect(proxy.cuts > cutWhileProducing, "no connection was cut while consuming")
        let duplicates = seen.values.filter { $0 > 1 }.count
        #expect(duplicates == 0, "\(duplicates) records written twice")
        await client.close()
    }
}
