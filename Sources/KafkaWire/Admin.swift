public import NIOCore

// CreateTopics v7, DeleteTopics v6, InitProducerId v4 (flexible); SaslHandshake v1, SaslAuthenticate v2.

public struct CreateTopicsRequest: Sendable {
    public static let versions: ClosedRange<Int16> = 7...7
    public struct Topic: Sendable {
        public var name: String
        public var partitions: Int32
        public var replicationFactor: Int16
        public var configs: [String: String]
        public init(name: String, partitions: Int32, replicationFactor: Int16 = -1, configs: [String: String] = [:]) {
            self.name = name
            self.partitions = partitions
            self.replicationFactor = replicationFactor
            self.configs = configs
        }
    }
    public var topics: [Topic]
    public var timeoutMs: Int32
    public init(topics: [Topic], timeoutMs: Int32 = 30_000) {
        self.topics = topics
        self.timeoutMs = timeoutMs
    }
    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeCompactArray(topics) { b, t in
            b.writeCompactString(t.name)
            b.writeBigEndian(t.partitions)
            b.writeBigEndian(t.replicationFactor)
            b.writeCompactArray([Int]()) { _, _ in }  // manual assignments: none
            b.writeCompactArray(t.configs.sorted(by: { $0.key < $1.key })) { b, c in
                b.writeCompactString(c.key)
                b.writeCompactString(c.value)
                b.writeNoTaggedFields()
            }
            b.writeNoTaggedFields()
        }
        b.writeBigEndian(timeoutMs)
        b.writeKafkaBool(false)  // validate only
        b.writeNoTaggedFields()
    }
}

/// Per-topic results of CreateTopics and DeleteTopics.
public struct TopicResults: Sendable {
    public var topics: [(name: String?, errorCode: Int16, errorMessage: String?)]

    public static func readCreate(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> TopicResults {
        _ = try b.readKafkaInteger("throttle time", as: Int32.self)
        let topics = try b.readCompactArray("topics") {
            (b: inout ByteBuffer) throws(KafkaWireError) -> (name: String?, errorCode: Int16, errorMessage: String?) in
            let name = try b.readName("topic")
            _ = try b.readUUID("topic id")
            let error: Int16 = try b.readKafkaInteger("error code")
            let message = try b.readCompactString("error message", nullable: true)
            _ = try b.readKafkaInteger("partitions", as: Int32.self)
            _ = try b.readKafkaInteger("replication factor", as: Int16.self)
            _ = try b.readCompactArray("configs") { (b: inout ByteBuffer) throws(KafkaWireError) -> Int in
                _ = try b.readName("config name")
                _ = try b.readCompactString("config value", nullable: true)
                _ = try b.readKafkaBool("read only")
                _ = try b.readKafkaInteger("config source", as: Int8.self)
                _ = try b.readKafkaBool("is sensitive")
                try b.readTaggedFields("config")
                return 0
            }
            try b.readTaggedFields("topic")
            return (name, error, message)
        }
        try b.readTaggedFields("CreateTopics response")
        return TopicResults(topics: topics ?? [])
    }

    public static func readDelete(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> TopicResults {
        _ = try b.readKafkaInteger("throttle time", as: Int32.self)
        let topics = try b.readCompactArray("responses") {
            (b: inout ByteBuffer) throws(KafkaWireError) -> (name: String?, errorCode: Int16, errorMessage: String?) in
            let name = try b.readCompactString("topic", nullable: true)
            _ = try b.readUUID("topic id")
            let error: Int16 = try b.readKafkaInteger("error code")
            let message = try b.readCompactString("error message", nullable: true)
            try b.readTaggedFields("topic")
            return (name, error, message)
        }
        try b.readTaggedFields("DeleteTopics response")
        return TopicResults(topics: topics ?? [])
    }
}

public struct DeleteTopicsRequest: Sendable {
    public static let versions: ClosedRange<Int16> = 6...6
    public var names: [String]
    public var timeoutMs: Int32
    public init(names: [String], timeoutMs: Int32 = 30_000) {
        self.names = names
        self.timeoutMs = timeoutMs
    }
    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeCompactArray(names) { b, n in
            b.writeCompactString(n)
            b.writeBytes([UInt8](repeating: 0, count: 16))  // by name
            b.writeNoTaggedFields()
        }
        b.writeBigEndian(timeoutMs)
        b.writeNoTaggedFields()
    }
}

public struct InitProducerIDRequest: Sendable {
    public static let versions: ClosedRange<Int16> = 4...4
    public init() {}
    public func write(to b: inout ByteBuffer, version: Int16) {
        b.writeCompactString(nil)  // transactional id: an idempotent producer only
        b.writeBigEndian(Int32(-1))  // transaction timeout
        b.writeBigEndian(Int64(-1))  // producer id
        b.writeBigEndian(Int16(-1))  // producer epoch
        b.writeNoTaggedFields()
    }
}

public struct InitProducerIDResponse: Sendable, Equatable {
    public var errorCode: Int16
    public var producerID: Int64
    public var producerEpoch: Int16
    public static func read(from b: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> InitProducerIDResponse {
        _ = try b.readKafkaInteger("throttle time", as: Int32.self)
        let error: Int16 = try b.readKafkaInteger("error code")
        let id: Int64 = try b.readKafkaInteger("producer id")
        let epoch: Int16 = try b.readKafkaInteger("producer epoch")
        try b.readTaggedFields("InitProducerId response")
        return InitProducerIDResponse(errorCode: error, producerID: id, producerEpoch: epoch)
    }
}

/// SaslHandshake v1 (not flexible): the mechanism; the answer lists the broker's mechanisms.
public enum SaslHandshake {
    public static let versions: ClosedRange<Int16> = 1...1
    public static func write(mechanism: String, to b: inout ByteBuffer) { b.writeKafkaString(mechanism) }
    public static func read(from b: inout ByteBuffer) throws(KafkaWireError) -> (errorCode: Int16, mechanisms: [String])
    {
        let error: Int16 = try b.readKafkaInteger("error code")
        var names: [String] = []
        for _ in 0..<(try b.readArrayCount("mechanisms", compact: false) ?? 0) {
            names.append(try b.readKafkaString("mechanism")!)
        }
        return (error, names)
    }
}

/// SaslAuthenticate v2: one round of the mechanism's exchange.
public enum SaslAuthenticate {
    public static let versions: ClosedRange<Int16> = 2...2
    public static func write(_ bytes: [UInt8], to b: inout ByteBuffer) {
        b.writeCompactBytes(bytes)
        b.writeNoTaggedFields()
    }
    public static func read(from b: inout ByteBuffer) throws(KafkaWireError) -> (
        errorCode: Int16, errorMessage: String?, bytes: [UInt8]
    ) {
        let error: Int16 = try b.readKafkaInteger("error code")
        let message = try b.readCompactString("error message", nullable: true)
        let bytes = try b.readCompactBytes("auth bytes") ?? []
        _ = try b.readKafkaInteger("session lifetime", as: Int64.self)
        try b.readTaggedFields("SaslAuthenticate response")
        return (error, message, bytes)
    }
}
