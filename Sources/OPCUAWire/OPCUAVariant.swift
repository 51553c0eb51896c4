/// A status code: the top two bits its severity (good, uncertain, bad), the next 14 the code.
public struct OPCUAStatusCode: Hashable, Sendable, OPCUACodable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static let good = OPCUAStatusCode(0)
    public var isGood: Bool { rawValue & 0xC000_0000 == 0 }
    public var isUncertain: Bool { rawValue & 0xC000_0000 == 0x4000_0000 }
    public var isBad: Bool { rawValue & 0x8000_0000 != 0 }

    /// The name of a code the connectors meet (the specification's StatusCode.csv has them all); the code's number
    /// and severity for others.
    public var name: String {
        if let n = Self.names[rawValue & 0xFFFF_0000] { return n }
        return isGood ? "Good" : isUncertain ? "Uncertain" : "Bad"
    }

    public var description: String {
        "\(name) (0x" + String(rawValue, radix: 16, uppercase: true).leftPadded(8) + ")"
    }

    static let names: [UInt32: String] = [
        0x0000_0000: "Good", 0x8001_0000: "BadUnexpectedError", 0x8002_0000: "BadInternalError",
        0x8005_0000: "BadCommunicationError", 0x8006_0000: "BadEncodingError", 0x8007_0000: "BadDecodingError",
        0x8008_0000: "BadEncodingLimitsExceeded", 0x800A_0000: "BadTimeout", 0x800B_0000: "BadServiceUnsupported",
        0x800C_0000: "BadShutdown", 0x800E_0000: "BadServerHalted", 0x800F_0000: "BadNothingToDo",
        0x8012_0000: "BadCertificateInvalid", 0x8013_0000: "BadSecurityChecksFailed",
        0x801A_0000: "BadCertificateUntrusted", 0x801F_0000: "BadUserAccessDenied",
        0x8020_0000: "BadIdentityTokenInvalid", 0x8021_0000: "BadIdentityTokenRejected",
        0x8022_0000: "BadSecureChannelIdInvalid", 0x8024_0000: "BadNonceInvalid", 0x8025_0000: "BadSessionIdInvalid",
        0x8028_0000: "BadSubscriptionIdInvalid", 0x8031_0000: "BadNoCommunication",
        0x8032_0000: "BadWaitingForInitialData", 0x8033_0000: "BadNodeIdInvalid", 0x8034_0000: "BadNodeIdUnknown",
        0x8035_0000: "BadAttributeIdInvalid", 0x8036_0000: "BadIndexRangeInvalid", 0x803A_0000: "BadNotReadable",
        0x803B_0000: "BadNotWritable", 0x803C_0000: "BadOutOfRange", 0x8055_0000: "BadSecurityPolicyRejected",
        0x8056_0000: "BadTooManySessions", 0x8057_0000: "BadUserSignatureInvalid",
        0x8058_0000: "BadApplicationSignatureInvalid", 0x8073_0000: "BadWriteNotSupported",
        0x8074_0000: "BadTypeMismatch", 0x8078_0000: "BadTooManyPublishRequests", 0x8079_0000: "BadNoSubscription",
        0x807A_0000: "BadSequenceNumberUnknown", 0x8083_0000: "BadTcpEndpointUrlInvalid",
        0x8089_0000: "BadConfigurationError", 0x808B_0000: "BadDeviceFailure", 0x808C_0000: "BadSensorFailure",
        0x808D_0000: "BadOutOfService", 0x80AB_0000: "BadInvalidArgument", 0x80B8_0000: "BadRequestTooLarge",
        0x80B9_0000: "BadResponseTooLarge", 0x4090_0000: "UncertainLastUsableValue",
        0x4092_0000: "UncertainInitialValue", 0x4093_0000: "UncertainSensorNotAccurate",
        0x4094_0000: "UncertainEngineeringUnitsExceeded",
    ]

    public func encode(to w: inout OPCUAWriter) { w.write(rawValue) }
    public init(from r: inout OPCUAReader) throws(OPCUAWireError) { rawValue = try r.read(UInt32.self) }
}

