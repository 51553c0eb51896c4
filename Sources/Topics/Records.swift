import Plant

// The records on Millstream's topics: one Codable type per topic, written with `RecordEncoder` and read with
// `RecordDecoder` (see Topics.swift for which topic holds which). Field names are the wire's (snake_case); times
// are ISO 8601 strings in UTC with milliseconds; a nil optional is written as null. Fields are written in the order
// of their CodingKeys (declared in the order of the properties).

/// Where the reading that caused an output came from: the exactly-once key of every pipeline output.
public struct SourceRef: Codable, Sendable, Hashable {
    public var topic: String
    public var partition: Int
    public var offset: Int64

    public init(topic: String, partition: Int, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// Named numbers in a fixed order, written as one JSON object (`{"rpm":1510,"torque_nm":40.2}`); read back sorted by
/// name. Every member must be a number; one that is not finite is written as null and read back as NaN (a feature
/// of a reading that lacked one of its inputs).
public struct NamedValues: Codable, Sendable, Hashable, ExpressibleByDictionaryLiteral {
    public struct Entry: Sendable, Hashable {
        public var name: String
        public var value: Double
    }

    public var entries: [Entry]

    public init(_ entries: [(String, Double)] = []) { self.entries = entries.map { Entry(name: $0.0, value: $0.1) } }
    public init(dictionaryLiteral elements: (String, Double)...) { self.init(elements) }

    public mutating func append(_ name: String, _ value: Double) { entries.append(Entry(name: name, value: value)) }
    public subscript(name: String) -> Double? { entries.first { $0.name == name }?.value }
    public var isEmpty: Bool { entries.isEmpty }
    public var dictionary: [String: Double] {
        Dictionary(entries.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: NameKey.self)
        entries = try c.allKeys.sorted { $0.stringValue < $1.stringValue }.map {
            Entry(name: $0.stringValue, value: try c.decodeNil(forKey: $0) ? .nan : c.decode(Double.self, forKey: $0))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: NameKey.self)
        for e in entries { try c.encode(e.value, forKey: NameKey(e.name)) }
    }
}

// MARK: - predictions

/// What the pipeline made of one reading (`predictions`, keyed by machine).
public struct PredictionRecord: TopicRecord, Codable, Hashable {
    public struct Estimate: Codable, Sendable, Hashable {
        public var target: String
        public var value: Double
        public init(target: String, value: Double) {
            self.target = target
            self.value = value
        }
    }

    public struct Forecast: Codable, Sendable, Hashable {
        public var probability: Double
        /// The model's horizon, when it is a "fails within" model.
        public var horizonMinutes: Double?
        public var model: String
        public init(probability: Double, horizonMinutes: Double?, model: String) {
            self.probability = probability
            self.horizonMinutes = horizonMinutes
            self.model = model
        }
        enum CodingKeys: String, CodingKey {
            case probability
            case horizonMinutes = "horizon_min"
            case model
        }
    }

    public struct Anomaly: Codable, Sendable, Hashable {
        /// The detector's score over its limit: 1 is the alarm limit.
        public var score: Double
        public var alarm: Bool
        public var topVariable: String?
        public init(score: Double, alarm: Bool, topVariable: String?) {
            self.score = score
            self.alarm = alarm
            self.topVariable = topVariable
        }
        enum CodingKeys: String, CodingKey {
            case score, alarm
            case topVariable = "top_variable"
        }
    }

    public var machine: String
    public var ts: String
    public var seq: Int64?
    public var state: String
    public var product: String?
    /// The failure model's risk; nil when the reading was not scored.
    public var risk: Double?
    /// Risk at or over the model's threshold.
    public var failure: Bool?
    /// The model (`name@vN`) that scored it.
    public var model: String?
    /// A "fails within" model's horizon (minutes): its risk is of a failure within it, not of this part failing.
    public var horizonMinutes: Double?
    public var estimate: Estimate?
    /// Risk per failure mode, for a model with mode outputs.
    public var modes: NamedValues?
    public var forecast: Forecast?
    public var anomaly: Anomaly?
    /// Derived variables and the running means (`NAME_ewma`) the model saw.
    public var features: NamedValues
    /// The reading it came from (the pipeline always writes it; another writer may leave it out).
    public var source: SourceRef?

    public init(
        machine: String, ts: String, seq: Int64?, state: String, product: String?, risk: Double?, failure: Bool?,
        model: String?, horizonMinutes: Double? = nil, estimate: Estimate? = nil, modes: NamedValues? = nil,
        forecast: Forecast? = nil, anomaly: Anomaly? = nil, features: NamedValues, source: SourceRef?
    ) {
        self.machine = machine
        self.ts = ts
        self.seq = seq
        self.state = state
        self.product = product
        self.risk = risk
        self.failure = failure
        self.model = model
        self.horizonMinutes = horizonMinutes
        self.estimate = estimate
        self.modes = modes
        self.forecast = forecast
        self.anomaly = anomaly
        self.features = features
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case machine, ts, seq, state, product, risk, failure, model
        case horizonMinutes = "horizon_min"
        case estimate, modes, forecast, anomaly, features, source
    }
}

// MARK: - shadow predictions

/// What a challenger made of a reading the champion scored (`shadow-predictions`, keyed by machine): scored in the
/// pipeline beside the production model, exactly once, and never driving alarms or setpoints. It carries the
/// champion's decision on the same reading, so the pair's outcomes can be counted on exactly the same labelled readings.
public struct ShadowPredictionRecord: TopicRecord, Codable, Hashable {
    public var machine: String
    public var ts: String
    public var seq: Int64?
    /// The challenger ("failure@v4") and what it said: a risk and decision, or an estimate (regression).
    public var model: String
    public var risk: Double?
    public var failure: Bool?
    public var estimate: Double?
    /// The model in production on the same reading, and what it said.
    public var champion: String?
    public var championRisk: Double?
    public var championFailure: Bool?
    public var championEstimate: Double?
    /// A "fails within" challenger's horizon (minutes): its decisions are judged against the machine's failures
    /// within it, not against the part's own label.
    public var horizonMinutes: Double?
    public var source: SourceRef?

    public init(
        machine: String, ts: String, seq: Int64?, model: String, risk: Double?, failure: Bool?, estimate: Double?,
        champion: String?, championRisk: Double?, championFailure: Bool?, championEstimate: Double?,
        horizonMinutes: Double? = nil, source: SourceRef?
    ) {
        self.machine = machine
        self.ts = ts
        self.seq = seq
        self.model = model
        self.risk = risk
        self.failure = failure
        self.estimate = estimate
        self.champion = champion
        self.championRisk = championRisk
        self.championFailure = championFailure
        self.championEstimate = championEstimate
        self.horizonMinutes = horizonMinutes
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case machine, ts, seq, model, risk, failure, estimate, champion
        case championRisk = "champion_risk"
        case championFailure = "champion_failure"
        case championEstimate = "champion_estimate"
        case horizonMinutes = "horizon_min"
        case source
    }
}

// MARK: - retrain requests

/// A request to retrain a model (`retrain-requests`, keyed by model): written by the server's
/// POST /api/models/{name}/retrain, read by `millstream retrain --watch`.
public struct RetrainRequestRecord: TopicRecord, Codable, Hashable {
    public var model: String
    public var by: String
    public var ts: String
    public var reason: String?

    public init(model: String, by: String, ts: String, reason: String? = nil) {
        self.model = model
        self.by = by
        self.ts = ts
        self.reason = reason
    }
}

// MARK: - kpis

/// A machine's OEE over the last hour and the shift (`kpis`, keyed by machine, every few dozen readings).
public struct KPIRecord: TopicRecord, Codable, Hashable {
    public struct Downtime: Codable, Sendable, Hashable {
        public var reason: String
        public var seconds: Double
        public init(reason: String, seconds: Double) {
            self.reason = reason
            self.seconds = seconds
        }
    }

    public struct Figures: Codable, Sendable, Hashable {
        public var availability: Double
        public var performance: Double
        public var quality: Double
        public var oee: Double
        public var good: Int
        public var scrap: Int
        public var downtime: [Downtime]
        public init(
            availability: Double, performance: Double, quality: Double, oee: Double, good: Int, scrap: Int,
            downtime: [Downtime]
        ) {
            self.availability = availability
            self.performance = performance
            self.quality = quality
            self.oee = oee
            self.good = good
            self.scrap = scrap
            self.downtime = downtime
        }
    }

    public var machine: String
    public var ts: String
    public var hour: Figures
    public var shift: Figures
    public var source: SourceRef?

    public init(machine: String, ts: String, hour: Figures, shift: Figures, source: SourceRef?) {
        self.machine = machine
        self.ts = ts
        self.hour = hour
        self.shift = shift
        self.source = source
    }
}

// MARK: - dead-letters

/// A record the pipeline could not use, with why (`dead-letters`).
public struct DeadLetterRecord: TopicRecord, Codable, Hashable {
    public var reason: String
    public var error: String
    /// The record as it came, when it is text; else `originalBase64`.
    public var original: String?
    public var originalBase64: String?
    /// When it was set aside.
    public var ts: String?
    public var source: SourceRef?

    public init(
        reason: String, error: String, original: String?, originalBase64: String?, ts: String?, source: SourceRef?
    ) {
        self.reason = reason
        self.error = error
        self.original = original
        self.originalBase64 = originalBase64
        self.ts = ts
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case reason, error, original
        case originalBase64 = "original_base64"
        case ts, source
    }
}

// MARK: - alerts

/// What an alarm's record says about why: the numbers the condition saw, and per kind the rules broken (SPC), the
/// failure mode and the inputs that raise the risk most (failure risk), or the variable that stands out (anomaly).
/// Written as one flat object: the named numbers, then the other fields.
public struct AlertEvidence: Codable, Sendable, Hashable {
    public struct Contribution: Codable, Sendable, Hashable {
        public var input: String
        public var value: Double
        public var effect: Double
        public init(input: String, value: Double, effect: Double) {
            self.input = input
            self.value = value
            self.effect = effect
        }
    }

    public var numbers: NamedValues
    public var rules: [String]?
    public var mode: String?
    public var topVariable: String?
    public var contributions: [Contribution]?

    public init(
        numbers: NamedValues = [:], rules: [String]? = nil, mode: String? = nil, topVariable: String? = nil,
        contributions: [Contribution]? = nil
    ) {
        self.numbers = numbers
        self.rules = rules
        self.mode = mode
        self.topVariable = topVariable
        self.contributions = contributions
    }

    static let named: Set<String> = ["rules", "mode", "top_variable", "contributions"]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: NameKey.self)
        rules = try c.decodeIfPresent([String].self, forKey: NameKey("rules"))
        mode = try c.decodeIfPresent(String.self, forKey: NameKey("mode"))
        topVariable = try c.decodeIfPresent(String.self, forKey: NameKey("top_variable"))
        contributions = try c.decodeIfPresent([Contribution].self, forKey: NameKey("contributions"))
        numbers = NamedValues(
            try c.allKeys.filter { !Self.named.contains($0.stringValue) }.sorted { $0.stringValue < $1.stringValue }
                .map { ($0.stringValue, try c.decode(Double.self, forKey: $0)) })
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: NameKey.self)
        for e in numbers.entries { try c.encode(e.value, forKey: NameKey(e.name)) }
        if let mode { try c.encode(mode, forKey: NameKey("mode")) }
        if let topVariable { try c.encode(topVariable, forKey: NameKey("top_variable")) }
        if let rules { try c.encode(rules, forKey: NameKey("rules")) }
        if let contributions { try c.encode(contributions, forKey: NameKey("contributions")) }
    }
}

