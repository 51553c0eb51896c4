public import KafkaWire
import NIOCore

/// A topic as the admin describes it.
public struct KafkaTopicDescription: Sendable, Equatable {
    public struct Partition: Sendable, Equatable {
        public var partition: Int32
        public var leader: Int32
        public var earliestOffset: Int64
        public var latestOffset: Int64
    }
    public var name: String
    public var partitions: [Partition]
}

/// A group's committed offset and lag on one partition.
public struct KafkaPartitionLag: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    /// nil: nothing committed.
    public var committed: Int64?
    public var latest: Int64
    public var lag: Int64 { latest - (committed ?? 0) }
}

/// Topic and group administration.
extension KafkaClient {
    /// Creates topics; an existing topic is TOPIC_ALREADY_EXISTS's error unless `ifNotExists`.
    public func createTopic(
        _ name: String, partitions: Int32, replicationFactor: Int16 = -1, configs: [String: String] = [:],
        ifNotExists: Bool = false
    ) async throws {
        let (b, v) = try await controllerRequest(
            CreateTopicsRequest(
                topics: [
                    .init(name: name, partitions: partitions, replicationFactor: replicationFactor, configs: configs)
                ]
            ))
        var buffer = b
        let r = try TopicResults.readCreate(from: &buffer, version: v)
        for t in r.topics where t.errorCode != 0 && !(ifNotExists && t.errorCode == 36) {
            throw KafkaError.broker(t.errorCode, "creating topic '\(name)'", message: t.errorMessage)
        }
        invalidateTopic(name)
    }

    public func deleteTopic(_ name: String) async throws {
        let (b, v) = try await controllerRequest(DeleteTopicsRequest(names: [name]))
        var buffer = b
        let r = try TopicResults.readDelete(from: &buffer, version: v)
        for t in r.topics where t.errorCode != 0 {
            throw KafkaError.broker(t.errorCode, "deleting topic '\(name)'", message: t.errorMessage)
        }
        invalidateTopic(name)
    }

    /// Sends to the cluster's controller (any broker forwards in KRaft clusters; the controller id is from Metadata).
    private func controllerRequest<R: KafkaRequest>(_ request: R) async throws -> (ByteBuffer, Int16) {
        let metadata = try await refreshMetadata(topics: [])
        if metadata.controllerID >= 0, metadata.brokers.contains(where: { $0.nodeID == metadata.controllerID }) {
            return try await send(to: metadata.controllerID, request)
        }
        return try await sendToAny(request)
    }

    /// Every topic's name (internal topics left out).
    public func listTopics() async throws -> [String] {
        let metadata = try await refreshMetadata(topics: nil)
        return metadata.topics.filter { !$0.isInternal }.compactMap(\.name).sorted()
    }

    public func describeTopic(_ name: String) async throws -> KafkaTopicDescription {
        let parts = try await partitions(of: name, refresh: true)
        let tps = parts.map { KafkaTopicPartition(name, $0.partition) }
        let earliest = try await listOffsets(tps, timestamp: ListOffsetsRequest.earliest)
        var latest = try await listOffsets(tps, timestamp: ListOffsetsRequest.latest)
        for (tp, hw) in try await highWatermarks(tps, from: latest) { latest[tp] = max(latest[tp] ?? 0, hw) }
        return KafkaTopicDescription(
            name: name,
            partitions: parts.map { p in
                let tp = KafkaTopicPartition(name, p.partition)
                return .init(
                    partition: p.partition, leader: p.leader, earliestOffset: earliest[tp] ?? 0,
                    latestOffset: latest[tp] ?? 0)
            })
    }