/// A value of any built-in type (OPC 10000-6, 5.2.2.16). Scalars Millstream reads and writes have cases of their
/// own; arrays keep their element type.
public indirect enum OPCUAVariant: Hashable, Sendable, OPCUACodable, CustomStringConvertible {
    case null
    case boolean(Bool)
    case sbyte(Int8)
    case byte(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    case string(String?)
    /// Ticks (100 ns since 1601).
    case dateTime(Int64)
    case guid([UInt8])
    case byteString([UInt8]?)
    case xmlElement([UInt8]?)
    case nodeID(OPCUANodeID)
    case expandedNodeID(OPCUAExpandedNodeID)
    case statusCode(OPCUAStatusCode)
    case qualifiedName(OPCUAQualifiedName)
    case localizedText(OPCUALocalizedText)
    case extensionObject(OPCUAExtensionObject)
    case dataValue(OPCUADataValue)
    case variant(OPCUAVariant)
    /// Elements of one built-in type (its id), with the dimensions of a matrix if the server sent them.
    case array(type: UInt8, [OPCUAVariant], dimensions: [Int32]? = nil)

    /// The built-in type's id (1 Boolean ... 25 DiagnosticInfo).
    public var typeID: UInt8 {
        switch self {
        case .null: 0
        case .boolean: 1
        case .sbyte: 2
        case .byte: 3
        case .int16: 4
        case .uint16: 5
        case .int32: 6
        case .uint32: 7
        case .int64: 8
        case .uint64: 9
        case .float: 10
        case .double: 11
        case .string: 12
        case .dateTime: 13
        case .guid: 14
        case .byteString: 15
        case .xmlElement: 16
        case .nodeID: 17
        case .expandedNodeID: 18
        case .statusCode: 19
        case .qualifiedName: 20
        case .localizedText: 21
        case .extensionObject: 22
        case .dataValue: 23
        case .variant: 24
        case .array(let type, _, _): type
        }
    }

    public static let typeNames = [
        "Null", "Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Float", "Double",
        "String", "DateTime", "Guid", "ByteString", "XmlElement", "NodeId", "ExpandedNodeId", "StatusCode",
        "QualifiedName", "LocalizedText", "ExtensionObject", "DataValue", "Variant", "DiagnosticInfo",
    ]

    /// `Double`, `Int32[]`: for errors.
    public var typeName: String {
        let t = Int(typeID)
        let name = t < Self.typeNames.count ? Self.typeNames[t] : "type \(t)"
        if case .array = self { return name + "[]" }
        return name
    }

    /// The value as a number: the numeric types, and a boolean as 0 or 1; nil for the rest.
    public var number: Double? {
        switch self {
        case .boolean(let v): v ? 1 : 0
        case .sbyte(let v): Double(v)
        case .byte(let v): Double(v)
        case .int16(let v): Double(v)
        case .uint16(let v): Double(v)
        case .int32(let v): Double(v)
        case .uint32(let v): Double(v)
        case .int64(let v): Double(v)
        case .uint64(let v): Double(v)
        case .float(let v): Double(v)
        case .double(let v): v
        default: nil
        }
    }

    /// `number` as a value of the same built-in type as `self` (rounded for the integer types); nil when that type
    /// cannot hold it or is not numeric.
    public func sameType(_ number: Double) -> OPCUAVariant? {
        let r = number.rounded()
        func fits<T: FixedWidthInteger>(_: T.Type) -> Bool { r >= Double(T.min) && r <= Double(T.max) }
        switch self {
        case .boolean: return .boolean(number != 0)
        case .sbyte: return fits(Int8.self) ? .sbyte(Int8(r)) : nil
        case .byte: return fits(UInt8.self) ? .byte(UInt8(r)) : nil
        case .int16: return fits(Int16.self) ? .int16(Int16(r)) : nil
        case .uint16: return fits(UInt16.self) ? .uint16(UInt16(r)) : nil
        case .int32: return fits(Int32.self) ? .int32(Int32(r)) : nil
        case .uint32: return fits(UInt32.self) ? .uint32(UInt32(r)) : nil
        case .int64: return abs(r) < 9.2e18 ? .int64(Int64(r)) : nil
        case .uint64: return r >= 0 && r < 1.8e19 ? .uint64(UInt64(r)) : nil
        case .float: return .float(Float(number))
        case .double: return .double(number)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .null: "null"
        case .string(let s): s.map { "\"\($0)\"" } ?? "null"
        case .array(_, let items, _): "[" + items.map(\.description).joined(separator: ", ") + "]"
        default:
            if let n = number { "\(n)" } else { typeName }
        }
    }

    public func encode(to w: inout OPCUAWriter) {
        switch self {
        case .array(let type, let items, let dimensions):
            w.write(type | 0x80 | (dimensions != nil ? 0x40 : 0))
            w.write(Int32(items.count))
            for item in items { item.encodeBody(to: &w) }
            if let dimensions { w.write(dimensions) { $0.write($1) } }
        default:
            w.write(typeID)
            encodeBody(to: &w)
        }
    }

    func encodeBody(to w: inout OPCUAWriter) {
        switch self {
        case .null, .array: break
        case .boolean(let v): w.write(v)
        case .sbyte(let v): w.write(v)
        case .byte(let v): w.write(v)
        case .int16(let v): w.write(v)
        case .uint16(let v): w.write(v)
        case .int32(let v): w.write(v)
        case .uint32(let v): w.write(v)
        case .int64(let v): w.write(v)
        case .uint64(let v): w.write(v)
        case .float(let v): w.write(v)
        case .double(let v): w.write(v)
        case .string(let s): w.write(s)
        case .dateTime(let t): w.write(t)
        case .guid(let b): w.buffer.writeBytes(b)
        case .byteString(let b), .xmlElement(let b): w.write(bytes: b)
        case .nodeID(let v): w.write(v)
        case .expandedNodeID(let v): w.write(v)
        case .statusCode(let v): w.write(v)
        case .qualifiedName(let v): w.write(v)
        case .localizedText(let v): w.write(v)
        case .extensionObject(let v): w.write(v)
        case .dataValue(let v): w.write(v)
        case .variant(let v): w.write(v)
        }
    }

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        let mask = try r.read(UInt8.self)
        let type = mask & 0x3F
        guard mask & 0x80 != 0 else {
            self = try Self.body(type, &r)
            return
        }
        let items = try r.readArray { (r: inout OPCUAReader) throws(OPCUAWireError) in try Self.body(type, &r) }
        var dimensions: [Int32]?
        if mask & 0x40 != 0 {
            dimensions = try r.readArray { (r: inout OPCUAReader) throws(OPCUAWireError) in try r.read(Int32.self) }
        }
        self = .array(type: type, items, dimensions: dimensions)
    }

    static func body(_ type: UInt8, _ r: inout OPCUAReader) throws(OPCUAWireError) -> OPCUAVariant {
        switch type {
        case 0: return .null
        case 1: return .boolean(try r.readBool())
        case 2: return .sbyte(try r.read())
        case 3: return .byte(try r.read())
        case 4: return .int16(try r.read())
        case 5: return .uint16(try r.read())
        case 6: return .int32(try r.read())
        case 7: return .uint32(try r.read())
        case 8: return .int64(try r.read())
        case 9: return .uint64(try r.read())
        case 10: return .float(try r.readFloat())
        case 11: return .double(try r.readDouble())
        case 12: return .string(try r.readString())
        case 13: return .dateTime(try r.read())
        case 14:
            guard let b = r.buffer.readBytes(length: 16) else { throw OPCUAWireError("truncated: a GUID") }
            return .guid(b)
        case 15: return .byteString(try r.readByteString())
        case 16: return .xmlElement(try r.readByteString())
        case 17: return .nodeID(try r.read())
        case 18: return .expandedNodeID(try r.read())
        case 19: return .statusCode(try r.read())
        case 20: return .qualifiedName(try r.read())
        case 21: return .localizedText(try r.read())
        case 22: return .extensionObject(try r.read())
        case 23: return .dataValue(try r.read())
        case 24: return .variant(try r.read())
        case 25:
            _ = try OPCUADiagnosticInfo(from: &r)
            return .null
        default: throw OPCUAWireError("variant type \(type) is not a built-in type (0 to 25)")
        }
    }
}

