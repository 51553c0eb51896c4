public import AtRest
public import Bus
public import EventLog
import NIOPosix
import Primitives
import Synchronization

/// The bus on one machine: the embedded durable log, with consumer groups coordinated inside this process.
///
/// The log's calls block on file I/O (writes, fsync, reads that miss the page cache), so every one that can touch
/// the disk runs on NIO's blocking-I/O thread pool, never on Swift's cooperative pool, whose few threads the
/// pipeline's and the server's tasks share.
public final class EmbeddedBus: MessageBus {
    public let url: BusURL
    /// The log itself, for tools that write history in bulk (the simulator's backfill).
    public let log: EventLog
    /// Where blocking log calls run.
    let io = NIOThreadPool.singleton
    let coordinator: GroupCoordinator
    private let memberCounter = Atomic<Int>(0)

    /// Opens (or creates) the log at the URL's path. Options: `fsync=batch|never|<N>ms` (default 100ms),
    /// `partitions=N` for auto-created topics (default 8). The log is encrypted at rest with the keyring the
    /// environment names (`MILLSTREAM_DATA_KEYS_FILE`, `MILLSTREAM_DATA_KEYS`), unless `keyring` is given.
    public init(url: BusURL, readOnly: Bool = false, keyring: Keyring? = nil) throws {
        guard case .embedded(let path) = url.kind else {
            throw BusError("\(url) is not an embedded:// URL", kind: .invalidURL)
        }
        var configuration = EventLog.Configuration(readOnly: readOnly)
        do {
            configuration.keyring = try keyring ?? Keyring.process()
        } catch {
            throw BusError("bus \(url): \(error)", kind: .invalidURL)
        }
        for (name, value) in url.options {
            switch name {
            case "fsync":
                switch value {
                case "batch", "always": configuration.fsync = .everyBatch
                case "never": configuration.fsync = .never
                default:
                    guard value.hasSuffix("ms"), let ms = Int(value.dropLast(2)), ms > 0 else {
                        throw BusError(
                            "bus URL '\(url)': fsync=\(value) is not batch, never or a time like 100ms",
                            kind: .invalidURL)
                    }
                    configuration.fsync = .interval(.milliseconds(ms))
                }
            case "partitions":
                guard let n = Int(value), (1...10_000).contains(n) else {
                    throw BusError(
                        "bus URL '\(url)': partitions=\(value) is not a number from 1 to 10000", kind: .invalidURL)
                }
                configuration.defaultTopic.partitions = n
            default:
                throw BusError(
                    "bus URL '\(url)': unknown option '\(name)' (known: fsync, partitions)", kind: .invalidURL)
            }
        }
        self.url = url
        let log = try EventLog.open(directory: path, configuration: configuration)
        self.log = log
        self.coordinator = GroupCoordinator { topic in try log.topic(topic, create: true).partitions.count }
    }

    public func createTopic(_ name: String, partitions: Int) async throws {
        var settings = log.configuration.defaultTopic
        settings.partitions = partitions
        _ = try await io.blocking { [log, settings] in try log.createTopic(name, configuration: settings) }
    }

    public func topicNames() async throws -> [String] { try log.topicNames() }

    public func describeTopic(_ name: String) async throws -> TopicDescription {
        let topic = try log.topic(name)
        return TopicDescription(
            name: name,
            partitions: topic.partitions.map { p in
                if log.configuration.readOnly { try? p.refreshIfReadOnly() }
                return TopicDescription.Partition(
                    partition: p.partition, earliestOffset: p.earliestOffset, latestOffset: p.latestOffset,
                    sizeBytes: p.sizeInBytes)
            })
    }

    public func groupLag(_ group: String, topic: String) async throws -> [PartitionLag] {
        let committed = try log.committedOffsets(group: group)
        return try await describeTopic(topic).partitions.map {
            PartitionLag(
                partition: $0.partition,
                committed: committed[LogTopicPartition(topic: topic, partition: $0.partition)],
                earliest: $0.earliestOffset, latest: $0.latestOffset)
        }
    }

    public func producer() async throws -> any MessageProducer { EmbeddedProducer(log: log, io: io) }

    public func consumer(_ options: ConsumerOptions) async throws -> any MessageConsumer {
        guard !options.topics.isEmpty else {
            throw BusError("a consumer needs at least one topic", kind: .invalidRequest)
        }
        let member = "member-\(memberCounter.wrappingAdd(1, ordering: .relaxed).newValue)"
        let consumer = try EmbeddedConsumer(bus: self, options: options, member: member)
        if let group = options.group {
            try coordinator.join(group: group, member: member, topics: options.topics)
        }
        return consumer
    }

