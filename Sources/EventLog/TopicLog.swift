/// A topic: its configuration and partitions.
public final class TopicLog: Sendable {
    public let name: String
    public let configuration: TopicConfiguration
    public let partitions: [PartitionLog]
    /// Bumped on every append to any partition of the topic.
    public let notifier: AppendNotifier

    init(name: String, configuration: TopicConfiguration, partitions: [PartitionLog], notifier: AppendNotifier) {
        self.name = name
        self.configuration = configuration
        self.partitions = partitions
        self.notifier = notifier
    }

    public func partition(_ id: Int) throws -> PartitionLog {
        guard partitions.indices.contains(id) else {
            throw EventLogError(
                .invalidArgument, "topic \(name) has partitions 0..<\(partitions.count); partition \(id) does not exist"
            )
        }
        return partitions[id]
    }

    /// Records in the topic that can still be read.
    public var recordCount: Int64 { partitions.reduce(0) { $0 + $1.latestOffset - $1.earliestOffset } }

    /// Topic names as Kafka allows them, so topics move between the embedded log and Kafka unchanged.
    public static func validate(name: String) throws {
        let allowed = name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F
                || c == 0x2D
        }
        guard !name.isEmpty, name.utf8.count <= 249, allowed, name != ".", name != ".." else {
            throw EventLogError(
                .invalidArgument,
                "topic name '\(name)' is invalid: use 1 to 249 of the characters a-z A-Z 0-9 . _ - (not '.' or '..')")
        }
    }
}
