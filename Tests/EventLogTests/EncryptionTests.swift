import AtRest
import CRC32C
import Crypto
import Foundation
import Primitives
import Testing

@testable import EventLog

/// Encryption at rest of the log's batches (AES-256-GCM with the keyring's keys): what is on disk reveals no record,
/// recovery still cuts torn tails, a rotated keyring reads old batches and writes new ones with the new key, and a
/// missing, wrong or tampered key is an error that says so, never a record.
@Suite struct EncryptionTests {
    static func keyring(_ ids: [UInt32], seed: UInt8 = 0) throws -> Keyring {
        try Keyring(
            keys: ids.map { id in (id, SymmetricKey(data: (0..<32).map { UInt8($0) &+ UInt8(id) &* 37 &+ seed })) },
            source: "test keys")
    }

    func open(_ dir: String, _ keyring: Keyring?, readOnly: Bool = false) throws -> EventLog {
        try EventLog.open(
            directory: dir,
            configuration: .init(
                fsync: .everyBatch, defaultTopic: .init(partitions: 1, segmentBytes: 8192, indexIntervalBytes: 512),
                readOnly: readOnly, keyring: keyring))
    }

    func readAll(_ p: PartitionLog) throws -> [ConsumedRecord] {
        var out: [ConsumedRecord] = []
        var offset = p.earliestOffset
        while true {
            let r = try p.read(from: offset, maxBytes: 4096)
            if r.records.isEmpty { return out }
            out += r.records
            offset = r.nextOffset
        }
    }

    static func record(_ i: Int) -> Record {
        Record(
            key: Array("plant1/line1/m\(i % 7)".utf8), value: Array("secret reading \(i) torque 42.5".utf8),
            headers: [RecordHeader(name: "src", value: [UInt8(i % 256)])], timestamp: 1_000 + Int64(i))
    }

    static func segmentBytes(_ dir: String) throws -> Data {
        let p = dir + "/topics/t/0"
        return try FileManager.default.contentsOfDirectory(atPath: p).filter { $0.hasSuffix(".log") }.sorted()
            .reduce(into: Data()) { $0 += try Data(contentsOf: URL(fileURLWithPath: p + "/" + $1)) }
    }

    @Test func batchesAreUnreadableOnDiskAndReadBackWithTheKeys() throws {
        try withTemporaryDirectory { dir in
            let keys = try Self.keyring([1])
            let log = try open(dir, keys)
            let p = try log.topic("t", create: true).partition(0)
            for i in 0..<60 { try p.append([Self.record(i * 2), Self.record(i * 2 + 1)]) }
            #expect(p.segmentCount > 1)
            try log.close()
            let disk = try Self.segmentBytes(dir)
            #expect(disk.range(of: Data("secret reading".utf8)) == nil && disk.range(of: Data("plant1".utf8)) == nil)
            // The header stays readable (offsets, counts, times): recovery and the index need no key.
            let again = try open(dir, keys)
            let records = try readAll(again.topic("t").partition(0))
            #expect(records.map(\.offset) == Array(0..<120))
            #expect(records.map(\.value) == (0..<120).map { Self.record($0).value })
            #expect(records.map(\.headers) == (0..<120).map { Self.record($0).headers })
            try again.close()
        }
    }

    @Test func tornEncryptedTailIsCutAndTheRestReads() throws {
        try withTemporaryDirectory { dir in
            let keys = try Self.keyring([1])
            var log = try open(dir, keys)
            for i in 0..<20 { try log.topic("t", create: true).partition(0).append([Self.record(i)]) }
            try log.close()
            let segment = dir + "/topics/t/0/" + Segment.fileName(0, "log")
            let size = try FileManager.default.attributesOfItem(atPath: segment)[.size] as! Int
            let handle = FileHandle(forWritingAtPath: segment)!
            try handle.truncate(atOffset: UInt64(size - 10))
            try handle.close()
            log = try open(dir, keys)
            let p = try log.topic("t").partition(0)
            #expect(p.latestOffset == 19 && log.recoveryNotes.first?.contains("torn batch") == true)
            #expect(try readAll(p).count == 19)
            #expect(try p.append([Self.record(99)]).baseOffset == 19)
            try log.close()
        }
    }

