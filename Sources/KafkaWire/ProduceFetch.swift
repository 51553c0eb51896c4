public import NIOCore

// Produce v9, Fetch v12 and ListOffsets v7: the data path. All flexible.

/// Produce (key 0) v9: record batches for partitions, already encoded.
public struct ProduceRequest: Sendable {
    public struct Partition: Sendable {
        public var index: Int32
        public var records: ByteBuffer
        public init(index: Int32, records: ByteBuffer) {
            self.index = index
            self.records = records
        }
    }
    public struct Topic: Sendable {
        public var name: String
        public var partitions: [Partition]
        public init(name: String, partitions: [Partition]) {
            self.name = name
            self.partitions = partitions
        }
    }
    public var transactionalID: String?
    /// 0: no answer; 1: the leader's; -1: all in-sync replicas'.
    public var acks: Int16
    public var timeoutMs: Int32
    public var topics: [Topic]

    public init(transactionalID: String? = nil, acks: Int16 = -1, timeoutMs: Int32 = 30_000, topics: [Topic]) {
        self.transactionalID = transactionalID
        self.acks = acks
        self.timeoutMs = timeoutMs
        self.topics = topics
    }

    public static let versions: ClosedRange<Int16> = 9...9

    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeCompactString(transactionalID)
        b.writeBigEndian(acks)
        b.writeBigEndian(timeoutMs)
        b.writeTopics(topics.map { ($0.name, $0.partitions) }) { b, p in
            b.writeBigEndian(p.index)
            b.writeCompactSlice(p.records)
            b.writeNoTaggedFields()
        }
        b.writeNoTaggedFields()
    }
}

public struct ProduceResponse: Sendable, Equatable {
    public struct Partition: Sendable, Equatable {
        public var index: Int32
        public var errorCode: Int16
        public var baseOffset: Int64
        public var logAppendTimeMs: Int64
        public var logStartOffset: Int64
        public var recordErrors: [(batchIndex: Int32, message: String?)]
        public var errorMessage: String?

        public static func == (a: Self, b: Self) -> Bool {
            a.index == b.index && a.errorCode == b.errorCode && a.baseOffset == b.baseOffset
                && a.errorMessage == b.errorMessage
        }
    }
    public var topics: [(name: String, partitions: [Partition])]
    public var throttleTimeMs: Int32

    public static func == (a: Self, b: Self) -> Bool {
        a.topics.map(\.name) == b.topics.map(\.name) && a.topics.map(\.partitions) == b.topics.map(\.partitions)
    }

    public static func read(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> ProduceResponse {
        let topics = try b.readTopics("Produce response") { (b: inout ByteBuffer) throws(KafkaWireError) -> Partition in
            let index: Int32 = try b.readKafkaInteger("partition index")
            let error: Int16 = try b.readKafkaInteger("error code")
            let base: Int64 = try b.readKafkaInteger("base offset")
            let append: Int64 = try b.readKafkaInteger("log append time")
            let start: Int64 = try b.readKafkaInteger("log start offset")
            let recordErrors = try b.readCompactArray("record errors") {
                (b: inout ByteBuffer) throws(KafkaWireError) -> (batchIndex: Int32, message: String?) in
                let i: Int32 = try b.readKafkaInteger("batch index")
                let m = try b.readCompactString("batch index error message", nullable: true)
                try b.readTaggedFields("record error")
                return (i, m)
            }
            let message = try b.readCompactString("error message", nullable: true)
            try b.readTaggedFields("partition response")
            return Partition(
                index: index, errorCode: error, baseOffset: base, logAppendTimeMs: append, logStartOffset: start,
                recordErrors: recordErrors ?? [], errorMessage: message)
        }
        let throttle: Int32 = try b.readKafkaInteger("throttle time")
        try b.readTaggedFields("Produce response")
        return ProduceResponse(topics: topics, throttleTimeMs: throttle)
    }
}

/// Fetch (key 1) v12: a session-less fetch of partitions from their offsets.
public struct FetchRequest: Sendable {
    public struct Partition: Sendable {
        public var index: Int32
        public var currentLeaderEpoch: Int32
        public var fetchOffset: Int64
        public var maxBytes: Int32
        public init(index: Int32, currentLeaderEpoch: Int32 = -1, fetchOffset: Int64, maxBytes: Int32) {
            self.index = index
            self.currentLeaderEpoch = currentLeaderEpoch
            self.fetchOffset = fetchOffset
            self.maxBytes = maxBytes
        }
    }
    public var maxWaitMs: Int32
    public var minBytes: Int32
    public var maxBytes: Int32
    /// 0: read uncommitted; 1: read committed.
    public var isolationLevel: Int8
    public var topics: [(name: String, partitions: [Partition])]

    public init(
        maxWaitMs: Int32, minBytes: Int32 = 1, maxBytes: Int32 = 52_428_800, isolationLevel: Int8 = 0,
        topics: [(name: String, partitions: [Partition])]
    ) {
        self.maxWaitMs = maxWaitMs
        self.minBytes = minBytes
        self.maxBytes = maxBytes
        self.isolationLevel = isolationLevel
        self.topics = topics
    }

