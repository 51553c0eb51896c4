import Bus
import Foundation
import Learn
import Logging
import Plant
import Primitives
import Registry
import ServiceLifecycle
import Synchronization
import Topics

/// Live figures of a worker, for the demo panel and metrics.
public final class PipelineStats: Sendable {
    public struct Snapshot: Sendable {
        public var processed = 0
        public var replayed = 0
        public var events = ProcessorEvents()
        public var model: String?
        /// The challenger scored in shadow, if any.
        public var shadow: String?
        public var lag: Int64 = 0
        public var recoveries: [String] = []
        public var caughtUp = false
        /// Whether closed loop is on (nil until a control record said so: then the settings decide).
        public var closedLoop: Bool?
        /// When the first and the latest batch of readings finished: the steady-state rate leaves start-up (group join,
        /// recovery) out.
        public var firstBatchDone: ContinuousClock.Instant?
        public var lastBatchDone: ContinuousClock.Instant?
        /// The latest batches (at most `recentLimit`): how many readings each had and the time from the poll that
        /// returned them to their outputs acknowledged by the bus, the worker's own share of a reading's latency.
        public var recentBatches: [(readings: Int, seconds: Double)] = []
        public static let recentLimit = 20_000
    }

    private let state = Mutex(Snapshot())
    public init() {}
    public var snapshot: Snapshot { state.withLock { $0 } }
    func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }
}

/// One pipeline worker: a member of the consumer group on the readings topic.
///
/// Delivery: after each batch its outputs are sent and made durable, then a checkpoint (per-machine state, the next
/// input offset per partition, and the output topics' end offsets) is appended and made durable, then the input
/// offsets are committed. After a crash the worker restores the last checkpoint, finds which inputs already have
/// outputs (every output carries its source offset) and replays from the checkpoint emitting only the missing ones:
/// every reading yields its outputs exactly once.
public struct PipelineWorker: Service {
    public struct Options: Sendable {
        public var registry: String?
        public var model: String?
        /// A "fails within" model that drives the failure alarm (its production version, or NAME@vN); the main
        /// model keeps driving predictions and recommendations.
        public var alarmModel: String?
        /// A model scored in shadow beside the production one (its records on the shadow topic, never alarms or
        /// setpoints): a reference such as `failure@challenger`, followed as the alias moves or goes; nil: none.
        public var shadow: String?
        public var batch = 2000
        /// Stop once caught up (no new input for this long, and no lag left in the group on any input partition)
        /// instead of waiting for more.
        public var exitWhenIdle: Duration?
        public init() {}
    }

    let bus: any MessageBus
    let settings: PipelineSettings
    let options: Options
    public let stats: PipelineStats
    /// Notes partition assignment changes and recoveries (info), for the operator running workers.
    let logger: Logger

    public init(
        bus: any MessageBus, settings: PipelineSettings, options: Options, stats: PipelineStats = PipelineStats(),
        logger: Logger = Logger(label: "millstream.pipeline")
    ) {
        self.bus = bus
        self.settings = settings
        self.options = options
        self.stats = stats
        self.logger = logger
    }

    /// `{"closed_loop":true|false,...}` -> the switch; nil for anything else.
    static func closedLoopSwitch(_ value: [UInt8]) -> Bool? { try? Topics.optimizerControl.decode(value).closedLoop }

    static let sourcePartition = "src-partition"
    static let sourceOffset = "src-offset"

