public import NIOCore

/// Malformed or truncated OPC UA binary data: what was being read and what is wrong.
public struct OPCUAWireError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Writes the OPC UA binary encoding (OPC 10000-6, 5.2): little-endian numbers, Int32-length strings and arrays
/// (-1 for null).
public struct OPCUAWriter: Sendable {
    public var buffer: ByteBuffer

    public init(_ buffer: ByteBuffer = ByteBuffer()) { self.buffer = buffer }

    public mutating func write<T: FixedWidthInteger>(_ v: T) { buffer.writeInteger(v, endianness: .little) }
    public mutating func write(_ v: Bool) { buffer.writeInteger(UInt8(v ? 1 : 0)) }
    public mutating func write(_ v: Float) { write(v.bitPattern) }
    public mutating func write(_ v: Double) { write(v.bitPattern) }

    public mutating func write(_ s: String?) {
        guard let s else { return write(Int32(-1)) }
        write(Int32(s.utf8.count))
        buffer.writeString(s)
    }

    public mutating func write(bytes: [UInt8]?) {
        guard let bytes else { return write(Int32(-1)) }
        write(Int32(bytes.count))
        buffer.writeBytes(bytes)
    }

    public mutating func write<T>(_ items: [T]?, _ element: (inout OPCUAWriter, T) -> Void) {
        guard let items else { return write(Int32(-1)) }
        write(Int32(items.count))
        for item in items { element(&self, item) }
    }

    public mutating func write(_ v: some OPCUAEncodable) { v.encode(to: &self) }

    public mutating func write(_ items: [some OPCUAEncodable]) { write(items) { $0.write($1) } }
}

/// Reads the OPC UA binary encoding; every read is checked (a truncated or impossible value is an error, never a
/// crash), and arrays and strings longer than what is left are refused before anything is allocated.
public struct OPCUAReader: Sendable {
    public var buffer: ByteBuffer

    public init(_ buffer: ByteBuffer) { self.buffer = buffer }

    public var remaining: Int { buffer.readableBytes }

    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(OPCUAWireError) -> T {
        guard let v = buffer.readInteger(endianness: .little, as: T.self) else {
            throw OPCUAWireError("truncated: \(T.self) expected, \(buffer.readableBytes) bytes left")
        }
        return v
    }

    public mutating func readBool() throws(OPCUAWireError) -> Bool { try read(UInt8.self) != 0 }
    public mutating func readFloat() throws(OPCUAWireError) -> Float { Float(bitPattern: try read(UInt32.self)) }
    public mutating func readDouble() throws(OPCUAWireError) -> Double { Double(bitPattern: try read(UInt64.self)) }

    /// A length prefix: nil for -1 (null), an error when it is negative otherwise or longer than what is left
    /// (`minimumElementSize` bytes each).
    mutating func length(_ what: String, minimumElementSize: Int = 1) throws(OPCUAWireError) -> Int? {
        let n = try read(Int32.self)
        if n == -1 { return nil }
        guard n >= 0, Int(n) * minimumElementSize <= buffer.readableBytes else {
            throw OPCUAWireError("\(what) of length \(n) with \(buffer.readableBytes) bytes left")
        }
        return Int(n)
    }

    public mutating func readString() throws(OPCUAWireError) -> String? {
        guard let n = try length("a string") else { return nil }
        return buffer.readString(length: n)
    }

    public mutating func readByteString() throws(OPCUAWireError) -> [UInt8]? {
        guard let n = try length("a byte string") else { return nil }
        return buffer.readBytes(length: n)
    }

    public mutating func readArray<T>(_ element: (inout OPCUAReader) throws(OPCUAWireError) -> T)
        throws(OPCUAWireError) -> [T]
    {
        guard let n = try length("an array") else { return [] }
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try element(&self)) }
        return out
    }

    public mutating func read<T: OPCUADecodable>(_: T.Type = T.self) throws(OPCUAWireError) -> T {
        try T(from: &self)
    }

    public mutating func readArray<T: OPCUADecodable>(of _: T.Type) throws(OPCUAWireError) -> [T] {
        try readArray { (r: inout OPCUAReader) throws(OPCUAWireError) in try T(from: &r) }
    }

    public mutating func skip(_ n: Int) throws(OPCUAWireError) {
        guard buffer.readableBytes >= n else { throw OPCUAWireError("truncated: \(n) bytes to skip") }
        buffer.moveReaderIndex(forwardBy: n)
    }
}

public protocol OPCUAEncodable: Sendable {
    func encode(to w: inout OPCUAWriter)
}

public protocol OPCUADecodable: Sendable {
    init(from r: inout OPCUAReader) throws(OPCUAWireError)
}

public typealias OPCUACodable = OPCUAEncodable & OPCUADecodable

extension OPCUAEncodable {
    /// The encoding's bytes.
    public var encodedBytes: [UInt8] {
        var w = OPCUAWriter()
        encode(to: &w)
        return Array(w.buffer.readableBytesView)
    }
}

extension OPCUADecodable {
    /// Decodes a value that must take every byte.
    public init(decoding bytes: [UInt8]) throws(OPCUAWireError) {
        var r = OPCUAReader(ByteBuffer(bytes: bytes))
        self = try Self(from: &r)
        guard r.remaining == 0 else { throw OPCUAWireError("\(r.remaining) bytes left over after \(Self.self)") }
    }
}
