public import Plant

/// A record that lives on a topic: one encoder and one strict decoder.
public protocol TopicRecord: Sendable {
    /// The record's bytes on the bus.
    func encoded() -> [UInt8]
    /// Reads a record; the error says what is wrong and where.
    static func decode(_ bytes: [UInt8]) throws(RecordError) -> Self
}

extension TopicRecord where Self: Codable {
    public func encoded() -> [UInt8] {
        do {
            return try RecordEncoder.encode(self)
        } catch {
            // Only a record type that asks for an unsupported container gets here: a programming error.
            preconditionFailure("\(Self.self) cannot be encoded: \(error)")
        }
    }

    public static func decode(_ bytes: [UInt8]) throws(RecordError) -> Self {
        try RecordDecoder.decode(Self.self, from: bytes)
    }
}

/// Readings keep their hand-written codec (Plant's ReadingDecoder): it reads 1.6 million readings a second, several
/// times what a Codable decoder does, and readings are every record the pipeline reads.
extension Reading: TopicRecord {
    public func encoded() -> [UInt8] { ReadingEncoder.encode(self) }

    public static func decode(_ bytes: [UInt8]) throws(RecordError) -> Reading {
        do { return try ReadingDecoder.decode(bytes) } catch { throw RecordError(error.description) }
    }
}

/// A topic: its name and the type of its records. The key says what a record's key is (it picks the partition).
public struct Topic<Record: TopicRecord>: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// What the key of a record is, for docs and `topics describe`.
    public let key: String

    public init(_ name: String, key: String) {
        self.name = name
        self.key = key
    }

    public var description: String { name }

    /// Decodes a record read from this topic; the error names the topic.
    public func decode(_ bytes: [UInt8]) throws(RecordError) -> Record {
        do { return try Record.decode(bytes) } catch { throw RecordError("\(name) record: \(error.message)") }
    }
}

/// Every topic Millstream writes or reads: the one contract between the simulator and gateways, the pipeline, the
/// server and the command line.
public enum Topics {
    /// Sensor readings from the machines (gateways, connectors, the simulator).
    public static let readings = Topic<Reading>("readings", key: "machine")
    /// What the pipeline made of each reading: risk, estimate, forecast, anomaly score, features.
    public static let predictions = Topic<PredictionRecord>("predictions", key: "machine")
    /// A challenger's scores beside the champion's (shadow scoring): never alarms or setpoints.
    public static let shadowPredictions = Topic<ShadowPredictionRecord>("shadow-predictions", key: "machine")
    /// Alarm events: raised, cleared, suppressed.
    public static let alerts = Topic<AlertRecord>("alerts", key: "machine")
    /// OEE per machine over the hour and the shift.
    public static let kpis = Topic<KPIRecord>("kpis", key: "machine")
    /// Records the pipeline could not use, with why.
    public static let deadLetters = Topic<DeadLetterRecord>("dead-letters", key: "none")
    /// The truth about products, known later than their readings.
    public static let labels = Topic<LabelRecord>("labels", key: "machine")
    /// Operators' acknowledgements, clears and shelves, so every server (and a restarted one) sees them.
    public static let alertActions = Topic<AlertActionRecord>("alert-actions", key: "alert id")
    /// The optimizer's setpoint recommendations.
    public static let recommendations = Topic<RecommendationRecord>("recommendations", key: "machine")
    /// Operators' approvals and rejections of recommendations.
    public static let recommendationActions = Topic<RecommendationActionRecord>(
        "recommendation-actions", key: "machine")
    /// Setpoint changes for the machines to apply (approved, or made in closed loop).
    public static let setpoints = Topic<SetpointRecord>("setpoints", key: "machine")
    /// The connectors' audit of setpoint writes to the machines (and their once-only bookkeeping).
    public static let setpointWrites = Topic<SetpointWriteRecord>("setpoint-writes", key: "machine")
    /// The closed-loop switch.
    public static let optimizerControl = Topic<OptimizerControlRecord>("optimizer-control", key: "closed-loop")
    /// Requests to retrain a model, from the API, for `millstream retrain --watch`.
    public static let retrainRequests = Topic<RetrainRequestRecord>("retrain-requests", key: "model")
    /// What the notifier did with each alert: sent, escalated or undeliverable, per channel.
    public static let notifications = Topic<NotificationRecord>("notifications", key: "alert id")
    /// The notifier's pending escalations, read back when it starts.
    public static let escalations = Topic<EscalationRecord>("notifier-escalations", key: "alert id")
    /// The pipeline workers' checkpoints: their own format (machine state), read only by workers.
    public static let pipelineCheckpoints = "pipeline-checkpoints"

    /// The topics the plant view follows.
    public static let followed = [
        readings.name, predictions.name, shadowPredictions.name, alerts.name, kpis.name, deadLetters.name, labels.name,
        alertActions.name,
        recommendations.name, recommendationActions.name, optimizerControl.name,
    ]
}
