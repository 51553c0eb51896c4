public import NIOCore

// The classic consumer-group protocol: FindCoordinator v4, JoinGroup v9, SyncGroup v5, Heartbeat v4, LeaveGroup v5,
// OffsetCommit v8, OffsetFetch v8 (all flexible), and the consumer protocol's subscription and assignment.

public struct FindCoordinatorRequest: Sendable {
    public static let versions: ClosedRange<Int16> = 4...4
    /// 0: a consumer group; 1: a transaction.
    public var keyType: Int8
    public var keys: [String]
    public init(keyType: Int8 = 0, keys: [String]) {
        self.keyType = keyType
        self.keys = keys
    }
    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeInteger(keyType)
        b.writeCompactArray(keys) { b, k in b.writeCompactString(k) }
        b.writeNoTaggedFields()
    }
}

public struct FindCoordinatorResponse: Sendable, Equatable {
    public struct Coordinator: Sendable, Equatable {
        public var key: String
        public var nodeID: Int32
        public var host: String
        public var port: Int32
        public var errorCode: Int16
        public var errorMessage: String?
    }
    public var coordinators: [Coordinator]

    public static func read(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> FindCoordinatorResponse
    {
        _ = try b.readKafkaInteger("throttle time", as: Int32.self)
        let cs = try b.readCompactArray("coordinators") { (b: inout ByteBuffer) throws(KafkaWireError) -> Coordinator in
            let key = try b.readName("key")
            let node: Int32 = try b.readKafkaInteger("node id")
            let host = try b.readName("host")
            let port: Int32 = try b.readKafkaInteger("port")
            let error: Int16 = try b.readKafkaInteger("error code")
            let message = try b.readCompactString("error message", nullable: true)
            try b.readTaggedFields("coordinator")
            return Coordinator(key: key, nodeID: node, host: host, port: port, errorCode: error, errorMessage: message)
        }
        try b.readTaggedFields("FindCoordinator response")
        return FindCoordinatorResponse(coordinators: cs ?? [])
    }
}

public struct JoinGroupRequest: Sendable {
    public static let versions: ClosedRange<Int16> = 9...9
    public var groupID: String
    public var sessionTimeoutMs: Int32
    public var rebalanceTimeoutMs: Int32
    public var memberID: String
    public var groupInstanceID: String?
    public var protocolType: String
    public var protocols: [(name: String, metadata: [UInt8])]
    public var reason: String?

    public init(
        groupID: String, sessionTimeoutMs: Int32, rebalanceTimeoutMs: Int32, memberID: String,
        groupInstanceID: String? = nil, protocolType: String = "consumer",
        protocols: [(name: String, metadata: [UInt8])],
        reason: String? = nil
    ) {
        self.groupID = groupID
        self.sessionTimeoutMs = sessionTimeoutMs
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.memberID = memberID
        self.groupInstanceID = groupInstanceID
        self.protocolType = protocolType
        self.protocols = protocols
        self.reason = reason
    }

    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeCompactString(groupID)
        b.writeBigEndian(sessionTimeoutMs)
        b.writeBigEndian(rebalanceTimeoutMs)
        b.writeCompactString(memberID)
        b.writeCompactString(groupInstanceID)
        b.writeCompactString(protocolType)
        b.writeCompactArray(protocols) { b, p in
            b.writeCompactString(p.name)
            b.writeCompactBytes(p.metadata)
            b.writeNoTaggedFields()
        }
        b.writeCompactString(reason)
        b.writeNoTaggedFields()
    }
}

public struct JoinGroupResponse: Sendable {
    public var errorCode: Int16
    public var generationID: Int32
    public var protocolName: String?
    public var leader: String
    public var skipAssignment: Bool
    public var memberID: String
    public var members: [(memberID: String, metadata: [UInt8])]

    public static func read(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> JoinGroupResponse {
        _ = try b.readKafkaInteger("throttle time", as: Int32.self)
        let error: Int16 = try b.readKafkaInteger("error code")
        let generation: Int32 = try b.readKafkaInteger("generation id")
        _ = try b.readCompactString("protocol type", nullable: true)
        let name = try b.readCompactString("protocol name", nullable: true)
        let leader = try b.readName("leader")
        let skip = try b.readKafkaBool("skip assignment")
        let member = try b.readName("member id")
        let members = try b.readCompactArray("members") {
            (b: inout ByteBuffer) throws(KafkaWireError) -> (memberID: String, metadata: [UInt8]) in
            let id = try b.readName("member id")
            _ = try b.readCompactString("group instance id", nullable: true)
            let metadata = try b.readCompactBytes("member metadata") ?? []
            try b.readTaggedFields("member")
            return (id, metadata)
        }
        try b.readTaggedFields("JoinGroup response")
        return JoinGroupResponse(
            errorCode: error, generationID: generation, protocolName: name, leader: leader, skipAssignment: skip,
            memberID: member, members: members ?? [])
    }
}

public struct SyncGroupRequest: Sendable {
    public static let versions: ClosedRange<Int16> = 5...5
    public var groupID: String
    public var generationID: Int32
    public var memberID: String
    public var protocolType: String?
    public var protocolName: String?
    public var assignments: [(memberID: String, assignment: [UInt8])]