    /// fsyncs on the configured interval until cancelled, so an idle producer's last records become durable too.
    public func run() async throws {
        guard case .interval(let interval) = log.configuration.fsync, !log.configuration.readOnly else {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return
        }
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            try await io.blocking { [log] in try log.syncIfDue() }
        }
    }

    public func close() async throws { try await io.blocking { [log] in try log.close() } }
}

/// Appends to the embedded log; records are acknowledged when the append returns (fsynced per the URL's policy).
final class EmbeddedProducer: MessageProducer {
    let log: EventLog
    let io: NIOThreadPool
    private let sticky = Atomic<Int>(0)

    init(log: EventLog, io: NIOThreadPool) {
        self.log = log
        self.io = io
    }

    func send(_ records: [Record], to topicName: String) async throws -> [RecordPosition] {
        guard !records.isEmpty else { return [] }
        return try await io.blocking { try self.append(records, to: topicName) }
    }

    private func append(_ records: [Record], to topicName: String) throws -> [RecordPosition] {
        let topic = try log.topic(topicName, create: true)
        let count = topic.partitions.count
        // Records without a key or partition go together to one partition that changes with every send.
        let stickyPartition = sticky.wrappingAdd(1, ordering: .relaxed).oldValue % count
        var byPartition = [[Int]](repeating: [], count: count)
        for (i, record) in records.enumerated() {
            let p: Int
            if let explicit = record.partition {
                guard (0..<count).contains(explicit) else {
                    throw BusError(
                        "partition \(explicit) does not exist in topic \(topicName) (0..<\(count))",
                        kind: .invalidRequest)
                }
                p = explicit
            } else if let key = record.key {
                p = Partitioner.partition(forKey: key, partitions: count)
            } else {
                p = stickyPartition
            }
            byPartition[p].append(i)
        }
        var positions = [RecordPosition](repeating: RecordPosition(partition: 0, offset: 0), count: records.count)
        for (p, indices) in byPartition.enumerated() where !indices.isEmpty {
            // A partition's records that are together in the send (the pipeline sends its outputs grouped by source
            // partition) are appended as they are; others are gathered first.
            let result =
                indices.last! - indices.first! == indices.count - 1
                ? try topic.partitions[p].append(records[indices.first!...indices.last!])
                : try topic.partitions[p].append(indices.map { records[$0] })
            for (n, i) in indices.enumerated() {
                positions[i] = RecordPosition(partition: p, offset: result.baseOffset + Int64(n))
            }
        }
        return positions
    }

    func flush() async throws { try await io.blocking { [log] in try log.sync() } }
}

/// Reads assigned partitions of the embedded log, waking on appends made in this process.
final class EmbeddedConsumer: MessageConsumer {
    let bus: EmbeddedBus
    let options: ConsumerOptions
    let member: String
    private let state = Mutex(State())

    private struct State {
        var generation = -1
        var positions: [TopicPartition: Int64] = [:]
        var order: [TopicPartition] = []
        var cursor = 0
        var closed = false
    }

    init(bus: EmbeddedBus, options: ConsumerOptions, member: String) throws {
        self.bus = bus
        self.options = options
        self.member = member
        if options.group == nil {
            var positions: [TopicPartition: Int64] = [:]
            for name in options.topics {
                let topic = try bus.log.topic(name, create: !bus.log.configuration.readOnly)
                for p in topic.partitions {
                    let tp = TopicPartition(topic: name, partition: p.partition)
                    if bus.log.configuration.readOnly { try? p.refreshIfReadOnly() }
                    positions[tp] = options.start == .earliest ? p.earliestOffset : p.latestOffset
                }
            }
            state.withLock {
                $0.positions = positions
                $0.order = positions.keys.sorted()
                $0.generation = 0
            }
        }
    }

    /// Picks up a new assignment after a rebalance: positions of kept partitions stay, new ones start at the
    /// committed offset (or the start policy).
    private func refreshAssignment() throws {
        guard let group = options.group else { return }
        let (generation, partitions) = bus.coordinator.assignment(group: group, member: member)
        let current = state.withLock { $0.generation }
        guard generation != current else { return }
        let committed = try bus.log.committedOffsets(group: group)
        var positions: [TopicPartition: Int64] = [:]
        let old = state.withLock { $0.positions }
        for tp in partitions {
            if let kept = old[tp] {
                positions[tp] = kept
                continue
            }
            let partition = try bus.log.topic(tp.topic, create: true).partition(tp.partition)
            let start = options.start == .earliest ? partition.earliestOffset : partition.latestOffset
            positions[tp] = max(committed[tp.logPartition] ?? start, partition.earliestOffset)
        }
        state.withLock {
            $0.generation = generation
            $0.positions = positions
            $0.order = partitions.sorted()
            $0.cursor = 0
        }
    }

