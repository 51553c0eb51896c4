/// Per-topic settings, stored in the topic's directory when it is created.
public struct TopicConfiguration: Sendable, Codable, Equatable {
    /// Number of partitions; records with the same key go to the same partition.
    public var partitions: Int
    /// A segment file is closed and a new one started once it reaches this size.
    public var segmentBytes: Int
    /// Closed segments last written longer ago than this are deleted. nil keeps them by age forever.
    public var retentionMilliseconds: Int64?
    /// Oldest closed segments are deleted while a partition is larger than this. nil: no size limit.
    public var retentionBytes: Int64?
    /// Bytes of log between two entries of the sparse offset index.
    public var indexIntervalBytes: Int

    public init(
        partitions: Int = 1, segmentBytes: Int = 64 << 20, retentionMilliseconds: Int64? = 7 * 24 * 3_600_000,
        retentionBytes: Int64? = nil, indexIntervalBytes: Int = 4096
    ) {
        self.partitions = partitions
        self.segmentBytes = segmentBytes
        self.retentionMilliseconds = retentionMilliseconds
        self.retentionBytes = retentionBytes
        self.indexIntervalBytes = indexIntervalBytes
    }

    enum CodingKeys: String, CodingKey {
        case partitions
        case segmentBytes = "segment_bytes"
        case retentionMilliseconds = "retention_ms"
        case retentionBytes = "retention_bytes"
        case indexIntervalBytes = "index_interval_bytes"
    }

    /// Throws an error naming the first setting out of range.
    public func validate() throws {
        guard (1...10_000).contains(partitions) else {
            throw EventLogError.invalid("partitions", partitions, expected: "1 to 10000")
        }
        guard (1024...(1 << 30)).contains(segmentBytes) else {
            throw EventLogError.invalid("segment_bytes", segmentBytes, expected: "1 KiB to 1 GiB")
        }
        if let ms = retentionMilliseconds, ms <= 0 {
            throw EventLogError.invalid("retention_ms", ms, expected: "a positive number of milliseconds, or none")
        }
        if let bytes = retentionBytes, bytes <= 0 {
            throw EventLogError.invalid("retention_bytes", bytes, expected: "a positive number of bytes, or none")
        }
        guard (64...(1 << 20)).contains(indexIntervalBytes) else {
            throw EventLogError.invalid("index_interval_bytes", indexIntervalBytes, expected: "64 B to 1 MiB")
        }
    }
}

/// When appended data is forced to stable storage.
public enum FsyncPolicy: Sendable, Equatable, CustomStringConvertible {
    /// fsync before an append returns: an acknowledged append survives power loss.
    case everyBatch
    /// fsync at most this long after an append (checked on append, on `sync()`, and by the bus's flusher).
    case interval(Duration)
    /// leave it to the operating system (survives a killed process, not power loss).
    case never

    public var description: String {
        switch self {
        case .everyBatch: "every batch"
        case .interval(let d): "every \(d)"
        case .never: "never"
        }
    }
}
