import Bus
import Foundation
import Logging
import Plant
import Primitives

/// One worker's consumers and producer and what it knows between batches: its partitions, the next input offset per
/// partition, which outputs a recovery found already written, and whether a checkpoint is due.
struct WorkerLoop {
    let worker: PipelineWorker
    let consumer: any MessageConsumer
    let producer: any MessageProducer
    /// Closed loop on or off, as the latest control record says; read from the start so a restarted worker obeys
    /// the last switch.
    let control: any MessageConsumer
    let partitionCount: Int
    /// Outputs of source partition p go to partition p (mod the topic's count) of each output topic, so each output
    /// partition holds one source partition's outputs in source order: after a crash, what was written is an exact
    /// prefix per (topic, source partition), whatever bus and however many brokers.
    let outputPartitions: [String: Int]
    /// The input partitions' numbers as text (the source-partition header of every output).
    let partitionTexts: [[UInt8]]
    var assigned = Set<Int>()
    /// Per output topic and source partition: the last source offset whose outputs in that topic are written.
    var suppress: [String: [Int: Int64]] = [:]
    var next: [Int: Int64] = [:]
    var lastCheckpoint = ContinuousClock.now
    var dirty = false
    var idleSince: ContinuousClock.Instant?
    var waitingLogged = false

    var settings: PipelineSettings { worker.settings }
    var logger: Logger { worker.logger }

    init(worker: PipelineWorker) async throws {
        self.worker = worker
        let bus = worker.bus
        let settings = worker.settings
        partitionCount = try await bus.describeTopic(settings.inputTopic).partitions.count
        partitionTexts = (0..<partitionCount).map { Array(String($0).utf8) }
        consumer = try await bus.consumer(
            ConsumerOptions(group: settings.group, topics: [settings.inputTopic], start: .earliest))
        producer = try await bus.producer()
        control = try await bus.consumer(ConsumerOptions(topics: [settings.controlTopic], start: .earliest))
        var outputPartitions: [String: Int] = [:]
        for topic in settings.outputTopics {
            outputPartitions[topic] = max(1, try await bus.describeTopic(topic).partitions.count)
        }
        self.outputPartitions = outputPartitions
    }

    /// Applies closed-loop switches that arrived since the last batch.
    func followControl(_ processor: inout ReadingProcessor) async throws {
        for record in try await control.poll(maxRecords: 100, timeout: .zero) {
            guard let switched = PipelineWorker.closedLoopSwitch(record.value) else {
                logger.warning("\(settings.controlTopic) offset \(record.offset): not a closed-loop switch, ignored")
                continue
            }
            if switched != processor.closedLoop {
                processor.closedLoop = switched
                logger.notice("closed loop \(switched ? "on" : "off")")
            }
            worker.stats.update { $0.closedLoop = switched }
        }
    }

    /// The input partitions now assigned, when they are not those the worker follows.
    func changedAssignment() async throws -> Set<Int>? {
        let now = Set(try await consumer.assignment().filter { $0.topic == settings.inputTopic }.map(\.partition))
        return now == assigned ? nil : now
    }

    /// (Re)assignment: forgets the machines of partitions lost, recovers the partitions that are new to this worker.
    mutating func follow(_ now: Set<Int>, _ processor: inout ReadingProcessor) async throws {
        let gained = now.subtracting(assigned)
        logger.info(
            "partitions of \(settings.inputTopic) now \(now.sorted()) (gained \(gained.sorted()), lost \(assigned.subtracting(now).sorted()))"
        )
        processor.forget(machinesOf: assigned.subtracting(now), partitionCount: partitionCount)
        if !gained.isEmpty {
            let recovered = try await worker.recover(
                gained, processor: &processor, consumer: consumer, partitionCount: partitionCount)
            suppress.merge(recovered.suppress) { old, new in old.merging(new) { $1 } }
            next.merge(recovered.next) { $1 }
        }
        assigned = now
    }

