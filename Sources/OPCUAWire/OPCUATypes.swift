import Foundation
import NIOCore

/// A node's id: a namespace index and a numeric, string, GUID or opaque identifier. Text form as in the
/// specification's XML and most tools: `i=2253`, `ns=2;s=Machine1/Spindle/Speed`, `ns=1;g=<guid>`, `ns=1;b=<base64>`.
public struct OPCUANodeID: Hashable, Sendable, CustomStringConvertible, OPCUACodable {
    public enum Identifier: Hashable, Sendable {
        case numeric(UInt32)
        case string(String)
        case guid([UInt8])
        case opaque([UInt8])
    }

    public var namespace: UInt16
    public var identifier: Identifier

    public init(_ namespace: UInt16 = 0, _ identifier: Identifier) {
        self.namespace = namespace
        self.identifier = identifier
    }

    public static func numeric(_ id: UInt32, ns: UInt16 = 0) -> OPCUANodeID { OPCUANodeID(ns, .numeric(id)) }
    public static func string(_ id: String, ns: UInt16) -> OPCUANodeID { OPCUANodeID(ns, .string(id)) }
    public static let null = OPCUANodeID(0, .numeric(0))

    /// Parses the text form; nil when it is not one.
    public init?(parsing text: String) {
        var ns: UInt16 = 0
        var rest = Substring(text)
        if rest.hasPrefix("ns=") {
            guard let semi = rest.firstIndex(of: ";"),
                let n = UInt16(rest[rest.index(rest.startIndex, offsetBy: 3)..<semi])
            else { return nil }
            ns = n
            rest = rest[rest.index(after: semi)...]
        }
        guard rest.count >= 2, rest.dropFirst().first == "=" else { return nil }
        let value = String(rest.dropFirst(2))
        switch rest.first {
        case "i": guard let n = UInt32(value) else { return nil }; self.init(ns, .numeric(n))
        case "s": self.init(ns, .string(value))
        case "g":
            guard let uuid = UUID(uuidString: value) else { return nil }
            self.init(ns, .guid(Self.guidBytes(uuid)))
        case "b":
            guard let data = Data(base64Encoded: value) else { return nil }
            self.init(ns, .opaque([UInt8](data)))
        default: return nil
        }
    }

    /// A GUID's binary form: Data1 to Data3 (the first 4, 2 and 2 bytes of its text) little endian, Data4 as is.
    static func guidBytes(_ uuid: UUID) -> [UInt8] {
        let u = uuid.uuid
        return swappingGUIDOrder([u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15])
    }

    /// Text order to wire order and back (Data1 to Data3 reversed; its own inverse).
    static func swappingGUIDOrder(_ b: [UInt8]) -> [UInt8] {
        Array(b[0..<4].reversed()) + b[4..<6].reversed() + b[6..<8].reversed() + b[8..<16]
    }

    public var description: String {
        let prefix = namespace == 0 ? "" : "ns=\(namespace);"
        switch identifier {
        case .numeric(let n): return prefix + "i=\(n)"
        case .string(let s): return prefix + "s=\(s)"
        case .guid(let b):
            let h = Self.swappingGUIDOrder(b).map { String($0, radix: 16).leftPadded(2) }.joined()
            let parts = [h.prefix(8), h.dropFirst(8).prefix(4), h.dropFirst(12).prefix(4), h.dropFirst(16).prefix(4)]
            return prefix + "g=" + parts.joined(separator: "-") + "-" + h.dropFirst(20)
        case .opaque(let b): return prefix + "b=" + Data(b).base64EncodedString()
        }
    }

    public func encode(to w: inout OPCUAWriter) {
        switch identifier {
        case .numeric(let n) where namespace == 0 && n <= 255:
            w.write(UInt8(0x00))
            w.write(UInt8(n))
        case .numeric(let n) where namespace <= 255 && n <= 65535:
            w.write(UInt8(0x01))
            w.write(UInt8(namespace))
            w.write(UInt16(n))
        case .numeric(let n):
            w.write(UInt8(0x02))
            w.write(namespace)
            w.write(n)
        case .string(let s):
            w.write(UInt8(0x03))
            w.write(namespace)
            w.write(s)
        case .guid(let b):
            w.write(UInt8(0x04))
            w.write(namespace)
            w.buffer.writeBytes(b)
        case .opaque(let b):
            w.write(UInt8(0x05))
            w.write(namespace)
            w.write(bytes: b)
        }
    }

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        try self.init(from: &r, encoding: try r.read(UInt8.self))
    }

    /// The body after the encoding byte (whose high bits, for an expanded id, the caller has taken).
    init(from r: inout OPCUAReader, encoding: UInt8) throws(OPCUAWireError) {
        switch encoding & 0x3F {
        case 0x00: self.init(0, .numeric(UInt32(try r.read(UInt8.self))))
        case 0x01:
            let ns = UInt16(try r.read(UInt8.self))
            self.init(ns, .numeric(UInt32(try r.read(UInt16.self))))
        case 0x02:
            let ns = try r.read(UInt16.self)
            self.init(ns, .numeric(try r.read(UInt32.self)))
        case 0x03:
            let ns = try r.read(UInt16.self)
            self.init(ns, .string(try r.readString() ?? ""))
        case 0x04:
            let ns = try r.read(UInt16.self)
            guard let b = r.buffer.readBytes(length: 16) else { throw OPCUAWireError("truncated: a GUID node id") }
            self.init(ns, .guid(b))
        case 0x05:
            let ns = try r.read(UInt16.self)
            self.init(ns, .opaque(try r.readByteString() ?? []))
        case let e: throw OPCUAWireError("node id encoding \(e) is not one of 0 to 5")
        }
    }
}

