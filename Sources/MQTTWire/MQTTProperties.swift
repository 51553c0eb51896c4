public import NIOCore

/// MQTT 5.0 properties (section 2.2.2): an identifier and a value whose type the identifier fixes, in order. Empty
/// in 3.1.1, which has none.
public struct MQTTProperties: Sendable, Equatable, ExpressibleByArrayLiteral {
    public enum Value: Sendable, Equatable {
        case byte(UInt8)
        case twoByteInteger(UInt16)
        case fourByteInteger(UInt32)
        case variableByteInteger(UInt32)
        case utf8(String)
        case binary([UInt8])
        case utf8Pair(String, String)
    }

    public var entries: [(identifier: UInt8, value: Value)]

    public init(_ entries: [(identifier: UInt8, value: Value)] = []) { self.entries = entries }
    public init(arrayLiteral elements: (UInt8, Value)...) { entries = elements.map { ($0.0, $0.1) } }

    public static func == (a: Self, b: Self) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.identifier == $1.identifier && $0.value == $1.value }
    }

    public subscript(identifier: UInt8) -> Value? { entries.first { $0.identifier == identifier }?.value }
    public var isEmpty: Bool { entries.isEmpty }

    // The identifiers Millstream uses by name (the others are carried as they are).
    public static let payloadFormat: UInt8 = 0x01
    public static let messageExpiry: UInt8 = 0x02
    public static let contentType: UInt8 = 0x03
    public static let sessionExpiry: UInt8 = 0x11
    public static let reasonString: UInt8 = 0x1F
    public static let serverKeepAlive: UInt8 = 0x13
    public static let receiveMaximum: UInt8 = 0x21
    public static let topicAlias: UInt8 = 0x23
    public static let userProperty: UInt8 = 0x26

    /// The value type each identifier has (MQTT 5.0, table 2-4); nil for an identifier the standard does not define.
    static func kind(of identifier: UInt8) -> Kind? {
        switch identifier {
        case 0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A: .byte
        case 0x13, 0x21, 0x22, 0x23: .twoByteInteger
        case 0x02, 0x11, 0x18, 0x27: .fourByteInteger
        case 0x0B: .variableByteInteger
        case 0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F: .utf8
        case 0x09, 0x16: .binary
        case 0x26: .utf8Pair
        default: nil
        }
    }

    enum Kind { case byte, twoByteInteger, fourByteInteger, variableByteInteger, utf8, binary, utf8Pair }

    /// Writes the property length (a variable byte integer) and the properties.
    func write(to buffer: inout ByteBuffer) {
        var body = ByteBuffer()
        for (identifier, value) in entries {
            body.writeInteger(identifier)
            switch value {
            case .byte(let v): body.writeInteger(v)
            case .twoByteInteger(let v): body.writeInteger(v)
            case .fourByteInteger(let v): body.writeInteger(v)
            case .variableByteInteger(let v): body.writeVariableByteInteger(Int(v))
            case .utf8(let s): body.writeMQTTString(s)
            case .binary(let b): body.writeMQTTBinary(b)
            case .utf8Pair(let k, let v):
                body.writeMQTTString(k)
                body.writeMQTTString(v)
            }
        }
        buffer.writeVariableByteInteger(body.readableBytes)
        buffer.writeBuffer(&body)
    }

    /// Reads the property length and the properties; an unknown identifier or a short value is an error.
    static func read(from buffer: inout ByteBuffer) throws(MQTTWireError) -> MQTTProperties {
        let length = try buffer.readVariableByteInteger()
        guard var body = buffer.readSlice(length: length) else {
            throw MQTTWireError("the properties claim \(length) bytes; \(buffer.readableBytes) are left")
        }
        var out = MQTTProperties()
        while body.readableBytes > 0 {
            let identifier: UInt8 = body.readInteger()!
            guard let kind = kind(of: identifier) else {
                throw MQTTWireError("unknown property identifier 0x\(String(identifier, radix: 16))")
            }
            let value: Value
            switch kind {
            case .byte: value = .byte(try body.readMQTTInteger())
            case .twoByteInteger: value = .twoByteInteger(try body.readMQTTInteger())
            case .fourByteInteger: value = .fourByteInteger(try body.readMQTTInteger())
            case .variableByteInteger: value = .variableByteInteger(UInt32(try body.readVariableByteInteger()))
            case .utf8: value = .utf8(try body.readMQTTString())
            case .binary: value = .binary(try body.readMQTTBinary())
            case .utf8Pair: value = .utf8Pair(try body.readMQTTString(), try body.readMQTTString())
            }
            out.entries.append((identifier, value))
        }
        return out
    }
}
