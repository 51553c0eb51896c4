import Plant

/// Predictions are the one record written per reading, so they get a writer of their own: the Codable path
/// (`RecordEncoder`) spends most of its time in the runtime's generic-metadata lookups and container boxes, 5.8 µs a
/// record against 1.6 µs here (`millstream-bench topic-records`, release build). The bytes are the same as
/// `RecordEncoder`'s for every record (checked by TopicRecordTests), so the Codable conformance stays the contract.
extension PredictionRecord {
    public func encoded() -> [UInt8] {
        Self.encode(
            machine: machine, ts: .text(ts), seq: seq, state: state, product: product, risk: risk, failure: failure,
            model: model, horizonMinutes: horizonMinutes, estimate: estimate, modes: modes, forecast: forecast,
            anomaly: anomaly, source: source
        ) { f in for e in features.entries { f.number(named: e.name, e.value) } }
    }

    /// The bytes of the record these parts make, without making it: the pipeline writes one per reading, its time
    /// from the reading's milliseconds and its features through `features` (by names encoded once, `EncodedKeys`).
    /// Building the record first copied every feature's name into it and formatted the time as text to copy it
    /// again. The bytes are `encoded()`'s, which is this with the record's fields (TopicRecordTests).
    public static func encode(
        machine: String, timestamp: Int64, seq: Int64?, state: String, product: String?, risk: Double?,
        failure: Bool?, model: String?, horizonMinutes: Double?, estimate: Estimate?, modes: NamedValues?,
        forecast: Forecast?, anomaly: Anomaly?, source: SourceRef?, features: (inout ObjectWriter) -> Void
    ) -> [UInt8] {
        encode(
            machine: machine, ts: .milliseconds(timestamp), seq: seq, state: state, product: product, risk: risk,
            failure: failure, model: model, horizonMinutes: horizonMinutes, estimate: estimate, modes: modes,
            forecast: forecast, anomaly: anomaly, source: source, features: features)
    }

    private static func encode(
        machine: String, ts: ObjectWriter.Time, seq: Int64?, state: String, product: String?, risk: Double?,
        failure: Bool?, model: String?, horizonMinutes: Double?, estimate: Estimate?, modes: NamedValues?,
        forecast: Forecast?, anomaly: Anomaly?, source: SourceRef?, features: (inout ObjectWriter) -> Void
    ) -> [UInt8] {
        ObjectWriter.bytes { o in
            o.string("machine", machine)
            o.time("ts", ts)
            o.integer("seq", seq)
            o.string("state", state)
            o.string("product", product)
            o.number("risk", risk)
            o.bool("failure", failure)
            o.string("model", model)
            o.number("horizon_min", horizonMinutes)
            o.object("estimate", estimate) { e, v in
                e.string("target", v.target)
                e.number("value", v.value)
            }
            o.object("modes", modes) { m, v in for e in v.entries { m.number(named: e.name, e.value) } }
            o.object("forecast", forecast) { f, v in
                f.number("probability", v.probability)
                f.number("horizon_min", v.horizonMinutes)
                f.string("model", v.model)
            }
            o.object("anomaly", anomaly) { a, v in
                a.number("score", v.score)
                a.bool("alarm", v.alarm)
                a.string("top_variable", v.topVariable)
            }
            o.object("features", ()) { f, _ in features(&f) }
            o.source(source)
        }
    }
}

/// Alerts come in bursts (a failure risk or an SPC rule on every reading while a machine drifts, each with its
/// evidence): through the Codable path they were 1.8 % of the pipeline worker in a profile. The same bytes as
/// `RecordEncoder`'s (TopicRecordTests).
extension AlertRecord {
    public func encoded() -> [UInt8] {
        ObjectWriter.bytes { o in
            o.string("id", id)
            o.string("machine", machine)
            o.string("ts", ts)
            o.string("kind", kind)
            o.string("severity", severity)
            o.string("priority", priority)
            o.string("status", status)
            o.string("variable", variable)
            o.string("raised_at", raisedAt)
            o.string("reason", reason)
            o.bool("latched", latched)
            o.string("message", message)
            o.object("evidence", evidence) { e, v in
                for n in v.numbers.entries { e.number(named: n.name, n.value) }
                if let mode = v.mode { e.string("mode", mode) }
                if let top = v.topVariable { e.string("top_variable", top) }
                if let rules = v.rules { e.strings("rules", rules) }
                if let contributions = v.contributions {
                    e.array("contributions", contributions) { c, v in
                        c.string("input", v.input)
                        c.number("value", v.value)
                        c.number("effect", v.effect)
                    }
                }
            }
            o.source(source)
        }
    }
}

