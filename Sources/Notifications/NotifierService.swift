import Bus
import Foundation
import Logging
import Plant
import Primitives
import ServiceLifecycle
import Topics

/// Follows `alerts` and `alert-actions` (consumer group `notifier`) and notifies the channels the routes name:
/// deliveries of one poll go out concurrently, each retried; each outcome is a record on `notifications`, and one
/// that stays undeliverable is also a dead letter. Unacknowledged alerts escalate when their route says. The group's
/// offsets are committed after the deliveries, so a crash sends a poll's notifications again rather than losing them
/// (at least once). A new group starts at the end of the topics: history is not notified. Escalations waiting are
/// records on `notifier-escalations`, read back at start, so a restarted notifier still escalates them.
public struct NotifierService: Service {
    let bus: any MessageBus
    let config: NotificationConfig
    let webhooks: WebhookSender
    let smtp: SMTPSender
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
        self.webhooks = WebhookSender()
        self.smtp = SMTPSender()
        self.logger = logger
        self.group = group
    }

    public func run() async throws {
        let topics = [Topics.alerts.name, Topics.alertActions.name]
        let existing = try await bus.topicNames()
        let written = [Topics.notifications.name, Topics.deadLetters.name, Topics.escalations.name]
        for topic in topics + written where !existing.contains(topic) {
            try? await bus.createTopic(topic, partitions: 8)
        }
        var router = AlertRouter(config: config)
        _ = try await bus.readToEnd(Topics.escalations.name) { r in
            if let e = try? Topics.escalations.decode(r.value) { router.restore(e) }
        }
        if let next = router.nextDue {
            logger.info(
                "escalations restored", metadata: ["pending": "\(router.pending.count)", "next": "\(next)"])
        }
        let consumer = try await bus.consumer(ConsumerOptions(group: group, topics: topics, start: start))
        let producer = try await bus.producer()
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
            try await handle(records, &router, consumer, producer)
        }
        try? await consumer.close()
    }

    /// One poll: the deliveries it makes and the escalations now due, sent; new escalations recorded before and
    /// finished ones after the sending, so a crash sends again rather than losing one; then the offsets committed.
    private func handle(
        _ records: [ConsumedRecord], _ router: inout AlertRouter, _ consumer: any MessageConsumer,
        _ producer: any MessageProducer
    ) async throws {
        let now = Timestamp.now()
        let before = router.pending  // a copy on write: nothing is copied unless the poll changes it
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
        let ts = Timestamp.format(now)
        let after = router.pending
        let started = after.filter { before[$0.key] == nil }.values.compactMap {
            AlertRouter.record($0, done: false, ts: ts)
        }
        if !started.isEmpty { try await record(started, producer) }
        if !deliveries.isEmpty { try await deliver(deliveries, producer) }
        let finished = before.filter { after[$0.key] == nil }.values.compactMap {
            AlertRouter.record($0, done: true, ts: ts)
        }
        if !finished.isEmpty { try await record(finished, producer) }
        if !next.isEmpty { try await consumer.commit(next) }
    }

    private func record(_ escalations: [EscalationRecord], _ producer: any MessageProducer) async throws {
        _ = try await producer.send(
            escalations.map {
                Record(key: Array($0.alert.id.utf8), value: $0.encoded(), timestamp: Timestamp.now())
            },
            to: Topics.escalations.name)
    }

    /// The outcome of one delivery: delivered or not, after how many attempts, and the last error.
    struct Outcome: Sendable {
        var delivered: Bool
        var attempts: Int
        var error: String?
    }

    /// One delivery, tried up to `config.attempts` times with a doubling wait between tries.
    private func attempt(_ d: AlertRouter.Delivery, _ channel: NotificationConfig.Channel) async -> Outcome {
        var problem = ""
        for attempt in 1...config.attempts {
            do {
                switch channel.transport {
                case .webhook(let hook): try await webhooks.post(d, to: hook)
                case .email(let email): try await smtp.send(WebhookSender.message(d), via: email)
                }
                return Outcome(delivered: true, attempts: attempt, error: nil)
            } catch {
                problem = "\(error)"
            }
            if attempt < config.attempts {
                try? await Task.sleep(for: .seconds(config.backoff * Double(1 << (attempt - 1))))
            }
        }
        return Outcome(delivered: false, attempts: config.attempts, error: problem)
    }

    private func deliver(_ deliveries: [AlertRouter.Delivery], _ producer: any MessageProducer) async throws {
        let outcomes = await withTaskGroup(of: (Int, Outcome).self) { tasks in
            for (i, d) in deliveries.enumerated() {
                guard let channel = config.channels[d.channel] else { continue }
                tasks.addTask { (i, await attempt(d, channel)) }
            }
            var out: [Int: Outcome] = [:]
            for await (i, o) in tasks { out[i] = o }
            return out
        }
        let ts = Timestamp.format(Timestamp.now())
        var records: [Record] = []
        var dead: [Record] = []
        for (i, d) in deliveries.enumerated() {
            let o = outcomes[i] ?? .init(delivered: false, attempts: 0, error: "no channel \(d.channel)")
            let record = NotificationRecord(
                alert: d.alert.id, machine: d.alert.machine, route: d.route, channel: d.channel,
                status: o.delivered ? "sent" : "failed", escalation: d.escalation, attempts: o.attempts,
                error: o.error, ts: ts)
            records.append(Record(key: Array(d.alert.id.utf8), value: record.encoded(), timestamp: Timestamp.now()))
            if !o.delivered {
                logger.error(
                    "notification undeliverable",
                    metadata: ["alert": "\(d.alert.id)", "channel": "\(d.channel)", "error": "\(o.error ?? "")"])
                let letter = DeadLetterRecord(
                    reason: "notification_undeliverable", error: "\(d.channel): \(o.error ?? "")",
                    original: String(decoding: record.encoded(), as: UTF8.self), originalBase64: nil, ts: ts,
                    source: nil)
                dead.append(Record(key: nil, value: letter.encoded(), timestamp: Timestamp.now()))
            }
        }
        _ = try await producer.send(records, to: Topics.notifications.name)
        if !dead.isEmpty { _ = try await producer.send(dead, to: Topics.deadLetters.name) }
    }
}
