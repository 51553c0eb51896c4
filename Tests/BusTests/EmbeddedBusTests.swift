import Bus
import BusEmbedded
import Buses
import EventLog
import Foundation
import Primitives
import Testing

@Suite struct EmbeddedBusTests {
    func records(_ n: Int, keys: Int) -> [Record] {
        (0..<n).map { i in Record(key: Array("m\(i % keys)".utf8), value: Array("v\(i)".utf8), timestamp: Int64(i)) }
    }

    @Test func keysStayOnTheirPartitionInOrder() async throws {
        try await withTemporaryDirectory { dir in
            let bus = try openBus("embedded://\(dir)?partitions=4&fsync=never")
            let producer = try await bus.producer()
            let positions = try await producer.send(records(400, keys: 10), to: "readings")
            for (i, p) in positions.enumerated() {
                #expect(p.partition == Partitioner.partition(forKey: Array("m\(i % 10)".utf8), partitions: 4))
            }
            let consumer = try await bus.consumer(ConsumerOptions(topics: ["readings"]))
            var got: [ConsumedRecord] = []
            while got.count < 400 { got += try await consumer.poll(maxRecords: 1000, timeout: .seconds(5)) }
            #expect(got.count == 400)
            for key in 0..<10 {
                let values = got.filter { $0.key == Array("m\(key)".utf8) }.map {
                    String(decoding: $0.value, as: UTF8.self)
                }
                #expect(values == stride(from: key, to: 400, by: 10).map { "v\($0)" })
            }
            #expect(try await bus.describeTopic("readings").records == 400)
            try await bus.close()
        }
    }

    /// A send whose records for a partition are together (appended as a slice of the send) and one whose records
    /// alternate between partitions (gathered first): each record lands where it says, at the position the send
    /// returned, in order, and reads back with its topic, partition, offset, key, value and headers; a poll of
    /// several partitions returns at most what it asks for and the rest on the next poll.
    @Test func explicitPartitionsTogetherOrAlternatingReadBackAsSent() async throws {
        try await withTemporaryDirectory { dir in
            let bus = try openBus("embedded://\(dir)?partitions=3&fsync=never")
            let producer = try await bus.producer()
            func record(_ i: Int, partition: Int) -> Record {
                Record(
                    key: i % 2 == 0 ? nil : Array("k\(i)".utf8), value: Array("v\(i)".utf8),
                    headers: [RecordHeader(name: "n", value: Array("\(i)".utf8))], timestamp: Int64(1000 + i),
                    partition: partition)
            }
            let together = (0..<30).map { record($0, partition: $0 / 10) }
            let alternating = (30..<60).map { record($0, partition: $0 % 3) }
            var sent = try await producer.send(together, to: "t")
            sent += try await producer.send(alternating, to: "t")
            let all = together + alternating
            #expect(sent.map(\.partition) == all.map { $0.partition! })
            let consumer = try await bus.consumer(ConsumerOptions(topics: ["t"]))
            var got: [ConsumedRecord] = []
            var polls = 0
            while got.count < 60 && polls < 20 {
                let batch = try await consumer.poll(maxRecords: 7, timeout: .seconds(5))
                #expect(batch.count <= 7)
                got += batch
                polls += 1
            }
            #expect(got.count == 60)
            for (i, r) in all.enumerated() {
                let back = got.filter { $0.partition == r.partition && $0.offset == sent[i].offset }
                #expect(back.count == 1)
                guard let b = back.first else { continue }
                #expect(b.topic == "t" && b.key == r.key && b.value == r.value && b.headers == r.headers)
                #expect(b.timestamp == r.timestamp)
            }
            for p in 0..<3 {
                let values = got.filter { $0.partition == p }.map { String(decoding: $0.value, as: UTF8.self) }
                let expected = all.filter { $0.partition == p }.map { String(decoding: $0.value, as: UTF8.self) }
                #expect(values == expected)
            }
            try await bus.close()
        }
    }

    @Test func pollWakesOnAppend() async throws {
        try await withTemporaryDirectory { dir in
            let bus = try openBus("embedded://\(dir)?partitions=2")
            let consumer = try await bus.consumer(ConsumerOptions(topics: ["t"], start: .latest))
            let producer = try await bus.producer()
            async let waited = consumer.poll(maxRecords: 10, timeout: .seconds(30))
            try await Task.sleep(for: .milliseconds(50))
            _ = try await producer.send(records(1, keys: 1), to: "t")
            let start = ContinuousClock.now
            let got = try await waited
            #expect(got.count == 1)
            #expect(ContinuousClock.now - start < .seconds(5))
        }
    }

    @Test func groupMembersSplitPartitionsAndTakeOverWithCommittedOffsets() async throws {
        try await withTemporaryDirectory { dir in
            let bus = try openBus("embedded://\(dir)?partitions=6&fsync=never")
            let producer = try await bus.producer()
            _ = try await producer.send(records(600, keys: 60), to: "readings")
            let a = try await bus.consumer(ConsumerOptions(group: "pipeline", topics: ["readings"]))
            let b = try await bus.consumer(ConsumerOptions(group: "pipeline", topics: ["readings"]))
            let assignedA = try await a.assignment()
            let assignedB = try await b.assignment()
            #expect(assignedA.count == 3 && assignedB.count == 3)
            #expect(Set(assignedA).isDisjoint(with: assignedB))
            // A reads and commits part of its share, then leaves.
            var readByA: [ConsumedRecord] = []
            while readByA.count < 50 { readByA += try await a.poll(maxRecords: 50, timeout: .seconds(5)) }
            var commit: [TopicPartition: Int64] = [:]
            for r in readByA { commit[r.topicPartition] = max(commit[r.topicPartition] ?? 0, r.offset + 1) }
            try await a.commit(commit)
            try await a.close()
            // B takes over A's partitions from A's committed offsets: nothing lost, nothing read twice.
            var readByB: [ConsumedRecord] = []
            while readByB.count < 550 {
                let got = try await b.poll(maxRecords: 1000, timeout: .seconds(5))
                if got.isEmpty { break }
                readByB += got
            }
            #expect(try await b.assignment().count == 6)
            let all = (readByA + readByB).map { "\($0.partition)/\($0.offset)" }
            #expect(all.count == 600 && Set(all).count == 600)
            // A commit from a member that no longer owns the partition is refused.
            await #expect(throws: BusError.self) { try await a.commit([assignedA[0]: 1]) }
        }
    }

    @Test func badInput() async throws {
        #expect { try openBus("embedded:///proc/millstream-test") } throws: { "\($0)".contains("/proc") }
        #expect { try openBus("embedded://x?fsync=sometimes") } throws: { "\($0)".contains("fsync=sometimes") }
        #expect { try openBus("embedded://x?colour=blue") } throws: { "\($0)".contains("unknown option 'colour'") }
        #expect { try openBus("embedded:///nonexistent-dir-x", readOnly: true) } throws: {
            "\($0)".contains("no Millstream log")
        }
    }
}
