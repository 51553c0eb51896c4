import Foundation
import Testing

@testable import EventLog

@Suite struct GroupOffsetStoreTests {
    @Test func commitsSurviveReopenAndATornLastFrame() throws {
        try withTemporaryDirectory { dir in
            var log = try EventLog.open(directory: dir)
            let a = LogTopicPartition(topic: "readings", partition: 0)
            let b = LogTopicPartition(topic: "readings", partition: 3)
            try log.commit(group: "pipeline", offsets: [a: 10, b: 5])
            try log.commit(group: "pipeline", offsets: [a: 25])
            try log.close()
            // A half-written commit at the end is ignored.
            let path = dir + "/groups/pipeline.offsets"
            let handle = FileHandle(forWritingAtPath: path)!
            handle.seekToEndOfFile()
            handle.write(Data([40, 0, 0, 0, 1, 2, 3]))
            try handle.close()
            log = try EventLog.open(directory: dir)
            #expect(try log.committedOffsets(group: "pipeline") == [a: 25, b: 5])
            #expect(try log.groupNames() == ["pipeline"])
            try log.commit(group: "pipeline", offsets: [b: 6])
            try log.close()
            let reader = try EventLog.open(directory: dir, configuration: .init(readOnly: true))
            #expect(try reader.committedOffsets(group: "pipeline") == [a: 25, b: 6])
        }
    }

    @Test func compactsWhenLarge() throws {
        try withTemporaryDirectory { dir in
            let store = try GroupOffsetStore(group: "g", directory: dir, syncEachCommit: false, compactBytes: 1024)
            let a = LogTopicPartition(topic: "t", partition: 0)
            let b = LogTopicPartition(topic: "t", partition: 1)
            try store.commit([b: 7])
            for i in 0..<2_000 { try store.commit([a: Int64(i)]) }
            let size = try FileManager.default.attributesOfItem(atPath: dir + "/g.offsets")[.size] as! Int
            #expect(size <= 1024)
            let reopened = try GroupOffsetStore(group: "g", directory: dir, syncEachCommit: false)
            #expect(reopened.offsets == [a: 1_999, b: 7])
        }
    }
}