/// One event of an alarm (`alerts`, keyed by machine): raised, cleared (returned to normal) or suppressed.
public struct AlertRecord: TopicRecord, Codable, Hashable {
    public var id: String
    public var machine: String
    public var ts: String
    /// The alarm class: spc, failure_risk, anomaly, drift, ...
    public var kind: String
    public var severity: String?
    /// ISA-18.2 priority from the alarm settings (nil in records from before alarm management).
    public var priority: String?
    /// raised, cleared or suppressed.
    public var status: String
    public var variable: String?
    /// When the alarm that a "cleared" record ends was raised.
    public var raisedAt: String?
    /// Why it cleared or was suppressed, when not by itself.
    public var reason: String?
    public var latched: Bool?
    public var message: String?
    public var evidence: AlertEvidence?
    public var source: SourceRef?

    public init(
        id: String, machine: String, ts: String, kind: String, severity: String?, priority: String?, status: String,
        variable: String? = nil, raisedAt: String? = nil, reason: String? = nil, latched: Bool? = nil,
        message: String?, evidence: AlertEvidence? = nil, source: SourceRef? = nil
    ) {
        self.id = id
        self.machine = machine
        self.ts = ts
        self.kind = kind
        self.severity = severity
        self.priority = priority
        self.status = status
        self.variable = variable
        self.raisedAt = raisedAt
        self.reason = reason
        self.latched = latched
        self.message = message
        self.evidence = evidence
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case id, machine, ts, kind, severity, priority, status, variable
        case raisedAt = "raised_at"
        case reason, latched, message, evidence, source
    }
}

