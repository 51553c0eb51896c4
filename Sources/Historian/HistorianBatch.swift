import Bus
import Plant
import Primitives
import Topics

/// What one poll of the bus adds to the historian, and the offsets it ends at.
public struct HistorianBatch: Sendable {
    public struct Alert: Sendable {
        public var position: TopicPartition
        public var offset: Int64
        public var alert: HistoryAlert
    }

    public var samples: [HistorySample] = []
    public var alerts: [Alert] = []
    /// The next offset to read of each partition, after this batch.
    public var offsets: [TopicPartition: Int64] = [:]
    /// Records that could not be read (they are skipped, as the server skips them; the pipeline dead-letters bad
    /// readings).
    public var unreadable = 0

    public init() {}

    /// The topics the historian stores.
    public static let topics = [Topics.readings.name, Topics.predictions.name, Topics.kpis.name, Topics.alerts.name]

    /// Adds consumed records: each reading's values, each prediction's risk (and estimate, anomaly score), each
    /// KPI record's hourly OEE and its factors, and alert records whole.
    public mutating func add(_ records: [ConsumedRecord]) {
        for r in records {
            offsets[r.topicPartition] = max(offsets[r.topicPartition] ?? 0, r.offset + 1)
            switch r.topic {
            case Topics.readings.name:
                guard let reading = try? ReadingDecoder.decode(r.value) else {
                    unreadable += 1
                    continue
                }
                for v in reading.values {
                    samples.append(
                        HistorySample(
                            machine: reading.machine, variable: v.name, millis: reading.timestamp, value: v.value))
                }
            case Topics.predictions.name:
                guard let p = try? Topics.predictions.decode(r.value), let millis = Timestamp.parse(p.ts) else {
                    unreadable += 1
                    continue
                }
                if let risk = p.risk {
                    samples.append(HistorySample(machine: p.machine, variable: "risk", millis: millis, value: risk))
                }
                if let e = p.estimate {
                    samples.append(
                        HistorySample(machine: p.machine, variable: e.target, millis: millis, value: e.value))
                }
                if let a = p.anomaly {
                    samples.append(
                        HistorySample(machine: p.machine, variable: "anomaly_score", millis: millis, value: a.score))
                }
            case Topics.kpis.name:
                guard let k = try? Topics.kpis.decode(r.value), let millis = Timestamp.parse(k.ts) else {
                    unreadable += 1
                    continue
                }
                for (name, value) in [
                    ("oee", k.hour.oee), ("availability", k.hour.availability), ("performance", k.hour.performance),
                    ("quality", k.hour.quality),
                ] {
                    samples.append(HistorySample(machine: k.machine, variable: name, millis: millis, value: value))
                }
            case Topics.alerts.name:
                guard let a = try? Topics.alerts.decode(r.value), let millis = Timestamp.parse(a.ts) else {
                    unreadable += 1
                    continue
                }
                alerts.append(
                    Alert(
                        position: r.topicPartition, offset: r.offset,
                        alert: HistoryAlert(
                            id: a.id, machine: a.machine, millis: millis, kind: a.kind, priority: a.priority,
                            status: a.status, variable: a.variable, message: a.message,
                            record: String(decoding: r.value, as: UTF8.self))))
            default:
                continue
            }
        }
    }
}
