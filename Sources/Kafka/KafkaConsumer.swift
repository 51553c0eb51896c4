public import KafkaWire
import NIOCore

public struct KafkaTopicPartition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
    public static func < (a: Self, b: Self) -> Bool { (a.topic, a.partition) < (b.topic, b.partition) }
    public var description: String { "\(topic)[\(partition)]" }
}

public struct KafkaConsumerRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var timestamp: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [(name: String, value: [UInt8]?)]
}

public struct KafkaConsumerConfiguration: Sendable {
    public enum Start: Sendable { case earliest, latest }
    public enum Assignor: String, Sendable { case range, roundrobin }

    /// The consumer group; nil reads every partition of `topics` on its own and commits nothing.
    public var group: String?
    public var topics: [String]
    /// Where to start in a partition with no committed offset (or whose offset is out of range).
    public var start: Start
    public var sessionTimeout: Duration
    public var rebalanceTimeout: Duration
    public var heartbeatInterval: Duration
    /// Assignors offered, preferred first (the group uses the first every member offers).
    public var assignors: [Assignor]
    /// Commit the positions of records handed out, every `autoCommitInterval` and on close and rebalance.
    public var autoCommit: Bool
    public var autoCommitInterval: Duration
    public var fetchMaxWait: Duration
    public var fetchMaxBytes: Int32
    public var partitionMaxBytes: Int32

    public init(
        group: String?, topics: [String], start: Start = .earliest, sessionTimeout: Duration = .seconds(10),
        rebalanceTimeout: Duration = .seconds(30), heartbeatInterval: Duration = .seconds(3),
        assignors: [Assignor] = [.range, .roundrobin], autoCommit: Bool = false,
        autoCommitInterval: Duration = .seconds(5), fetchMaxWait: Duration = .milliseconds(500),
        fetchMaxBytes: Int32 = 52_428_800, partitionMaxBytes: Int32 = 1_048_576
    ) {
        self.group = group
        self.topics = topics
        self.start = start
        self.sessionTimeout = sessionTimeout
        self.rebalanceTimeout = rebalanceTimeout
        self.heartbeatInterval = heartbeatInterval
        self.assignors = assignors
        self.autoCommit = autoCommit
        self.autoCommitInterval = autoCommitInterval
        self.fetchMaxWait = fetchMaxWait
        self.fetchMaxBytes = fetchMaxBytes
        self.partitionMaxBytes = partitionMaxBytes
    }
}