    public func run() async throws {
        var processor = try ReadingProcessor(settings: settings)
        var models = try ModelLoader(options: options)
        try models.reload(into: &processor, stats: stats, logger: logger)
        try await createTopics()
        var loop = try await WorkerLoop(worker: self)
        var lastReloadCheck = ContinuousClock.now
        // A batch's outputs are sent as soon as it is scored, and the worker polls and scores the next batch while
        // the bus acknowledges them (waiting for each acknowledgement before polling again left the worker idle for
        // the bus's round trip every batch: on Kafka a fifth of its time). One batch is in flight at a time, so
        // batches are sent in order; a checkpoint is written only with none in flight, so what it records was sent.
        try await withThrowingTaskGroup(of: ContinuousClock.Instant.self) { sending in
            var inFlight: WorkerLoop.Batch?
            /// Waits for the batch in flight, if any, to be acknowledged, and counts it.
            func land() async throws {
                if let batch = inFlight.take() { loop.delivered(batch, at: try await sending.next()!) }
            }
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try await loop.followControl(&processor)
                if let assignment = try await loop.changedAssignment() {
                    // Recovery reads what the output topics hold: the batch in flight lands first.
                    try await land()
                    try await loop.follow(assignment, &processor)
                }
                let records = try await loop.consumer.poll(maxRecords: options.batch, timeout: .milliseconds(200))
                if records.isEmpty {
                    try await land()
                    if try await loop.idle(processor) { break }
                } else {
                    let batch = loop.score(records, &processor, polled: .now)
                    try await land()
                    if loop.checkpointDue {
                        try await loop.deliver(batch, processor)
                    } else {
                        let outputs = batch.toSend
                        let producer = loop.producer
                        sending.addTask { try await WorkerLoop.send(outputs, by: producer) }
                        inFlight = batch
                    }
                }
                if ContinuousClock.now - lastReloadCheck >= .seconds(2) {
                    // Hot reload: a newly promoted version takes over between batches.
                    try models.reload(into: &processor, stats: stats, logger: logger)
                    lastReloadCheck = .now
                }
            }
            try await land()
        }
        try await loop.finish(processor)
    }

    /// The input and output topics, the control topic and the checkpoints (one partition each: order is kept).
    private func createTopics() async throws {
        for topic in [settings.inputTopic] + settings.outputTopics {
            if !(try await bus.topicNames().contains(topic)) { try? await bus.createTopic(topic, partitions: 8) }
        }
        for topic in [settings.controlTopic, settings.checkpointsTopic]
        where !(try await bus.topicNames().contains(topic)) {
            try? await bus.createTopic(topic, partitions: 1)
        }
    }

    /// Outputs durable, then the checkpoint durable, then the commit.
    func checkpoint(
        _ processor: ReadingProcessor, _ assigned: Set<Int>, _ next: [Int: Int64], _ partitionCount: Int,
        _ producer: any MessageProducer,
        _ consumer: any MessageConsumer
    ) async throws {
        try await producer.flush()
        var ends: [String: Int64] = [:]
        for topic in settings.outputTopics {
            for p in try await bus.describeTopic(topic).partitions { ends["\(topic)/\(p.partition)"] = p.latestOffset }
        }
        var partitions: [String: PipelineCheckpoint.Partition] = [:]
        for p in assigned {
            guard let offset = next[p] else { continue }
            partitions[String(p)] = PipelineCheckpoint.Partition(
                offset: offset, machines: try processor.snapshot(machinesOf: [p], partitionCount: partitionCount))
        }
        guard !partitions.isEmpty else { return }
        let value = try PipelineCheckpoint(partitions: partitions, outputEnds: ends).encoded()
        _ = try await producer.send(
            [
                Record(
                    key: Array(settings.group.utf8), value: value,
                    timestamp: Int64(Date().timeIntervalSince1970 * 1000))
            ], to: settings.checkpointsTopic)
        try await producer.flush()
        try await consumer.commit(
            Dictionary(
                uniqueKeysWithValues: partitions.map {
                    (TopicPartition(topic: settings.inputTopic, partition: Int($0.key)!), $0.value.offset)
                }))
    }

    /// Restores the last checkpoint of `gained`, positions the consumer there and finds the source offsets whose outputs
    /// were already written after it.
    func recover(
        _ gained: Set<Int>, processor: inout ReadingProcessor, consumer: any MessageConsumer, partitionCount: Int
    ) async throws -> (suppress: [String: [Int: Int64]], next: [Int: Int64]) {
        let (found, ends) = try await newestCheckpoints(of: gained)
        var next: [Int: Int64] = [:]
        for p in gained {
            let tp = TopicPartition(topic: settings.inputTopic, partition: p)
            if let c = found[p] {
                processor.restore(c.machines)
                try await consumer.seek(tp, to: c.offset)
                next[p] = c.offset
            } else {
                // No checkpoint: state starts empty and the whole partition is replayed.
                let earliest = try await bus.describeTopic(settings.inputTopic).partitions[p].earliestOffset
                try await consumer.seek(tp, to: earliest)
            }
        }
        // Which inputs of these partitions already have outputs (written after the checkpoint, before the crash)?
        // If any gained partition has no checkpoint of its own, its outputs may lie anywhere: scan from the start.
        let fromStart = gained.contains { found[$0] == nil }
        var suppress: [String: [Int: Int64]] = [:]
        for topic in settings.outputTopics {
            let written = try await writtenOutputs(in: topic, of: gained, fromStart: fromStart, ends: ends)
            if !written.isEmpty { suppress[topic] = written }
        }
        let note = gained.sorted().map { p in
            "readings/\(p): " + (found[p].map { "checkpoint at offset \($0.offset)" } ?? "no checkpoint")
                + (suppress.values.compactMap { $0[p] }.max().map { ", outputs already written up to offset \($0)" }
                    ?? "")
        }
        stats.update { $0.recoveries += note }
        return (suppress, next)
    }

    /// The newest checkpoint that covers each of `gained` (checkpoints are small and recent ones sit at the end), and
    /// the output topics' ends they recorded (the smallest per output partition).
    private func newestCheckpoints(of gained: Set<Int>) async throws -> (
        found: [Int: PipelineCheckpoint.Partition], ends: [String: Int64]
    ) {
        let description = try await bus.describeTopic(settings.checkpointsTopic)
        guard let p = description.partitions.first, p.latestOffset > p.earliestOffset else { return ([:], [:]) }
        let reader = try await bus.consumer(ConsumerOptions(topics: [settings.checkpointsTopic], start: .earliest))
        let tp = TopicPartition(topic: settings.checkpointsTopic, partition: 0)
        try await reader.seek(tp, to: max(p.earliestOffset, p.latestOffset - 64))
        var newest: [Int: (Int64, PipelineCheckpoint.Partition, [String: Int64])] = [:]
        // Read to the end the description named (a poll that comes back empty may only mean the data is in flight,
        // as with Kafka).
        let deadline = ContinuousClock.now + .seconds(60)
        var reached = false
        while !reached {
            let got = try await reader.poll(maxRecords: 64, timeout: .milliseconds(200))
            if got.isEmpty && ContinuousClock.now > deadline {
                throw BusError(
                    "recovery could not read \(settings.checkpointsTopic) to offset \(p.latestOffset)",
                    kind: .unavailable)
            }
            for r in got {
                if r.offset + 1 >= p.latestOffset { reached = true }
                guard let c = try? PipelineCheckpoint(decoding: r.value) else { continue }
                for (key, part) in c.partitions {
                    if let n = Int(key), gained.contains(n) { newest[n] = (r.offset, part, c.outputEnds) }
                }
            }
        }
        try await reader.close()
        var found: [Int: PipelineCheckpoint.Partition] = [:]
        var ends: [String: Int64] = [:]
        for (n, (_, part, e)) in newest {
            found[n] = part
            for (k, v) in e { ends[k] = min(ends[k] ?? v, v) }
        }
        return (found, ends)
    }

    /// Per source partition of `gained`, the last source offset whose outputs `topic` already holds: read from the
    /// checkpoint's end of each output partition (from the start when `fromStart`) to the end the topic has now.
    private func writtenOutputs(in topic: String, of gained: Set<Int>, fromStart: Bool, ends: [String: Int64])
        async throws -> [Int: Int64]
    {
        let d = try await bus.describeTopic(topic)
        let reader = try await bus.consumer(ConsumerOptions(topics: [topic], start: .earliest))
        var remaining: [Int: Int64] = [:]
        for part in d.partitions {
            let start = fromStart ? part.earliestOffset : (ends["\(topic)/\(part.partition)"] ?? part.earliestOffset)
            let tp = TopicPartition(topic: topic, partition: part.partition)
            if start >= part.latestOffset {
                try await reader.seek(tp, to: part.latestOffset)
            } else {
                try await reader.seek(tp, to: start)
                remaining[part.partition] = part.latestOffset
            }
        }
        // Read each partition to the end the description named (not until a poll comes back empty).
        var written: [Int: Int64] = [:]
        let deadline = ContinuousClock.now + .seconds(120)
        while !remaining.isEmpty {
            let got = try await reader.poll(maxRecords: 10_000, timeout: .milliseconds(200))
            if got.isEmpty && ContinuousClock.now > deadline {
                throw BusError(
                    "recovery could not read \(topic) to its end (partitions \(remaining.keys.sorted()))",
                    kind: .unavailable)
            }
            for r in got {
                if let end = remaining[r.partition], r.offset + 1 >= end { remaining[r.partition] = nil }
                guard let (sp, so) = Self.source(of: r), gained.contains(sp) else { continue }
                written[sp] = max(written[sp] ?? -1, so)
            }
        }
        try await reader.close()
        return written
    }

    /// The source partition and offset an output record carries in its headers.
    static func source(of r: ConsumedRecord) -> (Int, Int64)? {
        guard let ph = r.headers.first(where: { $0.name == sourcePartition }),
            let oh = r.headers.first(where: { $0.name == sourceOffset }),
            let sp = Int(String(decoding: ph.value, as: UTF8.self)),
            let so = Int64(String(decoding: oh.value, as: UTF8.self))
        else { return nil }
        return (sp, so)
    }
}
