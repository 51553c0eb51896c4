public import NIOCore

/// The Kafka APIs Millstream speaks, by their protocol key.
public enum ApiKey: Int16, Sendable, CaseIterable {
    case produce = 0
    case fetch = 1
    case listOffsets = 2
    case metadata = 3
    case offsetCommit = 8
    case offsetFetch = 9
    case findCoordinator = 10
    case joinGroup = 11
    case heartbeat = 12
    case leaveGroup = 13
    case syncGroup = 14
    case saslHandshake = 17
    case apiVersions = 18
    case createTopics = 19
    case deleteTopics = 20
    case initProducerId = 22
    case saslAuthenticate = 36

    /// The first version whose request uses the flexible format (compact types, tagged fields, header v2).
    public var firstFlexibleVersion: Int16 {
        switch self {
        case .produce: 9
        case .fetch: 12
        case .listOffsets: 6
        case .metadata: 9
        case .offsetCommit: 8
        case .offsetFetch: 6
        case .findCoordinator: 3
        case .joinGroup: 6
        case .heartbeat: 4
        case .leaveGroup: 4
        case .syncGroup: 4
        case .saslHandshake: Int16.max
        case .apiVersions: 3
        case .createTopics: 5
        case .deleteTopics: 4
        case .initProducerId: 2
        case .saslAuthenticate: 2
        }
    }

    public func isFlexible(_ version: Int16) -> Bool { version >= firstFlexibleVersion }
}

/// A request body Millstream can send: its API, the versions it implements, and its encoder.
public protocol KafkaRequest: Sendable {
    static var apiKey: ApiKey { get }
    static var versions: ClosedRange<Int16> { get }
    func write(to buffer: inout ByteBuffer, version: Int16)
}

extension ProduceRequest: KafkaRequest { public static var apiKey: ApiKey { .produce } }
extension FetchRequest: KafkaRequest { public static var apiKey: ApiKey { .fetch } }
extension ListOffsetsRequest: KafkaRequest { public static var apiKey: ApiKey { .listOffsets } }
extension MetadataRequest: KafkaRequest {
    public static var apiKey: ApiKey { .metadata }
    public static var versions: ClosedRange<Int16> { 9...12 }
}
extension FindCoordinatorRequest: KafkaRequest { public static var apiKey: ApiKey { .findCoordinator } }
extension JoinGroupRequest: KafkaRequest { public static var apiKey: ApiKey { .joinGroup } }
extension SyncGroupRequest: KafkaRequest { public static var apiKey: ApiKey { .syncGroup } }
extension HeartbeatRequest: KafkaRequest { public static var apiKey: ApiKey { .heartbeat } }
extension LeaveGroupRequest: KafkaRequest { public static var apiKey: ApiKey { .leaveGroup } }
extension OffsetCommitRequest: KafkaRequest { public static var apiKey: ApiKey { .offsetCommit } }
extension OffsetFetchRequest: KafkaRequest { public static var apiKey: ApiKey { .offsetFetch } }
extension CreateTopicsRequest: KafkaRequest { public static var apiKey: ApiKey { .createTopics } }
extension DeleteTopicsRequest: KafkaRequest { public static var apiKey: ApiKey { .deleteTopics } }
extension InitProducerIDRequest: KafkaRequest { public static var apiKey: ApiKey { .initProducerId } }
