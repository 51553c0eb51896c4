import Foundation
import KafkaWire
import NIOCore
import Testing

@Suite struct RecordBatchTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A batch written by kafka-python (an independent implementation): read it, and write it back byte for byte.
    @Test func readsAndRewritesKafkaPythonsBatch() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("kafka_python_batch.bin")))
        let expected =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: Self.fixtures.appendingPathComponent("kafka_python_batch.json")))
            as! [String: Any]
        var buffer = ByteBuffer(bytes: bytes)
        let batch = try RecordBatch.read(from: &buffer)
        #expect(buffer.readableBytes == 0)
        let records = expected["records"] as! [[String: Any]]
        #expect(batch.records.count == records.count)
        for (r, e) in zip(batch.records, records) {
            #expect(r.offset == e["offset"] as! Int64)
            #expect(r.timestamp == (e["timestamp"] as! NSNumber).int64Value)
            #expect(r.key == (e["key"] as? String).map { Array($0.utf8) })
            #expect(r.value == Array((e["value"] as! String).utf8))
            #expect(r.headers.map(\.name) == (e["headers"] as! [[String]]).map { $0[0] })
            #expect(r.headers.map(\.value) == (e["headers"] as! [[String]]).map { Array($0[1].utf8) })
        }
        #expect(batch.producerID == -1 && batch.compression == RecordBatch.Compression.none)
        var out = ByteBuffer()
        batch.write(to: &out)
        #expect(Array(out.readableBytesView) == bytes)
    }

    @Test func corruptionTruncationAndCompressionAreClearErrors() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("kafka_python_batch.bin")))
        var flipped = bytes
        flipped[200] ^= 0x01
        var b = ByteBuffer(bytes: flipped)
        #expect { try RecordBatch.read(from: &b) } throws: { "\($0)".contains("fails its CRC32C check") }
        var truncated = ByteBuffer(bytes: Array(bytes.prefix(300)))
        #expect { try RecordBatch.read(from: &truncated) } throws: { "\($0)".contains("beyond the data") }
        // The same batch marked lz4 (attributes and CRC rewritten): its records are not an LZ4 frame, and the error
        // says so and where; an unknown codec is refused by number.
        let batch = try {
            var x = ByteBuffer(bytes: bytes); return try RecordBatch.read(from: &x)
        }()
        var out = ByteBuffer()
        batch.write(to: &out)
        var marked = Array(out.readableBytesView)
        marked[22] = 0x03
        var fixed = ByteBuffer(bytes: marked)
        let crc = fixed.withUnsafeReadableBytes { Self.crc32c($0[21...]) }
        fixed.setInteger(crc, at: 17, endianness: .big)
        #expect { try RecordBatch.read(from: &fixed) } throws: { "\($0)".contains("record batch at offset 0: lz4:") }
        marked[22] = 0x07
        var unknown = ByteBuffer(bytes: marked)
        unknown.setInteger(unknown.withUnsafeReadableBytes { Self.crc32c($0[21...]) }, at: 17, endianness: .big)
        #expect { try RecordBatch.read(from: &unknown) } throws: { "\($0)".contains("unknown codec 7") }
    }

    @Test func gzipBatchesRoundTrip() throws {
        let records = (0..<500).map { i in
            KafkaRecord(
                offset: 42 + Int64(i), timestamp: 1_764_000_000_000 + Int64(i), key: Array("m\(i % 5)".utf8),
                value: Array("reading \(i) of a milling machine".utf8))
        }
        var out = ByteBuffer()
        RecordBatch(baseOffset: 42, records: records).write(to: &out, compression: .gzip)
        var plain = ByteBuffer()
        RecordBatch(baseOffset: 42, records: records).write(to: &plain)
        #expect(out.readableBytes * 4 < plain.readableBytes)
        let back = try RecordBatch.read(from: &out)
        #expect(back.compression == .gzip && back.records.count == 500 && back.nextOffset == 42 + 500)
        for (a, b) in zip(back.records, records) {
            #expect(a.offset == b.offset && a.key == b.key && a.value == b.value && a.timestamp == b.timestamp)
        }
    }

    static func crc32c(_ bytes: Slice<UnsafeRawBufferPointer>) -> UInt32 {
        var crc: UInt32 = ~0
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    @Test func roundTripsWhatMillstreamWrites() throws {
        let records = (0..<50).map { i in
            KafkaRecord(
                offset: 1000 + Int64(i), timestamp: 1_764_000_000_000 + Int64(i * 37 % 11) - 5,
                key: i % 7 == 0 ? nil : Array("m\(i % 5)".utf8),
                value: i % 9 == 0 ? nil : Array(String(repeating: "v", count: i * 3).utf8),
                headers: i % 4 == 0 ? [("src-offset", Array("\(i)".utf8))] : [])
        }
        let batch = RecordBatch(baseOffset: 1000, producerID: 42, producerEpoch: 3, baseSequence: 17, records: records)
        var b = ByteBuffer()
        batch.write(to: &b)
        let back = try RecordBatch.read(from: &b)
        #expect(back.records == records)
        #expect(back.producerID == 42 && back.producerEpoch == 3 && back.baseSequence == 17)
    }
}
