import Plant

/// A record the pipeline emits, and where the reading that caused it came from.
public struct PipelineOutput: Sendable {
    public var topic: String
    public var key: [UInt8]
    public var value: [UInt8]
    public var timestamp: Int64
}

/// Topic, partition and offset of an input record.
public struct SourcePosition: Sendable, Hashable {
    public var topic: String
    public var partition: Int
    public var offset: Int64

    public init(topic: String, partition: Int, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// Small JSON object writer for the output records (field order as written).
struct JSONObject {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    private mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: "\":".utf8)
    }

    mutating func string(_ name: String, _ value: String?) {
        key(name)
        if let value { JSONWriter.string(value, into: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    mutating func number(_ name: String, _ value: Double?) {
        key(name)
        if let value, value.isFinite {
            JSONWriter.number(value, into: &bytes)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    mutating func integer(_ name: String, _ value: Int64?) {
        key(name)
        if let value { bytes.append(contentsOf: String(value).utf8) } else { bytes.append(contentsOf: "null".utf8) }
    }

    mutating func bool(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    mutating func raw(_ name: String, _ json: [UInt8]) {
        key(name)
        bytes.append(contentsOf: json)
    }

    mutating func object(_ name: String, _ build: (inout JSONObject) -> Void) {
        var inner = JSONObject()
        build(&inner)
        raw(name, inner.finished())
    }

    func finished() -> [UInt8] { bytes + [UInt8(ascii: "}")] }

    static func source(_ s: SourcePosition) -> [UInt8] {
        var o = JSONObject()
        o.string("topic", s.topic)
        o.integer("partition", Int64(s.partition))
        o.integer("offset", s.offset)
        return o.finished()
    }
}
