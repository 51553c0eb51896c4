import Bus
import Logging
import Primitives
import ServiceLifecycle
import Topics

/// Follows the readings, predictions, KPIs and alerts on the bus into the historian, exactly once: each batch and
/// the offsets it ends at are one transaction, and at start the service seeks to the offsets stored, so a killed
/// service neither loses nor repeats a record.
public struct HistorianService: Service {
    let bus: any MessageBus
    let store: any HistorianStore
    let logger: Logger
    let batchSize: Int
    /// Called after each stored batch with the totals so far (progress for the command line).
    let progress: @Sendable (HistorianProgress) -> Void
    /// Stop once every partition has been read to the end it had at start (an import of what the bus holds).
    let untilCaughtUp: Bool

    public init(
        bus: any MessageBus, store: any HistorianStore, batchSize: Int = 20_000, untilCaughtUp: Bool = false,
        logger: Logger = Logger(label: "millstream.historian"),
        progress: @escaping @Sendable (HistorianProgress) -> Void = { _ in }
    ) {
        self.bus = bus
        self.store = store
        self.batchSize = batchSize
        self.untilCaughtUp = untilCaughtUp
        self.logger = logger
        self.progress = progress
    }

    public func run() async throws {
        let consumer = try await open()
        do {
            try await follow(consumer)
        } catch {
            try? await consumer.close()
            throw error
        }
        try? await consumer.close()
    }

    private func follow(_ consumer: any MessageConsumer) async throws {
        var totals = HistorianProgress()
        let ends = untilCaughtUp ? try await self.ends() : [:]
        var position = try await store.offsets()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if untilCaughtUp, ends.allSatisfy({ (position[$0.key] ?? 0) >= $0.value }) { break }
            let records: [ConsumedRecord]
            do {
                records = try await consumer.poll(maxRecords: batchSize, timeout: .milliseconds(500))
            } catch is CancellationError {
                break
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                logger.error("reading the bus failed; retrying in 1 s", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            guard !records.isEmpty else { continue }
            var batch = HistorianBatch()
            batch.add(records)
            try await store.write(batch)
            for (tp, next) in batch.offsets { position[tp] = next }
            totals.records += records.count
            totals.samples += batch.samples.count
            totals.alerts += batch.alerts.count
            totals.unreadable += batch.unreadable
            progress(totals)
        }
    }

    /// The end of each partition now.
    private func ends() async throws -> [TopicPartition: Int64] {
        var out: [TopicPartition: Int64] = [:]
        for topic in HistorianBatch.topics where try await bus.topicNames().contains(topic) {
            for p in try await bus.describeTopic(topic).partitions where p.latestOffset > p.earliestOffset {
                out[TopicPartition(topic: topic, partition: p.partition)] = p.latestOffset
            }
        }
        return out
    }

    /// A consumer of every partition of the historian's topics (which it creates when missing, as the server does),
    /// each at the offset the historian stored.
    private func open() async throws -> any MessageConsumer {
        var attempt = 0
        while true {
            do {
                let existing = try await bus.topicNames()
                for topic in HistorianBatch.topics where !existing.contains(topic) {
                    try? await bus.createTopic(topic, partitions: 8)
                }
                let consumer = try await bus.consumer(
                    ConsumerOptions(group: nil, topics: HistorianBatch.topics, start: .earliest))
                let stored = try await store.offsets()
                var ends: [String: [Int: Int64]] = [:]
                for tp in try await consumer.assignment() {
                    guard let next = stored[tp] else { continue }
                    if ends[tp.topic] == nil {
                        ends[tp.topic] = Dictionary(
                            uniqueKeysWithValues: try await bus.describeTopic(tp.topic).partitions.map {
                                ($0.partition, $0.latestOffset)
                            })
                    }
                    if let end = ends[tp.topic]?[tp.partition], next > end {
                        // The file has stored more of this partition than the bus holds: the bus was replaced.
                        logger.warning(
                            "the historian stored more of \(tp) than the bus holds; reading it from its start",
                            metadata: ["stored": "\(next)", "end": "\(end)", "store": "\(store.location)"])
                        continue
                    }
                    try await consumer.seek(tp, to: next)
                }
                if !stored.isEmpty {
                    logger.info(
                        "historian resumes at its stored offsets",
                        metadata: ["partitions": "\(stored.count)", "store": "\(store.location)"])
                }
                return consumer
            } catch {
                attempt += 1
                if Task.isShuttingDownGracefully || Task.isCancelled { throw CancellationError() }
                logger.error(
                    "cannot read the topics on \(bus.url); retrying",
                    metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                try await Task.sleep(for: .seconds(min(10, attempt)))
            }
        }
    }
}

/// What a historian service has stored so far.
public struct HistorianProgress: Sendable {
    public var records = 0
    public var samples = 0
    public var alerts = 0
    public var unreadable = 0

    public init() {}
}
