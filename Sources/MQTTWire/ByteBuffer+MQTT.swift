public import NIOCore

extension ByteBuffer {
    /// The variable byte integer of MQTT (1.5.5 in 3.1.1, 1.5.5 in 5.0): 7 bits per byte, least significant first,
    /// at most 4 bytes (up to 268,435,455).
    public mutating func writeVariableByteInteger(_ value: Int) {
        precondition((0...268_435_455).contains(value), "MQTT variable byte integers hold 0...268435455")
        var v = value
        repeat {
            var byte = UInt8(v & 0x7F)
            v >>= 7
            if v > 0 { byte |= 0x80 }
            writeInteger(byte)
        } while v > 0
    }

    public mutating func readVariableByteInteger() throws(MQTTWireError) -> Int {
        var value = 0
        for shift in stride(from: 0, to: 28, by: 7) {
            guard let byte: UInt8 = readInteger() else { throw MQTTWireError("a variable byte integer is cut short") }
            value |= Int(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
        }
        throw MQTTWireError("a variable byte integer is longer than 4 bytes")
    }

    /// A UTF-8 string with its 2-byte length.
    mutating func writeMQTTString(_ s: String) {
        writeInteger(UInt16(s.utf8.count))
        writeString(s)
    }

    mutating func readMQTTString() throws(MQTTWireError) -> String {
        let bytes = try readMQTTBinary()
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw MQTTWireError("a string is not valid UTF-8")
        }
        guard !s.unicodeScalars.contains(where: { $0.value == 0 }) else {
            throw MQTTWireError("a string holds U+0000, which MQTT forbids")
        }
        return s
    }

    /// Binary data with its 2-byte length.
    mutating func writeMQTTBinary(_ b: [UInt8]) {
        writeInteger(UInt16(b.count))
        writeBytes(b)
    }

    mutating func readMQTTBinary() throws(MQTTWireError) -> [UInt8] {
        let length: UInt16 = try readMQTTInteger()
        guard let bytes = readBytes(length: Int(length)) else {
            throw MQTTWireError("a field of \(length) bytes is cut short (\(readableBytes) left)")
        }
        return bytes
    }

    mutating func readMQTTInteger<T: FixedWidthInteger>() throws(MQTTWireError) -> T {
        guard let v: T = readInteger() else { throw MQTTWireError("a \(T.bitWidth / 8)-byte integer is cut short") }
        return v
    }
}