/// A consumer: alone (every partition of its topics) or a member of a consumer group (the classic protocol: join,
/// sync, heartbeat, leave; range and round-robin assignors). Pull-based: `poll` fetches from the partitions' leaders
/// when the buffer is empty (at most one fetch answer is held: bounded prefetch), and heartbeats and rebalances
/// happen inside `poll`, so call it at least every session timeout. `records()` and `batches()` wrap `poll` as
/// AsyncSequences.
public actor KafkaConsumer {
    public let client: KafkaClient
    public nonisolated let configuration: KafkaConsumerConfiguration
    public typealias Rebalance = @Sendable ([KafkaTopicPartition]) async -> Void
    private let onRevoke: Rebalance?
    private let onAssign: Rebalance?

    private var memberID = ""
    private var generation: Int32 = -1
    private var coordinator: Int32?
    private var needsJoin = true
    private var lastHeartbeat = ContinuousClock.now
    private var lastAutoCommit = ContinuousClock.now
    private var assigned: [KafkaTopicPartition] = []
    private var positions: [KafkaTopicPartition: Int64] = [:]
    private var paused: Set<KafkaTopicPartition> = []
    private var buffer: [KafkaConsumerRecord] = []
    private var bufferAt = 0
    private var closed = false
    /// Bumped whenever positions change other than by reading on (seek, pause, resume, rebalance, reset): a fetch
    /// sent ahead under an older epoch is dropped.
    private var epoch = 0
    private var prefetched: (epoch: Int, fetches: [PendingFetch])?
    /// Positions before a rebalance, kept for partitions this member keeps (see `assign`).
    private var retained: (generation: Int32, member: String, positions: [KafkaTopicPartition: Int64])?
    /// The positions of records handed out (what auto-commit commits).
    private var delivered: [KafkaTopicPartition: Int64] = [:]

    public init(
        client: KafkaClient, configuration: KafkaConsumerConfiguration, onRevoke: Rebalance? = nil,
        onAssign: Rebalance? = nil
    ) {
        self.client = client
        self.configuration = configuration
        self.onRevoke = onRevoke
        self.onAssign = onAssign
    }

    // MARK: public API

    /// Records available now, or within `timeout`; empty when none arrived.
    public func poll(maxRecords: Int = 10_000, timeout: Duration = .seconds(1)) async throws -> [KafkaConsumerRecord] {
        guard !closed else { throw KafkaError("the consumer is closed") }
        let deadline = ContinuousClock.now + timeout
        while true {
            let generationBefore = generation
            try await maintainGroup()
            // A rebalance happened: hand back nothing this time, so the caller sees the new assignment (and can
            // restore its state for gained partitions) before any of their records.
            if generation != generationBefore && configuration.group != nil { return [] }
            if bufferAt < buffer.count {
                let end = min(buffer.count, bufferAt + maxRecords)
                let out = Array(buffer[bufferAt..<end])
                bufferAt = end
                if bufferAt == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    bufferAt = 0
                }
                // Records come in runs of one partition: note the end of each run.
                for (i, r) in out.enumerated()
                where i + 1 == out.count || out[i + 1].partition != r.partition || out[i + 1].topic != r.topic {
                    delivered[KafkaTopicPartition(r.topic, r.partition)] = r.offset + 1
                }
                return out
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return [] }
            try await fetch(maxWait: min(left, configuration.fetchMaxWait, configuration.heartbeatInterval))
            if bufferAt >= buffer.count && ContinuousClock.now >= deadline { return [] }
        }
    }

    /// Commits the next offset to read for each partition (after the records' effects are durable).
    public func commit(_ offsets: [KafkaTopicPartition: Int64]) async throws {
        guard let group = configuration.group else {
            throw KafkaError("this consumer has no group: there is nowhere to commit offsets")
        }
        guard !offsets.isEmpty else { return }
        let node = try await findCoordinator()
        let byTopic = Dictionary(grouping: offsets, by: { $0.key.topic })
        let (b, v) = try await client.send(
            to: node,
            OffsetCommitRequest(
                groupID: group, generationID: generation, memberID: memberID,
                topics: byTopic.map { t, ps in (t, ps.map { ($0.key.partition, $0.value) }) }
            ))
        var buffer = b
        let response = try OffsetCommitResponse.read(from: &buffer, version: v)
        for t in response.topics {
            for p in t.partitions where p.errorCode != 0 {
                if [16, 15].contains(p.errorCode) { coordinator = nil }
                if [22, 25, 27].contains(p.errorCode) { needsJoin = true }
                throw KafkaError.broker(
                    p.errorCode, "committing offsets of group '\(group)' for \(t.name)[\(p.index)]")
            }
        }
    }

    /// Commits the positions of every record `poll` has handed out.
    public func commitDelivered() async throws {
        try await commit(delivered.filter { assigned.contains($0.key) })
    }

    /// The partitions this consumer reads now (joining the group first if it has not yet).
    public func assignment() async throws -> [KafkaTopicPartition] {
        if needsJoin && !closed { try await maintainGroup() }
        return assigned
    }

    public func position(_ tp: KafkaTopicPartition) -> Int64? { positions[tp] }

    /// Moves the read position of an assigned partition (buffered records of it are dropped).
    public func seek(_ tp: KafkaTopicPartition, to offset: Int64) async throws {
        if needsJoin && !closed { try await maintainGroup() }
        guard assigned.contains(tp) else { throw KafkaError("\(tp) is not assigned to this consumer") }
        positions[tp] = offset
        epoch += 1
        dropBuffered { $0 == tp }
    }

    public func pause(_ tps: [KafkaTopicPartition]) {
        epoch += 1
        paused.formUnion(tps)
        let set = Set(tps)
        // Buffered records of a paused partition are re-fetched after resume.
        var earliest: [KafkaTopicPartition: Int64] = [:]
        for r in buffer[bufferAt...] {
            let tp = KafkaTopicPartition(r.topic, r.partition)
            if set.contains(tp) && earliest[tp] == nil { earliest[tp] = r.offset }
        }
        for (tp, o) in earliest { positions[tp] = o }
        dropBuffered { set.contains($0) }
    }

    public func resume(_ tps: [KafkaTopicPartition]) {
        epoch += 1
        paused.subtract(tps)
    }

    /// Leaves the group (auto-committing first if enabled); its partitions go to the remaining members.
    public func close() async throws {
        guard !closed else { return }
        closed = true
        prefetched = nil
        if configuration.autoCommit && configuration.group != nil && !memberID.isEmpty {
            try? await commitDelivered()
        }
        if let group = configuration.group, !memberID.isEmpty, let node = coordinator {
            _ = try? await client.send(
                to: node, LeaveGroupRequest(groupID: group, memberIDs: [memberID], reason: "the consumer closed"))
        }
        memberID = ""
        assigned = []
    }

    public nonisolated func records(pollTimeout: Duration = .seconds(1)) -> RecordSequence {
        RecordSequence(consumer: self, timeout: pollTimeout)
    }

    public nonisolated func batches(maxRecords: Int = 10_000, pollTimeout: Duration = .seconds(1)) -> BatchSequence {
        BatchSequence(consumer: self, maxRecords: maxRecords, timeout: pollTimeout)
    }

    // MARK: group membership

    private func maintainGroup() async throws {
        guard let group = configuration.group else {
            if needsJoin {
                needsJoin = false
                try await assign(try await allPartitions(), committed: [:])
            }
            return
        }
        if !needsJoin && ContinuousClock.now - lastHeartbeat >= configuration.heartbeatInterval {
            try await heartbeat(group)
        }
        if configuration.autoCommit && !needsJoin
            && ContinuousClock.now - lastAutoCommit >= configuration.autoCommitInterval
        {
            lastAutoCommit = ContinuousClock.now
            do { try await commitDelivered() } catch let e as KafkaError where e.code?.code == 27 || e.code?.code == 22
            {
                needsJoin = true
            }
        }
        if needsJoin { try await join(group) }
    }

    private func findCoordinator() async throws -> Int32 {
        if let coordinator { return coordinator }
        guard let group = configuration.group else { throw KafkaError("no group") }
        let node = try await client.retrying("finding the coordinator of group '\(group)'") { [client] in
            let (b, v) = try await client.sendToAny(FindCoordinatorRequest(keys: [group]))
            var buffer = b
            let r = try FindCoordinatorResponse.read(from: &buffer, version: v)
            guard let c = r.coordinators.first else { throw KafkaError("FindCoordinator answered no coordinator") }
            guard c.errorCode == 0 else {
                throw KafkaError.broker(
                    c.errorCode, "finding the coordinator of group '\(group)'", message: c.errorMessage)
            }
            _ = try await client.connection(node: c.nodeID, host: c.host, port: Int(c.port))
            return c.nodeID
        }
        coordinator = node
        return node
    }

    private func heartbeat(_ group: String) async throws {
        lastHeartbeat = ContinuousClock.now
        do {
            let node = try await findCoordinator()
            let (b, v) = try await client.send(
                to: node, HeartbeatRequest(groupID: group, generationID: generation, memberID: memberID))
            var buffer = b
            let code = try ErrorOnlyResponse.read(from: &buffer, version: v).errorCode
            switch code {
            case 0: break
            case 27, 22: needsJoin = true  // REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION
            case 25:  // UNKNOWN_MEMBER_ID: the session expired
                memberID = ""
                needsJoin = true
            case 15, 16, 14: coordinator = nil
            default: throw KafkaError.broker(code, "heartbeat of group '\(group)'")
            }
        } catch let e as KafkaError where e.retriable {
            coordinator = nil  // reconnect (or find the new coordinator) at the next heartbeat
        }
    }

    private func join(_ group: String) async throws {
        if configuration.autoCommit && !assigned.isEmpty && !memberID.isEmpty { try? await commitDelivered() }
        if !assigned.isEmpty, let onRevoke { await onRevoke(assigned) }
        // Where the caller stands in each partition: the first record not yet handed out.
        var standing = positions
        for r in buffer[bufferAt...] {
            let tp = KafkaTopicPartition(r.topic, r.partition)
            standing[tp] = min(standing[tp] ?? r.offset, r.offset)
        }
        retained = (generation, memberID, standing)
        epoch += 1
        assigned = []
        positions = [:]
        delivered = [:]
        dropBuffered { _ in true }
        let deadline = ContinuousClock.now + configuration.rebalanceTimeout + configuration.sessionTimeout
        var backoff = client.configuration.retryBackoff
        while true {
            do {
                if try await joinOnce(group) { break }
            } catch let e as KafkaError where e.retriable {
                coordinator = nil
                guard ContinuousClock.now < deadline else {
                    throw KafkaError("joining group '\(group)' failed: \(e.message)", code: e.code)
                }
            }
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(1))
        }
        retained = nil
        needsJoin = false
        lastHeartbeat = ContinuousClock.now
        lastAutoCommit = ContinuousClock.now
    }

    /// One join + sync; false when it must be tried again (a new member id, a rebalance that moved on).
    private func joinOnce(_ group: String) async throws -> Bool {
        let node = try await findCoordinator()
        let subscription = ConsumerProtocol.subscription(topics: configuration.topics)
        let joinTimeout = configuration.rebalanceTimeout + .seconds(5)
        let (jb, jv) = try await client.send(
            to: node,
            JoinGroupRequest(
                groupID: group, sessionTimeoutMs: Int32(configuration.sessionTimeout.components.seconds * 1000),
                rebalanceTimeoutMs: Int32(configuration.rebalanceTimeout.components.seconds * 1000),
                memberID: memberID, protocols: configuration.assignors.map { ($0.rawValue, subscription) }
            ), timeout: joinTimeout)
        var jbuf = jb
        let joined = try JoinGroupResponse.read(from: &jbuf, version: jv)
        switch joined.errorCode {
        case 0: break
        case 79:  // MEMBER_ID_REQUIRED: join again with the id the coordinator gave
            memberID = joined.memberID
            return false
        case 25:
            memberID = ""
            return false
        case 27, 14, 15, 16:
            if joined.errorCode != 27 { coordinator = nil }
            return false
        default:
            throw KafkaError.broker(joined.errorCode, "joining group '\(group)'")
        }
        memberID = joined.memberID
        generation = joined.generationID
        var assignments: [(memberID: String, assignment: [UInt8])] = []
        if joined.leader == joined.memberID && !joined.skipAssignment {
            assignments = try await computeAssignments(joined)
        }
        let (sb, sv) = try await client.send(
            to: node,
            SyncGroupRequest(
                groupID: group, generationID: generation, memberID: memberID, protocolName: joined.protocolName,
                assignments: assignments
            ), timeout: joinTimeout)
        var sbuf = sb
        let synced = try SyncGroupResponse.read(from: &sbuf, version: sv)
        switch synced.errorCode {
        case 0: break
        case 27, 22: return false
        case 25:
            memberID = ""
            return false
        default: throw KafkaError.broker(synced.errorCode, "syncing group '\(group)'")
        }
        let mine = try ConsumerProtocol.readAssignment(synced.assignment)
        let tps = mine.flatMap { t, ps in ps.map { KafkaTopicPartition(t, $0) } }.sorted()
        try await assign(tps, committed: try await committedOffsets(group, tps))
        return true
    }

    private func computeAssignments(_ joined: JoinGroupResponse) async throws -> [(
        memberID: String, assignment: [UInt8]
    )] {
        var subscriptions: [String: [String]] = [:]
        for m in joined.members { subscriptions[m.memberID] = try ConsumerProtocol.readSubscription(m.metadata) }
        var counts: [String: Int32] = [:]
        for topic in Set(subscriptions.values.flatMap { $0 }) {
            counts[topic] = Int32((try? await client.partitions(of: topic, refresh: true))?.count ?? 0)
        }
        let assignor = KafkaConsumerConfiguration.Assignor(rawValue: joined.protocolName ?? "range") ?? .range
        let plan = Assignors.assign(assignor, subscriptions: subscriptions, partitionCounts: counts)
        return subscriptions.keys.sorted().map { ($0, ConsumerProtocol.assignment(plan[$0] ?? [:])) }
    }

    private func committedOffsets(_ group: String, _ tps: [KafkaTopicPartition]) async throws
        -> [KafkaTopicPartition: Int64]
    {
        guard !tps.isEmpty else { return [:] }
        let node = try await findCoordinator()
        let byTopic = Dictionary(grouping: tps, by: \.topic)
        let (b, v) = try await client.send(
            to: node, OffsetFetchRequest(groupID: group, topics: byTopic.map { ($0.key, $0.value.map(\.partition)) }))
        var buffer = b
        let r = try OffsetFetchResponse.read(from: &buffer, version: v)
        guard r.errorCode == 0 else { throw KafkaError.broker(r.errorCode, "fetching offsets of group '\(group)'") }
        var out: [KafkaTopicPartition: Int64] = [:]
        for t in r.topics {
            for p in t.partitions where p.errorCode == 0 && p.offset >= 0 {
                out[KafkaTopicPartition(t.name, p.index)] = p.offset
            }
        }
        return out
    }

    private func allPartitions() async throws -> [KafkaTopicPartition] {
        var out: [KafkaTopicPartition] = []
        for t in configuration.topics {
            for p in try await client.partitions(of: t) { out.append(KafkaTopicPartition(t, p.partition)) }
        }
        return out
    }

    private func assign(_ tps: [KafkaTopicPartition], committed: [KafkaTopicPartition: Int64]) async throws {
        epoch += 1
        assigned = tps
        // A partition kept from the generation just before (same member, no generation missed, so nobody else can
        // have owned it in between) keeps its position, as on the embedded bus; others start at the committed offset.
        var kept: [KafkaTopicPartition: Int64] = [:]
        if let r = retained, generation == r.generation + 1, memberID == r.member, !memberID.isEmpty {
            kept = r.positions
        }
        var missing: [KafkaTopicPartition] = []
        for tp in tps {
            if let o = kept[tp] ?? committed[tp] { positions[tp] = o } else { missing.append(tp) }
        }
        if !missing.isEmpty {
            let offsets = try await listOffsets(missing, timestamp: configuration.start == .earliest ? -2 : -1)
            for (tp, o) in offsets { positions[tp] = o }
        }
        if let onAssign { await onAssign(tps) }
    }

    /// ListOffsets for partitions at a timestamp (-2 earliest, -1 latest), from each partition's leader.
    func listOffsets(_ tps: [KafkaTopicPartition], timestamp: Int64) async throws -> [KafkaTopicPartition: Int64] {
        try await client.listOffsets(tps, timestamp: timestamp)
    }

    // MARK: fetching

    private func dropBuffered(_ matching: (KafkaTopicPartition) -> Bool) {
        guard bufferAt < buffer.count else { return }
        buffer = buffer[bufferAt...].filter { !matching(KafkaTopicPartition($0.topic, $0.partition)) }
        bufferAt = 0
    }

    /// A fetch sent to one leader, its answer still to come.
    private struct PendingFetch: Sendable {
        var leader: Int32
        var tps: [KafkaTopicPartition]
        var answer: Result<(EventLoopFuture<ByteBuffer>, Int16), KafkaError>
    }

    /// Sends one Fetch per leader for the active partitions at their positions, without waiting for the answers.
    private func issueFetches(maxWait: Duration) async -> [PendingFetch] {
        let active = assigned.filter { !paused.contains($0) && positions[$0] != nil }
        var byLeader: [Int32: [KafkaTopicPartition]] = [:]
        for tp in active {
            let leader =
                (try? await client.partitions(of: tp.topic))?.first { $0.partition == tp.partition }?.leader ?? -1
            byLeader[leader, default: []].append(tp)
        }
        let waitMs = Int32(
            max(1, maxWait.components.seconds * 1000 + maxWait.components.attoseconds / 1_000_000_000_000_000))
        var out: [PendingFetch] = []
        for (leader, tps) in byLeader {
            guard leader >= 0 else {
                out.append(
                    PendingFetch(leader: leader, tps: tps, answer: .failure(KafkaError("no leader", code: .named(5)))))
                continue
            }
            let request = FetchRequest(
                maxWaitMs: waitMs, minBytes: 1, maxBytes: configuration.fetchMaxBytes,
                topics: Dictionary(grouping: tps, by: \.topic).map { t, ps in
                    (
                        t,
                        ps.map {
                            FetchRequest.Partition(
                                index: $0.partition, fetchOffset: positions[$0]!,
                                maxBytes: configuration.partitionMaxBytes)
                        }
                    )
                })
            do {
                let connection = try await client.connection(to: leader)
                let v = try connection.version(of: .fetch, supported: FetchRequest.versions)
                var body = ByteBuffer()
                request.write(to: &body, version: v)
                let future = connection.enqueue(
                    .fetch, version: v, body: body, timeout: maxWait + client.configuration.requestTimeout)
                out.append(PendingFetch(leader: leader, tps: tps, answer: .success((future, v))))
            } catch {
                let e = (error as? KafkaError) ?? KafkaError("\(error)", retriable: true)
                out.append(PendingFetch(leader: leader, tps: tps, answer: .failure(e)))
            }
        }
        return out
    }

    /// Fetches (or takes the answer of the fetch sent ahead at the last call), decodes into the buffer, and sends
    /// the next fetch ahead, so the broker prepares the next answer while the caller works through this one.
    private func fetch(maxWait: Duration) async throws {
        let pending: [PendingFetch]
        if let p = prefetched, p.epoch == epoch {
            pending = p.fetches
        } else {
            guard assigned.contains(where: { !paused.contains($0) && positions[$0] != nil }) else {
                try await Task.sleep(for: maxWait)
                return
            }
            pending = await issueFetches(maxWait: maxWait)
        }
        prefetched = nil
        let startEpoch = epoch
        var answers: [(Int32, [KafkaTopicPartition], Result<FetchResponse, any Error>)] = []
        for f in pending {
            switch f.answer {
            case .failure(let e): answers.append((f.leader, f.tps, .failure(e)))
            case .success(let (future, v)):
                do {
                    var buffer = try await future.get()
                    answers.append((f.leader, f.tps, .success(try FetchResponse.read(from: &buffer, version: v))))
                } catch {
                    if (error as? KafkaError)?.retriable ?? false { await client.invalidate(f.leader) }
                    answers.append((f.leader, f.tps, .failure(error)))
                }
            }
        }
        guard epoch == startEpoch else { return }  // positions moved while waiting: the answers are stale
        var retriableFailure = false
        for (_, tps, result) in answers {
            switch result {
            case .failure(let error):
                guard let e = error as? KafkaError, e.retriable else { throw error }
                retriableFailure = true
                for t in Set(tps.map(\.topic)) { await client.invalidateTopic(t) }
            case .success(let response):
                try await absorb(response)
            }
        }
        if retriableFailure && bufferAt >= buffer.count { try await Task.sleep(for: client.configuration.retryBackoff) }
        if !retriableFailure && bufferAt < buffer.count && epoch == startEpoch {
            prefetched = (
                epoch, await issueFetches(maxWait: min(configuration.fetchMaxWait, configuration.heartbeatInterval))
            )
        }
    }

    private func absorb(_ response: FetchResponse) async throws {
        if response.errorCode != 0 { throw KafkaError.broker(response.errorCode, "fetch") }
        var resets: [KafkaTopicPartition] = []
        for (topic, parts) in response.topics {
            for p in parts {
                let tp = KafkaTopicPartition(topic, p.index)
                guard assigned.contains(tp), !paused.contains(tp), var position = positions[tp] else { continue }
                switch p.errorCode {
                case 0: break
                case 1:  // OFFSET_OUT_OF_RANGE
                    resets.append(tp)
                    continue
                default:
                    let code = KafkaErrorCode.named(p.errorCode)
                    guard code.retriable else { throw KafkaError.broker(p.errorCode, "fetching \(tp)") }
                    await client.invalidateTopic(topic)
                    continue
                }
                // Beyond the end of the log (it was truncated, or the broker restarted empty): what Kafka answers
                // OFFSET_OUT_OF_RANGE for; some brokers answer nothing instead.
                if p.highWatermark >= 0 && position > p.highWatermark {
                    resets.append(tp)
                    continue
                }
                guard var records = p.records else { continue }
                let aborted = Set((p.abortedTransactions ?? []).map(\.producerID))
                while records.readableBytes >= 61 {
                    // The broker may cut the last batch short: stop at a partial one.
                    guard
                        let length = records.getInteger(at: records.readerIndex + 8, endianness: .big, as: Int32.self),
                        records.readableBytes >= 12 + Int(length)
                    else { break }
                    let batch: RecordBatch
                    do {
                        batch = try RecordBatch.read(from: &records)
                    } catch {
                        throw KafkaError("fetching \(tp) at offset \(position): \(error)")
                    }
                    defer { position = max(position, batch.nextOffset) }
                    if batch.isControl || (batch.isTransactional && aborted.contains(batch.producerID)) { continue }
                    for r in batch.records where r.offset >= position {
                        buffer.append(
                            KafkaConsumerRecord(
                                topic: topic, partition: p.index, offset: r.offset, timestamp: r.timestamp, key: r.key,
                                value: r.value, headers: r.headers))
                    }
                }
                positions[tp] = position
            }
        }
        if !resets.isEmpty {
            epoch += 1
            let offsets = try await listOffsets(resets, timestamp: configuration.start == .earliest ? -2 : -1)
            for (tp, o) in offsets { positions[tp] = o }
        }
    }
}