    /// ListOffsets from each partition's leader at `timestamp` (-2 earliest, -1 latest).
    public func listOffsets(_ tps: [KafkaTopicPartition], timestamp: Int64) async throws -> [KafkaTopicPartition: Int64]
    {
        try await retrying("listing offsets of \(tps.map(\.description).joined(separator: ","))") {
            var byLeader: [Int32: [KafkaTopicPartition]] = [:]
            for tp in tps {
                guard let p = try await self.partitions(of: tp.topic).first(where: { $0.partition == tp.partition })
                else {
                    throw KafkaError("topic '\(tp.topic)' has no partition \(tp.partition)")
                }
                byLeader[p.leader, default: []].append(tp)
            }
            var out: [KafkaTopicPartition: Int64] = [:]
            for (leader, list) in byLeader {
                let byTopic = Dictionary(grouping: list, by: \.topic)
                let (b, v) = try await self.send(
                    to: leader,
                    ListOffsetsRequest(topics: byTopic.map { t, ps in (t, ps.map { ($0.partition, timestamp) }) }))
                var buffer = b
                let r = try ListOffsetsResponse.read(from: &buffer, version: v)
                for t in r.topics {
                    for p in t.partitions {
                        guard p.errorCode == 0 else {
                            if KafkaErrorCode.named(p.errorCode).retriable { await self.invalidateTopic(t.name) }
                            throw KafkaError.broker(p.errorCode, "listing offsets of \(t.name)[\(p.index)]")
                        }
                        out[KafkaTopicPartition(t.name, p.index)] = p.offset
                    }
                }
            }
            return out
        }
    }

    /// The high watermark Fetch reports for each partition (asked at `offsets`, waiting for nothing). Tansu 0.6
    /// answers ListOffsets(latest) with its last batch's base offset + 1, while its Fetch high watermark is right:
    /// `describeTopic` takes the larger of the two, which on a conforming broker are equal.
    public func highWatermarks(_ tps: [KafkaTopicPartition], from offsets: [KafkaTopicPartition: Int64]) async throws
        -> [KafkaTopicPartition: Int64]
    {
        var byLeader: [Int32: [KafkaTopicPartition]] = [:]
        for tp in tps {
            guard let p = try await partitions(of: tp.topic).first(where: { $0.partition == tp.partition }) else {
                continue
            }
            byLeader[p.leader, default: []].append(tp)
        }
        var out: [KafkaTopicPartition: Int64] = [:]
        for (leader, list) in byLeader {
            let byTopic = Dictionary(grouping: list, by: \.topic)
            let request = FetchRequest(
                maxWaitMs: 10, minBytes: 1, maxBytes: 1 << 20,
                topics: byTopic.map { t, ps in
                    (
                        t,
                        ps.map {
                            FetchRequest.Partition(
                                index: $0.partition, fetchOffset: max(0, (offsets[$0] ?? 1) - 1), maxBytes: 1024)
                        }
                    )
                })
            var (b, v) = try await send(to: leader, request)
            for (topic, parts) in try FetchResponse.read(from: &b, version: v).topics {
                for p in parts where p.errorCode == 0 { out[KafkaTopicPartition(topic, p.index)] = p.highWatermark }
            }
        }
        return out
    }

    /// A group's committed offsets on `topic` and its lag behind each partition's end.
    public func groupLag(_ group: String, topic: String) async throws -> [KafkaPartitionLag] {
        let parts = try await partitions(of: topic, refresh: true)
        let tps = parts.map { KafkaTopicPartition(topic, $0.partition) }
        var latest = try await listOffsets(tps, timestamp: ListOffsetsRequest.latest)
        for (tp, hw) in try await highWatermarks(tps, from: latest) { latest[tp] = max(latest[tp] ?? 0, hw) }
        let (cb, cv) = try await sendToAny(FindCoordinatorRequest(keys: [group]))
        var cbuf = cb
        guard let c = try FindCoordinatorResponse.read(from: &cbuf, version: cv).coordinators.first else {
            throw KafkaError("FindCoordinator answered no coordinator for group '\(group)'")
        }
        guard c.errorCode == 0 else {
            throw KafkaError.broker(c.errorCode, "finding the coordinator of group '\(group)'", message: c.errorMessage)
        }
        _ = try await connection(node: c.nodeID, host: c.host, port: Int(c.port))
        let (b, v) = try await send(
            to: c.nodeID, OffsetFetchRequest(groupID: group, topics: [(topic, tps.map(\.partition))]))
        var buffer = b
        let r = try OffsetFetchResponse.read(from: &buffer, version: v)
        guard r.errorCode == 0 else { throw KafkaError.broker(r.errorCode, "fetching offsets of group '\(group)'") }
        var committed: [Int32: Int64] = [:]
        for t in r.topics where t.name == topic {
            for p in t.partitions where p.offset >= 0 { committed[p.index] = p.offset }
        }
        return tps.map {
            KafkaPartitionLag(
                topic: topic, partition: $0.partition, committed: committed[$0.partition], latest: latest[$0] ?? 0)
        }
    }
}