    public init(
        groupID: String, generationID: Int32, memberID: String, protocolType: String? = "consumer",
        protocolName: String?, assignments: [(memberID: String, assignment: [UInt8])]
    ) {
        self.groupID = groupID
        self.generationID = generationID
        self.memberID = memberID
        self.protocolType = protocolType
        self.protocolName = protocolName
        self.assignments = assignments
    }

    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeCompactString(groupID)
        b.writeBigEndian(generationID)
        b.writeCompactString(memberID)
        b.writeCompactString(nil)  // group instance id
        b.writeCompactString(protocolType)
        b.writeCompactString(protocolName)
        b.writeCompactArray(assignments) { b, a in
            b.writeCompactString(a.memberID)
            b.writeCompactBytes(a.assignment)
            b.writeNoTaggedFields()
        }
        b.writeNoTaggedFields()
    }
}

public struct SyncGroupResponse: Sendable {
    public var errorCode: Int16
    public var assignment: [UInt8]

    public static func read(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> SyncGroupResponse {
        _ = try b.readKafkaInteger("throttle time", as: Int32.self)
        let error: Int16 = try b.readKafkaInteger("error code")
        _ = try b.readCompactString("protocol type", nullable: true)
        _ = try b.readCompactString("protocol name", nullable: true)
        let assignment = try b.readCompactBytes("assignment") ?? []
        try b.readTaggedFields("SyncGroup response")
        return SyncGroupResponse(errorCode: error, assignment: assignment)
    }
}

public struct HeartbeatRequest: Sendable {
    public static let versions: ClosedRange<Int16> = 4...4
    public var groupID: String
    public var generationID: Int32
    public var memberID: String
    public init(groupID: String, generationID: Int32, memberID: String) {
        self.groupID = groupID
        self.generationID = generationID
        self.memberID = memberID
    }
    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeCompactString(groupID)
        b.writeBigEndian(generationID)
        b.writeCompactString(memberID)
        b.writeCompactString(nil)
        b.writeNoTaggedFields()
    }
}

/// The answer of requests that carry only an error code (Heartbeat v4; LeaveGroup's top level).
public struct ErrorOnlyResponse: Sendable {
    public var errorCode: Int16
    public static func read(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> ErrorOnlyResponse {
        _ = try b.readKafkaInteger("throttle time", as: Int32.self)
        let error: Int16 = try b.readKafkaInteger("error code")
        return ErrorOnlyResponse(errorCode: error)  // the rest (LeaveGroup's members) is not needed
    }
}

public struct LeaveGroupRequest: Sendable {
    public static let versions: ClosedRange<Int16> = 5...5
    public var groupID: String
    public var memberIDs: [String]
    public var reason: String?
    public init(groupID: String, memberIDs: [String], reason: String? = nil) {
        self.groupID = groupID
        self.memberIDs = memberIDs
        self.reason = reason
    }
    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeCompactString(groupID)
        b.writeCompactArray(memberIDs) { b, m in
            b.writeCompactString(m)
            b.writeCompactString(nil)  // group instance id
            b.writeCompactString(reason)
            b.writeNoTaggedFields()
        }
        b.writeNoTaggedFields()
    }
}

public struct OffsetCommitRequest: Sendable {
    public static let versions: ClosedRange<Int16> = 8...8
    public var groupID: String
    public var generationID: Int32
    public var memberID: String
    public var topics: [(name: String, partitions: [(index: Int32, offset: Int64)])]

    /// A group member's commit; `generationID` -1 with an empty member commits for a group nobody is in.
    public init(
        groupID: String, generationID: Int32, memberID: String,
        topics: [(name: String, partitions: [(index: Int32, offset: Int64)])]
    ) {
        self.groupID = groupID
        self.generationID = generationID
        self.memberID = memberID
        self.topics = topics
    }

    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeCompactString(groupID)
        b.writeBigEndian(generationID)
        b.writeCompactString(memberID)
        b.writeCompactString(nil)
        b.writeTopics(topics) { b, p in
            b.writeBigEndian(p.index)
            b.writeBigEndian(p.offset)
            b.writeBigEndian(Int32(-1))  // committed leader epoch
            b.writeCompactString(nil)  // metadata
            b.writeNoTaggedFields()
        }
        b.writeNoTaggedFields()
    }
}

public struct OffsetCommitResponse: Sendable {
    public var topics: [(name: String, partitions: [(index: Int32, errorCode: Int16)])]

