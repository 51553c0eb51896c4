import Foundation
import SparkplugProto
import SwiftProtobuf

/// A metric's data type code (Sparkplug 3.0, 6.4.16).
public typealias SparkplugDataType = Millstream_Sparkplug_DataType

/// A metric's value as its data type reads it.
public enum SparkplugValue: Sendable, Equatable, CustomStringConvertible {
    case null
    /// Int8 to Int64 and UInt8 to UInt32.
    case int(Int64)
    /// UInt64 and DateTime (milliseconds since the epoch).
    case uint(UInt64)
    case float(Float)
    case double(Double)
    case bool(Bool)
    case string(String)
    case bytes([UInt8])
    /// Data sets, templates, arrays, files: kept out of readings, named by their type.
    case unsupported(String)

    /// The value as a number: integers and floats; a boolean is 0 or 1; nil for the rest.
    public var number: Double? {
        switch self {
        case .int(let v): Double(v)
        case .uint(let v): Double(v)
        case .float(let v): Double(v)
        case .double(let v): v
        case .bool(let v): v ? 1 : 0
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .null: "null"
        case .int(let v): "\(v)"
        case .uint(let v): "\(v)"
        case .float(let v): "\(v)"
        case .double(let v): "\(v)"
        case .bool(let v): "\(v)"
        case .string(let s): "\"\(s)\""
        case .bytes(let b): "\(b.count) bytes"
        case .unsupported(let type): "a \(type) value"
        }
    }
}

/// One metric of a payload: named in births, aliased (where the birth gave an alias) in data and commands. Its value
/// is read with its data type, which data messages may leave to the birth (see `SparkplugHost`).
public struct SparkplugMetric: Sendable, Equatable {
    public var name: String?
    public var alias: UInt64?
    /// Milliseconds since the epoch: when the value was acquired.
    public var timestamp: UInt64?
    public var dataType: SparkplugDataType?
    public var isHistorical: Bool
    public var isTransient: Bool
    /// The value's quality by the widespread convention of a `Quality` property (192 good, 0 bad, 500 stale).
    public var quality: Int?
    /// The value as sent, before its data type reads it.
    public var raw: Raw

    /// The value field that was set (the payload's oneof).
    public enum Raw: Sendable, Equatable {
        case none
        case null
        case int(UInt32)
        case long(UInt64)
        case float(Float)
        case double(Double)
        case bool(Bool)
        case string(String)
        case bytes([UInt8])
        case other(String)
    }

    public init(
        name: String? = nil, alias: UInt64? = nil, timestamp: UInt64? = nil, dataType: SparkplugDataType? = nil,
        value: Raw, isHistorical: Bool = false, isTransient: Bool = false, quality: Int? = nil
    ) {
        self.name = name
        self.alias = alias
        self.timestamp = timestamp
        self.dataType = dataType
        self.raw = value
        self.isHistorical = isHistorical
        self.isTransient = isTransient
        self.quality = quality
    }

    /// The value read as `type`; an error when the field set does not carry that type.
    public func value(as type: SparkplugDataType) throws(SparkplugError) -> SparkplugValue {
        let value: SparkplugValue?
        switch raw {
        case .null: return .null
        case .other(let what): return .unsupported(what)
        case .none: value = nil
        case .int(let v):
            switch type {
            case .int8: value = .int(Int64(Int8(truncatingIfNeeded: v)))
            case .int16: value = .int(Int64(Int16(truncatingIfNeeded: v)))
            case .int32: value = .int(Int64(Int32(bitPattern: v)))
            case .uint8, .uint16, .uint32: value = .int(Int64(v))
            default: value = nil
            }
        case .long(let v):
            switch type {
            case .int64: value = .int(Int64(bitPattern: v))
            case .uint64, .dateTime: value = .uint(v)
            default: value = nil
            }
        case .float(let v): value = type == .float ? .float(v) : nil
        case .double(let v): value = type == .double ? .double(v) : nil
        case .bool(let v): value = type == .boolean ? .bool(v) : nil
        case .string(let s): value = [.string, .text, .uuid].contains(type) ? .string(s) : nil
        case .bytes(let b): value = [.bytes, .file].contains(type) ? .bytes(b) : nil
        }
        if let value { return value }
        // Data sets, templates, property sets and arrays are not read (they do not become variables).
        if type.rawValue >= SparkplugDataType.dataSet.rawValue && type != .bytes && type != .file {
            return .unsupported("\(type)")
        }
        if case .none = raw { throw SparkplugError("declares \(type) but carries no value (and is not null)") }
        throw SparkplugError("declares \(type) but carries \(raw.field)")
    }
}

extension SparkplugMetric.Raw {
    /// The payload field, for errors.
    var field: String {
        switch self {
        case .none: "no value"
        case .null: "null"
        case .int: "an int_value"
        case .long: "a long_value"
        case .float: "a float_value"
        case .double: "a double_value"
        case .bool: "a boolean_value"
        case .string: "a string_value"
        case .bytes: "a bytes_value"
        case .other(let what): "a \(what)"
        }
    }
}

/// A Sparkplug B payload: the body of every message but the host's STATE.
public struct SparkplugPayload: Sendable, Equatable {
    /// Milliseconds since the epoch: when the message was sent.
    public var timestamp: UInt64?
    /// 0 to 255; absent in NDEATH and commands.
    public var seq: UInt64?
    public var metrics: [SparkplugMetric]

    public init(timestamp: UInt64? = nil, seq: UInt64? = nil, metrics: [SparkplugMetric]) {
        self.timestamp = timestamp
        self.seq = seq
        self.metrics = metrics
    }