    /// Scores a poll's records into a batch: its outputs (those a recovery found already written left out), not yet
    /// sent, and the next input offsets advanced past them (a checkpoint must wait until they are sent: `deliver`).
    mutating func score(
        _ records: [ConsumedRecord], _ processor: inout ReadingProcessor, polled: ContinuousClock.Instant
    ) -> Batch {
        idleSince = nil
        var batch = Batch(polled: records.count, polledAt: polled)
        let wall = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        // Read in place: iterated as an array, each record (its topic, key, value and headers) was copied, retained
        // and released.
        records.withUnsafeBufferPointer { records in
            for k in records.indices {
                score(records[k], &processor, now: wall, into: &batch)
                // The next offset, once per run of a partition's records (a poll returns them grouped).
                if k == records.count - 1 || records[k + 1].partition != records[k].partition {
                    next[records[k].partition] = records[k].offset + 1
                }
            }
        }
        processor.noteRisks(into: &batch.events)
        return batch
    }

    /// Sends a batch's outputs and returns when the bus has acknowledged them. The output topics are independent
    /// (recovery suppresses per topic): sent together, in one request per broker on Kafka.
    static func send(
        _ outputs: [(String, [Record])], by producer: any MessageProducer
    ) async throws -> ContinuousClock.Instant {
        _ = try await producer.send(outputs)
        return .now
    }

    /// A batch's outputs sent and acknowledged, its figures counted, and a checkpoint when one is due.
    mutating func deliver(_ batch: Batch, _ processor: ReadingProcessor) async throws {
        delivered(batch, at: try await Self.send(batch.toSend, by: producer))
        if checkpointDue { try await checkpoint(processor) }
    }

    /// Figures and logs of a batch the bus acknowledged at `acknowledged`.
    mutating func delivered(_ batch: Batch, at acknowledged: ContinuousClock.Instant) {
        dirty = true
        if let problem = batch.events.lastOptimizerProblem {
            let held = batch.events.optimizerProblems.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }
            logger.warning("optimizer held \(held.joined(separator: ", ")); latest: \(problem)")
        }
        worker.stats.add(
            batch.events, processed: batch.polled, replayed: batch.replayed,
            seconds: (acknowledged - batch.polledAt).seconds, acknowledged: acknowledged)
    }

    /// Whether a checkpoint is due (the worker sends what it holds first).
    var checkpointDue: Bool { ContinuousClock.now - lastCheckpoint >= settings.checkpointInterval }

    /// What one batch produced.
    struct Batch {
        /// The records to send, grouped by topic in a short list searched in order (a handful of topics; two
        /// dictionary lookups per output were 1 % of the worker).
        var byTopic: [(topic: String, partitions: Int, records: [Record])] = []
        /// One reading's outputs, before they join their topic's records (kept for its storage).
        var outputs: [PipelineOutput] = []
        var events = ProcessorEvents()
        var replayed = 0
        /// The poll's records: a topic's list is made with room for one output per record, which the predictions
        /// take (grown from empty by doubling, it was made anew nine times a poll of 500, each time moving what it
        /// held).
        let polled: Int
        /// When the poll returned (the worker's share of the latency runs from it to the acknowledgement).
        let polledAt: ContinuousClock.Instant

        /// The records to send, by topic.
        var toSend: [(String, [Record])] { byTopic.map { ($0.topic, $0.records) } }
    }

    /// One reading through the processor; outputs emitted before a crash are dropped (state rebuilt, the output not
    /// repeated), the others get their source headers.
    private mutating func score(
        _ record: ConsumedRecord, _ processor: inout ReadingProcessor, now: Int64, into batch: inout Batch
    ) {
        let source = SourcePosition(topic: record.topic, partition: record.partition, offset: record.offset)
        batch.outputs.removeAll(keepingCapacity: true)
        processor.process(value: record.value, source: source, now: now, into: &batch.outputs, events: &batch.events)
        // Only after a recovery is anything suppressed: otherwise the scan is skipped.
        if !suppress.isEmpty {
            let before = batch.outputs.count
            batch.outputs.removeAll {
                guard let limit = suppress[$0.topic]?[record.partition] else { return false }
                return record.offset <= limit
            }
            if batch.outputs.count < before { batch.replayed += 1 }
        }
        guard !batch.outputs.isEmpty else { return }
        var offset: [UInt8] = []
        JSONWriter.integer(record.offset, into: &offset)
        let headers = [
            RecordHeader(
                name: PipelineWorker.sourcePartition,
                value: record.partition < partitionTexts.count
                    ? partitionTexts[record.partition] : Array(String(record.partition).utf8)),
            RecordHeader(name: PipelineWorker.sourceOffset, value: offset),
        ]
        // Each output straight to its topic's records (collected per batch and converted afterwards, the outputs
        // and their headers were two more lists of the batch's size). The key and value move to the record,
        // swapped out of the output (copied, they were retained here and released with the outputs).
        var made: [PipelineOutput] = []
        swap(&made, &batch.outputs)  // the list's memory is given back below, for the next record's outputs
        defer { swap(&made, &batch.outputs) }
        made.withUnsafeMutableBufferPointer { outputs in
            for j in outputs.indices {
                var t = batch.byTopic.firstIndex { $0.topic == outputs[j].topic } ?? -1
                if t < 0 {
                    var records: [Record] = []
                    records.reserveCapacity(batch.polled)
                    batch.byTopic.append((outputs[j].topic, outputPartitions[outputs[j].topic] ?? 1, records))
                    t = batch.byTopic.count - 1
                }
                var key: [UInt8] = []
                var value: [UInt8] = []
                swap(&key, &outputs[j].key)
                swap(&value, &outputs[j].value)
                batch.byTopic[t].records.append(
                    Record(
                        key: key.isEmpty ? nil : key, value: value, headers: headers, timestamp: outputs[j].timestamp,
                        partition: record.partition % batch.byTopic[t].partitions))
            }
        }
    }

    /// No input: checkpoints what is pending (not more often than a busy worker would); with `exitWhenIdle`, true
    /// once the whole group has nothing left.
    mutating func idle(_ processor: ReadingProcessor) async throws -> Bool {
        if dirty && ContinuousClock.now - lastCheckpoint >= settings.checkpointInterval {
            try await checkpoint(processor)
        }
        worker.stats.update { $0.caughtUp = true }
        guard let idle = worker.options.exitWhenIdle else { return false }
        if idleSince == nil { idleSince = .now }
        guard ContinuousClock.now - idleSince! >= idle else { return false }
        // Idle means the group has nothing left, not that this member's polls came back empty: a member that was
        // SIGKILLed still holds its partitions until its session expires, and a member that joined late may not own
        // them yet.
        if dirty { try await checkpoint(processor) }
        let behind = try await worker.bus.groupLag(settings.group, topic: settings.inputTopic).filter { $0.lag > 0 }
        if behind.isEmpty { return true }
        if !waitingLogged {
            logger.info(
                "idle, but the group still has \(behind.reduce(0) { $0 + $1.lag }) readings to process on partitions \(behind.map(\.partition).sorted()) (another member's, or not yet assigned): waiting"
            )
            waitingLogged = true
        }
        idleSince = .now
        return false
    }

    mutating func checkpoint(_ processor: ReadingProcessor) async throws {
        try await worker.checkpoint(processor, assigned, next, partitionCount, producer, consumer)
        dirty = false
        lastCheckpoint = .now
    }

    /// The last checkpoint if anything is pending, then the consumers leave.
    mutating func finish(_ processor: ReadingProcessor) async throws {
        if dirty { try await checkpoint(processor) }
        try await control.close()
        try await consumer.close()
    }
}