/// A value with its status and times, as reads and subscriptions deliver it.
public struct OPCUADataValue: Hashable, Sendable, OPCUACodable {
    public var value: OPCUAVariant?
    public var status: OPCUAStatusCode?
    /// Ticks (100 ns since 1601): when the source (the device) sampled the value.
    public var sourceTimestamp: Int64?
    public var sourcePicoseconds: UInt16?
    public var serverTimestamp: Int64?
    public var serverPicoseconds: UInt16?

    public init(
        value: OPCUAVariant? = nil, status: OPCUAStatusCode? = nil, sourceTimestamp: Int64? = nil,
        serverTimestamp: Int64? = nil
    ) {
        self.value = value
        self.status = status
        self.sourceTimestamp = sourceTimestamp
        self.serverTimestamp = serverTimestamp
    }

    /// The status, good when absent (the specification's default).
    public var statusCode: OPCUAStatusCode { status ?? .good }

    public func encode(to w: inout OPCUAWriter) {
        var mask: UInt8 = 0
        if value != nil { mask |= 0x01 }
        if status != nil { mask |= 0x02 }
        if sourceTimestamp != nil { mask |= 0x04 }
        if serverTimestamp != nil { mask |= 0x08 }
        if sourcePicoseconds != nil { mask |= 0x10 }
        if serverPicoseconds != nil { mask |= 0x20 }
        w.write(mask)
        if let value { w.write(value) }
        if let status { w.write(status) }
        if let sourceTimestamp { w.write(sourceTimestamp) }
        if let sourcePicoseconds { w.write(sourcePicoseconds) }
        if let serverTimestamp { w.write(serverTimestamp) }
        if let serverPicoseconds { w.write(serverPicoseconds) }
    }

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        let mask = try r.read(UInt8.self)
        value = mask & 0x01 != 0 ? try r.read(OPCUAVariant.self) : nil
        status = mask & 0x02 != 0 ? try r.read(OPCUAStatusCode.self) : nil
        sourceTimestamp = mask & 0x04 != 0 ? try r.read(Int64.self) : nil
        sourcePicoseconds = mask & 0x10 != 0 ? try r.read(UInt16.self) : nil
        serverTimestamp = mask & 0x08 != 0 ? try r.read(Int64.self) : nil
        serverPicoseconds = mask & 0x20 != 0 ? try r.read(UInt16.self) : nil
    }
}