/// Member names written as JSON once (`"name":`), for members whose names are known before their values: a
/// prediction's features, the same for every reading of a process. All in one buffer, written by their place (a list
/// of keys with an array each was a retain and a release of each key per reading).
public struct EncodedKeys: Sendable {
    let bytes: [UInt8]
    /// Where each key starts in `bytes`, then the end of the last.
    let starts: [Int]

    public init(_ names: some Sequence<String>) {
        var bytes: [UInt8] = []
        var starts = [0]
        for name in names {
            JSONWriter.string(name, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            starts.append(bytes.count)
        }
        self.bytes = bytes
        self.starts = starts
    }

    public var count: Int { starts.count - 1 }
}

/// KPIs are written per machine every few readings (`kpiEvery`), two windows of figures each: through the Codable
/// path they were 2.3 % of the pipeline worker in a profile. The same bytes as `RecordEncoder`'s (TopicRecordTests).
extension KPIRecord {
    public func encoded() -> [UInt8] {
        func figures(_ o: inout ObjectWriter, _ f: Figures) {
            o.number("availability", f.availability)
            o.number("performance", f.performance)
            o.number("quality", f.quality)
            o.number("oee", f.oee)
            o.integer("good", Int64(f.good))
            o.integer("scrap", Int64(f.scrap))
            o.array("downtime", f.downtime) { d, v in
                d.string("reason", v.reason)
                d.number("seconds", v.seconds)
            }
        }
        return ObjectWriter.bytes { o in
            o.string("machine", machine)
            o.string("ts", ts)
            o.object("hour", hour, figures)
            o.object("shift", shift, figures)
            o.source(source)
        }
    }
}

/// Writes one JSON object into one buffer, members in the order written; nil and non-finite numbers as null (as
/// `RecordEncoder`). Outside this module it writes a prediction's features (`PredictionRecord.encode`).
public struct ObjectWriter: ~Copyable {
    private var bytes: ByteWriter
    private var first = true

    private init(_ bytes: consuming ByteWriter) {
        self.bytes = bytes
        self.bytes.append("{")
    }

    /// The object `write` writes, in an array made for it: 768 bytes of room, a prediction's size with its
    /// features (the largest record written per reading), and copied only when it outgrows them. Written into
    /// a buffer of its own and then copied into an array, the copy was an allocation and a memmove per output of
    /// the pipeline's worker.
    static func bytes(capacity: Int = 768, _ write: (inout ObjectWriter) -> Void) -> [UInt8] {
        var outgrown: [UInt8]?
        let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            var o = ObjectWriter(ByteWriter(over: buffer))
            write(&o)
            o.bytes.append("}")
            initialized = o.bytes.written(outgrown: &outgrown)
        }
        return outgrown ?? bytes
    }

    /// A time as the record holds it (text), or as milliseconds to be written as that text.
    enum Time {
        case text(String)
        case milliseconds(Int64)
    }

    /// A member name known when the code is written (plain ASCII, nothing to escape; TopicRecordTests hold the
    /// bytes to the Codable encoder's): copied as it is, with no scan for characters to escape (the scans of the
    /// record's twenty fixed names were most of its string writing).
    private mutating func key(_ name: StaticString) {
        bytes.key(name, first: first)
        first = false
    }

    /// A member name from the data (a feature's or a mode's): escaped as any string.
    private mutating func key(named name: String) {
        if !first { bytes.append(",") }
        first = false
        bytes.string(name)
        bytes.append(":")
    }

    mutating func string(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { bytes.string(value) } else { bytes.append("null") }
    }

    mutating func number(_ name: StaticString, _ value: Double?) {
        key(name)
        write(value)
    }

    public mutating func number(named name: String, _ value: Double?) {
        key(named: name)
        write(value)
    }

    /// A member named by the name encoded once at `index` of `keys`.
    public mutating func number(_ keys: EncodedKeys, at index: Int, _ value: Double?) {
        if !first { bytes.append(",") }
        first = false
        keys.bytes.withUnsafeBufferPointer { b in
            bytes.append(UnsafeBufferPointer(rebasing: b[keys.starts[index]..<keys.starts[index + 1]]))
        }
        write(value)
    }

    mutating func time(_ name: StaticString, _ value: Time) {
        switch value {
        case .text(let text): string(name, text)
        case .milliseconds(let milliseconds):
            key(name)
            bytes.append("\"")
            bytes.timestamp(milliseconds)
            bytes.append("\"")
        }
    }

    private mutating func write(_ value: Double?) {
        if let value { bytes.number(value) } else { bytes.append("null") }
    }

    mutating func integer(_ name: StaticString, _ value: Int64?) {
        key(name)
        if let value { bytes.integer(value) } else { bytes.append("null") }
    }

    mutating func bool(_ name: StaticString, _ value: Bool?) {
        key(name)
        if let value { bytes.append(value ? "true" : "false") } else { bytes.append("null") }
    }

