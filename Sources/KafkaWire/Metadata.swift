public import NIOCore

// Metadata (key 3), versions 9-12 (flexible). v10 adds topic ids; v11 drops cluster authorized operations;
// v12 lets topic names be null in responses (topics asked for by id).

public struct MetadataRequest: Sendable, Equatable {
    /// Topic names to describe; nil: all topics.
    public var topics: [String]?
    public var allowAutoTopicCreation: Bool

    public init(topics: [String]?, allowAutoTopicCreation: Bool = false) {
        self.topics = topics
        self.allowAutoTopicCreation = allowAutoTopicCreation
    }

    public func write(to buffer: inout ByteBuffer, version: Int16) {
        precondition((9...12).contains(version), "Metadata v\(version) is not implemented (9...12)")
        buffer.writeArrayCount(topics?.count, compact: true)
        for name in topics ?? [] {
            if version >= 10 { buffer.writeBytes([UInt8](repeating: 0, count: 16)) }  // topic id: none, by name
            buffer.writeCompactString(name)
            buffer.writeNoTaggedFields()
        }
        buffer.writeInteger(UInt8(allowAutoTopicCreation ? 1 : 0))
        if version <= 10 { buffer.writeInteger(UInt8(0)) }  // include cluster authorized operations
        buffer.writeInteger(UInt8(0))  // include topic authorized operations
        buffer.writeNoTaggedFields()
    }
}

public struct MetadataResponse: Sendable, Equatable {
    public struct Broker: Sendable, Equatable {
        public var nodeID: Int32
        public var host: String
        public var port: Int32
        public var rack: String?
    }

    public struct Partition: Sendable, Equatable {
        public var errorCode: Int16
        public var index: Int32
        public var leaderID: Int32
        public var leaderEpoch: Int32
        public var replicas: [Int32]
        public var inSyncReplicas: [Int32]
    }

    public struct Topic: Sendable, Equatable {
        public var errorCode: Int16
        public var name: String?
        public var topicID: [UInt8]
        public var isInternal: Bool
        public var partitions: [Partition]
    }

    public var throttleTimeMs: Int32
    public var brokers: [Broker]
    public var clusterID: String?
    public var controllerID: Int32
    public var topics: [Topic]

    public static func read(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> MetadataResponse {
        guard (9...12).contains(version) else {
            throw KafkaWireError("Metadata v\(version) is not implemented (9...12)")
        }
        let throttle: Int32 = try b.readKafkaInteger("throttle time")
        var brokers: [Broker] = []
        for _ in 0..<(try b.readArrayCount("brokers", compact: true) ?? 0) {
            let id: Int32 = try b.readKafkaInteger("node id")
            let host = try b.readCompactString("host")!
            let port: Int32 = try b.readKafkaInteger("port")
            let rack = try b.readCompactString("rack", nullable: true)
            try b.readTaggedFields("broker")
            brokers.append(Broker(nodeID: id, host: host, port: port, rack: rack))
        }
        let cluster = try b.readCompactString("cluster id", nullable: true)
        let controller: Int32 = try b.readKafkaInteger("controller id")
        var topics: [Topic] = []
        for _ in 0..<(try b.readArrayCount("topics", compact: true) ?? 0) {
            let error: Int16 = try b.readKafkaInteger("topic error code")
            let name = try b.readCompactString("topic name", nullable: version >= 12)
            var id = [UInt8](repeating: 0, count: 16)
            if version >= 10 {
                guard let bytes = b.readBytes(length: 16) else { throw .short("topic id") }
                id = bytes
            }
            let isInternal: UInt8 = try b.readKafkaInteger("is internal")
            var partitions: [Partition] = []
            for _ in 0..<(try b.readArrayCount("partitions", compact: true) ?? 0) {
                let pe: Int16 = try b.readKafkaInteger("partition error code")
                let index: Int32 = try b.readKafkaInteger("partition index")
                let leader: Int32 = try b.readKafkaInteger("leader id")
                let epoch: Int32 = try b.readKafkaInteger("leader epoch")
                func ints(_ what: String) throws(KafkaWireError) -> [Int32] {
                    var out: [Int32] = []
                    for _ in 0..<(try b.readArrayCount(what, compact: true) ?? 0) {
                        out.append(try b.readKafkaInteger(what))
                    }
                    return out
                }
                let replicas = try ints("replica nodes")
                let isr = try ints("in-sync replica nodes")
                _ = try ints("offline replicas")
                try b.readTaggedFields("partition")
                partitions.append(
                    Partition(
                        errorCode: pe, index: index, leaderID: leader, leaderEpoch: epoch, replicas: replicas,
                        inSyncReplicas: isr))
            }
            _ = try b.readKafkaInteger("topic authorized operations", as: Int32.self)
            try b.readTaggedFields("topic")
            topics.append(
                Topic(errorCode: error, name: name, topicID: id, isInternal: isInternal != 0, partitions: partitions))
        }
        if version <= 10 { _ = try b.readKafkaInteger("cluster authorized operations", as: Int32.self) }
        try b.readTaggedFields("Metadata response")
        return MetadataResponse(
            throttleTimeMs: throttle, brokers: brokers, clusterID: cluster, controllerID: controller, topics: topics)
    }
}
