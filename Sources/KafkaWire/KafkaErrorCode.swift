/// Kafka's error codes: value, name and whether a retry can succeed (from the protocol's error table).
public struct KafkaErrorCode: Sendable, Equatable, CustomStringConvertible {
    public let code: Int16
    public let name: String
    public let retriable: Bool

    public var description: String { "\(name) (\(code))" }

    public static func named(_ code: Int16) -> KafkaErrorCode {
        table[code] ?? KafkaErrorCode(code: code, name: "UNKNOWN_ERROR_CODE_\(code)", retriable: false)
    }

    static let table: [Int16: KafkaErrorCode] = Dictionary(
        uniqueKeysWithValues: [
            (-1, "UNKNOWN_SERVER_ERROR", false), (0, "NONE", false), (1, "OFFSET_OUT_OF_RANGE", false),
            (2, "CORRUPT_MESSAGE", true), (3, "UNKNOWN_TOPIC_OR_PARTITION", true), (4, "INVALID_FETCH_SIZE", false),
            (5, "LEADER_NOT_AVAILABLE", true), (6, "NOT_LEADER_OR_FOLLOWER", true), (7, "REQUEST_TIMED_OUT", true),
            (9, "REPLICA_NOT_AVAILABLE", true), (10, "MESSAGE_TOO_LARGE", false), (13, "NETWORK_EXCEPTION", true),
            (14, "COORDINATOR_LOAD_IN_PROGRESS", true), (15, "COORDINATOR_NOT_AVAILABLE", true),
            (16, "NOT_COORDINATOR", true), (17, "INVALID_TOPIC_EXCEPTION", false), (18, "RECORD_LIST_TOO_LARGE", false),
            (19, "NOT_ENOUGH_REPLICAS", true), (20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true),
            (22, "ILLEGAL_GENERATION", false), (25, "UNKNOWN_MEMBER_ID", false), (27, "REBALANCE_IN_PROGRESS", false),
            (29, "TOPIC_AUTHORIZATION_FAILED", false), (30, "GROUP_AUTHORIZATION_FAILED", false),
            (33, "UNSUPPORTED_SASL_MECHANISM", false), (34, "ILLEGAL_SASL_STATE", false),
            (35, "UNSUPPORTED_VERSION", false), (36, "TOPIC_ALREADY_EXISTS", false), (37, "INVALID_PARTITIONS", false),
            (41, "NOT_CONTROLLER", true), (42, "INVALID_REQUEST", false), (45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false),
            (46, "DUPLICATE_SEQUENCE_NUMBER", false), (47, "INVALID_PRODUCER_EPOCH", false),
            (58, "SASL_AUTHENTICATION_FAILED", false), (59, "UNKNOWN_PRODUCER_ID", false),
            (79, "MEMBER_ID_REQUIRED", false), (87, "INVALID_RECORD", false),
        ].map { ($0.0, KafkaErrorCode(code: $0.0, name: $0.1, retriable: $0.2)) })
}
