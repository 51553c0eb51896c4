import Foundation
import Primitives
import Testing

@testable import EventLog

@Suite struct PartitionLogTests {
    static func record(_ i: Int, size: Int = 40) -> Record {
        let text = "record-\(i)-" + String(repeating: "v", count: max(0, size - 12))
        return Record(
            key: i % 3 == 0 ? nil : Array("k\(i % 5)".utf8), value: Array(text.utf8),
            headers: i % 4 == 0 ? [RecordHeader(name: "h", value: [UInt8(i % 256)])] : [], timestamp: 1_000 + Int64(i))
    }

    func open(_ dir: String, fsync: FsyncPolicy = .everyBatch, _ topic: TopicConfiguration = .init(partitions: 1))
        throws
        -> EventLog
    {
        try EventLog.open(directory: dir, configuration: .init(fsync: fsync, defaultTopic: topic))
    }

    func readAll(_ p: PartitionLog, from: Int64 = 0) throws -> [ConsumedRecord] {
        var out: [ConsumedRecord] = []
        var offset = from
        while true {
            let r = try p.read(from: offset, maxBytes: 1000)
            if r.records.isEmpty { return out }
            out += r.records
            offset = r.nextOffset
        }
    }

    @Test func appendAndReadBackAcrossSegments() throws {
        try withTemporaryDirectory { dir in
            let log = try open(dir, .init(partitions: 1, segmentBytes: 4096, indexIntervalBytes: 256))
            let p = try log.topic("t", create: true).partition(0)
            var expected: [Record] = []
            for batch in 0..<50 {
                let records = (0..<7).map { Self.record(batch * 7 + $0) }
                let result = try p.append(records)
                #expect(result.baseOffset == Int64(batch * 7))
                #expect(result.durable)
                expected += records
            }
            #expect(p.segmentCount >= 4)
            let all = try readAll(p)
            #expect(all.map(\.offset) == Array(0..<350))
            #expect(
                all.map { Record(key: $0.key, value: $0.value, headers: $0.headers, timestamp: $0.timestamp) }
                    == expected)
            // Reading from the middle of a batch starts at that offset.
            #expect(try p.read(from: 123, maxBytes: 10).records.first?.offset == 123)
            try log.close()
            // Reopen: every record is still there, offsets continue.
            let again = try open(dir)
            let q = try again.topic("t").partition(0)
            #expect(q.latestOffset == 350)
            #expect(try readAll(q).count == 350)
            #expect(try q.append([Self.record(999)]).baseOffset == 350)
        }
    }

    /// A read stops at `maxRecords`, inside a batch too, from any offset; reading on from where it stopped gives
    /// every record once, as reads without the limit do. With and without encryption (the sealed batches decode
    /// through the same path).
    @Test(arguments: [false, true]) func readStopsAtMaxRecords(encrypted: Bool) throws {
        try withTemporaryDirectory { dir in
            let keyring = try encrypted ? EncryptionTests.keyring([1]) : nil
            let log = try EventLog.open(
                directory: dir,
                configuration: .init(
                    fsync: .never, defaultTopic: .init(partitions: 1, segmentBytes: 4096, indexIntervalBytes: 256),
                    keyring: keyring))
            let p = try log.topic("t", create: true).partition(0)
            var expected: [Record] = []
            for batch in 0..<30 {
                let records = (0..<(batch % 7 + 1)).map { Self.record(expected.count + $0) }
                try p.append(records)
                expected += records
            }
            // (A read also ends where its segment ends: none of these crosses from one segment to the next.)
            for (start, limit) in [(0, 1), (0, 5), (3, 2), (17, 9), (40, 10), (Int64(expected.count) - 1, 3)] {
                let r = try p.read(from: Int64(start), maxBytes: 1 << 20, maxRecords: limit)
                let count = min(limit, expected.count - Int(start))
                #expect(r.records.map(\.offset) == Array(Int64(start)..<Int64(start) + Int64(count)))
                #expect(r.nextOffset == Int64(start) + Int64(count))
                #expect(r.records.map(\.key) == expected[Int(start)..<Int(start) + count].map(\.key))
            }
            for limit in [1, 2, 3, 7, 64] {
                var got: [ConsumedRecord] = []
                var offset: Int64 = 0
                while true {
                    let r = try p.read(from: offset, maxBytes: 700, maxRecords: limit)
                    if r.records.isEmpty { break }
                    #expect(r.records.count <= limit)
                    got += r.records
                    offset = r.nextOffset
                }
                #expect(
                    got.map { Record(key: $0.key, value: $0.value, headers: $0.headers, timestamp: $0.timestamp) }
                        == expected)
                #expect(got.map(\.offset) == Array(0..<Int64(expected.count)))
            }
            #expect { try p.read(from: 0, maxRecords: 0) } throws: { error in
                (error as? EventLogError)?.kind == .invalidArgument && "\(error)".contains("at least 1 record")
            }
            try log.close()
        }
    }

    @Test func tornTailIsCutAndCompleteBatchesKept() throws {
        try withTemporaryDirectory { dir in
            var log = try open(dir)
            var p = try log.topic("t", create: true).partition(0)
            for i in 0..<20 { try p.append([Self.record(i), Self.record(i + 100)]) }
            try log.close()
            let segment = dir + "/topics/t/0/" + Segment.fileName(0, "log")
            let size = try FileManager.default.attributesOfItem(atPath: segment)[.size] as! Int
            // Cut the last batch in half, as a crash in the middle of a write would.
            let handle = FileHandle(forWritingAtPath: segment)!
            try handle.truncate(atOffset: UInt64(size - 30))
            try handle.close()
            log = try open(dir)
            p = try log.topic("t").partition(0)
            #expect(p.latestOffset == 38)
            #expect(try readAll(p).count == 38)
            #expect(log.recoveryNotes.count == 1)
            #expect(log.recoveryNotes[0].contains("torn batch"))
            // The log goes on from the cut.
            #expect(try p.append([Self.record(7)]).baseOffset == 38)
            try log.close()
        }
    }

    @Test func garbageAfterTheLastBatchIsCut() throws {
        try withTemporaryDirectory { dir in
            var log = try open(dir)
            try log.topic("t", create: true).partition(0).append((0..<10).map { Self.record($0) })
            try log.close()
            let segment = dir + "/topics/t/0/" + Segment.fileName(0, "log")
            let handle = FileHandle(forWritingAtPath: segment)!
            handle.seekToEndOfFile()
            handle.write(Data((0..<100).map { UInt8($0) }))
            try handle.close()
            log = try open(dir)
            #expect(try readAll(log.topic("t").partition(0)).count == 10)
            #expect(log.recoveryNotes.first?.contains("no batch marker") == true)
        }
    }

    @Test func aFlippedBitIsAnErrorNeverARecord() throws {
        try withTemporaryDirectory { dir in
            let log = try open(dir)
            let p = try log.topic("t", create: true).partition(0)
            for i in 0..<100 { try p.append([Self.record(i, size: 400)]) }
            try log.close()
            // Flip a bit in batch 10, well before the last index entry (that region is trusted on open, and so
            // checked when read).
            let segment = dir + "/topics/t/0/" + Segment.fileName(0, "log")
            var bytes = try Data(contentsOf: URL(fileURLWithPath: segment))
            let batchSize = bytes.count / 100
            bytes[batchSize * 10 + batchSize / 2] ^= 0x10
            try bytes.write(to: URL(fileURLWithPath: segment))
            let reader = try EventLog.open(directory: dir, configuration: .init(readOnly: true))
            let q = try reader.topic("t").partition(0)
            #expect(q.latestOffset == 100)
            #expect(try q.read(from: 0, maxBytes: 1).records.map(\.offset) == [0])
            #expect { try q.read(from: 10, maxBytes: 1 << 20) } throws: { error in
                (error as? EventLogError)?.kind == .corrupt && "\(error)".contains("CRC32C mismatch")
            }
        }
    }

    @Test func lostIndexIsRebuilt() throws {
        try withTemporaryDirectory { dir in
            var log = try open(dir, .init(partitions: 1, segmentBytes: 1 << 20, indexIntervalBytes: 128))
            let p = try log.topic("t", create: true).partition(0)
            for i in 0..<200 { try p.append([Self.record(i)]) }
            try log.close()
            try FileManager.default.removeItem(atPath: dir + "/topics/t/0/" + Segment.fileName(0, "index"))
            log = try open(dir)
            let q = try log.topic("t").partition(0)
            #expect(try q.read(from: 150, maxBytes: 1).records.first?.offset == 150)
            #expect(q.latestOffset == 200)
        }
    }

    @Test func retentionBySizeDeletesOldSegmentsOnly() throws {
        try withTemporaryDirectory { dir in
            let log = try open(dir, .init(partitions: 1, segmentBytes: 2048, retentionBytes: 6000))
            let p = try log.topic("t", create: true).partition(0)
            for i in 0..<300 { try p.append([Self.record(i)]) }
            #expect(p.earliestOffset > 0)
            #expect(p.sizeInBytes <= 6000 + 2048 + 200)
            #expect(p.latestOffset == 300)
            #expect { try p.read(from: 0) } throws: { ($0 as? EventLogError)?.kind == .offsetOutOfRange }
            #expect(try readAll(p, from: p.earliestOffset).last?.offset == 299)
        }
    }

    @Test func retentionByAgeUsesWhenSegmentsWereWritten() throws {
        try withTemporaryDirectory { dir in
            let log = try open(dir, .init(partitions: 1, segmentBytes: 1024, retentionMilliseconds: 60_000))
            let p = try log.topic("t", create: true).partition(0)
            // Records from long ago (imported history) are kept: their segments were just written.
            for i in 0..<100 { try p.append([Record(value: Array("history-\(i)-padding".utf8), timestamp: 1_000)]) }
            try p.enforceRetention()
            #expect(p.earliestOffset == 0)
            // Segments not written to for longer than the retention go (the active one always stays).
            let partitionDir = dir + "/topics/t/0"
            let old = Date(timeIntervalSinceNow: -3600)
            for name in try FileManager.default.contentsOfDirectory(atPath: partitionDir) where name.hasSuffix(".log") {
                try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: partitionDir + "/" + name)
            }
            try p.enforceRetention()
            #expect(p.segmentCount == 1)
            #expect(p.earliestOffset > 0)
            #expect(try readAll(p, from: p.earliestOffset).last?.offset == 99)
        }
    }

    @Test func oneWriterAtATime() throws {
        try withTemporaryDirectory { dir in
            let log = try open(dir)
            #expect { try open(dir) } throws: { ($0 as? EventLogError)?.kind == .inUse }
            // Readers are welcome while the writer works.
            let reader = try EventLog.open(directory: dir, configuration: .init(readOnly: true))
            _ = try log.topic("t", create: true).partition(0).append([Self.record(1)])
            #expect(try reader.topic("t").partition(0).read(from: 0).records.count == 1)
            try log.close()
        }
    }

    @Test func readOnlyViewFollowsTheWriter() throws {
        try withTemporaryDirectory { dir in
            let log = try open(dir, .init(partitions: 1, segmentBytes: 2048))
            let p = try log.topic("t", create: true).partition(0)
            try p.append([Self.record(0)])
            let reader = try EventLog.open(directory: dir, configuration: .init(readOnly: true))
            let q = try reader.topic("t").partition(0)
            #expect(try readAll(q).count == 1)
            for i in 1..<200 { try p.append([Self.record(i)]) }  // rolls several segments
            #expect(try readAll(q).map(\.offset) == Array(0..<200))
        }
    }

    @Test func refusesAForeignDirectoryAndBadNames() throws {
        try withTemporaryDirectory { dir in
            FileManager.default.createFile(atPath: dir + "/notes.txt", contents: Data("mine".utf8))
            #expect { try open(dir) } throws: {
                ($0 as? EventLogError)?.message.contains("holds no Millstream log") == true
            }
            #expect(FileManager.default.contents(atPath: dir + "/notes.txt") == Data("mine".utf8))
            FileManager.default.createFile(atPath: dir + "/file", contents: Data())
            #expect { try open(dir + "/file") } throws: {
                ($0 as? EventLogError)?.message.contains("not a directory") == true
            }
            let log = try open(dir + "/sub")
            #expect { try log.createTopic("bad name") } throws: { ($0 as? EventLogError)?.kind == .invalidArgument }
            #expect { try log.createTopic("t", configuration: .init(partitions: 0)) } throws: {
                ($0 as? EventLogError)?.message == "partitions = 0 is invalid: expected 1 to 10000"
            }
        }
    }

    @Test func writeFailureLeavesTheLogAsAcknowledged() throws {
        try withTemporaryDirectory { dir in
            let log = try open(dir)
            let p = try log.topic("t", create: true).partition(0)
            try p.append((0..<10).map { Self.record($0) })
            // A record bigger than the log takes is refused before anything is written.
            #expect { try p.append([Record(value: [UInt8](repeating: 1, count: 65 << 20), timestamp: 0)]) } throws: {
                ($0 as? EventLogError)?.kind == .invalidArgument
            }
            #expect(p.latestOffset == 10)
            #expect(try readAll(p).count == 10)
        }
    }

    @Test func concurrentProducersAndConsumers() async throws {
        try await withTemporaryDirectory { dir in
            let log = try open(dir, fsync: .never, .init(partitions: 2, segmentBytes: 64 << 10))
            let topic = try log.topic("t", create: true)
            try await withThrowingTaskGroup(of: Int.self) { group in
                for producer in 0..<4 {
                    group.addTask {
                        for i in 0..<250 {
                            try topic.partition((producer + i) % 2).append([Self.record(producer * 1000 + i)])
                        }
                        return 0
                    }
                }
                for partition in 0..<2 {
                    group.addTask {
                        var offset: Int64 = 0
                        var seen = 0
                        while seen < 500 {
                            let version = topic.notifier.version
                            let r = try topic.partition(partition).read(from: offset)
                            if r.records.isEmpty {
                                await topic.notifier.wait(after: version, timeout: .seconds(5))
                                continue
                            }
                            #expect(r.records.first!.offset == offset)
                            seen += r.records.count
                            offset = r.nextOffset
                        }
                        return seen
                    }
                }
                var total = 0
                for try await n in group { total += n }
                #expect(total == 1000)
            }
            #expect(topic.recordCount == 1000)
        }
    }
}
