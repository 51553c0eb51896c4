import Plant

/// Encodes a `Codable` value as compact JSON bytes, in the order its `encode(to:)` writes the fields.
///
/// Written here because Foundation's `JSONEncoder` builds a tree before it writes: this one writes straight into a
/// byte array, 1.85 times as fast on a record (`millstream-bench topic-records`). Predictions, one per reading, have
/// a writer of their own on top (PredictionRecord+Encoding.swift). The pipeline's checkpoints (every machine's state)
/// go through it too, with `Options.state`.
///
/// Nested containers are written as they come: one is closed when its parent writes again or is closed itself, so a
/// nested container written to after its parent moved on is a programming error (it stops the process). Super
/// encoders are not supported (nothing here uses them).
public enum RecordEncoder {
    /// How nil optionals and non-finite numbers are written.
    public struct Options: Sendable {
        /// Whether a nil optional is written as `null` (a record's fields are always present) or left out.
        public var writesNil: Bool
        /// Whether NaN and the infinities are written as the strings of `nonFiniteStrings` (read back by a
        /// `JSONDecoder` whose `nonConformingFloatDecodingStrategy` converts them from those strings), or as `null`
        /// (records: readers reject them).
        public var nonFiniteAsStrings: Bool
        /// Whether negative zero is written as "-0" (or as "0", as the records' number writer does).
        public var keepsNegativeZero: Bool

        /// Topic records: every field present, non-finite numbers as `null`.
        public static let records = Options(writesNil: true, nonFiniteAsStrings: false, keepsNegativeZero: false)
        /// State that is read back exactly (checkpoints): nil optionals left out, as Foundation's encoder leaves
        /// them, non-finite numbers as strings and negative zero as "-0".
        public static let state = Options(writesNil: false, nonFiniteAsStrings: true, keepsNegativeZero: true)

        /// The strings `nonFiniteAsStrings` writes.
        public static let nonFiniteStrings = (nan: "NaN", positiveInfinity: "Infinity", negativeInfinity: "-Infinity")
    }

    public static func encode(_ value: some Encodable, options: Options = .records) throws -> [UInt8] {
        let sink = ByteSink(options: options)
        try sink.encodeValue(value, codingPath: [])
        return sink.bytes
    }
}

/// The bytes being written and the containers open, shared by the containers of one encoding.
final class ByteSink {
    /// Unchecked: every write is an inout access to this class's property, and the run-time exclusivity check of each
    /// was a quarter of a checkpoint's encoding (20 machines' optimizer windows, mostly numbers). The sink is one
    /// encoding's, on one thread, and no write to it starts inside another.
    @exclusivity(unchecked) var bytes: [UInt8] = []
    let options: RecordEncoder.Options
    /// The keyed and unkeyed containers open, outermost first.
    private var open: [ContainerState] = []

    init(options: RecordEncoder.Options) {
        self.options = options
        bytes.reserveCapacity(512)
    }

    /// Encodes one value, then closes whatever container it opened (Codable has no "end" call).
    func encodeValue(_ value: some Encodable, codingPath: @autoclosure () -> [any CodingKey]) throws {
        if primitive(value) { return }
        let depth = open.count
        let encoder = ValueEncoder(sink: self, codingPath: codingPath())
        try value.encode(to: encoder)
        switch encoder.state.opened {
        case .none: bytes.append(contentsOf: "{}".utf8)
        case .keyed, .unkeyed: close(downTo: depth)
        case .single: break
        }
    }

    /// Writes `value` if it is a number, text, a truth value or an array of numbers, and says whether it was.
    /// Arrays of numbers are written here rather than element by element through Codable's generic calls, each with
    /// its coding path: a checkpoint is mostly such arrays, and this took its encoding from 32 ms to 14 ms
    /// (Foundation's `JSONEncoder`: 70 ms; `millstream-bench pipeline`).
    private func primitive(_ value: some Encodable) -> Bool {
        switch value {
        case let v as Double: number(v)
        case let v as String: JSONWriter.string(v, into: &bytes)
        case let v as Int: integer(v)
        case let v as Int64: integer(v)
        case let v as Bool: bytes.append(contentsOf: v ? trueBytes : falseBytes)
        case let v as [Double]: elements(v) { $0.number($1) }
        case let v as [Int]: elements(v) { $0.integer($1) }
        case let v as Float: float(v)
        // The other integer types: their `encode(to:)` asks a single-value container for a method the containers
        // here leave to Codable's default, which encodes them as a generic value again.
        case let v as any BinaryInteger: integer(v)
        default: return false
        }
        return true
    }

