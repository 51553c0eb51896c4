import Bus
import Foundation
import Logging
import Primitives
import Registry
import ServiceLifecycle
import Synchronization
import Topics

/// Follows the pipeline's topics into a `PlantView`, and refreshes the bus gauges (topic sizes, consumer lag).
///
/// Alerts, KPIs, dead letters and operator actions are read from the start (they are few and make the history);
/// readings, predictions and labels from the last `recentPerPartition` records of each partition, enough for
/// trends and charts without replaying days of history at start.
public struct PlantViewService: Service {
    let bus: any MessageBus
    let view: PlantView
    let metrics: ServerMetrics?
    let logger: Logger
    let recentPerPartition: Int64
    /// Set once the view has caught up with what the topics held at start (readiness).
    let ready: ReadyFlag
    /// Where the models' training references are, for drift (nil: no drift checks).
    let drift: DriftMonitor?

    public init(
        bus: any MessageBus, view: PlantView, metrics: ServerMetrics?, ready: ReadyFlag, registry: ModelRegistry? = nil,
        recentPerPartition: Int64 = 2_000, logger: Logger = Logger(label: "millstream.server")
    ) {
        self.drift = registry.map { DriftMonitor(registry: $0) }
        self.bus = bus
        self.view = view
        self.metrics = metrics
        self.ready = ready
        self.recentPerPartition = recentPerPartition
        self.logger = logger
    }

    static let pollSize = 5_000
    static let recentTopics: Set<String> = [
        Topics.readings.name, Topics.predictions.name, Topics.shadowPredictions.name, Topics.labels.name,
    ]

    public func run() async throws {
        let consumer = try await openConsumer()
        var lastGauges = ContinuousClock.now - .seconds(60)
        try await pollLoop(consumer, &lastGauges)
        try? await consumer.close()
    }

    private func pollLoop(_ consumer: any MessageConsumer, _ lastGauges: inout ContinuousClock.Instant) async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let records: [ConsumedRecord]
            do {
                records = try await consumer.poll(maxRecords: Self.pollSize, timeout: .milliseconds(200))
            } catch is CancellationError {
                return
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { return }
                logger.error("reading the pipeline's topics failed; retrying in 1 s", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if !records.isEmpty {
                await view.apply(records, now: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
            }
            // A short poll means the view reads at the live edge: history is in.
            if records.count < Self.pollSize && !ready.isSet {
                ready.set()
                let seen = await view.recordsSeen
                logger.info("plant view caught up", metadata: ["records": "\(seen)"])
            }
            if ContinuousClock.now - lastGauges > .seconds(5) {
                lastGauges = ContinuousClock.now
                await refreshGauges()
            }
        }
    }

    private func openConsumer() async throws -> any MessageConsumer {
        var attempt = 0
        while true {
            do {
                for topic in Topics.followed where !(try await bus.topicNames()).contains(topic) {
                    try? await bus.createTopic(topic, partitions: 8)
                }
                let consumer = try await bus.consumer(
                    ConsumerOptions(group: nil, topics: Topics.followed, start: .earliest))
                for tp in try await consumer.assignment() where Self.recentTopics.contains(tp.topic) {
                    let d = try await bus.describeTopic(tp.topic)
                    if let p = d.partitions.first(where: { $0.partition == tp.partition }),
                        p.latestOffset - p.earliestOffset > recentPerPartition
                    {
                        try await consumer.seek(tp, to: p.latestOffset - recentPerPartition)
                    }
                }
                return consumer
            } catch {
                attempt += 1
                if Task.isShuttingDownGracefully || Task.isCancelled { throw CancellationError() }
                logger.error(
                    "cannot read the pipeline's topics on \(bus.url); retrying",
                    metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                try await Task.sleep(for: .seconds(min(10, attempt)))
            }
        }
    }

    private func refreshGauges() async {
        guard let metrics else { return }
        for topic in [
            Topics.readings.name, Topics.predictions.name, Topics.alerts.name, Topics.kpis.name,
            Topics.deadLetters.name,
        ] {
            if let d = try? await bus.describeTopic(topic) { metrics.topicRecords(topic, d.records) }
        }
        if let lags = try? await bus.groupLag("pipeline", topic: Topics.readings.name) {
            for l in lags {
                metrics.consumerLag(group: "pipeline", topic: Topics.readings.name, partition: l.partition, lag: l.lag)
            }
        }
        if let drift {
            let (values, risks, span) = await view.driftSamples()
            let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
            for report in drift.reports(values: values, risks: risks, span: span) {
                await view.record(drift: report, now: now)
                for f in report.features + (report.prediction.map { [$0] } ?? []) {
                    metrics.drift(model: report.model, feature: f.name, psi: f.psi, ks: f.ks)
                }
            }
        }
        let g = await view.gauges()
        metrics.activeAlerts(g.activeAlerts)
        metrics.alarms(await view.alarmKPIs(hours: 24))
        for (state, n) in g.machinesByState { metrics.machines(state: state, count: n) }
    }
}

/// Set once; read by the readiness probe.
public final class ReadyFlag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}
    public var isSet: Bool { value.load(ordering: .acquiring) }
    public func set() { value.store(true, ordering: .releasing) }
}