    /// A nested object (written in place), or null.
    mutating func object<T>(_ name: StaticString, _ value: T?, _ write: (inout ObjectWriter, T) -> Void) {
        key(name)
        guard let value else { return bytes.append("null") }
        bytes.append("{")
        first = true
        write(&self, value)
        bytes.append("}")
        first = false
    }

    /// An array of text.
    mutating func strings(_ name: StaticString, _ values: [String]) {
        key(name)
        bytes.append("[")
        for (i, value) in values.enumerated() {
            if i > 0 { bytes.append(",") }
            bytes.string(value)
        }
        bytes.append("]")
    }

    /// An array of objects (each written in place).
    mutating func array<T>(_ name: StaticString, _ values: [T], _ write: (inout ObjectWriter, T) -> Void) {
        key(name)
        bytes.append("[")
        for (i, value) in values.enumerated() {
            if i > 0 { bytes.append(",") }
            bytes.append("{")
            first = true
            write(&self, value)
            bytes.append("}")
        }
        bytes.append("]")
        first = false
    }

    /// The reading a record came from.
    mutating func source(_ source: SourceRef?) {
        object("source", source) { s, v in
            s.string("topic", v.topic)
            s.integer("partition", Int64(v.partition))
            s.integer("offset", v.offset)
        }
    }

}

/// A record's bytes written through a pointer: Array's append checks its buffer's uniqueness and capacity on every
/// call, which with the calls' own overhead was most of a prediction's writing (1.8 µs for 575 bytes,
/// `millstream-bench topic-records`). Each write makes room for its longest form first.
struct ByteWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var count = 0
    /// Whether `base` is this writer's own allocation: it outgrew the buffer it was given.
    private var owned = false

    /// Writes into `buffer` (not empty) until the bytes outgrow it, then into memory of its own.
    init(over buffer: UnsafeMutableBufferPointer<UInt8>) {
        base = buffer.baseAddress!
        capacity = buffer.count
    }

    deinit { if owned { base.deallocate() } }

    /// Where the next `n` bytes go, with room made for them. Inlined (a call per write was 2.5 % of the worker in a
    /// profile); growing is not.
    @inline(__always) private mutating func room(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        if count + n > capacity { grow(to: count + n) }
        return base + count
    }

    @inline(never) private mutating func grow(to needed: Int) {
        let grown = max(needed, capacity * 2)
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        moved.moveInitialize(from: base, count: count)
        if owned { base.deallocate() }
        base = moved
        capacity = grown
        owned = true
    }

    @inline(__always) mutating func append(_ text: StaticString) {
        let n = text.utf8CodeUnitCount
        let p = room(n)
        Self.copySmall(text.utf8Start, to: p, count: n)
        count += n
    }

    /// A member name known when the code is written, `"name":` (after a comma unless `first`), in room made once.
    @inline(__always) mutating func key(_ name: StaticString, first: Bool) {
        let n = name.utf8CodeUnitCount
        let p = room(n + 4)
        let comma = first ? 0 : 1
        p[0] = UInt8(ascii: ",")  // overwritten by the quote when first
        p[comma] = UInt8(ascii: "\"")
        Self.copySmall(name.utf8Start, to: p + comma + 1, count: n)
        p[comma + n + 1] = UInt8(ascii: "\"")
        p[comma + n + 2] = UInt8(ascii: ":")
        count += comma + n + 3
    }

    /// Copies a few bytes (punctuation, member names) in words: eight bytes at a time, the last word overlapping the
    /// one before (or two overlapping four-byte words below eight), never reading or writing outside either side.
    /// The byte loop it replaced (and a call to memmove would be no better for a few bytes) made writing the
    /// prediction's twenty member names 2.5 % of the pipeline worker in a profile.
    @inline(__always) static func copySmall(
        _ from: UnsafePointer<UInt8>, to: UnsafeMutablePointer<UInt8>, count n: Int
    ) {
        let source = UnsafeRawPointer(from)
        let target = UnsafeMutableRawPointer(to)
        if n >= 8 {
            var k = 0
            while k + 8 < n {
                target.storeBytes(
                    of: source.loadUnaligned(fromByteOffset: k, as: UInt64.self), toByteOffset: k, as: UInt64.self)
                k += 8
            }
            target.storeBytes(
                of: source.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self), toByteOffset: n - 8, as: UInt64.self)
        } else if n >= 4 {
            let head = source.loadUnaligned(as: UInt32.self)
            let tail = source.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
            target.storeBytes(of: head, as: UInt32.self)
            target.storeBytes(of: tail, toByteOffset: n - 4, as: UInt32.self)
        } else {
            for k in 0..<n { to[k] = from[k] }
        }
    }

    mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBufferPointer { append($0) } }

    mutating func append(_ b: UnsafeBufferPointer<UInt8>) {
        guard let from = b.baseAddress else { return }
        room(b.count).initialize(from: from, count: b.count)
        count += b.count
    }

    mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in count += JSONWriter.string(utf8, to: room(JSONWriter.longestString(utf8.count))) }
    }

    mutating func number(_ value: Double) { count += JSONWriter.number(value, to: room(JSONWriter.longestNumber)) }

    mutating func integer(_ value: Int64) { count += JSONWriter.integer(value, to: room(JSONWriter.longestInteger)) }

    mutating func timestamp(_ milliseconds: Int64) {
        count += Timestamp.write(
            milliseconds, into: UnsafeMutableBufferPointer(start: room(Timestamp.length), count: Timestamp.length))
    }

    /// How many bytes are written in the buffer given; when they outgrew it, none, and `outgrown` holds them.
    func written(outgrown: inout [UInt8]?) -> Int {
        guard owned else { return count }
        outgrown = Array(UnsafeBufferPointer(start: base, count: count))
        return 0
    }
}