/// Partition assignment among group members, as Kafka's range and round-robin assignors do it.
public enum Assignors {
    public static func assign(
        _ assignor: KafkaConsumerConfiguration.Assignor, subscriptions: [String: [String]],
        partitionCounts: [String: Int32]
    ) -> [String: [String: [Int32]]] {
        var plan: [String: [String: [Int32]]] = [:]
        let members = subscriptions.keys.sorted()
        switch assignor {
        case .range:
            for topic in partitionCounts.keys.sorted() {
                let subscribers = members.filter { subscriptions[$0]!.contains(topic) }
                guard !subscribers.isEmpty else { continue }
                let n = Int(partitionCounts[topic]!)
                let per = n / subscribers.count
                let extra = n % subscribers.count
                var next = 0
                for (i, m) in subscribers.enumerated() {
                    let count = per + (i < extra ? 1 : 0)
                    if count > 0 { plan[m, default: [:]][topic] = (next..<next + count).map { Int32($0) } }
                    next += count
                }
            }
        case .roundrobin:
            var i = 0
            for topic in partitionCounts.keys.sorted() {
                for p in 0..<partitionCounts[topic]! {
                    // The next member (in order) subscribed to this topic.
                    for _ in 0..<members.count {
                        let m = members[i % members.count]
                        i += 1
                        if subscriptions[m]!.contains(topic) {
                            plan[m, default: [:]][topic, default: []].append(p)
                            break
                        }
                    }
                }
            }
        }
        return plan
    }
}

public struct RecordSequence: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerRecord
    let consumer: KafkaConsumer
    let timeout: Duration
    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer
        let timeout: Duration
        var pending: [KafkaConsumerRecord] = []
        var at = 0
        public mutating func next() async throws -> KafkaConsumerRecord? {
            while at >= pending.count {
                try Task.checkCancellation()
                pending = try await consumer.poll(maxRecords: 10_000, timeout: timeout)
                at = 0
            }
            at += 1
            return pending[at - 1]
        }
    }
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer, timeout: timeout) }
}

public struct BatchSequence: AsyncSequence, Sendable {
    public typealias Element = [KafkaConsumerRecord]
    let consumer: KafkaConsumer
    let maxRecords: Int
    let timeout: Duration
    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer
        let maxRecords: Int
        let timeout: Duration
        public mutating func next() async throws -> [KafkaConsumerRecord]? {
            while true {
                try Task.checkCancellation()
                let batch = try await consumer.poll(maxRecords: maxRecords, timeout: timeout)
                if !batch.isEmpty { return batch }
            }
        }
    }
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(consumer: consumer, maxRecords: maxRecords, timeout: timeout)
    }
}
