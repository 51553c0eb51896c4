import Plant

/// Encodes a `Codable` record as compact JSON bytes, in the order its `encode(to:)` writes the fields.
///
/// Written here because Foundation's `JSONEncoder` builds a tree before it writes: this one writes straight into a
/// byte array, 1.85 times as fast (`millstream-bench topic-records`). Predictions, one per reading, have a writer of
/// their own on top (PredictionRecord+Encoding.swift).
/// Optionals that are nil are written as `null` (the records' documented form), non-finite numbers as `null`.
/// Nested containers and super-encoders are not supported (no record uses them): asking for one throws.
public enum RecordEncoder {
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let sink = ByteSink()
        try sink.encodeValue(value, codingPath: [])
        return sink.bytes
    }
}

/// The bytes being written, shared by the containers of one encoding.
final class ByteSink {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(512) }

    /// Encodes one value, then closes whatever container it opened (Codable has no "end" call).
    func encodeValue(_ value: some Encodable, codingPath: [any CodingKey]) throws {
        switch value {
        case let v as String: JSONWriter.string(v, into: &bytes)
        case let v as Double: number(v)
        case let v as Bool: bytes.append(contentsOf: v ? trueBytes : falseBytes)
        case let v as Int: bytes.append(contentsOf: String(v).utf8)
        case let v as Int64: bytes.append(contentsOf: String(v).utf8)
        default:
            let encoder = ValueEncoder(sink: self, codingPath: codingPath)
            try value.encode(to: encoder)
            switch encoder.state.opened {
            case .none: bytes.append(contentsOf: "{}".utf8)
            case .keyed: bytes.append(UInt8(ascii: "}"))
            case .unkeyed: bytes.append(UInt8(ascii: "]"))
            case .single: break
            }
        }
    }

    func number(_ v: Double) {
        if v.isFinite { JSONWriter.number(v, into: &bytes) } else { bytes.append(contentsOf: nullBytes) }
    }

    func key(_ name: String, first: inout Bool) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        JSONWriter.string(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    func integer(_ v: some BinaryInteger) { bytes.append(contentsOf: String(v).utf8) }
}

private let trueBytes = Array("true".utf8)
private let falseBytes = Array("false".utf8)
private let nullBytes = Array("null".utf8)

/// Which container a value's `encode(to:)` opened.
final class ContainerState {
    enum Opened { case none, keyed, unkeyed, single }
    var opened = Opened.none
    var first = true
    var count = 0
}

struct ValueEncoder: Encoder {
    let sink: ByteSink
    let state = ContainerState()
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(sink: ByteSink, codingPath: [any CodingKey]) {
        self.sink = sink
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        open(.keyed, "{")
        return KeyedEncodingContainer(KeyedRecordContainer<Key>(sink: sink, state: state, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        open(.unkeyed, "[")
        return UnkeyedRecordContainer(sink: sink, state: state, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        state.opened = .single
        return SingleRecordContainer(sink: sink, codingPath: codingPath)
    }

    private func open(_ kind: ContainerState.Opened, _ bracket: Character) {
        // A second request for the same container (allowed by Codable) continues the open one.
        guard state.opened == .none else { return }
        state.opened = kind
        sink.bytes.append(UInt8(ascii: bracket.unicodeScalars.first!))
    }
}

private func unsupported(_ what: String, _ path: [any CodingKey]) -> EncodingError {
    EncodingError.invalidValue(
        what, .init(codingPath: path, debugDescription: "topic records do not use \(what)"))
}

struct KeyedRecordContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: ByteSink
    let state: ContainerState
    var codingPath: [any CodingKey]

    private func key(_ key: Key) { sink.key(key.stringValue, first: &state.first) }

    mutating func encodeNil(forKey key: Key) throws {
        self.key(key)
        sink.bytes.append(contentsOf: nullBytes)
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        self.key(key)
        sink.bytes.append(contentsOf: value ? trueBytes : falseBytes)
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        self.key(key)
        JSONWriter.string(value, into: &sink.bytes)
    }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        self.key(key)
        sink.number(value)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws { try encode(Double(value), forKey: key) }
    mutating func encode(_ value: Int, forKey key: Key) throws {
        self.key(key)
        sink.integer(value)
    }
    mutating func encode(_ value: Int64, forKey key: Key) throws {
        self.key(key)
        sink.integer(value)
    }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try encode(Int64(value), forKey: key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        self.key(key)
        try sink.encodeValue(value, codingPath: codingPath + [key])
    }
    // nil optionals are written as null: a record's fields are always present.
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        preconditionFailure("\(unsupported("nested containers", codingPath + [key]))")
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        preconditionFailure("\(unsupported("nested containers", codingPath + [key]))")
    }
    mutating func superEncoder() -> any Encoder { preconditionFailure("\(unsupported("super encoders", codingPath))") }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        preconditionFailure("\(unsupported("super encoders", codingPath + [key]))")
    }
}

struct UnkeyedRecordContainer: UnkeyedEncodingContainer {
    let sink: ByteSink
    let state: ContainerState
    var codingPath: [any CodingKey]
    var count: Int { state.count }

    private func next() {
        if state.count > 0 { sink.bytes.append(UInt8(ascii: ",")) }
        state.count += 1
    }

    mutating func encodeNil() throws {
        next()
        sink.bytes.append(contentsOf: nullBytes)
    }
    mutating func encode(_ value: String) throws {
        next()
        JSONWriter.string(value, into: &sink.bytes)
    }
    mutating func encode(_ value: Double) throws {
        next()
        sink.number(value)
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        next()
        try sink.encodeValue(value, codingPath: codingPath + [IndexKey(count - 1)])
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        preconditionFailure("\(unsupported("nested containers", codingPath))")
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        preconditionFailure("\(unsupported("nested containers", codingPath))")
    }
    mutating func superEncoder() -> any Encoder { preconditionFailure("\(unsupported("super encoders", codingPath))") }
}

struct SingleRecordContainer: SingleValueEncodingContainer {
    let sink: ByteSink
    var codingPath: [any CodingKey]

    mutating func encodeNil() throws { sink.bytes.append(contentsOf: nullBytes) }
    mutating func encode(_ value: Bool) throws { sink.bytes.append(contentsOf: value ? trueBytes : falseBytes) }
    mutating func encode(_ value: String) throws { JSONWriter.string(value, into: &sink.bytes) }
    mutating func encode(_ value: Double) throws { sink.number(value) }
    mutating func encode(_ value: Float) throws { sink.number(Double(value)) }
    mutating func encode(_ value: Int) throws { sink.integer(value) }
    mutating func encode(_ value: Int64) throws { sink.integer(value) }
    mutating func encode(_ value: Int32) throws { sink.integer(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try sink.encodeValue(value, codingPath: codingPath) }
}

/// The position of an element in an array, as a coding key (for error paths).
struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}
