public import Topics

/// A record the pipeline emits, and where the reading that caused it came from.
public struct PipelineOutput: Sendable {
    public var topic: String
    public var key: [UInt8]
    public var value: [UInt8]
    public var timestamp: Int64
}

/// Topic, partition and offset of an input record (the `source` of every output record).
public typealias SourcePosition = SourceRef
