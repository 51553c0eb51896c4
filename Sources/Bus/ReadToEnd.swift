import Primitives

extension MessageBus {
    /// Reads every partition of `topic` from its first record up to the end it has when called, in offset order per
    /// partition, and returns each partition's end offset. A topic that does not exist reads as empty. Throws
    /// `unavailable` when no record arrives for `idle` before every partition reached its end.
    public func readToEnd(
        _ topic: String, idle: Duration = .seconds(2), _ body: (ConsumedRecord) throws -> Void
    ) async throws -> [Int: Int64] {
        guard try await topicNames().contains(topic) else { return [:] }
        let description = try await describeTopic(topic)
        var open: [Int: Int64] = [:]
        for p in description.partitions where p.latestOffset > p.earliestOffset { open[p.partition] = p.latestOffset }
        let ends = Dictionary(uniqueKeysWithValues: description.partitions.map { ($0.partition, $0.latestOffset) })
        guard !open.isEmpty else { return ends }
        let consumer = try await consumer(ConsumerOptions(topics: [topic], start: .earliest))
        do {
            try await read(consumer, topic, &open, idle, body)
        } catch {
            try? await consumer.close()
            throw error
        }
        try await consumer.close()
        return ends
    }

    private func read(
        _ consumer: any MessageConsumer, _ topic: String, _ open: inout [Int: Int64], _ idle: Duration,
        _ body: (ConsumedRecord) throws -> Void
    ) async throws {
        while !open.isEmpty {
            try Task.checkCancellation()
            let records = try await consumer.poll(maxRecords: 10_000, timeout: idle)
            if records.isEmpty {
                throw BusError(
                    "\(topic) on \(url): no records arrived for \(idle) before partitions \(open.keys.sorted()) "
                        + "reached their end", kind: .unavailable)
            }
            for r in records {
                guard let end = open[r.partition], r.offset < end else { continue }
                try body(r)
                if r.offset + 1 >= end { open[r.partition] = nil }
            }
        }
    }
}