/// An operator's acknowledge, clear or shelve of an alert (`alert-actions`, keyed by alert id).
public struct AlertActionRecord: TopicRecord, Codable, Hashable {
    public var id: String
    public var alert: String
    /// acknowledge, clear or shelve.
    public var action: String
    public var by: String
    public var ts: String
    public var note: String?
    /// For shelve: for how long and until when.
    public var minutes: Double?
    public var until: String?

    public init(
        id: String, alert: String, action: String, by: String, ts: String, note: String? = nil,
        minutes: Double? = nil, until: String? = nil
    ) {
        self.id = id
        self.alert = alert
        self.action = action
        self.by = by
        self.ts = ts
        self.note = note
        self.minutes = minutes
        self.until = until
    }
}

// MARK: - labels

/// The truth about one product, known later than its reading (`labels`, keyed by machine): what the simulator
/// writes with `--labels`, what a plant's quality system would.
public struct LabelRecord: TopicRecord, Codable, Hashable {
    public var machine: String
    public var seq: Int64
    /// The labelled reading's time. With it a label names one reading even where sequences repeat (a gateway, a
    /// simulation or a machine controller that restarts its count); without it, machine and sequence alone.
    public var ts: String?
    /// 1 when the part failed, else 0 (the AI4I convention).
    public var failure: Int
    /// The failure modes, when known (TWF, HDF, PWF, OSF, RNF).
    public var modes: [String]?

