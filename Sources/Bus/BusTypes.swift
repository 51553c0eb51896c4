public import Primitives

/// A topic and partition, the unit of assignment and of committed offsets.
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int

    public init(topic: String, partition: Int) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (a: Self, b: Self) -> Bool { (a.topic, a.partition) < (b.topic, b.partition) }
    public var description: String { "\(topic)/\(partition)" }
}

extension ConsumedRecord {
    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}

/// Where a sent record landed.
public struct RecordPosition: Sendable, Hashable {
    public var partition: Int
    public var offset: Int64

    public init(partition: Int, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }
}

/// A topic's partitions and their offsets.
public struct TopicDescription: Sendable, Equatable {
    public struct Partition: Sendable, Equatable {
        public var partition: Int
        public var earliestOffset: Int64
        public var latestOffset: Int64
        public var sizeBytes: Int64?
        public var records: Int64 { latestOffset - earliestOffset }

        public init(partition: Int, earliestOffset: Int64, latestOffset: Int64, sizeBytes: Int64? = nil) {
            self.partition = partition
            self.earliestOffset = earliestOffset
            self.latestOffset = latestOffset
            self.sizeBytes = sizeBytes
        }
    }

    public var name: String
    public var partitions: [Partition]

    public init(name: String, partitions: [Partition]) {
        self.name = name
        self.partitions = partitions
    }
    public var records: Int64 { partitions.reduce(0) { $0 + $1.records } }
}

/// Where a consumer starts in a partition that has no committed offset.
public enum StartPosition: Sendable, Equatable {
    case earliest
    case latest
}

public struct ConsumerOptions: Sendable {
    /// The consumer group; nil reads every partition on its own and commits nothing.
    public var group: String?
    public var topics: [String]
    public var start: StartPosition

    public init(group: String? = nil, topics: [String], start: StartPosition = .earliest) {
        self.group = group
        self.topics = topics
        self.start = start
    }
}

/// The one streaming abstraction the rest of Millstream uses. Its implementations live in modules of their own
/// (BusEmbedded on the embedded log, BusKafka on a Kafka cluster; Buses opens either from a URL), so code that only
/// uses the protocol links neither.
public protocol MessageBus: Sendable {
    /// The URL it was opened with, for messages.
    var url: BusURL { get }
    func createTopic(_ name: String, partitions: Int) async throws
    func topicNames() async throws -> [String]
    func describeTopic(_ name: String) async throws -> TopicDescription
    func producer() async throws -> any MessageProducer
    func consumer(_ options: ConsumerOptions) async throws -> any MessageConsumer
    /// A consumer group's committed offset on each partition of `topic` and how far it is behind the end.
    func groupLag(_ group: String, topic: String) async throws -> [PartitionLag]
    /// Runs background duties (periodic fsync of the embedded log; connection upkeep for Kafka) until cancelled.
    func run() async throws
    func close() async throws
}

/// How far a consumer group is behind one partition's end.
public struct PartitionLag: Sendable, Equatable {
    public var partition: Int
    /// The next offset the group will read; nil: it committed nothing yet (it would start at the earliest).
    public var committed: Int64?
    public var earliest: Int64
    public var latest: Int64
    public var lag: Int64 { latest - max(committed ?? earliest, earliest) }

    public init(partition: Int, committed: Int64?, earliest: Int64, latest: Int64) {
        self.partition = partition
        self.committed = committed
        self.earliest = earliest
        self.latest = latest
    }
}

public protocol MessageProducer: Sendable {
    /// Sends records to `topic`; returns once the bus has acknowledged them (durable as the bus is configured).
    func send(_ records: [Record], to topic: String) async throws -> [RecordPosition]
    /// Sends to several topics; on Kafka in one request per broker. Returns each group's positions.
    func send(_ groups: [(topic: String, records: [Record])]) async throws -> [[RecordPosition]]
    /// Makes everything sent so far durable.
    func flush() async throws
}

extension MessageProducer {
    /// One `send` per topic, all at once.
    public func send(_ groups: [(topic: String, records: [Record])]) async throws -> [[RecordPosition]] {
        try await withThrowingTaskGroup(of: (Int, [RecordPosition]).self) { tasks in
            for (i, g) in groups.enumerated() {
                tasks.addTask { (i, try await self.send(g.records, to: g.topic)) }
            }
            var out = [[RecordPosition]](repeating: [], count: groups.count)
            for try await (i, positions) in tasks { out[i] = positions }
            return out
        }
    }
}

public protocol MessageConsumer: Sendable {
    /// Records available now, or within `timeout`; empty when none arrived.
    func poll(maxRecords: Int, timeout: Duration) async throws -> [ConsumedRecord]
    /// Commits the next offset to read for each partition (call after the records' effects are durable).
    func commit(_ offsets: [TopicPartition: Int64]) async throws
    /// The partitions this consumer reads now.
    func assignment() async throws -> [TopicPartition]
    /// Moves the read position of an assigned partition.
    func seek(_ partition: TopicPartition, to offset: Int64) async throws
    /// Leaves the group (its partitions go to the remaining members).
    func close() async throws
}

/// A bus problem: what and where, and of which kind (what a caller can do about it).
public struct BusError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The bus URL or one of its options is wrong: fix the configuration.
        case invalidURL
        /// The call asks for something the bus cannot do (no topics, a partition that does not exist, no group).
        case invalidRequest
        /// The partition is not (or no longer) this consumer's: a rebalance moved it.
        case notAssigned
        /// The bus cannot be reached or stopped working; trying again later may succeed.
        case unavailable
        /// The broker refused the request for good (authentication, authorization, a record too large).
        case refused
    }

    public let kind: Kind
    public let message: String
    public init(_ message: String, kind: Kind) {
        self.message = message
        self.kind = kind
    }
    public var description: String { message }
}
