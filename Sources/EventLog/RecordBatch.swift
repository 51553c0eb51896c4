import AtRest
import CRC32C
import Foundation
import Primitives

/// The on-disk batch format of a segment file.
///
/// ```
/// offset size field
///  0     4    magic "MSL1"
///  4     4    length: bytes after this field
///  8     4    CRC32C of every byte after this field
/// 12     8    base offset
/// 20     4    record count
/// 24     8    base timestamp (ms)
/// 32     8    max timestamp (ms)
/// 40     ...  records: zigzag timestamp delta, varint key length + 1 (0 = no key), key,
///             varint value length, value, varint header count, (varint name length, name, varint length, value)*
/// ```
/// All integers little-endian. A batch is valid only if it is complete and its CRC matches.
///
/// Encrypted at rest (magic "MSE1"), the same header is followed by the records sealed with AES-256-GCM
/// (`Keyring.seal`: key id, nonce, ciphertext, tag) instead of the records; the header's fields from the base offset
/// on are authenticated with them, so a batch cannot be moved to other offsets unnoticed. The CRC still covers
/// everything, so recovery finds torn tails without the key.
enum RecordBatch {
    static let magic: UInt32 = 0x314C_534D  // "MSL1"
    static let encryptedMagic: UInt32 = 0x3145_534D  // "MSE1"
    static let headerSize = 40
    /// The largest batch accepted when reading, so a corrupt length cannot ask for gigabytes.
    static let maxBatchBytes = 64 << 20

    struct Header: Equatable {
        var length: Int  // whole batch, header included
        var crc: UInt32
        var baseOffset: Int64
        var count: Int
        var baseTimestamp: Int64
        var maxTimestamp: Int64
        var encrypted = false
        var nextOffset: Int64 { baseOffset + Int64(count) }
    }

    enum HeaderProblem: Error, Equatable {
        case short  // fewer than headerSize bytes: a torn tail
        case badMagic
        case badLength(Int)
    }