extension PipelineStats {
    /// Adds the figures of a batch whose outputs the bus acknowledged at `acknowledged` (the worker may count them
    /// later, after scoring the next batch).
    func add(
        _ events: ProcessorEvents, processed: Int, replayed: Int, seconds: Double,
        acknowledged: ContinuousClock.Instant = .now
    ) {
        update { s in
            s.processed += processed
            if s.recentBatches.count >= Snapshot.recentLimit { s.recentBatches.removeFirst(Snapshot.recentLimit / 2) }
            s.recentBatches.append((processed, seconds))
            s.firstBatchDone = s.firstBatchDone ?? acknowledged
            s.lastBatchDone = acknowledged
            s.replayed += replayed
            s.events.predictions += events.predictions
            s.events.shadowPredictions += events.shadowPredictions
            s.events.alerts += events.alerts
            s.events.recommendations += events.recommendations
            s.events.setpointChanges += events.setpointChanges
            s.events.optimizerProblems.merge(events.optimizerProblems, uniquingKeysWith: +)
            s.events.deadLetters.merge(events.deadLetters, uniquingKeysWith: +)
            s.events.lastRisk.merge(events.lastRisk) { $1 }
            s.events.oee.merge(events.oee) { $1 }
            s.caughtUp = false
        }
    }
}