    public static let versions: ClosedRange<Int16> = 12...12

    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeBigEndian(Int32(-1))  // replica id: a consumer
        b.writeBigEndian(maxWaitMs)
        b.writeBigEndian(minBytes)
        b.writeBigEndian(maxBytes)
        b.writeInteger(isolationLevel)
        b.writeBigEndian(Int32(0))  // session id: none
        b.writeBigEndian(Int32(-1))  // session epoch: a full fetch, no session
        b.writeTopics(topics) { b, p in
            b.writeBigEndian(p.index)
            b.writeBigEndian(p.currentLeaderEpoch)
            b.writeBigEndian(p.fetchOffset)
            b.writeBigEndian(Int32(-1))  // last fetched epoch
            b.writeBigEndian(Int64(-1))  // log start offset (followers only)
            b.writeBigEndian(p.maxBytes)
            b.writeNoTaggedFields()
        }
        b.writeCompactArray([Int]()) { _, _ in }  // forgotten topics
        b.writeCompactString("")  // rack id
        b.writeNoTaggedFields()
    }
}

public struct FetchResponse: Sendable {
    public struct Partition: Sendable {
        public var index: Int32
        public var errorCode: Int16
        public var highWatermark: Int64
        public var lastStableOffset: Int64
        public var logStartOffset: Int64
        public var abortedTransactions: [(producerID: Int64, firstOffset: Int64)]?
        /// The record batches, as a slice of the response (decode with `RecordBatch.read`).
        public var records: ByteBuffer?
    }
    public var throttleTimeMs: Int32
    public var errorCode: Int16
    public var topics: [(name: String, partitions: [Partition])]

    public static func read(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> FetchResponse {
        let throttle: Int32 = try b.readKafkaInteger("throttle time")
        let error: Int16 = try b.readKafkaInteger("error code")
        _ = try b.readKafkaInteger("session id", as: Int32.self)
        let topics = try b.readTopics("Fetch response") { (b: inout ByteBuffer) throws(KafkaWireError) -> Partition in
            let index: Int32 = try b.readKafkaInteger("partition index")
            let error: Int16 = try b.readKafkaInteger("error code")
            let hw: Int64 = try b.readKafkaInteger("high watermark")
            let lso: Int64 = try b.readKafkaInteger("last stable offset")
            let start: Int64 = try b.readKafkaInteger("log start offset")
            let aborted = try b.readCompactArray("aborted transactions") {
                (b: inout ByteBuffer) throws(KafkaWireError) -> (producerID: Int64, firstOffset: Int64) in
                let id: Int64 = try b.readKafkaInteger("producer id")
                let first: Int64 = try b.readKafkaInteger("first offset")
                try b.readTaggedFields("aborted transaction")
                return (id, first)
            }
            _ = try b.readKafkaInteger("preferred read replica", as: Int32.self)
            let records = try b.readCompactSlice("records")
            try b.readTaggedFields("partition data")
            return Partition(
                index: index, errorCode: error, highWatermark: hw, lastStableOffset: lso, logStartOffset: start,
                abortedTransactions: aborted, records: records)
        }
        try b.readTaggedFields("Fetch response")
        return FetchResponse(throttleTimeMs: throttle, errorCode: error, topics: topics)
    }
}

/// ListOffsets (key 2) v7: the offset for a timestamp, or the earliest (-2) / latest (-1) offset.
public struct ListOffsetsRequest: Sendable {
    public static let latest: Int64 = -1
    public static let earliest: Int64 = -2
    public var isolationLevel: Int8
    public var topics: [(name: String, partitions: [(index: Int32, timestamp: Int64)])]

    public init(isolationLevel: Int8 = 0, topics: [(name: String, partitions: [(index: Int32, timestamp: Int64)])]) {
        self.isolationLevel = isolationLevel
        self.topics = topics
    }

    public static let versions: ClosedRange<Int16> = 7...7

    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeBigEndian(Int32(-1))  // replica id
        b.writeInteger(isolationLevel)
        b.writeTopics(topics) { b, p in
            b.writeBigEndian(p.index)
            b.writeBigEndian(Int32(-1))  // current leader epoch
            b.writeBigEndian(p.timestamp)
            b.writeNoTaggedFields()
        }
        b.writeNoTaggedFields()
    }
}

public struct ListOffsetsResponse: Sendable {
    public struct Partition: Sendable, Equatable {
        public var index: Int32
        public var errorCode: Int16
        public var timestamp: Int64
        public var offset: Int64
    }
    public var topics: [(name: String, partitions: [Partition])]

    public static func read(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> ListOffsetsResponse {
        _ = try b.readKafkaInteger("throttle time", as: Int32.self)
        let topics = try b.readTopics("ListOffsets response") {
            (b: inout ByteBuffer) throws(KafkaWireError) -> Partition in
            let index: Int32 = try b.readKafkaInteger("partition index")
            let error: Int16 = try b.readKafkaInteger("error code")
            let ts: Int64 = try b.readKafkaInteger("timestamp")
            let offset: Int64 = try b.readKafkaInteger("offset")
            _ = try b.readKafkaInteger("leader epoch", as: Int32.self)
            try b.readTaggedFields("partition")
            return Partition(index: index, errorCode: error, timestamp: ts, offset: offset)
        }
        try b.readTaggedFields("ListOffsets response")
        return ListOffsetsResponse(topics: topics)
    }
}
