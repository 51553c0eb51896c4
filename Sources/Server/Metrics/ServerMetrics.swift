import Analytics
import Prometheus
import Synchronization

/// Millstream's Prometheus metrics (swift-prometheus), scraped at `/metrics`.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "millstream", metricName: metric, unitName: unit, helpText: help)
    }

    /// End-to-end latency buckets (seconds): reading stamped to its prediction read back.
    static let latencyBuckets: [Double] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10]
    static let requestBuckets: [Double] = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1]

    /// The predict API's metrics and the request histograms by route, method and status, made once: making them
    /// per request (the registry joins the name and the labels, then looks them up under its lock) was 4 % of a
    /// predict request's time.
    private let scoringLatency: ValueHistogram
    private let predictInstances: Counter
    private let requestHistograms = Mutex<[RequestKey: ValueHistogram]>([:])

    private struct RequestKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    public init(version: String) {
        scoringLatency = registry.makeValueHistogram(
            descriptor: Self.name(
                "scoring_latency", "seconds", "Time to score one predict request (decode, score, encode)"),
            buckets: Self.requestBuckets)
        predictInstances = registry.makeCounter(
            descriptor: Self.name("predict_instances", "total", "Instances scored through the predict API"))
        registry.makeGauge(
            descriptor: Self.name("build", "info", "Millstream's version (the value is always 1)"),
            labels: [("version", version)]
        ).set(1.0)
    }

    func prediction(model: String, class cls: String) {
        registry.makeCounter(
            descriptor: Self.name("predictions", "total", "Predictions published by the pipeline, by model and class"),
            labels: [("model", model), ("class", cls)]
        ).increment()
    }

    func deadLetter(reason: String) {
        registry.makeCounter(
            descriptor: Self.name("dead_letters", "total", "Readings refused by validation, by reason"),
            labels: [("reason", reason)]
        ).increment()
    }

    func alert(kind: String, severity: String) {
        registry.makeCounter(
            descriptor: Self.name("alerts", "total", "Alerts raised, by kind and severity"),
            labels: [("kind", kind), ("severity", severity)]
        ).increment()
    }

    func endToEnd(seconds: Double) {
        registry.makeValueHistogram(
            descriptor: Self.name(
                "end_to_end_latency", "seconds",
                "From a reading's timestamp to its prediction being read back from the bus"),
            buckets: Self.latencyBuckets
        ).record(seconds)
    }

    func oee(machine: String, value: Double) {
        registry.makeGauge(
            descriptor: Self.name(
                "oee", "ratio", "OEE of the last hour per machine (availability x performance x quality)"),
            labels: [("machine", machine)]
        ).set(value)
    }

    func outcome(model: String, figures: (precision: Double?, recall: Double?, f1: Double?, count: Int)) {
        for (metric, value) in [("precision", figures.precision), ("recall", figures.recall), ("f1", figures.f1)] {
            guard let value else { continue }
            registry.makeGauge(
                descriptor: Self.name(
                    "model_\(metric)", "ratio",
                    "Rolling \(metric) of the model's predictions against labels (last 10,000)"),
                labels: [("model", model)]
            ).set(value)
        }
        registry.makeGauge(
            descriptor: Self.name("model_labelled", "count", "Predictions joined with a label in the rolling window"),
            labels: [("model", model)]
        ).set(Double(figures.count))
    }

    /// A challenger's live F1 in shadow and the champion's on the same labelled readings.
    func shadowOutcome(challenger: String, champion: String, challengerF1: Double?, championF1: Double?, labelled: Int)
    {
        let labels = [("model", challenger), ("champion", champion)]
        for (metric, value, help) in [
            ("shadow_f1", challengerF1, "Live F1 of a challenger in shadow on the readings it and the champion scored"),
            (
                "shadow_champion_f1", championF1,
                "The champion's live F1 on the readings its challenger scored in shadow"
            ),
        ] {
            guard let value else { continue }
            registry.makeGauge(descriptor: Self.name(metric, "ratio", help), labels: labels).set(value)
        }
        registry.makeGauge(
            descriptor: Self.name(
                "shadow_labelled", "count", "Labelled readings both a challenger and its champion scored"),
            labels: labels
        ).set(Double(labelled))
    }

    func drift(model: String, feature: String, psi: Double?, ks: Double?) {
        if let psi {
            registry.makeGauge(
                descriptor: Self.name(
                    "drift_psi", "ratio", "Population stability index of a feature against the training data"),
                labels: [("model", model), ("feature", feature)]
            ).set(psi)
        }
        if let ks {
            registry.makeGauge(
                descriptor: Self.name(
                    "drift_ks", "ratio", "Kolmogorov-Smirnov statistic of a feature against the training data"),
                labels: [("model", model), ("feature", feature)]
            ).set(ks)
        }
    }

    func activeAlerts(_ n: Int) {
        registry.makeGauge(descriptor: Self.name("alerts_active", "count", "Alerts raised and not cleared")).set(
            Double(n))
    }

    /// The alarm-system KPIs of the last 24 hours of the alarm journal (ISA-18.2).
    func alarms(_ k: AlarmKPIs) {
        let gauges: [(String, String, String, Double)] = [
            (
                "alarms_per_operator_10min", "mean",
                "Alarms per operator per 10 minutes over the last 24 h (ISA-18.2: about 1)", k.meanPerOperatorPerWindow
            ),
            (
                "alarms_per_operator_10min", "peak",
                "Alarms per operator per 10 minutes over the last 24 h (ISA-18.2: about 1)",
                Double(k.peakPerOperatorPerWindow)
            ),
        ]
        for (metric, stat, help, value) in gauges {
            registry.makeGauge(descriptor: Self.name(metric, "count", help), labels: [("stat", stat)]).set(value)
        }
        registry.makeGauge(
            descriptor: Self.name(
                "alarm_flood_windows", "percent",
                "Share of 10-minute windows in flood (over 10 alarms) over the last 24 h")
        ).set(k.floodPercent)
        for (metric, help, value) in [
            ("alarms_chattering", "Conditions raised 3 times within 60 s over the last 24 h", k.chatteringConditions),
            ("alarms_standing", "Alarms active at the newest record", k.standing),
            ("alarms_suppressed", "Alarms kept from the operator by design over the last 24 h", k.suppressed),
            ("alarms_shelved", "Alarm raises shelved by operators over the last 24 h", k.shelved),
        ] {
            registry.makeGauge(descriptor: Self.name(metric, "count", help)).set(Double(value))
        }
    }

    func machines(state: String, count: Int) {
        registry.makeGauge(
            descriptor: Self.name("machines", "count", "Machines by their latest state"), labels: [("state", state)]
        ).set(Double(count))
    }

    func topicRecords(_ topic: String, _ records: Int64) {
        registry.makeGauge(
            descriptor: Self.name("topic_records", "count", "Records held by a bus topic (readings in, outputs out)"),
            labels: [("topic", topic)]
        ).set(Double(records))
    }

    func consumerLag(group: String, topic: String, partition: Int, lag: Int64) {
        registry.makeGauge(
            descriptor: Self.name(
                "consumer_lag", "records", "Records of a partition not yet committed by a consumer group"),
            labels: [("group", group), ("topic", topic), ("partition", "\(partition)")]
        ).set(Double(lag))
    }

    func request(route: String, method: String, status: Int, seconds: Double) {
        let key = RequestKey(route: route, method: method, status: status)
        let histogram = requestHistograms.withLock { made in
            if let histogram = made[key] { return histogram }
            let histogram = registry.makeValueHistogram(
                descriptor: Self.name("http_request_duration", "seconds", "HTTP requests by route, method and status"),
                labels: [("route", route), ("method", method), ("status", "\(status)")],
                buckets: Self.requestBuckets)
            made[key] = histogram
            return histogram
        }
        histogram.record(seconds)
    }

    func predictDuration(seconds: Double, instances: Int) {
        scoringLatency.record(seconds)
        predictInstances.increment(by: Int64(instances))
    }

    /// Counters of a pipeline worker, kept as gauges of its running totals (a restart starts them again).
    public func worker(predictions: Int, alerts: Int, deadLetters: [String: Int], caughtUp: Bool) {
        registry.makeGauge(descriptor: Self.name("pipeline_predictions", "count", "Predictions written by this worker"))
            .set(Double(predictions))
        registry.makeGauge(descriptor: Self.name("pipeline_alerts", "count", "Alert records written by this worker"))
            .set(Double(alerts))
        for (reason, n) in deadLetters {
            registry.makeGauge(
                descriptor: Self.name(
                    "pipeline_dead_letters", "count", "Dead letters written by this worker, by reason"),
                labels: [("reason", reason)]
            ).set(Double(n))
        }
        registry.makeGauge(
            descriptor: Self.name("pipeline_caught_up", "bool", "1 when the worker's last poll came back empty")
        )
        .set(caughtUp ? 1.0 : 0.0)
    }

    /// Figures of the pipeline worker running in this process (the demo), as gauges.
    public func pipeline(processed: Int, lag: Int64) {
        registry.makeGauge(
            descriptor: Self.name("pipeline_processed", "count", "Readings processed by this process's pipeline worker")
        ).set(Double(processed))
        registry.makeGauge(
            descriptor: Self.name("pipeline_lag", "records", "Readings waiting for this process's worker")
        )
        .set(Double(lag))
    }

    /// Figures of `millstream connect`'s sources and setpoint sink, as gauges.
    public func connector(
        received: Int, readings: Int, deadLetters: [String: Int], connections: Int, setpointWrites: [String: Int]
    ) {
        registry.makeGauge(
            descriptor: Self.name("connector_messages", "count", "Messages (or polls) the connectors received")
        )
        .set(Double(received))
        registry.makeGauge(
            descriptor: Self.name("connector_readings", "count", "Readings the connectors wrote to the bus")
        )
        .set(Double(readings))
        registry.makeGauge(
            descriptor: Self.name(
                "connector_connections", "count", "Connections the connectors made (reconnections included)")
        ).set(Double(connections))
        for (reason, n) in deadLetters {
            registry.makeGauge(
                descriptor: Self.name(
                    "connector_dead_letters", "count", "Messages the connectors set aside, by reason"),
                labels: [("reason", reason)]
            ).set(Double(n))
        }
        for (state, n) in setpointWrites {
            registry.makeGauge(
                descriptor: Self.name(
                    "connector_setpoint_writes", "count", "Setpoint changes by the state they reached"),
                labels: [("state", state)]
            ).set(Double(n))
        }
    }

    public func text() -> [UInt8] { registry.emitToBuffer() }
}