/// A node id that may name another server's namespace by URI, or another server.
public struct OPCUAExpandedNodeID: Hashable, Sendable, OPCUACodable, CustomStringConvertible {
    public var nodeID: OPCUANodeID
    public var namespaceURI: String?
    public var serverIndex: UInt32?

    public init(_ nodeID: OPCUANodeID, namespaceURI: String? = nil, serverIndex: UInt32? = nil) {
        self.nodeID = nodeID
        self.namespaceURI = namespaceURI
        self.serverIndex = serverIndex
    }

    public var description: String { (namespaceURI.map { "nsu=\($0);" } ?? "") + nodeID.description }

    public func encode(to w: inout OPCUAWriter) {
        var inner = OPCUAWriter()
        nodeID.encode(to: &inner)
        var first = inner.buffer.readInteger(as: UInt8.self)!
        if namespaceURI != nil { first |= 0x80 }
        if serverIndex != nil { first |= 0x40 }
        w.write(first)
        w.buffer.writeBuffer(&inner.buffer)
        if let namespaceURI { w.write(namespaceURI) }
        if let serverIndex { w.write(serverIndex) }
    }

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        let encoding = try r.read(UInt8.self)
        nodeID = try OPCUANodeID(from: &r, encoding: encoding)
        namespaceURI = encoding & 0x80 != 0 ? try r.readString() : nil
        serverIndex = encoding & 0x40 != 0 ? try r.read(UInt32.self) : nil
    }
}

/// A name qualified by a namespace index: browse names.
public struct OPCUAQualifiedName: Hashable, Sendable, OPCUACodable, CustomStringConvertible {
    public var namespace: UInt16
    public var name: String?

    public init(_ namespace: UInt16 = 0, _ name: String?) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { namespace == 0 ? (name ?? "") : "\(namespace):\(name ?? "")" }

    public func encode(to w: inout OPCUAWriter) {
        w.write(namespace)
        w.write(name)
    }

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        namespace = try r.read(UInt16.self)
        name = try r.readString()
    }
}

/// A text with an optional locale: display names, descriptions.
public struct OPCUALocalizedText: Hashable, Sendable, OPCUACodable {
    public var locale: String?
    public var text: String?

    public init(_ text: String?, locale: String? = nil) {
        self.text = text
        self.locale = locale
    }

    public func encode(to w: inout OPCUAWriter) {
        w.write(UInt8((locale != nil ? 0x01 : 0) | (text != nil ? 0x02 : 0)))
        if let locale { w.write(locale) }
        if let text { w.write(text) }
    }

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        let mask = try r.read(UInt8.self)
        locale = mask & 0x01 != 0 ? try r.readString() : nil
        text = mask & 0x02 != 0 ? try r.readString() : nil
    }
}

/// A structure by its encoding's node id: the body in the binary encoding (or absent).
public struct OPCUAExtensionObject: Hashable, Sendable, OPCUACodable {
    public var typeID: OPCUANodeID
    public var body: [UInt8]?

    public init(typeID: OPCUANodeID, body: [UInt8]?) {
        self.typeID = typeID
        self.body = body
    }

    public static let empty = OPCUAExtensionObject(typeID: .null, body: nil)

    /// A structure encoded as the binary body of its encoding id.
    public init<T: OPCUAEncodable & OPCUAStructure>(_ value: T) {
        self.init(typeID: .numeric(T.binaryEncodingID), body: value.encodedBytes)
    }

    /// The body decoded as `T` when the type id is T's binary encoding; nil for another type.
    public func decode<T: OPCUADecodable & OPCUAStructure>(_: T.Type) throws(OPCUAWireError) -> T? {
        guard typeID == .numeric(T.binaryEncodingID), let body else { return nil }
        return try T(decoding: body)
    }

    public func encode(to w: inout OPCUAWriter) {
        typeID.encode(to: &w)
        if let body {
            w.write(UInt8(0x01))
            w.write(bytes: body)
        } else {
            w.write(UInt8(0x00))
        }
    }

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        typeID = try OPCUANodeID(from: &r)
        switch try r.read(UInt8.self) {
        case 0x00: body = nil
        case 0x01, 0x02: body = try r.readByteString()  // binary, or an XML element (kept as its bytes)
        case let e: throw OPCUAWireError("extension object body encoding \(e) is not 0, 1 or 2")
        }
    }
}

/// A structured data type of the standard with its binary encoding's node id (as an extension object's type id, and
/// before each service request and response on the wire).
public protocol OPCUAStructure {
    static var binaryEncodingID: UInt32 { get }
}

/// Diagnostics a server may attach; Millstream asks for none and skips what comes.
struct OPCUADiagnosticInfo: OPCUADecodable {
    init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        let mask = try r.read(UInt8.self)
        for bit: UInt8 in [0x01, 0x02, 0x04, 0x08] where mask & bit != 0 { _ = try r.read(Int32.self) }
        if mask & 0x10 != 0 { _ = try r.readString() }
        if mask & 0x20 != 0 { _ = try r.read(UInt32.self) }
        if mask & 0x40 != 0 { _ = try OPCUADiagnosticInfo(from: &r) }
    }
}

/// Times on the wire: 100-nanosecond ticks since 1601-01-01 UTC.
public enum OPCUADateTime {
    static let unixEpochTicks: Int64 = 116_444_736_000_000_000

    /// Ticks from milliseconds since the Unix epoch.
    public static func ticks(unixMilliseconds ms: Int64) -> Int64 { unixEpochTicks + ms * 10_000 }

    /// Milliseconds since the Unix epoch; nil for 0 (the specification's "no time").
    public static func unixMilliseconds(ticks: Int64) -> Int64? {
        ticks <= 0 ? nil : (ticks - unixEpochTicks) / 10_000
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