    public init(machine: String, seq: Int64, ts: String? = nil, failure: Int, modes: [String]? = nil) {
        self.machine = machine
        self.seq = seq
        self.ts = ts
        self.failure = failure
        self.modes = modes
    }

    /// The labelled reading's time in milliseconds, when the label says it.
    public var millis: Int64? { ts.flatMap(Timestamp.parse) }
}

/// Joins labels to readings by machine, sequence and, when the label carries it, the reading's time: a label whose
/// time differs is about another reading with the same sequence number and is not used.
public struct LabelJoin: Sendable {
    private var labels: [String: [(millis: Int64?, label: LabelRecord)]] = [:]
    public private(set) var count = 0

    public init() {}

    static func key(_ machine: String, _ seq: Int64) -> String { "\(machine)#\(seq)" }

    public mutating func add(_ label: LabelRecord) {
        labels[Self.key(label.machine, label.seq), default: []].append((label.millis, label))
        count += 1
    }

    /// The label of the reading of `machine` with `seq` at `millis`: the one with that time, else the newest one
    /// that says no time.
    public func label(machine: String, seq: Int64, millis: Int64) -> LabelRecord? {
        guard let found = labels[Self.key(machine, seq)] else { return nil }
        return found.last { $0.millis == millis }?.label ?? found.last { $0.millis == nil }?.label
    }
}

