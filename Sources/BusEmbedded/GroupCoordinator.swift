import Bus
import Synchronization

/// Consumer-group membership for consumers in this process (the embedded bus): range assignment per topic,
/// a new generation on every join and leave, commits fenced to the current owner of a partition.
final class GroupCoordinator: Sendable {
    private struct Group {
        var generation = 0
        var members: [String: [String]] = [:]  // member id -> topics
        var assignment: [String: [TopicPartition]] = [:]
    }

    private let groups = Mutex<[String: Group]>([:])
    private let partitionCount: @Sendable (String) throws -> Int

    init(partitionCount: @escaping @Sendable (String) throws -> Int) {
        self.partitionCount = partitionCount
    }

    func join(group: String, member: String, topics: [String]) throws {
        try groups.withLock { groups in
            var g = groups[group] ?? Group()
            g.members[member] = topics
            try rebalance(&g)
            groups[group] = g
        }
    }

    func leave(group: String, member: String) {
        groups.withLock { groups in
            guard var g = groups[group] else { return }
            g.members[member] = nil
            try? rebalance(&g)
            groups[group] = g
        }
    }

    /// The member's partitions and the generation they belong to.
    func assignment(group: String, member: String) -> (generation: Int, partitions: [TopicPartition]) {
        groups.withLock { groups in
            let g = groups[group] ?? Group()
            return (g.generation, g.assignment[member] ?? [])
        }
    }

    func owns(group: String, member: String, _ partition: TopicPartition) -> Bool {
        groups.withLock { $0[group]?.assignment[member]?.contains(partition) ?? false }
    }

    /// Range assignment: for each topic, members subscribed to it (sorted by id) get contiguous partition ranges.
    private func rebalance(_ g: inout Group) throws {
        g.generation += 1
        var assignment: [String: [TopicPartition]] = [:]
        let topics = Set(g.members.values.flatMap { $0 }).sorted()
        for topic in topics {
            let members = g.members.filter { $0.value.contains(topic) }.map(\.key).sorted()
            let count = try partitionCount(topic)
            let per = count / members.count
            let extra = count % members.count
            var next = 0
            for (i, member) in members.enumerated() {
                let n = per + (i < extra ? 1 : 0)
                for p in next..<next + n {
                    assignment[member, default: []].append(TopicPartition(topic: topic, partition: p))
                }
                next += n
            }
        }
        g.assignment = assignment
    }
}
