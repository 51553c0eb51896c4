public import NIOCore

/// Kafka's primitive types on ByteBuffer. `read...` advance the reader index and throw on short input (never trap);
/// `write...` append. Big-endian fixed-width integers; unsigned LEB128 varints; zigzag varints for signed ones.
extension ByteBuffer {
    public mutating func readKafkaInteger<T: FixedWidthInteger>(_ what: @autoclosure () -> String, as: T.Type = T.self)
        throws(KafkaWireError) -> T
    {
        guard let v = readInteger(endianness: .big, as: T.self) else { throw .short(what()) }
        return v
    }

    /// One LEB128 value of at most `maxBytes` bytes: the loop behind every varint type.
    private mutating func readLEB128(_ what: @autoclosure () -> String, maxBytes: Int, kind: String)
        throws(KafkaWireError) -> UInt64
    {
        var result: UInt64 = 0
        for i in 0..<maxBytes {
            guard let byte = readInteger(as: UInt8.self) else { throw .short(what()) }
            result |= UInt64(byte & 0x7F) << UInt64(7 * i)
            if byte & 0x80 == 0 { return result }
        }
        throw KafkaWireError("malformed \(kind) in \(what()): more than \(maxBytes) bytes")
    }

    /// Writes the value's bytes into the buffer's storage at once (a byte-at-a-time `writeInteger` checked the
    /// capacity and exclusivity per byte: 9 % of producing a batch in a profile).
    @discardableResult
    private mutating func writeLEB128(_ value: UInt64) -> Int {
        if value < 0x80 { return writeInteger(UInt8(value)) }
        return writeWithUnsafeMutableBytes(minimumWritableBytes: 10) { raw in
            var v = value
            var n = 0
            while v >= 0x80 {
                raw[n] = UInt8(truncatingIfNeeded: v) | 0x80
                v >>= 7
                n += 1
            }
            raw[n] = UInt8(v)
            return n + 1
        }
    }