    /// Decodes a payload (protobuf); an error says what is malformed.
    public init(decoding bytes: [UInt8]) throws(SparkplugError) {
        let message: Millstream_Sparkplug_Payload
        do {
            message = try Millstream_Sparkplug_Payload(serializedBytes: bytes)
        } catch {
            throw SparkplugError("the payload (\(bytes.count) bytes) is not a Sparkplug B protobuf: \(error)")
        }
        timestamp = message.hasTimestamp ? message.timestamp : nil
        seq = message.hasSeq ? message.seq : nil
        metrics = try message.metrics.enumerated().map { (i, m) throws(SparkplugError) in
            guard m.hasName || m.hasAlias else { throw SparkplugError("metric \(i) has neither a name nor an alias") }
            var type: SparkplugDataType?
            if m.hasDatatype {
                guard let t = SparkplugDataType(rawValue: Int(m.datatype)) else {
                    throw SparkplugError(
                        "metric \(m.hasName ? m.name : "alias \(m.alias)"): data type \(m.datatype) is unknown")
                }
                type = t
            }
            return SparkplugMetric(
                name: m.hasName ? m.name : nil, alias: m.hasAlias ? m.alias : nil,
                timestamp: m.hasTimestamp ? m.timestamp : nil, dataType: type, value: Self.raw(m),
                isHistorical: m.isHistorical, isTransient: m.isTransient, quality: Self.quality(m))
        }
    }

    private static func raw(_ m: Millstream_Sparkplug_Payload.Metric) -> SparkplugMetric.Raw {
        if m.isNull { return .null }
        switch m.value {
        case nil: return .none
        case .intValue(let v): return .int(v)
        case .longValue(let v): return .long(v)
        case .floatValue(let v): return .float(v)
        case .doubleValue(let v): return .double(v)
        case .booleanValue(let v): return .bool(v)
        case .stringValue(let s): return .string(s)
        case .bytesValue(let d): return .bytes([UInt8](d))
        case .datasetValue: return .other("data set")
        case .templateValue: return .other("template")
        case .extensionValue: return .other("extension")
        }
    }

    /// The `Quality` property's number, if the metric has one.
    private static func quality(_ m: Millstream_Sparkplug_Payload.Metric) -> Int? {
        guard m.hasProperties, let i = m.properties.keys.firstIndex(of: "Quality"), i < m.properties.values.count
        else { return nil }
        switch m.properties.values[i].value {
        case .intValue(let v)?: return Int(Int32(bitPattern: v))
        case .longValue(let v)?: return Int(truncatingIfNeeded: Int64(bitPattern: v))
        default: return nil
        }
    }

    /// The payload's protobuf bytes.
    public func encoded() -> [UInt8] {
        var message = Millstream_Sparkplug_Payload()
        if let timestamp { message.timestamp = timestamp }
        if let seq { message.seq = seq }
        message.metrics = metrics.map { m in
            var out = Millstream_Sparkplug_Payload.Metric()
            if let name = m.name { out.name = name }
            if let alias = m.alias { out.alias = alias }
            if let t = m.timestamp { out.timestamp = t }
            if let type = m.dataType { out.datatype = UInt32(type.rawValue) }
            if m.isHistorical { out.isHistorical = true }
            if m.isTransient { out.isTransient = true }
            if let q = m.quality {
                var p = Millstream_Sparkplug_Payload.PropertyValue()
                p.type = UInt32(SparkplugDataType.int32.rawValue)
                p.intValue = UInt32(bitPattern: Int32(clamping: q))
                out.properties.keys = ["Quality"]
                out.properties.values = [p]
            }
            switch m.raw {
            case .none, .other: break
            case .null: out.isNull = true
            case .int(let v): out.intValue = v
            case .long(let v): out.longValue = v
            case .float(let v): out.floatValue = v
            case .double(let v): out.doubleValue = v
            case .bool(let v): out.booleanValue = v
            case .string(let s): out.stringValue = s
            case .bytes(let b): out.bytesValue = Data(b)
            }
            return out
        }
        // Serializing a message with only known, set fields cannot fail.
        return (try? message.serializedBytes()) ?? []
    }
}

extension SparkplugMetric {
    /// A metric holding `number` as `type` (rounded for the integer types); nil when the type cannot hold it.
    public static func number(
        _ number: Double, as type: SparkplugDataType, name: String? = nil, alias: UInt64? = nil,
        timestamp: UInt64? = nil
    ) -> SparkplugMetric? {
        let raw: Raw
        let r = number.rounded()
        switch type {
        case .float: raw = .float(Float(number))
        case .double: raw = .double(number)
        case .boolean: raw = .bool(number != 0)
        case .int8 where (-128...127).contains(r), .int16 where (-32768...32767).contains(r),
            .int32 where (-2_147_483_648...2_147_483_647).contains(r):
            raw = .int(UInt32(bitPattern: Int32(r)))
        case .uint8 where (0...255).contains(r), .uint16 where (0...65535).contains(r),
            .uint32 where (0...4_294_967_295).contains(r):
            raw = .int(UInt32(r))
        case .int64 where abs(r) < 9.2e18: raw = .long(UInt64(bitPattern: Int64(r)))
        case .uint64 where r >= 0 && r < 1.8e19: raw = .long(UInt64(r))
        default: return nil
        }
        return SparkplugMetric(name: name, alias: alias, timestamp: timestamp, dataType: type, value: raw)
    }
}
