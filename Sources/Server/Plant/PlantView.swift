import Analytics
import Bus
import Foundation
import Plant
import Primitives
import Registry
import Topics

/// The plant as the pipeline's output topics tell it: each machine's latest state, risk and KPIs, recent sensor
/// values, the alerts with their acknowledgements, dead letters, and model outcomes once labels arrive.
///
/// Fed by `PlantViewService` from the bus; read by the API, the dashboard and /metrics.
public actor PlantView {
    struct Point: Sendable {
        var millis: Int64
        var value: Double
    }

    struct MachineStatus: Sendable {
        var id: String
        var line: String?
        var millis: Int64 = 0
        var ts: String = ""
        var state: String = "unknown"
        var product: String?
        var risk: Double?
        var failure: Bool?
        var model: String?
        var modes: [String: Double] = [:]
        var anomaly: PredictionRecord.Anomaly?
        var features: [String: Double] = [:]
        var kpi: KPIRecord?
        var predictions = 0
        var risks: [Point] = []
        var values: [String: [Point]] = [:]
    }

    struct Alert: Sendable {
        var id: String
        var machine: String
        var millis: Int64
        var ts: String
        var kind: String
        var severity: String
        var variable: String?
        var message: String
        var evidence: AlertEvidence?
        var source: SourceRef?
        var status = "raised"
        var clearedTs: String?
        var clearedBy: String?
        var acknowledgedBy: String?
        var acknowledgedTs: String?
        /// How often it fired while open (repeats are folded in, not new alerts).
        var occurrences = 1
        var lastMillis: Int64
        var lastTs: String
        /// ISA-18.2 priority, from the pipeline's alarm management (nil in records written before it).
        var priority: String?
        /// Stays on the list after it cleared until acknowledged.
        var latched = false
        /// Why the pipeline returned it to normal, when not by itself (e.g. "machine down").
        var clearReason: String?
        /// Shelved by an operator until then (ms): off the active list, its repeats not annunciated.
        var shelvedUntil: Int64?
        var shelvedBy: String?
    }

    /// An open SPC alert with no new violation for this long clears itself (SPC has no "back in control" event).
    static let spcQuietMillis: Int64 = 10 * 60 * 1000

    /// The running tally of a model version's predictions against the labels that arrived later.
    struct Tally: Sendable {
        var total = Outcomes()
        /// The last outcomes (true positive... as 0...3), for rolling figures.
        var recent: [UInt8] = []
    }

    /// A challenger in shadow and the champion, on the same labelled readings: the evidence for promotion.
    struct ShadowTally: Sendable {
        var challenger: String
        var champion: String?
        var challengerOutcomes = Outcomes()
        var championOutcomes = Outcomes()
        /// The newest reading both scored (ms).
        var lastMillis: Int64 = 0
    }

    /// A decision waiting for its label.
    enum Decision: Sendable {
        case prediction(model: String, failure: Bool, millis: Int64)
        case shadow(challenger: String, champion: String?, failure: Bool, championFailure: Bool?, millis: Int64)

        /// The time of the reading decided on.
        var millis: Int64 {
            switch self {
            case .prediction(_, _, let millis), .shadow(_, _, _, _, let millis): millis
            }
        }
    }

    let process: ProcessConfig
    /// How many points of history each machine keeps per series.
    let historyLength: Int

    var machines: [String: MachineStatus] = [:]
    var alerts: [String: Alert] = [:]
    var alertOrder: [String] = []
    /// The open alert of (machine, kind, variable), which a "cleared" record closes.
    var openAlert: [String: String] = [:]
    /// Operator actions that arrived before their alert (replay order across topics is not guaranteed).
    var pendingActions: [String: [AlertActionRecord]] = [:]
    var appliedActions: Set<String> = []
    var deadLetters: [String: Int] = [:]
    /// Recommendations by id, in arrival order, with operators' decisions.
    var recommendations: [String: RecommendationEntry] = [:]
    var recommendationOrder: [String] = []
    /// The latest pending recommendation per machine (older ones are superseded).
    var pendingRecommendation: [String: String] = [:]
    /// Decisions that arrived before their recommendation.
    var pendingDecisions: [String: RecommendationActionRecord] = [:]
    /// The closed-loop switch as the control topic last said (nil: never switched; the workers' settings decide).
    var closedLoop: (enabled: Bool, by: String, ts: String)?
    var predictionCount = 0
    var predictionsByClass: [String: Int] = [:]
    var alertCounts: [String: Int] = [:]
    /// Alarms the pipeline kept from the operator, by "kind|reason".
    var suppressedAlarms: [String: Int] = [:]
    /// The alarm journal (raises, returns, suppressed and shelved alarms) and the failures found in the readings,
    /// for the alarm-system KPIs; both keep `journalDays` of history.
    var journal: [AlarmRecord] = []
    var failureFinder = FailureFinder()
    static let journalDays: Int64 = 7
    /// Shelved conditions ("machine|kind|variable") and until when (ms).
    var shelved: [String: Int64] = [:]
    /// Decisions (the production model's, a challenger's in shadow) awaiting their label, by "machine#seq".
    var awaitingLabel: [String: [Decision]] = [:]
    var awaitingOrder: [String] = []
    /// The labels seen, by "machine#seq": a label may arrive before or after each model's decision on the reading.
    /// Machine#seq -> the newest label with that sequence: its reading's time (when the label says it) and outcome.
    var labels: [String: (millis: Int64?, actual: Bool)] = [:]
    var labelOrder: [String] = []
    static let joinWindow = 200_000
    var outcomes: [String: Tally] = [:]
    /// By "challenger|champion".
    var shadowOutcomes: [String: ShadowTally] = [:]
    /// Each model's outcomes by hour of its readings' time (ms / 3,600,000), the newest `timelineHours`.
    var timeline: [Int64: [String: Outcomes]] = [:]
    static let timelineHours = 24 * 14
    /// "Fails within" decisions awaiting their horizon, per machine; the machines' failures (from the readings) and
    /// the span of readings seen of each, to judge them.
    var horizonDecisions: [String: [HorizonDecision]] = [:]
    var failureTimes: [String: [Int64]] = [:]
    var firstReading: [String: Int64] = [:]
    var lastReading: [String: Int64] = [:]
    /// Per machine, the newest reading time of its "fails within" decisions, by source (predictions, each
    /// challenger): a source's later decisions are on later readings, so failures well before the least of these
    /// can no longer be needed. The topics are read at their own pace, so readings may run days ahead of decisions.
    var decidedUpTo: [String: [String: Int64]] = [:]
    var latencies = LatencyWindow()
    var recordsSeen = 0
    /// Records that did not decode as their topic's type, by topic (each is skipped; the count is in the summary).
    var unreadable: [String: Int] = [:]
    var lastExpiry: Int64 = 0
    /// The newest running values of each variable over all machines, and the newest risks per model: the live side
    /// of the drift checks.
    var liveValues: [String: [Double]] = [:]
    var liveRisks: [String: [Double]] = [:]
    /// The times (plant clock, ms) of the running readings in the live window: the span the drift checks cover.
    var liveTimes: [Int64] = []
    static let liveWindow = 5_000
    /// The latest drift figures per model (from `DriftMonitor`), and which features are flagged now.
    var drift: [String: DriftReport] = [:]
    var driftFlagged: Set<String> = []
    let metrics: ServerMetrics?
    let lineOf: [String: String]

    /// How many plant seconds pass in one second of the records' clock: 1 for a plant, more for the demo's paced
    /// simulation (a minute's part made in a fraction of a second), so the alarm KPIs' windows are plant time.
    let clockScale: Double

    public init(
        process: ProcessConfig, historyLength: Int = 300, metrics: ServerMetrics? = nil, clockScale: Double = 1
    ) {
        self.process = process
        self.clockScale = clockScale
        self.historyLength = historyLength
        self.metrics = metrics
        var lines: [String: String] = [:]
        for l in process.lines { for m in l.machines { lines[m] = l.name } }
        lineOf = lines
    }

    /// Applies records of the topics the view follows; `now` (ms) is for the live latency figure.
    public func apply(_ records: [ConsumedRecord], now: Int64) {
        for r in records {
            recordsSeen += 1
            switch r.topic {
            case Topics.readings.name: applyReading(r)
            case Topics.predictions.name: read(r, Topics.predictions) { applyPrediction($0, now: now) }
            case Topics.shadowPredictions.name: read(r, Topics.shadowPredictions, applyShadow)
            case Topics.alerts.name: read(r, Topics.alerts, applyAlert)
            case Topics.kpis.name: read(r, Topics.kpis, applyKPI)
            case Topics.deadLetters.name:
                let reason = (try? Topics.deadLetters.decode(r.value).reason) ?? "unknown"
                deadLetters[reason, default: 0] += 1
                metrics?.deadLetter(reason: reason)
            case Topics.alertActions.name: read(r, Topics.alertActions, applyAction)
            case Topics.labels.name: read(r, Topics.labels, applyLabel)
            case Topics.recommendations.name: read(r, Topics.recommendations, applyRecommendation)
            case Topics.recommendationActions.name: read(r, Topics.recommendationActions, applyDecision)
            case Topics.optimizerControl.name: read(r, Topics.optimizerControl, applyControl)
            default: break
            }
        }
    }

    /// Decodes a record of `topic` and applies it; one that does not decode is counted and skipped.
    private func read<R>(_ r: ConsumedRecord, _ topic: Topic<R>, _ apply: (R) -> Void) {
        guard let record = try? topic.decode(r.value) else {
            unreadable[topic.name, default: 0] += 1
            return
        }
        apply(record)
    }

    static func push<T>(_ v: T, into window: inout [T]) {
        window.append(v)
        if window.count > liveWindow + liveWindow / 4 { window.removeFirst(window.count - liveWindow) }
    }

    /// The live samples for drift checks, and the plant-time span of their readings (nil before any).
    func driftSamples() -> (values: [String: [Double]], risks: [String: [Double]], span: ClosedRange<Int64>?) {
        guard let first = liveTimes.min(), let last = liveTimes.max() else { return (liveValues, liveRisks, nil) }
        return (liveValues, liveRisks, first...last)
    }

    /// Records a drift report; a feature crossing the threshold raises a `drift` alert, clearing below half of it.
    func record(drift report: DriftReport, now: Int64) {
        drift[report.model] = report
        for f in report.features {
            let key = "\(report.model)|\(f.name)"
            let id = "\(report.model)/drift/\(f.name)"
            if f.drifted && !driftFlagged.contains(key) {
                driftFlagged.insert(key)
                let psi = String(format: "%.2f", f.psi ?? 0)
                applyAlert(
                    AlertRecord(
                        id: "\(id)/\(now)", machine: "plant", ts: Timestamp.format(now), kind: "drift",
                        severity: "warning", priority: AlarmPriority.of(.minor, respondWithinMinutes: 60).rawValue,
                        status: "raised", variable: f.name,
                        message:
                            "\(f.name) drifted from the training data of \(report.model) (PSI \(psi), KS \(String(format: "%.2f", f.ks ?? 0)))",
                        evidence: AlertEvidence(numbers: [
                            "psi": f.psi ?? 0, "ks": f.ks ?? 0, "live_mean": f.liveMean,
                            "reference_mean": f.referenceMean,
                        ])))
            } else if !f.drifted && driftFlagged.contains(key) && (f.psi ?? 0) < DriftReport.psiThreshold / 2 {
                driftFlagged.remove(key)
                applyAlert(
                    AlertRecord(
                        id: "\(id)/\(now)/clear", machine: "plant", ts: Timestamp.format(now), kind: "drift",
                        severity: nil, priority: nil, status: "cleared", variable: f.name, message: nil))
            }
        }
    }

    /// The machine's state so far, or a fresh one on its line.
    private func status(of id: String) -> MachineStatus {
        machines[id] ?? MachineStatus(id: id, line: lineOf[id])
    }

    private func append(_ p: Point, to series: inout [Point]) {
        series.append(p)
        if series.count > historyLength + historyLength / 4 { series.removeFirst(series.count - historyLength) }
    }

    private func applyReading(_ r: ConsumedRecord) {
        // Bad readings (dead letters) name machines that may not exist: only known machines get a trend.
        guard let reading = try? ReadingDecoder.decode(r.value), lineOf[reading.machine] != nil else { return }
        let failuresBefore = failureFinder.events.count
        failureFinder.add(reading)
        if failureFinder.events.count > failuresBefore, let failure = failureFinder.events.last {
            failureTimes[failure.machine, default: []].append(failure.time)
            if decidedUpTo[failure.machine] == nil {
                // No "fails within" decisions on this machine (yet): keep a week of its failures.
                failureTimes[failure.machine]?.removeAll { $0 < failure.time - 7 * 86_400_000 }
            }
        }
        firstReading[reading.machine] = min(firstReading[reading.machine] ?? reading.timestamp, reading.timestamp)
        lastReading[reading.machine] = max(lastReading[reading.machine] ?? reading.timestamp, reading.timestamp)
        resolveHorizonDecisions(of: reading.machine)
        var m = status(of: reading.machine)
        if reading.state == .running { Self.push(reading.timestamp, into: &liveTimes) }
        for v in reading.values {
            append(Point(millis: reading.timestamp, value: v.value), to: &m.values[v.name, default: []])
            if reading.state == .running { Self.push(v.value, into: &liveValues[v.name, default: []]) }
        }
        machines[reading.machine] = m
    }

    private func applyPrediction(_ p: PredictionRecord, now: Int64) {
        let id = p.machine
        var m = status(of: id)
        let millis = Timestamp.parse(p.ts) ?? 0
        m.millis = millis
        m.ts = p.ts
        m.state = p.state
        m.product = p.product
        m.risk = p.risk
        m.failure = p.failure
        m.model = p.model ?? m.model
        m.modes = p.modes?.dictionary ?? [:]
        m.anomaly = p.anomaly
        m.features = p.features.dictionary
        m.predictions += 1
        if let risk = m.risk {
            append(Point(millis: millis, value: risk), to: &m.risks)
            if let model = m.model { Self.push(risk, into: &liveRisks[model, default: []]) }
        }
        machines[id] = m
        predictionCount += 1
        let cls = m.failure == true ? "failure" : m.failure == false ? "ok" : "not_scored"
        predictionsByClass[cls, default: 0] += 1
        metrics?.prediction(model: m.model ?? "none", class: cls)
        // Latency from the reading's stamp to here, for live records only (a replay of history is not latency).
        let latency = Double(now - millis) / 1000
        if millis > 0, latency >= 0, latency < 60 {
            latencies.add(latency)
            metrics?.endToEnd(seconds: latency)
        }
        if let seq = p.seq, let model = m.model, let failure = m.failure {
            let decision = Decision.prediction(model: model, failure: failure, millis: millis)
            if let horizon = p.horizonMinutes {
                // A "fails within" model: judged against the machine's failures within its horizon.
                horizonDecisions[id, default: []].append(
                    HorizonDecision(time: millis, until: millis + Int64(horizon * 60_000), decision: decision))
                decidedUpTo[id, default: [:]][""] = millis
                resolveHorizonDecisions(of: id)
            } else {
                join("\(id)#\(seq)", decision)
            }
        }
    }

    private func applyShadow(_ s: ShadowPredictionRecord) {
        guard let seq = s.seq, let failure = s.failure else { return }
        let millis = Timestamp.parse(s.ts) ?? 0
        let decision = Decision.shadow(
            challenger: s.model, champion: s.champion, failure: failure, championFailure: s.championFailure,
            millis: millis)
        guard let horizon = s.horizonMinutes else { return join("\(s.machine)#\(seq)", decision) }
        // A "fails within" challenger: right when the machine fails within the horizon after the reading.
        let h = HorizonDecision(time: millis, until: millis + Int64(horizon * 60_000), decision: decision)
        horizonDecisions[s.machine, default: []].append(h)
        decidedUpTo[s.machine, default: [:]][s.model] = millis
        resolveHorizonDecisions(of: s.machine)
    }

    /// A decision judged against the machine's failures in [time, until].
    struct HorizonDecision: Sendable {
        var time: Int64
        var until: Int64
        var decision: Decision
    }

    /// Counts the machine's "fails within" decisions whose horizon its readings have passed: the failures in it are
    /// known. Decisions on readings from before the first reading this view saw of the machine are left out (its
    /// failures then are unknown, as after a restart that read only recent history).
    private func resolveHorizonDecisions(of machine: String) {
        // Called per reading and per decision: one pass in arrival order (each model's decisions come in time
        // order), no sort, nothing done while no horizon has passed.
        guard let pending = horizonDecisions[machine], let seen = lastReading[machine],
            pending.contains(where: { $0.until < seen })
        else { return }
        let failures = failureTimes[machine] ?? []
        let first = firstReading[machine] ?? .max
        var keep: [HorizonDecision] = []
        for d in pending {
            guard d.until < seen else {
                keep.append(d)
                continue
            }
            guard d.time >= first else { continue }
            count(d.decision, actual: failures.contains { $0 >= d.time && $0 <= d.until })
        }
        horizonDecisions[machine] = keep
        // Failures a day older than every pending decision's reading and than every source's newest decision are
        // judged already.
        if let oldest = (keep.map(\.time) + Array((decidedUpTo[machine] ?? [:]).values)).min() {
            failureTimes[machine]?.removeAll { $0 < oldest - 86_400_000 }
        }
    }

    /// Counts a decision at once when its label is known, else keeps it until the label arrives (the newest
    /// `joinWindow` readings).
    private func join(_ key: String, _ decision: Decision) {
        // A label of another time is about an earlier reading with the same sequence number (a restarted count).
        if let label = labels[key], label.millis == nil || label.millis == decision.millis {
            return count(decision, actual: label.actual)
        }
        if awaitingLabel[key] == nil { awaitingOrder.append(key) }
        awaitingLabel[key, default: []].append(decision)
        if awaitingOrder.count > Self.joinWindow {
            for k in awaitingOrder.prefix(Self.joinWindow / 4) { awaitingLabel.removeValue(forKey: k) }
            awaitingOrder.removeFirst(Self.joinWindow / 4)
        }
    }

    private func applyLabel(_ l: LabelRecord) {
        let key = "\(l.machine)#\(l.seq)"
        let actual = l.failure > 0
        let millis = l.millis
        if labels.updateValue((millis, actual), forKey: key) == nil { labelOrder.append(key) }
        if labelOrder.count > Self.joinWindow {
            for k in labelOrder.prefix(Self.joinWindow / 4) { labels.removeValue(forKey: k) }
            labelOrder.removeFirst(Self.joinWindow / 4)
        }
        guard let waiting = awaitingLabel.removeValue(forKey: key) else { return }
        var other: [Decision] = []
        for decision in waiting {
            if millis == nil || millis == decision.millis {
                count(decision, actual: actual)
            } else {
                other.append(decision)
            }
        }
        if !other.isEmpty { awaitingLabel[key] = other }
    }

    private func count(_ decision: Decision, actual: Bool) {
        switch decision {
        case .prediction(let model, let predicted, let millis):
            var o = outcomes[model] ?? Tally()
            o.total.add(predicted: predicted, actual: actual)
            // By hour of the readings' time: the model's live figures as the plant changes.
            let hour = millis / 3_600_000
            timeline[hour, default: [:]][model, default: Outcomes()].add(predicted: predicted, actual: actual)
            if timeline.count > Self.timelineHours, let oldest = timeline.keys.min() { timeline[oldest] = nil }
            o.recent.append(predicted ? (actual ? 0 : 1) : (actual ? 3 : 2))
            if o.recent.count > 12_000 { o.recent.removeFirst(2_000) }
            outcomes[model] = o
            metrics?.outcome(model: model, figures: Self.figures(o.recent.suffix(10_000)))
        case .shadow(let challenger, let champion, let predicted, let championPredicted, let millis):
            let key = "\(challenger)|\(champion ?? "")"
            var t = shadowOutcomes[key] ?? ShadowTally(challenger: challenger, champion: champion)
            // Only readings both scored count: the pair's figures are on the same readings.
            guard let championPredicted else { return }
            t.challengerOutcomes.add(predicted: predicted, actual: actual)
            t.championOutcomes.add(predicted: championPredicted, actual: actual)
            t.lastMillis = max(t.lastMillis, millis)
            shadowOutcomes[key] = t
            metrics?.shadowOutcome(
                challenger: challenger, champion: champion ?? "none", challengerF1: t.challengerOutcomes.f1,
                championF1: t.championOutcomes.f1, labelled: t.challengerOutcomes.labelled)
        }
    }

    /// The paired outcomes of the model's newest challenger in shadow (by its name: "failure@v4" for "failure"),
    /// against the champion it shadowed.
    func shadowEvidence(challenger label: String) -> ShadowTally? {
        shadowOutcomes.values.filter { $0.challenger == label }.max { $0.lastMillis < $1.lastMillis }
    }

    private func applyKPI(_ k: KPIRecord) {
        var m = status(of: k.machine)
        m.kpi = k
        machines[k.machine] = m
        metrics?.oee(machine: k.machine, value: k.hour.oee)
    }

    private func applyAlert(_ a: AlertRecord) {
        let (id, machine, kind, variable, ts) = (a.id, a.machine, a.kind, a.variable, a.ts)
        let incident = "\(machine)|\(kind)|\(variable ?? "")"
        let millis = Timestamp.parse(ts) ?? 0
        let priority = a.priority.flatMap(AlarmPriority.init(rawValue:)) ?? .low
        var entry = AlarmRecord(
            machine: machine, kind: kind, variable: variable, priority: priority,
            status: AlarmRecord.Status(rawValue: a.status) ?? .raised, time: millis,
            raisedAt: a.raisedAt.flatMap(Timestamp.parse), reason: a.reason)
        // A raise of a shelved condition is not annunciated: journaled as shelved.
        let shelvedNow = (shelved[incident] ?? .min) > millis
        if entry.status == .raised && shelvedNow { entry.status = .shelved }
        addToJournal(entry)
        switch a.status {
        case "cleared":
            if let open = openAlert.removeValue(forKey: incident), var alert = alerts[open], alert.status == "raised" {
                alert.status = "cleared"
                alert.clearedTs = ts
                alert.clearedBy = "pipeline"
                alert.clearReason = a.reason
                alerts[open] = alert
            }
            return
        case "suppressed":
            // Kept from the operator by design (machine state, start-up, first-out): counted with the reason, not
            // listed.
            let reason = a.reason.map { AlarmKPIs.reasonKind($0) } ?? "unknown"
            suppressedAlarms["\(kind)|\(reason)", default: 0] += 1
            return
        default: break
        }
        guard alerts[id] == nil else { return }
        let severity = a.severity ?? "warning"
        expireQuietSPC(now: millis)
        // A repeat while the incident is open is folded into it (no alarm floods).
        if let open = openAlert[incident], var existing = alerts[open], existing.status == "raised" {
            existing.occurrences += 1
            existing.lastMillis = millis
            existing.lastTs = ts
            existing.message = a.message ?? existing.message
            existing.evidence = a.evidence ?? existing.evidence
            if severity == "critical" { existing.severity = severity }
            alerts[open] = existing
            return
        }
        alerts[id] = Alert(
            id: id, machine: machine, millis: millis, ts: ts, kind: kind, severity: severity,
            variable: variable, message: a.message ?? "", evidence: a.evidence, source: a.source, lastMillis: millis,
            lastTs: ts, priority: a.priority, latched: a.latched ?? false,
            shelvedUntil: shelvedNow ? shelved[incident] : nil)
        alertOrder.append(id)
        openAlert[incident] = id
        alertCounts["\(kind)|\(severity)", default: 0] += 1
        metrics?.alert(kind: kind, severity: severity)
        if alertOrder.count > 20_000 {
            for old in alertOrder.prefix(5_000) { alerts.removeValue(forKey: old) }
            alertOrder.removeFirst(5_000)
        }
        for action in pendingActions.removeValue(forKey: id) ?? [] { applyAction(action) }
    }

    /// Appends to the alarm journal, keeping `journalDays` of it (and of the failures).
    private func addToJournal(_ entry: AlarmRecord) {
        journal.append(entry)
        let horizon = entry.time - Self.journalDays * 86_400_000
        if journal.count > 1_000, let first = journal.first, first.time < horizon - 86_400_000 {
            journal.removeAll { $0.time < horizon }
            failureFinder.dropEvents(before: horizon)
        }
    }

    /// Clears open SPC alerts whose last violation is older than `spcQuietMillis` before `now` (record time).
    private func expireQuietSPC(now: Int64) {
        guard now - lastExpiry > 10_000 else { return }
        lastExpiry = now
        for (incident, id) in openAlert where incident.contains("|spc|") {
            // Records with a priority come from the pipeline's alarm management, which says when they return to
            // normal; only older records need clearing here.
            guard var a = alerts[id], a.priority == nil, a.status == "raised", now - a.lastMillis > Self.spcQuietMillis
            else { continue }
            a.status = "cleared"
            a.clearedBy = "no violation for 10 min"
            a.clearedTs = Timestamp.format(a.lastMillis + Self.spcQuietMillis)
            alerts[id] = a
            openAlert.removeValue(forKey: incident)
        }
    }

    /// An operator's acknowledge or clear, as recorded on the `alert-actions` topic.
    private func applyAction(_ action: AlertActionRecord) {
        let (alertID, verb, actionID) = (action.alert, action.action, action.id)
        guard !appliedActions.contains(actionID) else { return }
        guard var alert = alerts[alertID] else {
            pendingActions[alertID, default: []].append(action)
            return
        }
        appliedActions.insert(actionID)
        let who = action.by
        let ts = action.ts
        switch verb {
        case "acknowledge":
            if alert.acknowledgedBy == nil {
                alert.acknowledgedBy = who
                alert.acknowledgedTs = ts
            }
        case "clear":
            if alert.status == "raised" {
                alert.status = "cleared"
                alert.clearedBy = who
                alert.clearedTs = ts
                openAlert = openAlert.filter { $0.value != alertID }
            }
        case "shelve":
            guard let until = action.until.flatMap(Timestamp.parse) else { return }
            alert.shelvedUntil = until
            alert.shelvedBy = who
            shelved["\(alert.machine)|\(alert.kind)|\(alert.variable ?? "")"] = until
        default: return
        }
        alerts[alertID] = alert
    }

    /// Checks an operator action before it is recorded: the alert must exist and be in a state the action applies to.
    func check(action verb: String, alert id: String) throws {
        guard let alert = alerts[id] else { throw APIError.notFound("no alert '\(id)'") }
        switch verb {
        case "acknowledge":
            if let by = alert.acknowledgedBy {
                throw APIError(
                    .conflict, "alert '\(id)' was already acknowledged by \(by) at \(alert.acknowledgedTs ?? "?")")
            }
        case "clear":
            guard alert.status == "raised" else {
                throw APIError(.conflict, "alert '\(id)' is already cleared (by \(alert.clearedBy ?? "?"))")
            }
        case "shelve":
            guard alert.status == "raised" else {
                throw APIError(
                    .conflict, "alert '\(id)' is not active (cleared by \(alert.clearedBy ?? "?")): nothing to shelve")
            }
            if let until = alert.shelvedUntil, until > Self.wallMillis() {
                throw APIError(
                    .conflict, "alert '\(id)' is shelved by \(alert.shelvedBy ?? "?") until \(Timestamp.format(until))")
            }
        default: throw APIError.badRequest("unknown alert action '\(verb)'")
        }
    }

    /// Records an action made through this server at once (its record on the bus applies again as a no-op).
    func record(action: AlertActionRecord) { applyAction(action) }

    static func figures(_ recent: some Collection<UInt8>) -> (
        precision: Double?, recall: Double?, f1: Double?, count: Int
    ) {
        var tp = 0, fp = 0, fn = 0
        for c in recent {
            switch c {
            case 0: tp += 1
            case 1: fp += 1
            case 3: fn += 1
            default: break
            }
        }
        let precision = tp + fp > 0 ? Double(tp) / Double(tp + fp) : nil
        let recall = tp + fn > 0 ? Double(tp) / Double(tp + fn) : nil
        var f1: Double?
        if let p = precision, let r = recall { f1 = p + r > 0 ? 2 * p * r / (p + r) : 0 }
        return (precision, recall, f1, recent.count)
    }
}

/// The last few thousand end-to-end latencies, for percentiles on the dashboard.
struct LatencyWindow: Sendable {
    private var values: [Double] = []
    mutating func add(_ v: Double) {
        values.append(v)
        if values.count > 6_000 { values.removeFirst(1_000) }
    }
    /// The percentiles `ps` (0...1) from one sort; nil when empty.
    func percentiles(_ ps: [Double]) -> [Double]? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return ps.map { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * $0))] }
    }
}