// MARK: - recommendations

/// A setpoint recommendation from the optimizer (`recommendations`, keyed by machine).
public struct RecommendationRecord: TopicRecord, Codable, Hashable {
    public struct Change: Codable, Sendable, Hashable {
        public var variable: String
        public var from: Double
        public var to: Double
        public var unit: String
        public init(variable: String, from: Double, to: Double, unit: String) {
            self.variable = variable
            self.from = from
            self.to = to
            self.unit = unit
        }
    }

    public struct Contribution: Codable, Sendable, Hashable {
        public var variable: String
        public var value: Double
        public var unit: String
        public var effect: Double
        public init(variable: String, value: Double, unit: String, effect: Double) {
            self.variable = variable
            self.value = value
            self.unit = unit
            self.effect = effect
        }
    }

    public var id: String
    public var machine: String
    public var ts: String
    public var model: String
    /// advisory (waits for an operator) or closed_loop (applied by the worker).
    public var mode: String
    public var changes: [Change]
    /// Maintenance actions, e.g. tool_change.
    public var maintenance: [String]
    public var riskBefore: Double
    public var riskAfter: Double
    public var rateChange: Double
    public var gain: Double
    public var contributions: [Contribution]
    public var explanation: String

    public init(
        id: String, machine: String, ts: String, model: String, mode: String, changes: [Change],
        maintenance: [String], riskBefore: Double, riskAfter: Double, rateChange: Double, gain: Double,
        contributions: [Contribution], explanation: String
    ) {
        self.id = id
        self.machine = machine
        self.ts = ts
        self.model = model
        self.mode = mode
        self.changes = changes
        self.maintenance = maintenance
        self.riskBefore = riskBefore
        self.riskAfter = riskAfter
        self.rateChange = rateChange
        self.gain = gain
        self.contributions = contributions
        self.explanation = explanation
    }

    enum CodingKeys: String, CodingKey {
        case id, machine, ts, model, mode, changes, maintenance
        case riskBefore = "risk_before"
        case riskAfter = "risk_after"
        case rateChange = "rate_change"
        case gain, contributions, explanation
    }
}

/// An operator's approval or rejection of a recommendation (`recommendation-actions`, keyed by machine).
public struct RecommendationActionRecord: TopicRecord, Codable, Hashable {
    public var id: String
    public var recommendation: String
    public var machine: String
    /// approve or reject.
    public var action: String
    public var by: String
    public var ts: String
    public var note: String?

    public init(
        id: String, recommendation: String, machine: String, action: String, by: String, ts: String,
        note: String? = nil
    ) {
        self.id = id
        self.recommendation = recommendation
        self.machine = machine
        self.action = action
        self.by = by
        self.ts = ts
        self.note = note
    }
}

/// A setpoint change for a machine to apply (`setpoints`, keyed by machine), with who made it and the
/// recommendation it carries out.
public struct SetpointRecord: TopicRecord, Codable, Hashable {
    public var machine: String
    public var values: NamedValues
    public var changeTool: Bool
    public var by: String?
    public var recommendation: String?
    public var ts: String?

    public init(
        machine: String, values: NamedValues, changeTool: Bool = false, by: String? = nil,
        recommendation: String? = nil, ts: String? = nil
    ) {
        self.machine = machine
        self.values = values
        self.changeTool = changeTool
        self.by = by
        self.recommendation = recommendation
        self.ts = ts
    }

    enum CodingKeys: String, CodingKey {
        case machine, values
        case changeTool = "change_tool"
        case by, recommendation, ts
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        machine = try c.decode(String.self, forKey: .machine)
        values = try c.decode(NamedValues.self, forKey: .values)
        changeTool = try c.decodeIfPresent(Bool.self, forKey: .changeTool) ?? false
        by = try c.decodeIfPresent(String.self, forKey: .by)
        recommendation = try c.decodeIfPresent(String.self, forKey: .recommendation)
        ts = try c.decodeIfPresent(String.self, forKey: .ts)
        for e in values.entries where !e.value.isFinite {
            throw RecordError("setpoint \(e.name) is not a finite number")
        }
    }
}