    public static func read(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> OffsetCommitResponse {
        _ = try b.readKafkaInteger("throttle time", as: Int32.self)
        let topics = try b.readTopics("OffsetCommit response") {
            (b: inout ByteBuffer) throws(KafkaWireError) -> (index: Int32, errorCode: Int16) in
            let i: Int32 = try b.readKafkaInteger("partition index")
            let e: Int16 = try b.readKafkaInteger("error code")
            try b.readTaggedFields("partition")
            return (i, e)
        }
        try b.readTaggedFields("OffsetCommit response")
        return OffsetCommitResponse(topics: topics)
    }
}

public struct OffsetFetchRequest: Sendable {
    public static let versions: ClosedRange<Int16> = 8...8
    public var groupID: String
    /// nil: every partition the group has committed.
    public var topics: [(name: String, partitions: [Int32])]?
    public init(groupID: String, topics: [(name: String, partitions: [Int32])]?) {
        self.groupID = groupID
        self.topics = topics
    }
    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeCompactArray([0]) { b, _ in
            b.writeCompactString(groupID)
            b.writeCompactArray(topics) { b, t in
                b.writeCompactString(t.name)
                b.writeCompactArray(t.partitions) { b, p in b.writeBigEndian(p) }
                b.writeNoTaggedFields()
            }
            b.writeNoTaggedFields()
        }
        b.writeKafkaBool(true)  // require stable: wait out pending transactional commits
        b.writeNoTaggedFields()
    }
}

public struct OffsetFetchResponse: Sendable {
    public struct Partition: Sendable, Equatable {
        public var index: Int32
        /// -1: nothing committed.
        public var offset: Int64
        public var errorCode: Int16
    }
    public var errorCode: Int16
    public var topics: [(name: String, partitions: [Partition])]

    public static func read(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> OffsetFetchResponse {
        _ = try b.readKafkaInteger("throttle time", as: Int32.self)
        let groups = try b.readCompactArray("groups") {
            (b: inout ByteBuffer) throws(KafkaWireError) -> OffsetFetchResponse in
            _ = try b.readName("group id")
            let topics = try b.readTopics("OffsetFetch response") {
                (b: inout ByteBuffer) throws(KafkaWireError) -> Partition in
                let i: Int32 = try b.readKafkaInteger("partition index")
                let offset: Int64 = try b.readKafkaInteger("committed offset")
                _ = try b.readKafkaInteger("committed leader epoch", as: Int32.self)
                _ = try b.readCompactString("metadata", nullable: true)
                let e: Int16 = try b.readKafkaInteger("error code")
                try b.readTaggedFields("partition")
                return Partition(index: i, offset: offset, errorCode: e)
            }
            let error: Int16 = try b.readKafkaInteger("group error code")
            try b.readTaggedFields("group")
            return OffsetFetchResponse(errorCode: error, topics: topics)
        }
        try b.readTaggedFields("OffsetFetch response")
        guard let group = groups?.first else { throw KafkaWireError("OffsetFetch response names no group") }
        return group
    }
}

/// The consumer protocol's member metadata (subscription, v0) and assignment (v0), as JoinGroup and SyncGroup carry
/// them. Not flexible: int16 string lengths and int32 array counts.
public enum ConsumerProtocol {
    public static func subscription(topics: [String]) -> [UInt8] {
        var b = ByteBuffer()
        b.writeBigEndian(Int16(0))
        b.writeBigEndian(Int32(topics.count))
        for t in topics { b.writeKafkaString(t) }
        b.writeBigEndian(Int32(-1))  // user data
        return Array(b.readableBytesView)
    }

    public static func readSubscription(_ bytes: [UInt8]) throws(KafkaWireError) -> [String] {
        var b = ByteBuffer(bytes: bytes)
        _ = try b.readKafkaInteger("subscription version", as: Int16.self)
        var topics: [String] = []
        for _ in 0..<(try b.readArrayCount("subscribed topics", compact: false) ?? 0) {
            topics.append(try b.readKafkaString("subscribed topic")!)
        }
        return topics  // user data and owned partitions (v1+) are not used
    }

    public static func assignment(_ partitions: [String: [Int32]]) -> [UInt8] {
        var b = ByteBuffer()
        b.writeBigEndian(Int16(0))
        b.writeBigEndian(Int32(partitions.count))
        for (topic, ps) in partitions.sorted(by: { $0.key < $1.key }) {
            b.writeKafkaString(topic)
            b.writeBigEndian(Int32(ps.count))
            for p in ps { b.writeBigEndian(p) }
        }
        b.writeBigEndian(Int32(-1))
        return Array(b.readableBytesView)
    }

    public static func readAssignment(_ bytes: [UInt8]) throws(KafkaWireError) -> [String: [Int32]] {
        guard !bytes.isEmpty else { return [:] }
        var b = ByteBuffer(bytes: bytes)
        _ = try b.readKafkaInteger("assignment version", as: Int16.self)
        var out: [String: [Int32]] = [:]
        for _ in 0..<(try b.readArrayCount("assigned topics", compact: false) ?? 0) {
            let topic = try b.readKafkaString("assigned topic")!
            var ps: [Int32] = []
            for _ in 0..<(try b.readArrayCount("assigned partitions", compact: false) ?? 0) {
                ps.append(try b.readKafkaInteger("assigned partition"))
            }
            out[topic, default: []] += ps
        }
        return out
    }
}
