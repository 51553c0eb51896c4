import CRC32C
import Synchronization

/// A topic and partition, the unit of assignment and of committed offsets.
public struct LogTopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int

    public init(topic: String, partition: Int) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (a: Self, b: Self) -> Bool { (a.topic, a.partition) < (b.topic, b.partition) }
    public var description: String { "\(topic)/\(partition)" }
}

/// The committed offsets of one consumer group, in an append-only file of CRC-checked commits.
///
/// Each commit is one frame `[u32 length][u32 crc32c][payload]`; on open the frames are replayed and a torn last
/// frame is cut off. When the file grows past `compactBytes` it is rewritten as one frame holding the latest values.
final class GroupOffsetStore: Sendable {
    let group: String
    let path: String
    let syncEachCommit: Bool
    private let state: Mutex<State>
    /// The file is rewritten as one frame once it would grow past this.
    let compactBytes: Int64

    private struct State {
        var offsets: [LogTopicPartition: Int64]
        var file: FileRef
        var size: Int64
    }

    init(group: String, directory: String, syncEachCommit: Bool, compactBytes: Int64 = 4 << 20) throws {
        self.compactBytes = compactBytes
        self.group = group
        self.path = directory + "/" + group + ".offsets"
        self.syncEachCommit = syncEachCommit
        let file = try FileRef.open(path, writable: true, create: true)
        var raw: [UInt8] = []
        let n = try file.read(at: 0, count: Int(try file.size()), into: &raw)
        let (offsets, valid) = Self.parse(raw[0..<n])
        if valid < n {
            try file.truncate(to: Int64(valid))
            try file.sync()
        }
        state = Mutex(State(offsets: offsets, file: file, size: Int64(valid)))
    }

    var offsets: [LogTopicPartition: Int64] { state.withLock { $0.offsets } }

    /// Reads the committed offsets in a store file without opening it for writing.
    static func replay(path: String) throws -> [LogTopicPartition: Int64] {
        parse(try FileSystem.readAll(path)[...]).offsets
    }

    /// Replays the frames in `raw`; returns the offsets and the length of the valid prefix.
    private static func parse(_ raw: ArraySlice<UInt8>) -> (offsets: [LogTopicPartition: Int64], valid: Int) {
        var offsets: [LogTopicPartition: Int64] = [:]
        var valid = 0
        raw.withUnsafeBytes { bytes in
            var reader = ByteReader(bytes)
            while let length = reader.readLittleEndian(UInt32.self), let crc = reader.readLittleEndian(UInt32.self),
                reader.remaining >= Int(length)
            {
                let payload = UnsafeRawBufferPointer(rebasing: bytes[reader.position..<reader.position + Int(length)])
                guard millstream_crc32c(0, payload.baseAddress, payload.count) == crc,
                    let entries = decode(payload)
                else { break }
                for (tp, offset) in entries { offsets[tp] = offset }
                reader.position += Int(length)
                valid = reader.position
            }
        }
        return (offsets, valid)
    }

    func commit(_ offsets: [LogTopicPartition: Int64]) throws {
        guard !offsets.isEmpty else { return }
        try state.withLock { state in
            let frame = Self.frame(offsets)
            if state.size + Int64(frame.count) > compactBytes {
                var all = state.offsets
                all.merge(offsets) { $1 }
                let snapshot = Self.frame(all)
                try FileSystem.writeAtomically(snapshot, to: path)
                state.file = try FileRef.open(path, writable: true)
                state.size = Int64(snapshot.count)
                state.offsets = all
                return
            }
            do {
                try frame.withUnsafeBytes { try state.file.write($0, at: state.size) }
                if syncEachCommit { try state.file.sync() }
            } catch {
                try? state.file.truncate(to: state.size)
                throw error
            }
            state.size += Int64(frame.count)
            state.offsets.merge(offsets) { $1 }
        }
    }

    private static func frame(_ offsets: [LogTopicPartition: Int64]) -> [UInt8] {
        var payload: [UInt8] = []
        payload.appendVarint(UInt64(offsets.count))
        for (tp, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            let name = Array(tp.topic.utf8)
            payload.appendVarint(UInt64(name.count))
            payload.append(contentsOf: name)
            payload.appendVarint(UInt64(tp.partition))
            payload.appendZigZag(offset)
        }
        var frame: [UInt8] = []
        frame.reserveCapacity(payload.count + 8)
        frame.appendLittleEndian(UInt32(payload.count))
        frame.appendLittleEndian(payload.withUnsafeBytes { millstream_crc32c(0, $0.baseAddress, $0.count) })
        frame.append(contentsOf: payload)
        return frame
    }

    private static func decode(_ payload: UnsafeRawBufferPointer) -> [(LogTopicPartition, Int64)]? {
        var reader = ByteReader(payload)
        guard let count = reader.readVarint(), count <= UInt64(payload.count) else { return nil }
        var entries: [(LogTopicPartition, Int64)] = []
        for _ in 0..<count {
            guard let length = reader.readVarint(), let name = reader.readBytes(Int(length)),
                let partition = reader.readVarint(), let offset = reader.readZigZag()
            else { return nil }
            entries.append(
                (LogTopicPartition(topic: String(decoding: name, as: UTF8.self), partition: Int(partition)), offset))
        }
        return entries
    }
}
