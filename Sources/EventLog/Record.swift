public import Primitives

/// A record to append: optional key, value, headers, timestamp in milliseconds since the Unix epoch.
public struct Record: Sendable, Hashable {
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [RecordHeader]
    public var timestamp: Int64

    public init(key: [UInt8]? = nil, value: [UInt8], headers: [RecordHeader] = [], timestamp: Int64) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
}

/// A record read back from a partition, with its offset.
public struct LogRecord: Sendable, Hashable {
    public var offset: Int64
    public var timestamp: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [RecordHeader]
}