/// And a reader of their own: the plant view reads every prediction. It takes the same strict path as the Codable
/// decoder (the same errors, checked by TopicRecordTests) without the runtime's generic containers.
extension PredictionRecord {
    public static func decode(_ bytes: [UInt8]) throws(RecordError) -> PredictionRecord {
        try RecordDecoder.read(bytes, PredictionRecord.init)
    }

    init(_ value: JSONValue) throws {
        let r = try FieldReader(value, path: [])
        machine = try r.string("machine")
        ts = try r.string("ts")
        seq = try r.optional("seq") { try Primitive.integer($0, $1) }
        state = try r.string("state")
        product = try r.optional("product") { try Primitive.string($0, $1) }
        risk = try r.optional("risk") { try Primitive.double($0, $1) }
        failure = try r.optional("failure") { try Primitive.bool($0, $1) }
        model = try r.optional("model") { try Primitive.string($0, $1) }
        horizonMinutes = try r.optional("horizon_min") { try Primitive.double($0, $1) }
        estimate = try r.optional("estimate") { v, p in
            let e = try FieldReader(v, path: p)
            return Estimate(target: try e.string("target"), value: try e.double("value"))
        }
        modes = try r.optional("modes") { v, p in try NamedValues(FieldReader(v, path: p)) }
        forecast = try r.optional("forecast") { v, p in
            let f = try FieldReader(v, path: p)
            return Forecast(
                probability: try f.double("probability"),
                horizonMinutes: try f.optional("horizon_min") { try Primitive.double($0, $1) },
                model: try f.string("model"))
        }
        anomaly = try r.optional("anomaly") { v, p in
            let a = try FieldReader(v, path: p)
            return Anomaly(
                score: try a.double("score"), alarm: try a.required("alarm") { try Primitive.bool($0, $1) },
                topVariable: try a.optional("top_variable") { try Primitive.string($0, $1) })
        }
        features = try r.required("features") { v, p in try NamedValues(FieldReader(v, path: p)) }
        source = try r.optional("source") { v, p in
            let s = try FieldReader(v, path: p)
            return SourceRef(
                topic: try s.string("topic"), partition: try s.required("partition") { try Primitive.integer($0, $1) },
                offset: try s.required("offset") { try Primitive.integer($0, $1) })
        }
    }
}

extension NamedValues {
    init(_ r: FieldReader) throws {
        entries = try r.members.keys.sorted().map { name in
            let v = r.members[name]!
            return Entry(name: name, value: v == .null ? .nan : try Primitive.double(v, r.path + [NameKey(name)]))
        }
    }
}

/// Reads an object's members by name with the decoder's errors (missing field, wrong kind, with the path).
struct FieldReader {
    let members: [String: JSONValue]
    let path: [any CodingKey]

    init(_ value: JSONValue, path: [any CodingKey]) throws {
        guard case .object(let members) = value else {
            throw DecodingError.typeMismatch(
                [String: Any].self, .init(codingPath: path, debugDescription: "expected an object, found \(value.kind)")
            )
        }
        self.members = members
        self.path = path
    }

    func required<T>(_ name: String, _ read: (JSONValue, [any CodingKey]) throws -> T) throws -> T {
        guard let v = members[name] else {
            throw DecodingError.keyNotFound(NameKey(name), .init(codingPath: path, debugDescription: "missing"))
        }
        return try read(v, path + [NameKey(name)])
    }

    func optional<T>(_ name: String, _ read: (JSONValue, [any CodingKey]) throws -> T) throws -> T? {
        guard let v = members[name], v != .null else { return nil }
        return try read(v, path + [NameKey(name)])
    }

    func string(_ name: String) throws -> String { try required(name) { try Primitive.string($0, $1) } }
    func double(_ name: String) throws -> Double { try required(name) { try Primitive.double($0, $1) } }
}