    func poll(maxRecords: Int, timeout: Duration) async throws -> [ConsumedRecord] {
        let deadline = ContinuousClock.now + timeout
        while true {
            try refreshAssignment()
            let versions = try options.topics.map {
                try bus.log.topic($0, create: !bus.log.configuration.readOnly).notifier.version
            }
            let records = try await bus.io.blocking { try self.readAvailable(maxRecords: maxRecords) }
            if !records.isEmpty { return records }
            let left = deadline - .now
            if left <= .zero || Task.isCancelled { return [] }
            // Another process may be the writer (read-only view): look again at least every 100 ms.
            let wait = min(left, bus.log.configuration.readOnly ? .milliseconds(100) : .milliseconds(500))
            let notifiers = try options.topics.map {
                try bus.log.topic($0, create: !bus.log.configuration.readOnly).notifier
            }
            await withTaskGroup(of: Void.self) { group in
                for (n, notifier) in notifiers.enumerated() {
                    group.addTask { await notifier.wait(after: versions[n]) }
                }
                group.addTask { try? await Task.sleep(for: wait) }
                await group.next()
                group.cancelAll()
            }
        }
    }

    private func readAvailable(maxRecords: Int) throws -> [ConsumedRecord] {
        let (order, start) = state.withLock { ($0.order, $0.cursor) }
        guard !order.isEmpty else { return [] }
        var out: [ConsumedRecord] = []
        for step in 0..<order.count where out.count < maxRecords {
            let tp = order[(start + step) % order.count]
            guard let position = state.withLock({ $0.positions[tp] }) else { continue }
            let partition = try bus.log.topic(tp.topic).partition(tp.partition)
            // Read straight into the poll's list (read into a list of its own, each record was copied into it).
            let before = out.count
            do {
                _ = try partition.read(
                    from: position, maxBytes: max(64 << 10, min(4 << 20, maxRecords * 256)),
                    maxRecords: maxRecords - out.count, appendingTo: &out)
            } catch let error as EventLogError where error.kind == .offsetOutOfRange {
                // Retention deleted what we had not read: continue at the earliest kept record.
                out.removeSubrange(before...)
                state.withLock { $0.positions[tp] = partition.earliestOffset }
                continue
            }
            if out.count > before {
                let next = out[out.count - 1].offset + 1
                state.withLock { $0.positions[tp] = next }
            }
        }
        state.withLock { $0.cursor = ($0.cursor + 1) % max(1, $0.order.count) }
        return out
    }

    func commit(_ offsets: [TopicPartition: Int64]) async throws {
        guard let group = options.group else {
            throw BusError("this consumer has no group, so it has nowhere to commit offsets", kind: .invalidRequest)
        }
        for tp in offsets.keys where !bus.coordinator.owns(group: group, member: member, tp) {
            throw BusError(
                "cannot commit \(tp) for group \(group): the partition is no longer assigned to this consumer",
                kind: .notAssigned)
        }
        let logOffsets = Dictionary(uniqueKeysWithValues: offsets.map { ($0.key.logPartition, $0.value) })
        try await bus.io.blocking { [log = bus.log] in try log.commit(group: group, offsets: logOffsets) }
    }

    func assignment() async throws -> [TopicPartition] {
        try refreshAssignment()
        return state.withLock { $0.order }
    }

    func seek(_ partition: TopicPartition, to offset: Int64) async throws {
        try refreshAssignment()
        try state.withLock { state in
            guard state.positions[partition] != nil else {
                throw BusError("\(partition) is not assigned to this consumer", kind: .notAssigned)
            }
            state.positions[partition] = offset
        }
    }

    func close() async throws {
        let wasOpen = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        if wasOpen, let group = options.group { bus.coordinator.leave(group: group, member: member) }
    }
}

extension TopicPartition {
    /// The same partition in the log's terms.
    var logPartition: LogTopicPartition { .init(topic: topic, partition: partition) }
}

extension NIOThreadPool {
    /// Runs blocking log work on the pool and waits for it. Unlike `runIfActive`, a cancelled caller still gets its
    /// work done: a service that is shutting down must still append, flush and close what it was acknowledged for.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            submit { state in
                guard case .active = state else {
                    return continuation.resume(
                        throwing: BusError("the embedded log's I/O threads have stopped", kind: .unavailable))
                }
                continuation.resume(with: Result(catching: body))
            }
        }
    }
}
