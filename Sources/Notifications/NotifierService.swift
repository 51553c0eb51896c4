import Bus
import Foundation
import Logging
import Plant
import ServiceLifecycle
import Topics

/// Follows `alerts` and `alert-actions` (consumer group `notifier`) and notifies the channels the routes name:
/// deliveries of one poll go out concurrently, each retried; each outcome is a record on `notifications`, and one
/// that stays undeliverable is also a dead letter. Unacknowledged alerts escalate when their route says. The group's
/// offsets are committed after the deliveries, so a crash sends a poll's notifications again rather than losing them
/// (at least once). A new group starts at the end of the topics: history is not notified.
public struct NotifierService: Service {
    let bus: any MessageBus
    let config: NotificationConfig
    let sender: WebhookSender
    let logger: Logger
    let group: String
    /// Where a group with no committed offsets starts: at the end (the default; history is not notified).
    let start: StartPosition

    public init(
        bus: any MessageBus, config: NotificationConfig, group: String = "notifier", start: StartPosition = .latest,
        logger: Logger = Logger(label: "millstream.notifier")
    ) {
        self.start = start
        self.bus = bus
        self.config = config
        self.sender = WebhookSender()
        self.logger = logger
        self.group = group
    }

    public func run() async throws {
        let topics = [Topics.alerts.name, Topics.alertActions.name]
        let existing = try await bus.topicNames()
        for topic in topics + [Topics.notifications.name, Topics.deadLetters.name] where !existing.contains(topic) {
            try? await bus.createTopic(topic, partitions: 8)
        }
        let consumer = try await bus.consumer(ConsumerOptions(group: group, topics: topics, start: start))
        let producer = try await bus.producer()
        var router = AlertRouter(config: config)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let records: [ConsumedRecord]
            do {
                records = try await consumer.poll(maxRecords: 500, timeout: .milliseconds(500))
            } catch is CancellationError {
                break
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                logger.error("reading alerts failed; retrying in 1 s", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            let now = Timestamp.now()
            var deliveries: [AlertRouter.Delivery] = []
            var next: [TopicPartition: Int64] = [:]
            for r in records {
                next[r.topicPartition] = r.offset + 1
                if r.topic == Topics.alerts.name, let a = try? Topics.alerts.decode(r.value) {
                    deliveries += router.alert(a, record: r.value, now: now)
                } else if let action = try? Topics.alertActions.decode(r.value) {
                    router.action(action)
                }
            }
            deliveries += router.due(now: now)
            if !deliveries.isEmpty { try await deliver(deliveries, producer) }
            if !next.isEmpty { try await consumer.commit(next) }
        }
        try? await consumer.close()
    }

    private func deliver(_ deliveries: [AlertRouter.Delivery], _ producer: any MessageProducer) async throws {
        let outcomes = await withTaskGroup(of: (Int, WebhookSender.Outcome).self) { tasks in
            for (i, d) in deliveries.enumerated() {
                guard let channel = config.channels[d.channel] else { continue }
                tasks.addTask {
                    (i, await sender.send(d, to: channel, attempts: config.attempts, backoff: config.backoff))
                }
            }
            var out: [Int: WebhookSender.Outcome] = [:]
            for await (i, o) in tasks { out[i] = o }
            return out
        }
        let ts = Timestamp.format(Timestamp.now())
        var records: [BusRecord] = []
        var dead: [BusRecord] = []
        for (i, d) in deliveries.enumerated() {
            let o = outcomes[i] ?? .init(delivered: false, attempts: 0, error: "no channel \(d.channel)")
            let record = NotificationRecord(
                alert: d.alert.id, machine: d.alert.machine, route: d.route, channel: d.channel,
                status: o.delivered ? "sent" : "failed", escalation: d.escalation, attempts: o.attempts,
                error: o.error, ts: ts)
            records.append(BusRecord(key: Array(d.alert.id.utf8), value: record.encoded(), timestamp: Timestamp.now()))
            if !o.delivered {
                logger.error(
                    "notification undeliverable",
                    metadata: ["alert": "\(d.alert.id)", "channel": "\(d.channel)", "error": "\(o.error ?? "")"])
                let letter = DeadLetterRecord(
                    reason: "notification_undeliverable", error: "\(d.channel): \(o.error ?? "")",
                    original: String(decoding: record.encoded(), as: UTF8.self), originalBase64: nil, ts: ts,
                    source: nil)
                dead.append(BusRecord(key: nil, value: letter.encoded(), timestamp: Timestamp.now()))
            }
        }
        _ = try await producer.send(records, to: Topics.notifications.name)
        if !dead.isEmpty { _ = try await producer.send(dead, to: Topics.deadLetters.name) }
    }
}