    @Test func rotationReadsOldBatchesAndWritesWithTheNewKey() throws {
        try withTemporaryDirectory { dir in
            var log = try open(dir, try Self.keyring([1]))
            try log.topic("t", create: true).partition(0).append((0..<10).map(Self.record))
            try log.close()
            // Key 2 added: the old batches read with key 1, new ones are written with key 2.
            log = try open(dir, try Self.keyring([1, 2]))
            try log.topic("t").partition(0).append((10..<20).map(Self.record))
            #expect(try readAll(log.topic("t").partition(0)).count == 20)
            try log.close()
            // Only key 2: the new batch reads, the old one names the key it needs.
            let onlyNew = try open(dir, try Self.keyring([2]), readOnly: true)
            let p = try onlyNew.topic("t").partition(0)
            #expect(try p.read(from: 10, maxBytes: 1 << 20).records.count == 10)
            #expect { try p.read(from: 0, maxBytes: 1 << 20) } throws: { error in
                (error as? EventLogError)?.kind == .encrypted
                    && "\(error)".contains("was encrypted with key 1, which test keys does not hold (it holds 2)")
            }
        }
    }

    @Test func aMissingWrongOrTamperedKeyIsAnErrorNeverARecord() throws {
        try withTemporaryDirectory { dir in
            let log = try open(dir, try Self.keyring([1]))
            for i in 0..<10 { try log.topic("t", create: true).partition(0).append([Self.record(i)]) }
            try log.close()
            // No keys: refused when opened, by the marker, before anything is read.
            #expect { try open(dir, nil) } throws: { error in
                (error as? EventLogError)?.kind == .encrypted
                    && "\(error)".contains("is encrypted: set MILLSTREAM_DATA_KEYS_FILE")
            }
            // Key 1, but other bytes: authentication fails.
            let wrong = try open(dir, try Self.keyring([1], seed: 9), readOnly: true)
            #expect { try wrong.topic("t").partition(0).read(from: 0, maxBytes: 100) } throws: { error in
                (error as? EventLogError)?.kind == .encrypted && "\(error)".contains("does not decrypt with key 1")
            }
            // A batch's header altered (its base timestamp: every record's time), its CRC made to match: the tag refuses
            // it.
            let segment = dir + "/topics/t/0/" + Segment.fileName(0, "log")
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: segment)))
            bytes[24] ^= 0x40  // base timestamp of the first batch
            let length = Int(UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16) + 8
            let crc = bytes.withUnsafeBytes { millstream_crc32c(0, $0.baseAddress! + 12, length - 12) }
            bytes.setLittleEndian(crc, at: 8)
            try Data(bytes).write(to: URL(fileURLWithPath: segment))
            let reader = try open(dir, try Self.keyring([1]), readOnly: true)
            #expect { try reader.topic("t").partition(0).read(from: 0, maxBytes: 100) } throws: { error in
                (error as? EventLogError)?.kind == .encrypted && "\(error)".contains("or the data was altered")
            }
        }
    }

    @Test func keyringsFromTheEnvironmentAndTheirErrors() throws {
        let a = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let b = Data((0..<32).map { UInt8(255 - $0) }).base64EncodedString()
        let ring = try #require(try Keyring.fromEnvironment(["MILLSTREAM_DATA_KEYS": "1:\(a),2:\(b)"]))
        #expect(ring.current == 2 && ring.keys.count == 2)
        let path = NSTemporaryDirectory() + "keys-\(UUID().uuidString)"
        try "# rotated 2026-12\n1 \(a)\n3 \(b)   # newest\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try Keyring.fromEnvironment(["MILLSTREAM_DATA_KEYS_FILE": path])?.current == 3)
        #expect(try Keyring.fromEnvironment([:]) == nil)
        let short = Data(repeating: 1, count: 16).base64EncodedString()
        #expect { try Keyring.parse("1 \(short)", source: "k") } throws: {
            "\($0)".contains("AES-256 keys are 32 bytes")
        }
        #expect { try Keyring.parse("one \(a)", source: "k") } throws: {
            "\($0)".contains("entry 1 is not 'ID BASE64'")
        }
        #expect { try Keyring.parse("1 \(a)\n1 \(b)", source: "k") } throws: {
            "\($0)".contains("key 1 is there twice")
        }
        #expect { try Keyring.fromEnvironment(["MILLSTREAM_DATA_KEYS_FILE": "/nonexistent/keys"]) } throws: {
            "\($0)".contains("MILLSTREAM_DATA_KEYS_FILE=/nonexistent/keys cannot be read")
        }
        // Sealed files: plain ones read as they are; sealed ones need the keys and their role.
        let sealed = SealedFile.seal(Array("weights".utf8), keyring: ring, context: "weights")
        #expect(SealedFile.isSealed(sealed) && sealed.count == 4 + Keyring.overhead + 7)
        #expect(try SealedFile.open(sealed, keyring: ring, context: "weights", path: "w") == Array("weights".utf8))
        #expect(
            try SealedFile.open(Array("plain".utf8), keyring: nil, context: "weights", path: "w") == Array("plain".utf8)
        )
        #expect { try SealedFile.open(sealed, keyring: nil, context: "weights", path: "m/v1/w") } throws: {
            "\($0)".contains("m/v1/w is encrypted")
        }
        #expect { try SealedFile.open(sealed, keyring: ring, context: "model.json", path: "w") } throws: {
            "\($0)".contains("does not decrypt")
        }
    }
}
