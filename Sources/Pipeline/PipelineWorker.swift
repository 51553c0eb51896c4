import Bus
import Foundation
import Learn
import Logging
import Plant
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
        public var lag: Int64 = 0
        public var recoveries: [String] = []
        public var caughtUp = false
        /// Whether closed loop is on (nil until a control record said so: then the settings decide).
        public var closedLoop: Bool?
        /// When the first and the latest batch of readings finished: the steady-state rate leaves start-up (group join,
        /// recovery) out.
        public var firstBatchDone: ContinuousClock.Instant?
        public var lastBatchDone: ContinuousClock.Instant?
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
        let registry = try options.registry.map { try ModelRegistry(root: $0) }
        var loadedVersion: Int?
        var loadedAlarmVersion: Int?
        func reloadModel() throws {
            guard let registry else { return }
            // Between records: no reading is scored twice or by half a model.
            func newer(_ name: String?, than loaded: Int?) throws -> (ModelFile, ModelVersion)? {
                guard let name else { return nil }
                let reference = try ModelReference(name.contains("@") ? name : name + "@production")
                guard let version = try? registry.resolve(reference), version.version != loaded else { return nil }
                return (try registry.load(ModelReference("\(version.name)@v\(version.version)")).0, version)
            }
            if let (file, version) = try newer(options.model, than: loadedVersion) {
                try processor.use(model: file, name: version.name, version: version.version)
                loadedVersion = version.version
                if let problem = processor.recommenderProblem { logger.warning("\(problem)") }
                stats.update { $0.model = processor.modelLabel }
            }
            if let (file, version) = try newer(options.alarmModel, than: loadedAlarmVersion) {
                try processor.use(forecaster: file, name: version.name, version: version.version)
                loadedAlarmVersion = version.version
                logger.info("failure alarms from \(version.name)@v\(version.version)")
            }
        }
        try reloadModel()

        for topic in [settings.inputTopic] + settings.outputTopics {
            if !(try await bus.topicNames().contains(topic)) { try? await bus.createTopic(topic, partitions: 8) }
        }
        // One partition: the switches keep their order.
        if !(try await bus.topicNames().contains(settings.controlTopic)) {
            try? await bus.createTopic(settings.controlTopic, partitions: 1)
        }
        if !(try await bus.topicNames().contains(settings.checkpointsTopic)) {
            try? await bus.createTopic(settings.checkpointsTopic, partitions: 1)
        }
        let partitionCount = try await bus.describeTopic(settings.inputTopic).partitions.count
        let consumer = try await bus.consumer(
            ConsumerOptions(group: settings.group, topics: [settings.inputTopic], start: .earliest))
        let producer = try await bus.producer()
        // Closed loop on or off, as the latest control record says; read from the start so a restarted worker obeys
        // the last switch.
        let control = try await bus.consumer(ConsumerOptions(topics: [settings.controlTopic], start: .earliest))
        var assigned = Set<Int>()
        // Per output topic and source partition: the last source offset whose outputs in that topic are written.
        var suppress: [String: [Int: Int64]] = [:]
        var next: [Int: Int64] = [:]
        // Outputs of source partition p go to partition p (mod the topic's count) of each output topic, so each
        // output partition holds one source partition's outputs in source order: after a crash, what was written is
        // an exact prefix per (topic, source partition), whatever bus and however many brokers.
        var outputPartitions: [String: Int] = [:]
        for topic in settings.outputTopics {
            outputPartitions[topic] = max(1, try await bus.describeTopic(topic).partitions.count)
        }
        var lastReloadCheck = ContinuousClock.now
        var lastCheckpoint = ContinuousClock.now
        var dirty = false
        var idleSince: ContinuousClock.Instant?
        var waitingLogged = false

        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            for record in try await control.poll(maxRecords: 100, timeout: .zero) {
                guard let switched = Self.closedLoopSwitch(record.value) else {
                    logger.warning(
                        "\(settings.controlTopic) offset \(record.offset): not a closed-loop switch, ignored")
                    continue
                }
                if switched != processor.closedLoop {
                    processor.closedLoop = switched
                    logger.notice("closed loop \(switched ? "on" : "off")")
                }
                stats.update { $0.closedLoop = switched }
            }
            // (Re)assignment: recover the partitions that are new to this worker.
            let now = Set(try await consumer.assignment().filter { $0.topic == settings.inputTopic }.map(\.partition))
            if now != assigned {
                let gained = now.subtracting(assigned)
                logger.info(
                    "partitions of \(settings.inputTopic) now \(now.sorted()) (gained \(gained.sorted()), lost \(assigned.subtracting(now).sorted()))"
                )
                processor.forget(machinesOf: assigned.subtracting(now), partitionCount: partitionCount)
                if !gained.isEmpty {
                    let recovered = try await recover(
                        gained, processor: &processor, consumer: consumer, partitionCount: partitionCount)
                    suppress.merge(recovered.suppress) { old, new in old.merging(new) { $1 } }
                    next.merge(recovered.next) { $1 }
                }
                assigned = now
            }
            let records = try await consumer.poll(maxRecords: options.batch, timeout: .milliseconds(200))
            if records.isEmpty {
                // Idle: checkpoint what is pending, but not more often than a busy worker would.
                if dirty && ContinuousClock.now - lastCheckpoint >= settings.checkpointInterval {
                    try await checkpoint(processor, assigned, next, partitionCount, producer, consumer)
                    dirty = false
                    lastCheckpoint = .now
                }
                stats.update { $0.caughtUp = true }
                if let idle = options.exitWhenIdle {
                    if idleSince == nil { idleSince = .now }
                    if ContinuousClock.now - idleSince! >= idle {
                        // Idle means the group has nothing left, not that this member's polls came back empty: a
                        // member that was SIGKILLed still holds its partitions until its session expires, and a
                        // member that joined late may not own them yet.
                        if dirty {
                            try await checkpoint(processor, assigned, next, partitionCount, producer, consumer)
                            dirty = false
                            lastCheckpoint = .now
                        }
                        let behind = try await bus.groupLag(settings.group, topic: settings.inputTopic).filter {
                            $0.lag > 0
                        }
                        if behind.isEmpty { break }
                        if !waitingLogged {
                            logger.info(
                                "idle, but the group still has \(behind.reduce(0) { $0 + $1.lag }) readings to process on partitions \(behind.map(\.partition).sorted()) (another member's, or not yet assigned): waiting"
                            )
                            waitingLogged = true
                        }
                        idleSince = .now
                    }
                }
            } else {
                idleSince = nil
                var outputs: [PipelineOutput] = []
                var headers: [([RecordHeader], Int)] = []
                var events = ProcessorEvents()
                var replayed = 0
                let wall = Int64((Date().timeIntervalSince1970 * 1000).rounded())
                for record in records {
                    let source = SourcePosition(topic: record.topic, partition: record.partition, offset: record.offset)
                    let before = outputs.count
                    processor.process(value: record.value, source: source, now: wall, into: &outputs, events: &events)
                    next[record.partition] = record.offset + 1
                    var dropped = false
                    var k = before
                    while k < outputs.count {
                        // Emitted before the crash: state rebuilt, the output not repeated.
                        if let limit = suppress[outputs[k].topic]?[record.partition], record.offset <= limit {
                            outputs.remove(at: k)
                            dropped = true
                        } else {
                            k += 1
                        }
                    }
                    if dropped { replayed += 1 }
                    let h = [
                        RecordHeader(name: Self.sourcePartition, value: Array(String(record.partition).utf8)),
                        RecordHeader(name: Self.sourceOffset, value: Array(String(record.offset).utf8)),
                    ]
                    for _ in before..<outputs.count { headers.append((h, record.partition)) }
                }
                var byTopic: [String: [BusRecord]] = [:]
                for (o, (h, source)) in zip(outputs, headers) {
                    byTopic[o.topic, default: []].append(
                        BusRecord(
                            key: o.key.isEmpty ? nil : o.key, value: o.value, headers: h, timestamp: o.timestamp,
                            partition: source % (outputPartitions[o.topic] ?? 1)))
                }
                // The output topics are independent (recovery suppresses per topic): sent together, in one request
                // per broker on Kafka.
                _ = try await producer.send(byTopic.map { ($0.key, $0.value) })
                dirty = true
                if let problem = events.lastOptimizerProblem {
                    logger.warning(
                        "optimizer held \(events.optimizerProblems.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ")); latest: \(problem)"
                    )
                }
                let processedNow = records.count
                stats.update { s in
                    s.processed += processedNow
                    s.firstBatchDone = s.firstBatchDone ?? .now
                    s.lastBatchDone = .now
                    s.replayed += replayed
                    s.events.predictions += events.predictions
                    s.events.alerts += events.alerts
                    s.events.recommendations += events.recommendations
                    s.events.setpointChanges += events.setpointChanges
                    s.events.optimizerProblems.merge(events.optimizerProblems, uniquingKeysWith: +)
                    s.events.deadLetters.merge(events.deadLetters, uniquingKeysWith: +)
                    s.events.lastRisk.merge(events.lastRisk) { $1 }
                    s.events.oee.merge(events.oee) { $1 }
                    s.caughtUp = false
                }
                if ContinuousClock.now - lastCheckpoint >= settings.checkpointInterval {
                    try await checkpoint(processor, assigned, next, partitionCount, producer, consumer)
                    dirty = false
                    lastCheckpoint = .now
                }
            }
            if ContinuousClock.now - lastReloadCheck >= .seconds(2) {
                try reloadModel()  // hot reload: a newly promoted version takes over between batches
                lastReloadCheck = .now
            }
        }
        if dirty { try await checkpoint(processor, assigned, next, partitionCount, producer, consumer) }
        try await control.close()
        try await consumer.close()
    }

    /// Outputs durable, then the checkpoint durable, then the commit.
    private func checkpoint(
        _ processor: ReadingProcessor, _ assigned: Set<Int>, _ next: [Int: Int64], _ partitionCount: Int,
        _ producer: any MessageProducer,
        _ consumer: any MessageConsumer
    ) async throws {
        try await producer.flush()
        var ends: [String: Int64] = [:]
        for topic in settings.outputTopics {
            for p in try await bus.describeTopic(topic).partitions { ends["\(topic)/\(p.partition)"] = p.latestOffset }
        }
        var partitions: [String: Checkpoint.Partition] = [:]
        for p in assigned {
            guard let offset = next[p] else { continue }
            partitions[String(p)] = Checkpoint.Partition(
                offset: offset, machines: try processor.snapshot(machinesOf: [p], partitionCount: partitionCount))
        }
        guard !partitions.isEmpty else { return }
        let value = try JSONEncoder().encode(Checkpoint(partitions: partitions, outputEnds: ends))
        _ = try await producer.send(
            [
                BusRecord(
                    key: Array(settings.group.utf8), value: [UInt8](value),
                    timestamp: Int64(Date().timeIntervalSince1970 * 1000))
            ], to: settings.checkpointsTopic)
        try await producer.flush()
        try await consumer.commit(
            Dictionary(
                uniqueKeysWithValues: partitions.map {
                    (TopicPartition(topic: settings.inputTopic, partition: Int($0.key)!), $0.value.offset)
                }))
    }

    struct Checkpoint: Codable {
        struct Partition: Codable {
            var offset: Int64
            var machines: [String: MachineTracker]
        }
        var partitions: [String: Partition]
        var outputEnds: [String: Int64]
    }

    /// Restores the last checkpoint of `gained`, positions the consumer there and finds the source offsets whose outputs
    /// were already written after it.
    private func recover(
        _ gained: Set<Int>, processor: inout ReadingProcessor, consumer: any MessageConsumer, partitionCount: Int
    ) async throws -> (suppress: [String: [Int: Int64]], next: [Int: Int64]) {
        // The newest checkpoint that covers each partition (checkpoints are small and recent ones sit at the end).
        let description = try await bus.describeTopic(settings.checkpointsTopic)
        var found: [Int: Checkpoint.Partition] = [:]
        var ends: [String: Int64] = [:]
        if let p = description.partitions.first, p.latestOffset > p.earliestOffset {
            let reader = try await bus.consumer(ConsumerOptions(topics: [settings.checkpointsTopic], start: .earliest))
            let tp = TopicPartition(topic: settings.checkpointsTopic, partition: 0)
            try await reader.seek(tp, to: max(p.earliestOffset, p.latestOffset - 64))
            var newest: [Int: (Int64, Checkpoint.Partition, [String: Int64])] = [:]
            // Read to the end the description named (a poll that comes back empty may only mean the data is in
            // flight, as with Kafka).
            let deadline = ContinuousClock.now + .seconds(60)
            var reached = false
            while !reached {
                let got = try await reader.poll(maxRecords: 64, timeout: .milliseconds(200))
                if got.isEmpty && ContinuousClock.now > deadline {
                    throw BusError("recovery could not read \(settings.checkpointsTopic) to offset \(p.latestOffset)")
                }
                for r in got {
                    if r.offset + 1 >= p.latestOffset { reached = true }
                    guard let c = try? JSONDecoder().decode(Checkpoint.self, from: Data(r.value)) else { continue }
                    for (key, part) in c.partitions {
                        if let n = Int(key), gained.contains(n) { newest[n] = (r.offset, part, c.outputEnds) }
                    }
                }
            }
            try await reader.close()
            for (n, (_, part, e)) in newest {
                found[n] = part
                for (k, v) in e { ends[k] = min(ends[k] ?? v, v) }
            }
        }
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
            let d = try await bus.describeTopic(topic)
            let reader = try await bus.consumer(ConsumerOptions(topics: [topic], start: .earliest))
            var remaining: [Int: Int64] = [:]
            for part in d.partitions {
                let start =
                    fromStart ? part.earliestOffset : (ends["\(topic)/\(part.partition)"] ?? part.earliestOffset)
                if start >= part.latestOffset {
                    try await reader.seek(
                        TopicPartition(topic: topic, partition: part.partition), to: part.latestOffset)
                } else {
                    try await reader.seek(TopicPartition(topic: topic, partition: part.partition), to: start)
                    remaining[part.partition] = part.latestOffset
                }
            }
            // Read each partition to the end the description named (not until a poll comes back empty).
            let deadline = ContinuousClock.now + .seconds(120)
            while !remaining.isEmpty {
                let got = try await reader.poll(maxRecords: 10_000, timeout: .milliseconds(200))
                if got.isEmpty && ContinuousClock.now > deadline {
                    throw BusError(
                        "recovery could not read \(topic) to its end (partitions \(remaining.keys.sorted()))")
                }
                for r in got {
                    if let end = remaining[r.partition], r.offset + 1 >= end { remaining[r.partition] = nil }
                    guard let ph = r.headers.first(where: { $0.name == Self.sourcePartition }),
                        let oh = r.headers.first(where: { $0.name == Self.sourceOffset }),
                        let sp = Int(String(decoding: ph.value, as: UTF8.self)),
                        let so = Int64(String(decoding: oh.value, as: UTF8.self)),
                        gained.contains(sp)
                    else { continue }
                    suppress[topic, default: [:]][sp] = max(suppress[topic]?[sp] ?? -1, so)
                }
            }
            try await reader.close()
        }
        let note = gained.sorted().map { p in
            "readings/\(p): " + (found[p].map { "checkpoint at offset \($0.offset)" } ?? "no checkpoint")
                + (suppress.values.compactMap { $0[p] }.max().map { ", outputs already written up to offset \($0)" }
                    ?? "")
        }
        stats.update { $0.recoveries += note }
        return (suppress, next)
    }
}
