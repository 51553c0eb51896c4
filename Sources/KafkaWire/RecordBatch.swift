import CRC32C
public import NIOCore

/// A record in a Kafka record batch.
public struct KafkaRecord: Sendable, Equatable {
    public var offset: Int64
    public var timestamp: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [(name: String, value: [UInt8]?)]

    public init(
        offset: Int64 = 0, timestamp: Int64, key: [UInt8]?, value: [UInt8]?,
        headers: [(name: String, value: [UInt8]?)] = []
    ) {
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.offset == b.offset && a.timestamp == b.timestamp && a.key == b.key && a.value == b.value
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }
}

/// Record batch v2 (magic 2), the unit of produce and fetch:
/// baseOffset i64, batchLength i32, partitionLeaderEpoch i32, magic i8, crc u32 (CRC32C of attributes..end),
/// attributes i16, lastOffsetDelta i32, baseTimestamp i64, maxTimestamp i64, producerId i64, producerEpoch i16,
/// baseSequence i32, record count i32, records (varint-framed).
public struct RecordBatch: Sendable, Equatable {
    public var baseOffset: Int64
    public var partitionLeaderEpoch: Int32
    public var attributes: Int16
    public var producerID: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var records: [KafkaRecord]
    /// The offset after the batch: base offset + last offset delta + 1 (a compacted or control batch may hold
    /// fewer records than its offsets span).
    public var nextOffset: Int64 = 0

    public init(
        baseOffset: Int64 = 0, partitionLeaderEpoch: Int32 = -1, attributes: Int16 = 0, producerID: Int64 = -1,
        producerEpoch: Int16 = -1, baseSequence: Int32 = -1, records: [KafkaRecord]
    ) {
        self.baseOffset = baseOffset
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.attributes = attributes
        self.producerID = producerID
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.records = records
    }

    /// The codec in the low three attribute bits.
    public enum Compression: Int16, Sendable { case none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 }
    public var compression: Compression? { Compression(rawValue: attributes & 0x07) }
    public var isTransactional: Bool { attributes & 0x10 != 0 }
    public var isControl: Bool { attributes & 0x20 != 0 }

    /// Writes the batch, uncompressed or gzip-compressed (other codecs are read only). Record offsets are written
    /// relative to `baseOffset`; the batch's base timestamp is its first record's (as the Java client does), max
    /// timestamp the largest.
    public func write(to buffer: inout ByteBuffer, compression: Compression = .none) {
        precondition(compression == .none || compression == .gzip, "Millstream writes batches uncompressed or gzip")
        buffer.writeInteger(baseOffset, endianness: .big)
        let lengthAt = buffer.writerIndex
        buffer.writeInteger(Int32(0), endianness: .big)
        buffer.writeInteger(partitionLeaderEpoch, endianness: .big)
        buffer.writeInteger(Int8(2))
        let crcAt = buffer.writerIndex
        buffer.writeInteger(UInt32(0), endianness: .big)
        let crcFrom = buffer.writerIndex
        let base = records.first?.timestamp ?? 0
        buffer.writeInteger(attributes & ~0x07 | compression.rawValue, endianness: .big)
        buffer.writeInteger(Int32((records.last?.offset ?? baseOffset) - baseOffset), endianness: .big)
        buffer.writeInteger(base, endianness: .big)
        buffer.writeInteger(records.map(\.timestamp).max() ?? base, endianness: .big)
        buffer.writeInteger(producerID, endianness: .big)
        buffer.writeInteger(producerEpoch, endianness: .big)
        buffer.writeInteger(baseSequence, endianness: .big)
        buffer.writeInteger(Int32(records.count), endianness: .big)
        if compression == .none {
            // Each record straight into the batch, its length worked out first: one copy of its bytes, into storage
            // reserved for the whole batch (a record buffer per record and a batch grown by doubling took a third
            // of producing in a profile, mostly page faults on fresh memory).
            buffer.reserveCapacity(minimumWritableBytes: Self.capacity(records))
            for r in records { writeRecord(r, base: base, into: &buffer) }
        } else {
            var all = ByteBuffer()
            all.reserveCapacity(Self.capacity(records))
            for r in records { writeRecord(r, base: base, into: &all) }
            buffer.writeBytes(BatchCodec.gzip(Array(all.readableBytesView)))
        }
        buffer.setInteger(Int32(buffer.writerIndex - lengthAt - 4), at: lengthAt, endianness: .big)
        let crc = buffer.withUnsafeReadableBytes { raw in
            millstream_crc32c(0, raw.baseAddress! + (crcFrom - buffer.readerIndex), buffer.writerIndex - crcFrom)
        }
        buffer.setInteger(crc, at: crcAt, endianness: .big)
    }

    /// Room for the records as written, for `reserveCapacity`: their bytes and the most their framing can take
    /// (lengths, deltas, attributes), without working out each varint (`writeRecord` does that once).
    private static func capacity(_ records: [KafkaRecord]) -> Int {
        records.reduce(0) { sum, r in
            sum + 36 + (r.key?.count ?? 0) + (r.value?.count ?? 0)
                + r.headers.reduce(0) { $0 + 10 + $1.name.utf8.count + ($1.value?.count ?? 0) }
        }
    }

    /// A record's length (after its own length varint).
    private func recordSize(_ r: KafkaRecord, base: Int64) -> Int {
        func bytes(_ b: [UInt8]?) -> Int { b.map { ByteBuffer.varintSize(Int32($0.count)) + $0.count } ?? 1 }
        var size = 1 + ByteBuffer.varlongSize(r.timestamp - base)
        size += ByteBuffer.varintSize(Int32(r.offset - baseOffset)) + bytes(r.key) + bytes(r.value)
        size += ByteBuffer.varintSize(Int32(r.headers.count))
        for h in r.headers {
            let name = h.name.utf8.count
            size += ByteBuffer.varintSize(Int32(name)) + name + bytes(h.value)
        }
        return size
    }

