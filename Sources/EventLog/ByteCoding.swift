/// Little-endian integers and LEB128 varints over byte arrays, the primitives of the log's batch format.
extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    @inline(__always)
    mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }

    @inline(__always)
    mutating func appendZigZag(_ value: Int64) { appendVarint(UInt64(zigZag: value)) }

    mutating func setLittleEndian<T: FixedWidthInteger>(_ value: T, at index: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { bytes in
            for i in 0..<bytes.count { self[index + i] = bytes[i] }
        }
    }
}

extension UInt64 {
    /// Zig-zag: small magnitudes of either sign as small unsigned numbers (the varints of times and offsets).
    @inline(__always) init(zigZag value: Int64) { self = UInt64(bitPattern: (value << 1) ^ (value >> 63)) }

    /// The bytes this number takes as a varint.
    @inline(__always) var varintSize: Int { self == 0 ? 1 : (64 - leadingZeroBitCount + 6) / 7 }
}

/// Varints and bytes written at a pointer into room made for them, for the batch encoder's records (an array's
/// append checks its uniqueness and capacity on every call).
extension UnsafeMutableRawPointer {
    @inline(__always)
    mutating func putVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, as: UInt8.self)
            self += 1
            v >>= 7
        }
        storeBytes(of: UInt8(v), as: UInt8.self)
        self += 1
    }

    @inline(__always)
    mutating func putBytes(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress { copyMemory(from: base, byteCount: bytes.count) }
        self += bytes.count
    }
}

/// A bounds-checked reader over raw bytes; every read returns nil past the end instead of trapping.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var position: Int

    init(_ bytes: UnsafeRawBufferPointer, at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    @inline(__always)
    mutating func readLittleEndian<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        let value = bytes.loadUnaligned(fromByteOffset: position, as: T.self)
        position += size
        return T(littleEndian: value)
    }

    @inline(__always)
    mutating func readVarint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.count && shift < 64 {
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
        return nil
    }

    @inline(__always)
    mutating func readZigZag() -> Int64? {
        guard let raw = readVarint() else { return nil }
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    @inline(__always)
    mutating func readBytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, remaining >= count else { return nil }
        defer { position += count }
        return [UInt8](UnsafeRawBufferPointer(rebasing: bytes[position..<position + count]))
    }
}
