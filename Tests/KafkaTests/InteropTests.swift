import Foundation
import Kafka
import KafkaWire
import Primitives
import TestSupport
import Testing

/// Runs the confluent-kafka peer (Tests/KafkaTests/Peer/peer.py) in the project venv; returns its stdout lines.
func runPeer(_ arguments: [String]) throws -> [Substring] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
    let process = Process()
    process.executableURL = root.appendingPathComponent(".venv/bin/python")
    process.arguments = [root.appendingPathComponent("Tests/KafkaTests/Peer/peer.py").path] + arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes to the end before waiting, so a full pipe cannot stall the peer.
    let errData = Atomic<Data>()
    let errReader = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
    errReader.start()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errData.isSet { usleep(1000) }
    guard process.terminationStatus == 0 else {
        throw KafkaError(
            "peer.py \(arguments.joined(separator: " ")) failed: \(String(decoding: errData.value ?? Data(), as: UTF8.self).suffix(2000))"
        )
    }
    return String(decoding: data, as: UTF8.self).split(separator: "\n")
}

/// A value set once from another thread.
final class Atomic<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    private var done = false
    func set(_ v: T) {
        lock.lock()
        stored = v
        done = true
        lock.unlock()
    }
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return done
    }
    var value: T? {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}

extension Array where Element == UInt8 {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

/// Both ways with a second, independent client: confluent-kafka 2.x (librdkafka).
@Suite(.serialized) struct InteropTests {
    @Test func swiftProducesPythonConsumes() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await broker.ready()
        let client = try ClientTests.client(broker)
        try await client.createTopic("to-python", partitions: 6)
        let producer = KafkaProducer(client: client)
        let total = 50_000
        let records = (0..<total).map { i in
            KafkaProducerRecord(
                key: Array("machine-\(i % 97)".utf8),
                value: Array("swift record \(i) ".utf8) + [UInt8](repeating: UInt8(i % 251), count: i % 64),
                timestamp: 1_700_000_000_000 + Int64(i))
        }
        var positions: [KafkaRecordMetadata] = []
        for chunk in stride(from: 0, to: total, by: 10_000) {
            positions += try await producer.send(Array(records[chunk..<chunk + 10_000]), to: "to-python")
        }
        await client.close()
        let lines = try await blocking {
            try runPeer(["consume", "127.0.0.1:\(broker.port)", "to-python", "\(total)"])
        }
        #expect(lines.count == total)
        var expected: [String: Int] = [:]
        for (i, p) in positions.enumerated() { expected["\(p.partition) \(p.offset)"] = i }
        var matched = 0
        for line in lines {
            let f = line.split(separator: " ")
            guard f.count == 4, let i = expected["\(f[0]) \(f[1])"] else {
                Issue.record("python read a record Swift did not produce at \(f.prefix(2))")
                continue
            }
            if f[2] == records[i].key!.hex && f[3] == records[i].value!.hex { matched += 1 }
        }
        #expect(matched == total, "records intact: \(matched) of \(total)")
    }

    @Test(arguments: ["none", "gzip", "lz4", "zstd", "snappy"])
    func pythonProducesSwiftConsumes(codec: String) async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await broker.ready()
        let client = try ClientTests.client(broker)
        try await client.createTopic("from-python", partitions: 5)
        let total = 20_000
        let reports = try await blocking {
            try runPeer(["produce", "127.0.0.1:\(broker.port)", "from-python", "\(total)", codec])
        }
        #expect(reports.count == total)
        var partitionOf: [Int: Int32] = [:]
        for line in reports {
            let f = line.split(separator: " ")
            partitionOf[Int(f[0])!] = Int32(f[1])!
        }
        // The batches on the broker are in the codec asked for (read raw, without the consumer).
        let (raw, version) = try await client.send(
            to: try await client.partitions(of: "from-python")[0].leader,
            FetchRequest(
                maxWaitMs: 100, topics: [("from-python", [.init(index: 0, fetchOffset: 0, maxBytes: 1 << 20)])]))
        var response = raw
        var batches = try FetchResponse.read(from: &response, version: version).topics[0].partitions[0].records!
        let first = try RecordBatch.read(from: &batches)
        #expect("\(first.compression!)" == codec)
        #expect(codec == "none" || first.records.count > 1)
        let consumer = KafkaConsumer(client: client, configuration: .init(group: nil, topics: ["from-python"]))
        var seen = Set<Int>()
        let deadline = ContinuousClock.now + .seconds(30)
        while seen.count < total && ContinuousClock.now < deadline {
            for r in try await consumer.poll(timeout: .seconds(1)) {
                let text = String(decoding: r.value!, as: UTF8.self)
                let i = Int(text.split(separator: " ").last!)!
                #expect(text == "\(codec) record \(i)")
                #expect(r.key == Array("machine-\(i % 97)".utf8))
                #expect(r.headers.first?.value == Array("\(i)".utf8))
                // The same key lands on the same partition from both clients.
                #expect(r.partition == partitionOf[i])
                #expect(r.partition == Int32(Partitioner.partition(forKey: r.key!, partitions: 5)))
                seen.insert(i)
            }
        }
        #expect(seen.count == total)
        await client.close()
    }
}