    /// A record with its length prefix.
    private func writeRecord(_ r: KafkaRecord, base: Int64, into out: inout ByteBuffer) {
        out.writeVarint(Int32(recordSize(r, base: base)))
        out.writeInteger(Int8(0))  // record attributes
        out.writeVarlong(r.timestamp - base)
        out.writeVarint(Int32(r.offset - baseOffset))
        writeVarBytes(r.key, &out)
        writeVarBytes(r.value, &out)
        out.writeVarint(Int32(r.headers.count))
        for h in r.headers {
            out.writeVarint(Int32(h.name.utf8.count))
            out.writeString(h.name)
            writeVarBytes(h.value, &out)
        }
    }

    private func writeVarBytes(_ bytes: [UInt8]?, _ out: inout ByteBuffer) {
        guard let bytes else {
            out.writeVarint(-1)
            return
        }
        out.writeVarint(Int32(bytes.count))
        out.writeBytes(bytes)
    }

    /// Reads one batch, checking its CRC and decompressing its records (gzip, snappy, lz4, zstd).
    public static func read(from buffer: inout ByteBuffer) throws(KafkaWireError) -> RecordBatch {
        let baseOffset: Int64 = try buffer.readKafkaInteger("batch base offset")
        let length: Int32 = try buffer.readKafkaInteger("batch length")
        guard length >= 49, var batch = buffer.readSlice(length: Int(length)) else {
            throw KafkaWireError(
                "record batch at offset \(baseOffset): length \(length) is impossible or beyond the data")
        }
        let epoch: Int32 = try batch.readKafkaInteger("partition leader epoch")
        let magic: Int8 = try batch.readKafkaInteger("magic")
        guard magic == 2 else {
            throw KafkaWireError("record batch at offset \(baseOffset) has magic \(magic); only v2 is supported")
        }
        let crc: UInt32 = try batch.readKafkaInteger("crc")
        let actual = batch.withUnsafeReadableBytes { millstream_crc32c(0, $0.baseAddress, $0.count) }
        guard crc == actual else {
            throw KafkaWireError(
                "record batch at offset \(baseOffset) fails its CRC32C check (stored \(crc), computed \(actual))")
        }
        let attributes: Int16 = try batch.readKafkaInteger("attributes")
        let lastOffsetDelta: Int32 = try batch.readKafkaInteger("last offset delta")
        let baseTimestamp: Int64 = try batch.readKafkaInteger("base timestamp")
        _ = try batch.readKafkaInteger("max timestamp", as: Int64.self)
        let producerID: Int64 = try batch.readKafkaInteger("producer id")
        let producerEpoch: Int16 = try batch.readKafkaInteger("producer epoch")
        let baseSequence: Int32 = try batch.readKafkaInteger("base sequence")
        let count: Int32 = try batch.readKafkaInteger("record count")
        guard let compression = Compression(rawValue: attributes & 0x07) else {
            throw KafkaWireError("record batch at offset \(baseOffset) uses unknown codec \(attributes & 0x07)")
        }
        if compression != .none {
            do {
                batch = try BatchCodec.decompress(compression, batch)
            } catch {
                throw KafkaWireError("record batch at offset \(baseOffset): \(error.message)")
            }
        }
        guard count >= 0, Int(count) <= batch.readableBytes else {
            throw KafkaWireError(
                "record batch at offset \(baseOffset) announces \(count) records in \(batch.readableBytes) bytes")
        }
        var records: [KafkaRecord] = []
        records.reserveCapacity(Int(count))
        for i in 0..<Int(count) {
            let size = try batch.readVarint("record \(i) length")
            guard size >= 0, var r = batch.readSlice(length: Int(size)) else { throw .short("record \(i)") }
            _ = try r.readKafkaInteger("record attributes", as: Int8.self)
            let delta = try r.readVarlong("timestamp delta")
            let offsetDelta = try r.readVarint("offset delta")
            let key = try readVarBytes(&r, "key")
            let value = try readVarBytes(&r, "value")
            let headerCount = try r.readVarint("header count")
            guard headerCount >= 0, Int(headerCount) <= r.readableBytes else {
                throw KafkaWireError("record \(i): bad header count \(headerCount)")
            }
            var headers: [(name: String, value: [UInt8]?)] = []
            for _ in 0..<headerCount {
                let nameLength = try r.readVarint("header name length")
                guard nameLength >= 0, let name = r.readString(length: Int(nameLength)) else {
                    throw .short("header name")
                }
                headers.append((name, try readVarBytes(&r, "header value")))
            }
            records.append(
                KafkaRecord(
                    offset: baseOffset + Int64(offsetDelta), timestamp: baseTimestamp + delta, key: key, value: value,
                    headers: headers))
        }
        var result = RecordBatch(
            baseOffset: baseOffset, partitionLeaderEpoch: epoch, attributes: attributes, producerID: producerID,
            producerEpoch: producerEpoch, baseSequence: baseSequence, records: records)
        result.nextOffset = baseOffset + Int64(lastOffsetDelta) + 1
        return result
    }

    private static func readVarBytes(_ r: inout ByteBuffer, _ what: String) throws(KafkaWireError) -> [UInt8]? {
        let n = try r.readVarint("\(what) length")
        if n < 0 { return nil }
        guard let b = r.readBytes(length: Int(n)) else { throw .short(what) }
        return b
    }
}