/// What a connector did with a setpoint change (`setpoint-writes`, keyed by machine): the audit trail of writes to
/// the machines, and what makes a write happen once across restarts (the latest state of each id).
public struct SetpointWriteRecord: TopicRecord, Codable, Hashable {
    public enum State: String, Codable, Sendable {
        /// About to be written (a restart finding only this reads the machine back before writing again).
        case sending
        /// Written to the machine; the read-back is pending.
        case written
        /// The machine reported the new setpoints.
        case confirmed
        /// The machine did not report them within the confirmation time.
        case unconfirmed
        /// Not written: outside the guardrails, or not a setpoint of the process.
        case refused
    }

    /// The recommendation's id, or `setpoints/<partition>/<offset>` for a change without one.
    public var id: String
    public var machine: String
    public var values: NamedValues
    public var state: State
    public var reason: String?
    /// Where it was written (`mqtt://host:port topic ...`).
    public var endpoint: String
    public var ts: String

    public init(
        id: String, machine: String, values: NamedValues, state: State, reason: String? = nil, endpoint: String,
        ts: String
    ) {
        self.id = id
        self.machine = machine
        self.values = values
        self.state = state
        self.reason = reason
        self.endpoint = endpoint
        self.ts = ts
    }
}

/// The closed-loop switch (`optimizer-control`, key "closed-loop"; the latest record wins).
public struct OptimizerControlRecord: TopicRecord, Codable, Hashable {
    public var closedLoop: Bool
    public var by: String?
    public var ts: String?
    public var note: String?

    public init(closedLoop: Bool, by: String? = nil, ts: String? = nil, note: String? = nil) {
        self.closedLoop = closedLoop
        self.by = by
        self.ts = ts
        self.note = note
    }

    enum CodingKeys: String, CodingKey {
        case closedLoop = "closed_loop"
        case by, ts, note
    }
}

// MARK: - notifications

/// One delivery of an alert to a channel (`notifications`, keyed by alert id): sent, or undeliverable after its
/// retries (then also a dead letter); `escalation` when it went out because nobody acknowledged the alert in time.
public struct NotificationRecord: TopicRecord, Codable, Hashable {
    public var alert: String
    public var machine: String
    public var route: String
    public var channel: String
    /// sent or failed.
    public var status: String
    public var escalation: Bool
    public var attempts: Int
    public var error: String?
    public var ts: String

    public init(
        alert: String, machine: String, route: String, channel: String, status: String, escalation: Bool,
        attempts: Int, error: String?, ts: String
    ) {
        self.alert = alert
        self.machine = machine
        self.route = route
        self.channel = channel
        self.status = status
        self.escalation = escalation
        self.attempts = attempts
        self.error = error
        self.ts = ts
    }
}

/// The notifier's escalations (`notifier-escalations`, keyed by alert id), so one that restarts still escalates what
/// was pending: `pending` with when (`due`) and to which channels, then `done` once it went out, an operator acted or
/// the alert cleared. The newest record of an alert is its state.
public struct EscalationRecord: TopicRecord, Codable, Hashable {
    public struct Target: Codable, Hashable, Sendable {
        public var route: String
        public var channel: String
        public init(route: String, channel: String) {
            self.route = route
            self.channel = channel
        }
    }
    /// The alert as it was raised (what the escalation sends).
    public var alert: AlertRecord
    /// pending or done.
    public var state: String
    public var due: String?
    public var targets: [Target]
    public var ts: String

    public init(alert: AlertRecord, state: String, due: String?, targets: [Target], ts: String) {
        self.alert = alert
        self.state = state
        self.due = due
        self.targets = targets
        self.ts = ts
    }
}