    private func elements<T>(_ values: [T], _ write: (ByteSink, T) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            write(self, v)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    func number(_ v: Double) {
        if v.isFinite {
            if options.keepsNegativeZero && v == 0 && v.sign == .minus {
                bytes.append(contentsOf: "-0".utf8)
            } else {
                JSONWriter.number(v, into: &bytes)
            }
        } else if options.nonFiniteAsStrings {
            let names = RecordEncoder.Options.nonFiniteStrings
            JSONWriter.string(
                v.isNaN ? names.nan : v < 0 ? names.negativeInfinity : names.positiveInfinity, into: &bytes)
        } else {
            bytes.append(contentsOf: nullBytes)
        }
    }

    /// A Float in its own shortest form ("0.1", where as a Double it would be 0.10000000149011612).
    func float(_ v: Float) {
        if v.isFinite && v != 0 {
            bytes.append(contentsOf: v.description.utf8)
        } else {
            number(Double(v))
        }
    }

    func key(_ name: String, first: inout Bool) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        JSONWriter.string(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    func integer(_ v: some BinaryInteger) {
        if let exact = Int64(exactly: v) {
            JSONWriter.integer(exact, into: &bytes)
        } else {
            bytes.append(contentsOf: String(v).utf8)
        }
    }

    /// A keyed container nested in the one being written (after its key or its comma).
    func nestedKeyed<Key: CodingKey>(_ codingPath: [any CodingKey]) -> KeyedEncodingContainer<Key> {
        let nested = ContainerState(.keyed)
        push(nested, UInt8(ascii: "{"))
        return KeyedEncodingContainer(KeyedRecordContainer<Key>(sink: self, state: nested, codingPath: codingPath))
    }

    /// An unkeyed container nested in the one being written.
    func nestedUnkeyed(_ codingPath: [any CodingKey]) -> any UnkeyedEncodingContainer {
        let nested = ContainerState(.unkeyed)
        push(nested, UInt8(ascii: "["))
        return UnkeyedRecordContainer(sink: self, state: nested, codingPath: codingPath)
    }

    /// Opens a keyed ("{") or unkeyed ("[") container.
    func push(_ state: ContainerState, _ bracket: UInt8) {
        state.depth = open.count
        open.append(state)
        bytes.append(bracket)
    }

    /// Called before a container writes: closes the containers nested in it that are still open.
    func enter(_ state: ContainerState, _ codingPath: [any CodingKey]) {
        precondition(
            !state.closed,
            "RecordEncoder: a container at \(codingPath.map(\.stringValue)) was written to after its parent moved on")
        close(downTo: state.depth + 1)
    }

    /// Closes the containers open deeper than `depth`, innermost first.
    private func close(downTo depth: Int) {
        while open.count > depth {
            let state = open.removeLast()
            state.closed = true
            bytes.append(state.opened == .keyed ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }
}

private let trueBytes = Array("true".utf8)
private let falseBytes = Array("false".utf8)
private let nullBytes = Array("null".utf8)

/// Which container a value's `encode(to:)` opened, and where it stands.
final class ContainerState {
    enum Opened { case none, keyed, unkeyed, single }
    var opened = Opened.none
    var first = true
    var count = 0
    /// Its place among the open containers, and whether it was closed.
    var depth = 0
    var closed = false

    init(_ opened: Opened = .none) { self.opened = opened }
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
        sink.push(state, UInt8(ascii: bracket.unicodeScalars.first!))
    }
}

private func unsupported(_ what: String, _ path: [any CodingKey]) -> EncodingError {
    EncodingError.invalidValue(
        what, .init(codingPath: path, debugDescription: "RecordEncoder does not support \(what)"))
}

struct KeyedRecordContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: ByteSink
    let state: ContainerState
    var codingPath: [any CodingKey]

    private func key(_ key: Key) {
        sink.enter(state, codingPath)
        sink.key(key.stringValue, first: &state.first)
    }

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
    mutating func encode(_ value: Float, forKey key: Key) throws {
        self.key(key)
        sink.float(value)
    }
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
    // nil optionals are written as null (a record's fields are always present) or left out (`Options.writesNil`).
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        if let value {
            try encode(value, forKey: key)
        } else if sink.options.writesNil {
            try encodeNil(forKey: key)
        }
    }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws {
        if let value {
            try encode(value, forKey: key)
        } else if sink.options.writesNil {
            try encodeNil(forKey: key)
        }
    }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
        if let value {
            try encode(value, forKey: key)
        } else if sink.options.writesNil {
            try encodeNil(forKey: key)
        }
    }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
        if let value {
            try encode(value, forKey: key)
        } else if sink.options.writesNil {
            try encodeNil(forKey: key)
        }
    }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws {
        if let value {
            try encode(value, forKey: key)
        } else if sink.options.writesNil {
            try encodeNil(forKey: key)
        }
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value {
            try encode(value, forKey: key)
        } else if sink.options.writesNil {
            try encodeNil(forKey: key)
        }
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        self.key(key)
        return sink.nestedKeyed(codingPath + [key])
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        self.key(key)
        return sink.nestedUnkeyed(codingPath + [key])
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
        sink.enter(state, codingPath)
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
        next()
        return sink.nestedKeyed(codingPath + [IndexKey(count - 1)])
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        next()
        return sink.nestedUnkeyed(codingPath + [IndexKey(count - 1)])
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
    mutating func encode(_ value: Float) throws { sink.float(value) }
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
