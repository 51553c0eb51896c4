import AtRest
import Crypto
import EventLog
import Foundation
import Primitives

/// Embedded log append and read throughput for 200-byte records, one thread, beside the same bytes written and read
/// with plain pwrite/pread (the disk's and page cache's own speed: the ceiling for any log).
enum EventLogBench {
    static let recordBytes = 200
    static let batch = 1000

    static func run(records: Int, directory: String) throws {
        print("embedded log: \(records) records of \(recordBytes) B, batches of \(batch), one partition, one thread")
        print(
            "peer: raw pwrite of the same bytes with the same fsync cadence; raw pread copying each value out; same run"
        )
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: recordBytes)
        let key = Array("plant1/line1/m07".utf8)
        let batchRecords = (0..<batch).map { _ in Record(key: key, value: value, timestamp: 1_764_000_000_000) }
        let policies: [(String, FsyncPolicy, Int)] = [
            ("append, fsync every 100 ms", .interval(.milliseconds(100)), records),
            ("append, fsync every batch", .everyBatch, min(records, 200_000)),
            ("append, no fsync", .never, records),
        ]
        var readDirectory = ""
        for (name, policy, count) in policies {
            let dir = directory + "-" + String(name.hash & 0xffff)
            defer { if policy != .interval(.milliseconds(100)) { try? FileManager.default.removeItem(atPath: dir) } }
            let log = try EventLog.open(
                directory: dir,
                configuration: .init(fsync: policy, defaultTopic: .init(partitions: 1, segmentBytes: 256 << 20)))
            let partition = try log.topic("bench", create: true).partition(0)
            let ours = try seconds {
                for _ in 0..<(count / batch) {
                    try partition.append(batchRecords)
                    try partition.syncIfDue()  // what the bus's flusher does on its interval
                }
                try partition.sync()
            }
            try log.close()
            let peer = try rawWrite(count: count, policy: policy, path: dir + "/raw.bin")
            row(name, ours: Double(count) / ours, peer: Double(count) / peer, peerName: "raw", unit: "rec/s")
            if policy == .interval(.milliseconds(100)) { readDirectory = dir }
        }
        // Sequential read of what the 100 ms run wrote (page cache warm for both).
        let log = try EventLog.open(directory: readDirectory, configuration: .init(readOnly: true))
        let partition = try log.topic("bench").partition(0)
        var total = 0
        var checksum = 0
        let ours = try seconds {
            var offset = partition.earliestOffset
            while true {
                let result = try partition.read(from: offset, maxBytes: 1 << 20)
                if result.records.isEmpty { break }
                total += result.records.count
                checksum &+= result.records.last!.value.count
                offset = result.nextOffset
            }
        }
        precondition(total == records, "read \(total) of \(records) records")
        let peer = try rawRead(path: readDirectory + "/raw.bin", records: records)
        row(
            "sequential read (CRC checked)", ours: Double(total) / ours, peer: Double(records) / peer,
            peerName: "raw+copy", unit: "rec/s")
        print("  (checksum \(checksum))")
        try? FileManager.default.removeItem(atPath: readDirectory)
    }

    /// Encryption at rest's cost: the same appends (fsync every 100 ms, the default) and sequential reads with and
    /// without a keyring, alternated five times in one run; the best of each, and the ratio (goal: append ≥ 0.8×).
    static func encryption(records: Int, directory: String) throws {
        print("embedded log, encrypted (AES-256-GCM per batch) vs plain: \(records) records of \(recordBytes) B")
        print("in batches of \(batch), one partition, one thread, fsync every 100 ms; best of 5 alternated runs each")
        let keyring = try Keyring(keys: [(1, SymmetricKey(size: .bits256))], source: "bench")
        let value = (0..<recordBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let key = Array("plant1/line1/m07".utf8)
        let batchRecords = (0..<batch).map { _ in Record(key: key, value: value, timestamp: 1_764_000_000_000) }
        var best: [Bool: (append: Double, read: Double)] = [:]
        for round in 0..<10 {
            let encrypted = round % 2 == 1
            let dir = directory + "-enc-\(round)"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let log = try EventLog.open(
                directory: dir,
                configuration: .init(
                    fsync: .interval(.milliseconds(100)), defaultTopic: .init(partitions: 1, segmentBytes: 256 << 20),
                    keyring: encrypted ? keyring : nil))
            let partition = try log.topic("bench", create: true).partition(0)
            let append = try seconds {
                for _ in 0..<(records / batch) {
                    try partition.append(batchRecords)
                    try partition.syncIfDue()
                }
                try partition.sync()
            }
            var total = 0
            let read = try seconds {
                var offset = partition.earliestOffset
                while true {
                    let result = try partition.read(from: offset, maxBytes: 1 << 20)
                    if result.records.isEmpty { break }
                    total += result.records.count
                    offset = result.nextOffset
                }
            }
            precondition(total == records, "read \(total) of \(records)")
            try log.close()
            let previous = best[encrypted] ?? (.infinity, .infinity)
            best[encrypted] = (min(previous.append, append), min(previous.read, read))
        }
        let plain = best[false]!
        let sealed = best[true]!
        row(
            "append", ours: Double(records) / sealed.append, peer: Double(records) / plain.append, peerName: "plain",
            unit: "rec/s")
        row(
            "sequential read", ours: Double(records) / sealed.read, peer: Double(records) / plain.read,
            peerName: "plain", unit: "rec/s")
        print("  (ours: encrypted; the ratio is encrypted / plain; goal for append ≥ 0.80)")
    }

    /// The same bytes per batch as the log writes (records plus their framing), with the same fsync cadence.
    static func rawWrite(count: Int, policy: FsyncPolicy, path: String) throws -> Double {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        defer { close(fd) }
        let chunk = [UInt8](repeating: 1, count: batch * (recordBytes + 20))
        var lastSync = ContinuousClock.now
        var position = 0
        return seconds {
            for _ in 0..<(count / batch) {
                chunk.withUnsafeBytes { _ = pwrite(fd, $0.baseAddress, $0.count, off_t(position)) }
                position += chunk.count
                switch policy {
                case .everyBatch: fdatasync(fd)
                case .interval(let d):
                    if ContinuousClock.now - lastSync >= d {
                        fdatasync(fd)
                        lastSync = .now
                    }
                case .never: break
                }
            }
            fdatasync(fd)
        }
    }

    /// The floor for any reader that hands out records as values: pread the bytes and copy each record's value
    /// into its own array (no framing, no CRC, no offsets).
    static func rawRead(path: String, records: Int) throws -> Double {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0)
        defer { close(fd) }
        let stride = recordBytes + 20
        var buffer = [UInt8](repeating: 0, count: (1 << 20) / stride * stride)
        var sum = 0
        let t = seconds {
            var position = 0
            var values: [[UInt8]] = []
            values.reserveCapacity(buffer.count / stride)
            while true {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(position)) }
                if n <= 0 { break }
                values.removeAll(keepingCapacity: true)
                buffer.withUnsafeBytes { raw in
                    for start in Swift.stride(from: 0, to: n - stride + 1, by: stride) {
                        values.append([UInt8](UnsafeRawBufferPointer(rebasing: raw[start + 20..<start + stride])))
                    }
                }
                sum &+= values.count
                position += n
            }
        }
        precondition(sum == records, "raw read \(sum) of \(records)")
        return t
    }
}