    /// Appends one batch holding `records` to `buffer`, encrypted with the keyring's current key when there is one.
    /// Returns the batch's newest timestamp.
    @discardableResult
    static func encode(
        _ records: some Collection<Record>, baseOffset: Int64, keyring: Keyring? = nil, into buffer: inout [UInt8]
    ) -> Int64 {
        precondition(!records.isEmpty)
        let start = buffer.count
        let baseTimestamp = records.first!.timestamp
        var maxTimestamp = baseTimestamp
        buffer.appendLittleEndian(magic)
        buffer.appendLittleEndian(UInt32(0))  // length, patched below
        buffer.appendLittleEndian(UInt32(0))  // crc, patched below
        buffer.appendLittleEndian(baseOffset)
        buffer.appendLittleEndian(UInt32(records.count))
        buffer.appendLittleEndian(baseTimestamp)
        buffer.appendLittleEndian(Int64(0))  // max timestamp, patched below
        // The records' exact size first, then the records written through a pointer into room made once (appending
        // field by field checked the array's uniqueness and capacity per call: 1.3 % of the pipeline's worker).
        var size = 0
        for record in records {
            maxTimestamp = max(maxTimestamp, record.timestamp)
            size += UInt64(zigZag: record.timestamp &- baseTimestamp).varintSize
            if let key = record.key { size += (UInt64(key.count) + 1).varintSize + key.count } else { size += 1 }
            size += UInt64(record.value.count).varintSize + record.value.count
            size += UInt64(record.headers.count).varintSize
            for header in record.headers {
                let name = header.name.utf8.count
                size += UInt64(name).varintSize + name + UInt64(header.value.count).varintSize + header.value.count
            }
        }
        let recordsStart = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: size))
        buffer.withUnsafeMutableBytes { raw in
            var p = raw.baseAddress! + recordsStart
            for record in records {
                p.putVarint(UInt64(zigZag: record.timestamp &- baseTimestamp))
                if let key = record.key {
                    p.putVarint(UInt64(key.count) + 1)
                    key.withUnsafeBytes { p.putBytes($0) }
                } else {
                    p.putVarint(0)
                }
                p.putVarint(UInt64(record.value.count))
                record.value.withUnsafeBytes { p.putBytes($0) }
                p.putVarint(UInt64(record.headers.count))
                for header in record.headers {
                    var name = header.name
                    name.withUTF8 { utf8 in
                        p.putVarint(UInt64(utf8.count))
                        p.putBytes(UnsafeRawBufferPointer(utf8))
                    }
                    p.putVarint(UInt64(header.value.count))
                    header.value.withUnsafeBytes { p.putBytes($0) }
                }
            }
            precondition(p == raw.baseAddress! + recordsStart + size, "RecordBatch: records sized wrongly")
        }
        buffer.setLittleEndian(maxTimestamp, at: start + 32)
        if let keyring {
            // The records are sealed straight from the buffer (one region: swift-crypto reads it in place).
            let (key, sealed) = keyring.sealCombined(
                buffer[(start + headerSize)...], context: Data(buffer[(start + 12)..<(start + headerSize)]))
            buffer.removeSubrange((start + headerSize)...)
            buffer.appendLittleEndian(key)
            buffer.append(contentsOf: sealed)
            buffer.setLittleEndian(encryptedMagic, at: start)
        }
        buffer.setLittleEndian(UInt32(buffer.count - start - 8), at: start + 4)
        let crc = buffer.withUnsafeBytes { raw in
            millstream_crc32c(0, raw.baseAddress! + start + 12, buffer.count - start - 12)
        }
        buffer.setLittleEndian(crc, at: start + 8)
        return maxTimestamp
    }

    /// Parses the fixed header at the start of `bytes` without checking the CRC.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer) -> Result<Header, HeaderProblem> {
        guard bytes.count >= headerSize else { return .failure(.short) }
        var reader = ByteReader(bytes)
        let mark = reader.readLittleEndian(UInt32.self)
        guard mark == magic || mark == encryptedMagic else { return .failure(.badMagic) }
        let length = Int(reader.readLittleEndian(UInt32.self)!) + 8
        guard length >= headerSize, length <= maxBatchBytes else { return .failure(.badLength(length)) }
        let crc = reader.readLittleEndian(UInt32.self)!
        let base = reader.readLittleEndian(Int64.self)!
        let count = Int(reader.readLittleEndian(UInt32.self)!)
        let baseTimestamp = reader.readLittleEndian(Int64.self)!
        let maxTimestamp = reader.readLittleEndian(Int64.self)!
        guard count > 0, base >= 0 else { return .failure(.badLength(length)) }
        return .success(
            Header(
                length: length, crc: crc, baseOffset: base, count: count, baseTimestamp: baseTimestamp,
                maxTimestamp: maxTimestamp, encrypted: mark == encryptedMagic))
    }

    /// True when the CRC of the complete batch in `bytes` (exactly `header.length` bytes) matches.
    static func crcMatches(_ bytes: UnsafeRawBufferPointer, header: Header) -> Bool {
        millstream_crc32c(0, bytes.baseAddress! + 12, header.length - 12) == header.crc
    }

    /// Decodes the records of a complete, CRC-checked batch of `topic`'s `partition` whose offsets are at least
    /// `from`, decrypting an encrypted one with `keyring`, until `records` holds `limit`; `where` names the batch in
    /// errors.
    static func records(
        _ bytes: UnsafeRawBufferPointer, header: Header, from: Int64, limit: Int = .max, topic: String,
        partition: Int, keyring: Keyring?, where place: @autoclosure () -> String,
        into records: inout [ConsumedRecord]
    ) throws(EventLogError) {
        guard header.encrypted else {
            guard
                decode(
                    bytes, header: header, from: from, limit: limit, topic: topic, partition: partition, into: &records)
            else {
                throw EventLogError(.corrupt, "\(place()) does not decode")
            }
            return
        }
        guard let keyring else {
            throw EventLogError(
                .encrypted,
                "\(place()) is encrypted: \(Keyring.keysNeeded)")
        }
        let plain: Data
        do {
            // The sealed bytes are read in place (no copy): they live as long as this call, which decrypts them.
            let sealed = Data(
                bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress! + headerSize),
                count: header.length - headerSize, deallocator: .none)
            plain = try keyring.openData(
                sealed, context: UnsafeRawBufferPointer(rebasing: bytes[12..<headerSize]), what: place())
        } catch {
            throw EventLogError(.encrypted, error.description)
        }
        let ok = plain.withUnsafeBytes {
            decode(
                $0, header: header, recordsAt: 0, from: from, limit: limit, topic: topic, partition: partition,
                into: &records)
        }
        guard ok else { throw EventLogError(.corrupt, "\(place()) does not decode after decryption") }
    }

    /// The key with these bytes among `recent` (moved to the front), or a new one put there (four kept).
    @inline(__always)
    static func sharedKey(_ bytes: UnsafeRawBufferPointer, _ recent: inout [[UInt8]]) -> [UInt8] {
        for k in recent.indices {
            let same = recent[k].withUnsafeBytes { known in
                known.count == bytes.count
                    && (bytes.isEmpty || memcmp(known.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
            }
            if same {
                if k > 0 { recent.swapAt(0, k) }
                return recent[0]
            }
        }
        let key = [UInt8](bytes)
        if recent.count == 4 { recent[3] = key } else { recent.append(key) }
        if recent.count > 1 { recent.swapAt(0, recent.count - 1) }
        return key
    }

    /// Decodes the records of a complete, CRC-checked, plain batch of `topic`'s `partition` whose offsets are at
    /// least `from`, until `records` holds `limit`. `recordsAt`: where the records start in `bytes` (after the header
    /// in a plain batch; 0 in decrypted ones).
    static func decode(
        _ bytes: UnsafeRawBufferPointer, header: Header, recordsAt start: Int = headerSize, from: Int64,
        limit: Int = .max, topic: String, partition: Int, into records: inout [ConsumedRecord]
    ) -> Bool {
        let end = start == headerSize ? header.length : bytes.count
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[0..<end]), at: start)
        // The batch's last few distinct keys: a key repeats through a partition's records (a machine's id), and
        // its records share one array (an array per record was an allocation per reading in the pipeline).
        var recentKeys: [[UInt8]] = []
        for i in 0..<header.count {
            // Enough records: the rest of the batch is left undecoded (its CRC was checked when it was read).
            if records.count >= limit { return true }
            let offset = header.baseOffset + Int64(i)
            let wanted = offset >= from
            guard let delta = reader.readZigZag(), let keyLength = reader.readVarint() else { return false }
            var key: [UInt8]?
            if keyLength > 0 {
                guard keyLength - 1 <= UInt64(reader.remaining) else { return false }
                // Copied only for a record the caller wants, as the value is.
                if wanted {
                    let bytes = UnsafeRawBufferPointer(
                        rebasing: reader.bytes[reader.position..<reader.position + Int(keyLength - 1)])
                    key = Self.sharedKey(bytes, &recentKeys)
                }
                reader.position += Int(keyLength - 1)
            }
            guard let valueLength = reader.readVarint(), valueLength <= UInt64(reader.remaining) else { return false }
            let valueStart = reader.position
            // Skip the value (headers follow it); copy it below only if the caller wants this record.
            reader.position += Int(valueLength)
            guard let headerCount = reader.readVarint(), headerCount <= UInt64(reader.remaining) else { return false }
            var headers: [RecordHeader] = []
            if headerCount > 0 {
                headers.reserveCapacity(Int(headerCount))
                for _ in 0..<headerCount {
                    guard let nameLength = reader.readVarint(), let name = reader.readBytes(Int(nameLength)),
                        let length = reader.readVarint(), let value = reader.readBytes(Int(length))
                    else { return false }
                    headers.append(RecordHeader(name: String(decoding: name, as: UTF8.self), value: value))
                }
            }
            if wanted {
                let value = [UInt8](
                    UnsafeRawBufferPointer(rebasing: reader.bytes[valueStart..<valueStart + Int(valueLength)]))
                records.append(
                    ConsumedRecord(
                        topic: topic, partition: partition, offset: offset, timestamp: header.baseTimestamp &+ delta,
                        key: key, value: value, headers: headers))
            }
        }
        return reader.remaining == 0
    }
}
