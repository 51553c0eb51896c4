/// A record to write: optional key (on a bus it picks the partition), value, headers, timestamp in milliseconds since
/// the Unix epoch, and optionally the partition to write it to.
///
/// One type for the bus's producers and the event log's appends, so the pipeline's outputs reach the log's batch
/// encoder as they were made: converted from the bus's type to the log's, every output was copied (its key, value
/// and headers retained, then released) and a list made per partition.
public struct Record: Sendable, Hashable {
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [RecordHeader]
    public var timestamp: Int64
    /// Send to this partition instead of the one the key picks (a bus's producer; a partition's own append, which
    /// is already the place, does not read it).
    public var partition: Int?

    public init(
        key: [UInt8]? = nil, value: [UInt8], headers: [RecordHeader] = [], timestamp: Int64, partition: Int? = nil
    ) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
        self.partition = partition
    }
}

/// A record read back, with where it came from: its topic, partition and offset.
///
/// One type for what the event log reads and what the bus's consumers return, so the embedded bus hands the log's
/// records on as they were decoded (a conversion per record copied and released its key, value and headers).
public struct ConsumedRecord: Sendable, Hashable {
    public var topic: String
    public var partition: Int
    public var offset: Int64
    public var timestamp: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [RecordHeader]

    public init(
        topic: String, partition: Int, offset: Int64, timestamp: Int64, key: [UInt8]?, value: [UInt8],
        headers: [RecordHeader]
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
    }
}