    /// How many bytes `writeVarint` / `writeVarlong` / `writeUnsignedVarint` take for a value.
    public static func leb128Size(_ value: UInt64) -> Int { max(1, (64 - value.leadingZeroBitCount + 6) / 7) }
    public static func varintSize(_ value: Int32) -> Int {
        leb128Size(UInt64(UInt32(bitPattern: (value << 1) ^ (value >> 31))))
    }
    public static func varlongSize(_ value: Int64) -> Int {
        leb128Size(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func readUnsignedVarint(_ what: @autoclosure () -> String) throws(KafkaWireError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readLEB128(what(), maxBytes: 5, kind: "varint"))
    }

    public mutating func readVarint(_ what: @autoclosure () -> String) throws(KafkaWireError) -> Int32 {
        let raw = try readUnsignedVarint(what())
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    public mutating func readVarlong(_ what: @autoclosure () -> String) throws(KafkaWireError) -> Int64 {
        let raw = try readLEB128(what(), maxBytes: 10, kind: "varlong")
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    @discardableResult
    public mutating func writeUnsignedVarint(_ value: UInt32) -> Int { writeLEB128(UInt64(value)) }

    @discardableResult
    public mutating func writeVarint(_ value: Int32) -> Int {
        writeUnsignedVarint(UInt32(bitPattern: (value << 1) ^ (value >> 31)))
    }

    @discardableResult
    public mutating func writeVarlong(_ value: Int64) -> Int {
        writeLEB128(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    // MARK: strings and bytes

    /// STRING (int16 length) or, with `nullable`, NULLABLE_STRING (length -1 for null).
    public mutating func readKafkaString(_ what: @autoclosure () -> String, nullable: Bool = false)
        throws(KafkaWireError) -> String?
    {
        let length: Int16 = try readKafkaInteger(what())
        if length < 0 {
            guard nullable else { throw KafkaWireError("\(what()) is null where a string is required") }
            return nil
        }
        guard let s = readString(length: Int(length)) else { throw .short(what()) }
        return s
    }

    /// COMPACT_STRING / COMPACT_NULLABLE_STRING: unsigned varint length + 1 (0 for null).
    public mutating func readCompactString(_ what: @autoclosure () -> String, nullable: Bool = false)
        throws(KafkaWireError) -> String?
    {
        let n = try readUnsignedVarint(what())
        if n == 0 {
            guard nullable else { throw KafkaWireError("\(what()) is null where a string is required") }
            return nil
        }
        guard let s = readString(length: Int(n - 1)) else { throw .short(what()) }
        return s
    }

    public mutating func writeKafkaString(_ s: String?) {
        guard let s else {
            writeInteger(Int16(-1), endianness: .big)
            return
        }
        writeInteger(Int16(s.utf8.count), endianness: .big)
        writeString(s)
    }

    public mutating func writeCompactString(_ s: String?) {
        guard let s else {
            writeUnsignedVarint(0)
            return
        }
        writeUnsignedVarint(UInt32(s.utf8.count + 1))
        writeString(s)
    }

    /// COMPACT_BYTES / COMPACT_NULLABLE_BYTES.
    public mutating func readCompactBytes(_ what: @autoclosure () -> String) throws(KafkaWireError) -> [UInt8]? {
        let n = try readUnsignedVarint(what())
        if n == 0 { return nil }
        guard let b = readBytes(length: Int(n - 1)) else { throw .short(what()) }
        return b
    }

    public mutating func writeCompactBytes(_ b: [UInt8]?) {
        guard let b else {
            writeUnsignedVarint(0)
            return
        }
        writeUnsignedVarint(UInt32(b.count + 1))
        writeBytes(b)
    }

    /// The length of an ARRAY (int32, -1 null) or COMPACT_ARRAY (unsigned varint N + 1, 0 null); nil for null.
    public mutating func readArrayCount(_ what: @autoclosure () -> String, compact: Bool) throws(KafkaWireError) -> Int?
    {
        let count: Int
        if compact {
            let n = try readUnsignedVarint(what())
            if n == 0 { return nil }
            count = Int(n) - 1
        } else {
            let n: Int32 = try readKafkaInteger(what())
            if n < 0 { return nil }
            count = Int(n)
        }
        // Every element takes at least a byte: a count beyond the remaining bytes is corrupt, not an allocation.
        guard count <= readableBytes else {
            throw KafkaWireError("\(what()): \(count) elements announced, \(readableBytes) bytes left")
        }
        return count
    }

    public mutating func writeArrayCount(_ count: Int?, compact: Bool) {
        if compact {
            writeUnsignedVarint(count.map { UInt32($0 + 1) } ?? 0)
        } else {
            writeInteger(Int32(count ?? -1), endianness: .big)
        }
    }

    // MARK: tagged fields

    /// Reads a tagged-field section, handing known tags to `handle` and skipping unknown ones.
    public mutating func readTaggedFields(
        _ what: @autoclosure () -> String,
        _ handle: (UInt32, inout ByteBuffer) throws(KafkaWireError) -> Bool = { _, _ in false }
    ) throws(KafkaWireError) {
        let count = try readUnsignedVarint("tagged fields of \(what())")
        var previous: Int64 = -1
        for _ in 0..<count {
            let tag = try readUnsignedVarint("tag of \(what())")
            guard Int64(tag) > previous else {
                throw KafkaWireError("tagged fields of \(what()) are not in increasing order")
            }
            previous = Int64(tag)
            let size = try readUnsignedVarint("tagged field \(tag) of \(what())")
            guard var field = readSlice(length: Int(size)) else { throw .short("tagged field \(tag) of \(what())") }
            _ = try handle(tag, &field)
        }
    }

    /// An empty tagged-field section.
    public mutating func writeNoTaggedFields() { writeUnsignedVarint(0) }
}
