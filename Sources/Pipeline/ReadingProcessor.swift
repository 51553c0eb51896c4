import Analytics
import Bus
import Foundation
import Learn
import Optimizer
import Plant

/// Turns reading records into predictions, alerts, KPIs and dead letters, keeping per-machine state.
///
/// Deterministic: the same records after the same state give the same outputs, which is what lets a restarted worker
/// rebuild its state from a checkpoint by replaying input. CPU-bound and synchronous; the worker drives it.
public struct ReadingProcessor: Sendable {
    public let settings: PipelineSettings
    let validator: ReadingValidator
    let derived: [(name: String, expression: FeatureExpression)]
    let variableNames: [String]
    /// The variables with a control chart (the config's `spc`, true unless set false).
    let charted: Set<String>
    /// The chart tests that raise alarms, for variables whose config names them (else every test).
    let spcRules: [String: Set<String>]
    /// Per variable, the machine states after which its chart's limits are estimated anew.
    let spcRestart: [String: Set<String>]
    /// Per variable, the parts per subgroup of an X-bar chart (absent: individuals).
    let spcSubgroup: [String: Int]
    /// Per variable, the parts its limits are estimated from (absent: the settings' `spcBaseline`).
    let spcBaselineParts: [String: Int]
    var scorer: Scorer?
    var scratch: Scorer.Scratch?
    /// A "fails within" model that drives the failure alarm in place of the main model's risk (which keeps driving
    /// predictions and recommendations): `run --alarm-model`.
    var forecaster: Scorer?
    var forecastScratch: Scorer.Scratch?
    /// An anomaly detector in production instead of a classifier (processes without failure labels).
    var detector: (detector: any AnomalyDetector, label: String)?
    var machines: [String: MachineTracker] = [:]
    /// Setpoint recommendations from the production model, when the process has something to optimize.
    var recommender: Recommender?
    /// Why the production model cannot drive recommendations (logged by the worker), if it cannot.
    public private(set) var recommenderProblem: String?
    /// Apply recommendations without an operator.
    public var closedLoop: Bool

    public init(settings: PipelineSettings) throws {
        self.settings = settings
        self.validator = ReadingValidator(config: settings.process)
        self.variableNames = settings.process.variables.map(\.name)
        self.charted = Set(settings.process.variables.filter(\.spc).map(\.name))
        self.spcRules = Dictionary(
            uniqueKeysWithValues: settings.process.variables.compactMap { v in v.spcRules.map { (v.name, Set($0)) } })
        self.spcBaselineParts = settings.process.variables.reduce(into: [:]) { $0[$1.name] = $1.spcBaseline }
        self.spcSubgroup = Dictionary(
            uniqueKeysWithValues: settings.process.variables.filter { $0.spcSubgroup > 1 }.map {
                ($0.name, $0.spcSubgroup)
            })
        self.spcRestart = Dictionary(
            uniqueKeysWithValues: settings.process.variables.filter { !$0.spcRestartAfter.isEmpty }.map {
                ($0.name, $0.spcRestartAfter)
            })
        self.closedLoop = settings.closedLoop
        let names = variableNames
        self.derived = try settings.process.features.derived.map {
            ($0.name, try FeatureExpression($0.expression, variables: names))
        }
    }

    /// Uses a "fails within" model of the registry for the failure alarm from now on.
    public mutating func use(forecaster file: ModelFile, name: String, version: Int) throws {
        guard file.description.history?.horizon != nil, file.description.task == .binary else {
            throw LearnError(
                "\(name) v\(version) is not a \"fails within\" model: the failure alarm takes one trained with `train --task failure_within`"
            )
        }
        let s = try Scorer(name: name, version: version, file: file)
        forecaster = s
        forecastScratch = s.makeScratch()
    }

    /// The alarm model's label ("lead@v1"), if any.
    public var forecasterLabel: String? { forecaster?.label }

    /// The model label in use ("failure@v3"), if any.
    public var modelLabel: String? { scorer?.label ?? detector?.label }

    /// Uses a registry model from now on (between records: no reading is scored twice or by half a model).
    public mutating func use(model file: ModelFile, name: String, version: Int) throws {
        if let d = file.description.anomalyDetector {
            let missing = d.variables.filter { !variableNames.contains($0) }
            guard missing.isEmpty else {
                throw LearnError(
                    "detector \(name) v\(version) reads \(missing.joined(separator: ", ")), which the process config does not declare"
                )
            }
            detector = (d, "\(name)@v\(version)")
            recommender = nil
            recommenderProblem =
                "no setpoint recommendations: \(name)@v\(version) is an anomaly detector, not a failure-risk model"
            scorer = nil
            scratch = nil
            return
        }
        detector = nil
        let s = try Scorer(name: name, version: version, file: file)
        scorer = s
        scratch = s.makeScratch()
        do {
            recommender = try Recommender(file: file, label: s.label, process: settings.process)
            recommenderProblem = nil
        } catch {
            recommender = nil
            recommenderProblem = "no setpoint recommendations from \(s.label): \(error)"
        }
    }

    /// Processes one input record; appends its outputs (always exactly one prediction or one dead letter, plus any
    /// alerts and KPI records).
    public mutating func process(
        value: [UInt8], source: SourcePosition, now: Int64, into out: inout [PipelineOutput],
        events: inout ProcessorEvents
    ) {
        let reading: Reading
        do {
            reading = try ReadingDecoder.decode(value)
            try validator.validate(reading, now: now)
        } catch {
            deadLetter(
                value: value, reason: error.reason.rawValue, message: error.message, source: source, now: now,
                into: &out)
            events.deadLetters[error.reason.rawValue, default: 0] += 1
            return
        }
        if let last = machines[reading.machine]?.lastTimestamp,
            reading.timestamp < last - settings.allowedLatenessMilliseconds
        {
            deadLetter(
                value: value, reason: "too_late",
                message:
                    "ts \(Timestamp.format(reading.timestamp)) is \((last - reading.timestamp) / 1000) s older than the machine's newest reading (allowed lateness \(settings.allowedLatenessMilliseconds / 1000) s)",
                source: source, now: now, into: &out)
            events.deadLetters["too_late", default: 0] += 1
            return
        }
        // The machine's state is changed in place in the dictionary (a copy would copy all its windows per reading).
        var all = machines
        machines = [:]  // `all` is now the only reference: changed in place below, no copy
        track(
            reading, source: source, now: now, into: &out, events: &events,
            tracker: &all[reading.machine, default: MachineTracker()])
        machines = all
    }

    private mutating func track(
        _ reading: Reading, source: SourcePosition, now: Int64, into out: inout [PipelineOutput],
        events: inout ProcessorEvents,
        tracker: inout MachineTracker
    ) {
        let key = Array(reading.machine.utf8)
        // OEE: time since the previous reading counts for the previous state.
        let duration = tracker.lastTimestamp.map { min(max(0, reading.timestamp - $0), 3_600_000) } ?? 0
        let previousState = tracker.lastState ?? reading.state.rawValue
        tracker.hour.add(
            at: reading.timestamp, state: previousState, duration: duration, good: reading.good, scrap: reading.scrap)
        tracker.shift.add(
            at: reading.timestamp, state: previousState, duration: duration, good: reading.good, scrap: reading.scrap)
        tracker.lastTimestamp = max(tracker.lastTimestamp ?? reading.timestamp, reading.timestamp)
        let seenBefore = tracker.lastState != nil
        tracker.lastState = reading.state.rawValue
        tracker.readings += 1
        if reading.state != .running {
            tracker.runningSince = nil
            for (variable, states) in spcRestart where states.contains(reading.state.rawValue) {
                tracker.spc[variable] = nil
            }
            // Not evaluated while the machine does not run: the alarms return to normal (suppressed by state) or
            // their off-delay runs.
            for key in (tracker.alarms ?? [:]).keys.sorted() {
                let alarmClass = settings.alarms[Self.alarmClassName(key)]
                let byState = alarmClass.suppressInStates.contains(reading.state.rawValue)
                updateAlarm(
                    key, condition: { _ in false },
                    suppression: byState
                        ? AlarmPoint.Suppression("machine \(reading.state.rawValue)", clearsActive: true) : nil,
                    severity: "info", reading: reading, tracker: &tracker, source: source, into: &out,
                    events: &events, message: { _ in "" }, evidence: { _ in })
            }
        } else if tracker.runningSince == nil {
            tracker.runningSince =
                seenBefore && previousState != "running" ? reading.timestamp : .min
        }

        var risk: Double?
        var forecast: Double?
        var estimate: Double?
        var anomaly: (ratio: Double, alarm: Bool, top: String?)?
        if reading.state == .running {
            for m in reading.values {
                var w = tracker.windows[m.name] ?? []
                w.append(m.value)
                if w.count > settings.window { w.removeFirst(w.count - settings.window) }
                tracker.windows[m.name] = w
                tracker.ewma[m.name] = tracker.ewma[m.name].map { 0.3 * m.value + 0.7 * $0 } ?? m.value
                if charted.contains(m.name) {
                    checkSPC(
                        variable: m.name, value: m.value, reading: reading, tracker: &tracker, source: source,
                        into: &out, events: &events)
                }
            }
            if let scorer, scratch != nil {
                let value = scorer.score(reading, scratch: &scratch!, window: &tracker.history)
                if scorer.regression { estimate = value } else { risk = value }
            }
            if let forecaster, forecastScratch != nil {
                forecast = forecaster.score(reading, scratch: &forecastScratch!, window: &tracker.forecastWindow)
            }
            if let (d, label) = detector {
                let values = d.variables.map { reading[$0] ?? .nan }
                if values.allSatisfy(\.isFinite) {
                    let result = d.check(values)
                    let top = result.contributions.indices.max { result.contributions[$0] < result.contributions[$1] }
                        .map { d.variables[$0] }
                    anomaly = (result.score / d.limit, result.alarm, top)
                    anomalyAlert(
                        result.alarm, ratio: result.score / d.limit, top: top, label: label, reading: reading,
                        tracker: &tracker, source: source, into: &out, events: &events)
                }
            }
        }
        tracker.lastRisk = risk ?? tracker.lastRisk
        if recommender != nil {
            recommend(reading, tracker: &tracker, now: now, into: &out, events: &events)
        }
        if let forecast {
            riskAlert(
                forecast, forecast: true, reading: reading, tracker: &tracker, source: source, into: &out,
                events: &events)
        } else if let risk, forecaster == nil {
            riskAlert(
                risk, forecast: false, reading: reading, tracker: &tracker, source: source, into: &out, events: &events)
        }

        var p = JSONObject()
        p.string("machine", reading.machine)
        p.string("ts", Timestamp.format(reading.timestamp))
        p.integer("seq", reading.sequence)
        p.string("state", reading.state.rawValue)
        p.string("product", reading.product)
        p.number("risk", risk)
        p.raw(
            "failure",
            risk.map { Array(($0 >= (scorer?.threshold ?? 0.5) ? "true" : "false").utf8) } ?? Array("null".utf8))
        p.string("model", risk == nil && anomaly == nil && estimate == nil ? nil : modelLabel)
        if let estimate, let scorer {
            p.object("estimate") { e in
                e.string("target", scorer.target)
                e.number("value", estimate)
            }
        }
        if risk != nil, let scorer, !scorer.modeLabels.isEmpty, let output = scratch?.output {
            p.object("modes") { m in
                for (i, label) in scorer.modeLabels.enumerated() { m.number(label, Double(output[i + 1])) }
            }
        }
        if let forecast, let forecaster {
            p.object("forecast") { f in
                f.number("probability", forecast)
                f.number("horizon_min", forecaster.horizon)
                f.string("model", forecaster.label)
            }
        }
        if let anomaly {
            p.object("anomaly") { a in
                a.number("score", anomaly.ratio)  // 1 is the alarm limit
                a.bool("alarm", anomaly.alarm)
                a.string("top_variable", anomaly.top)
            }
        }
        p.object("features") { f in
            let inputs = variableNames.map { reading[$0] ?? .nan }
            for d in derived { f.number(d.name, d.expression.evaluate(inputs)) }
            for (name, value) in tracker.ewma.sorted(by: { $0.key < $1.key }) { f.number(name + "_ewma", value) }
        }
        p.raw("source", JSONObject.source(source))
        out.append(
            PipelineOutput(
                topic: settings.predictionsTopic, key: key, value: p.finished(), timestamp: reading.timestamp))
        events.predictions += 1
        if let risk { events.lastRisk[reading.machine] = risk }

        if tracker.readings % settings.kpiEvery == 0 {
            var k = JSONObject()
            k.string("machine", reading.machine)
            k.string("ts", Timestamp.format(reading.timestamp))
            for (name, window) in [("hour", tracker.hour), ("shift", tracker.shift)] {
                let f = window.total(now: reading.timestamp).figures(
                    idealCycleSeconds: settings.process.idealCycleSeconds)
                k.object(name) { o in
                    o.number("availability", f.availability)
                    o.number("performance", f.performance)
                    o.number("quality", f.quality)
                    o.number("oee", f.oee)
                    o.integer("good", Int64(f.goodUnits))
                    o.integer("scrap", Int64(f.scrapUnits))
                    var reasons: [UInt8] = [UInt8(ascii: "[")]
                    for (i, d) in f.downtime.enumerated() {
                        if i > 0 { reasons.append(UInt8(ascii: ",")) }
                        var r = JSONObject()
                        r.string("reason", d.reason)
                        r.number("seconds", d.seconds)
                        reasons += r.finished()
                    }
                    o.raw("downtime", reasons + [UInt8(ascii: "]")])
                }
                if name == "hour" { events.oee[reading.machine] = f.oee }
            }
            k.raw("source", JSONObject.source(source))
            out.append(
                PipelineOutput(topic: settings.kpisTopic, key: key, value: k.finished(), timestamp: reading.timestamp))
        }
        machines[reading.machine] = tracker
    }

    private func deadLetter(
        value: [UInt8], reason: String, message: String, source: SourcePosition, now: Int64,
        into out: inout [PipelineOutput]
    ) {
        var d = JSONObject()
        d.string("reason", reason)
        d.string("error", message)
        if let text = String(validating: value, as: UTF8.self) {
            d.string("original", text)
        } else {
            d.string("original_base64", Data(value).base64EncodedString())
        }
        d.string("ts", Timestamp.format(now))
        d.raw("source", JSONObject.source(source))
        out.append(PipelineOutput(topic: settings.deadLettersTopic, key: [], value: d.finished(), timestamp: now))
    }

    private mutating func checkSPC(
        variable: String, value: Double, reading: Reading, tracker: inout MachineTracker, source: SourcePosition,
        into out: inout [PipelineOutput], events: inout ProcessorEvents
    ) {
        var s = tracker.spc[variable] ?? MachineTracker.VariableSPC()
        defer { tracker.spc[variable] = s }
        // With subgroups, the chart takes the mean of each n consecutive parts (an X-bar chart).
        var value = value
        if let n = spcSubgroup[variable], n > 1 {
            var group = s.subgroup ?? []
            group.append(value)
            guard group.count >= n else {
                s.subgroup = group
                return
            }
            value = group.reduce(0, +) / Double(group.count)
            s.subgroup = []
        }
        guard let limits = s.limits else {
            s.baseline.append(value)
            let needed = max(
                20, (spcBaselineParts[variable] ?? settings.spcBaseline) / max(1, spcSubgroup[variable] ?? 1))
            if s.baseline.count >= needed, let l = ControlLimits.individuals(s.baseline), l.sigma > 0 {
                s.limits = l
                s.checker = RuleChecker(limits: l)
                s.ewma = EWMAChart(limits: l)
                s.cusum = CUSUMChart(limits: l)
                s.baseline = []
            }
            return
        }
        var violations = s.checker!.add(value).map(\.rawValue)
        if s.ewma!.add(value) { violations.append("ewma") }
        if s.cusum!.add(value) { violations.append("cusum") }
        if let allowed = spcRules[variable] { violations.removeAll { !allowed.contains($0) } }
        // One alarm per out-of-control episode of the variable: raised at the first violation, back to normal once
        // the class's off-delay passed without one.
        updateAlarm(
            "spc/" + variable, variable: variable, condition: { _ in !violations.isEmpty },
            severity: violations.contains("beyond_3_sigma") ? "warning" : "info", reading: reading, tracker: &tracker,
            source: source, into: &out, events: &events,
            message: { event in
                switch event {
                case .raised:
                    "\(variable) out of control on \(reading.machine): \(value) (\(violations.joined(separator: ", ")))"
                default: "\(variable) back in control on \(reading.machine)"
                }
            }
        ) { e in
            e.number("value", value)
            e.number("center", limits.center)
            e.number("lcl", limits.lower)
            e.number("ucl", limits.upper)
            e.raw("rules", Array(("[" + violations.map { "\"\($0)\"" }.joined(separator: ",") + "]").utf8))
        }
    }

    /// The failure-risk alarm: the model's risk against the class's limit and deadband. The raise says what is
    /// expected (a breakdown, within the model's horizon for a "fails within" model), why (the inputs that raise the
    /// risk most) and what to do (the optimizer's latest advice for the machine, when it has some).
    private mutating func riskAlert(
        _ risk: Double, forecast: Bool, reading: Reading, tracker: inout MachineTracker, source: SourcePosition,
        into out: inout [PipelineOutput],
        events: inout ProcessorEvents
    ) {
        let alarmClass = settings.alarms["failure_risk"]
        let limit = alarmClass.limit ?? 0.5
        // The most likely failure mode, for multi-label models.
        var mode: String?
        if !forecast, let scorer, let output = scratch?.output, !scorer.modeLabels.isEmpty {
            let best = scorer.modeLabels.indices.max { output[$0 + 1] < output[$1 + 1] }!
            mode = scorer.modeLabels[best]
        }
        let percent = Int((risk * 100).rounded())
        var drivers: [Scorer.Contribution] = []
        let raising =
            !(tracker.alarms?["failure_risk"]?.isActive ?? false) && risk >= limit
        if raising, forecast, let forecaster, forecastScratch != nil {
            drivers = forecaster.contributions(&forecastScratch!, top: 3)
        } else if raising, let scorer, scratch != nil {
            drivers = scorer.contributions(&scratch!, top: 3)
        }
        let model = forecast ? forecaster : scorer
        let horizon = model?.horizon
        let advice = tracker.lastAdvice
        updateAlarm(
            "failure_risk", condition: { $0.condition(value: risk, limit: limit, deadband: alarmClass.deadband) },
            severity: risk >= 0.8 ? "critical" : "warning", reading: reading, tracker: &tracker, source: source,
            into: &out, events: &events,
            message: { event in
                guard case .raised = event else { return "failure risk back to \(percent) % on \(reading.machine)" }
                var text =
                    horizon.map {
                        "breakdown expected within \(Self.minutes($0)) on \(reading.machine) (risk \(percent) %)"
                    }
                    ?? "failure risk \(percent) % on \(reading.machine)"
                if let mode { text += ", mostly \(mode)" }
                if !drivers.isEmpty {
                    text +=
                        "; raised most by "
                        + drivers.map {
                            "\($0.name) \(Self.short($0.value)) (+\(Int(($0.effect * 100).rounded())) pts)"
                        }
                        .joined(separator: ", ")
                }
                text += " (model \(model?.label ?? "?"))"
                if let advice { text += ". Advice: \(advice)" }
                return text
            }
        ) { e in
            e.number("risk", risk)
            e.number("limit", limit)
            if let horizon { e.number("horizon_min", horizon) }
            if let mode { e.string("mode", mode) }
            for m in reading.values { e.number(m.name, m.value) }
            if !drivers.isEmpty {
                var list: [UInt8] = [UInt8(ascii: "[")]
                for (i, d) in drivers.enumerated() {
                    if i > 0 { list.append(UInt8(ascii: ",")) }
                    var c = JSONObject()
                    c.string("input", d.name)
                    c.number("value", d.value)
                    c.number("effect", d.effect)
                    list += c.finished()
                }
                e.raw("contributions", list + [UInt8(ascii: "]")])
            }
        }
    }

    static func minutes(_ m: Double) -> String { m == m.rounded() ? "\(Int(m)) min" : "\(m) min" }
    static func short(_ v: Double) -> String { abs(v) >= 100 ? String(Int(v.rounded())) : String(format: "%.3g", v) }

    /// Raises an anomaly alert after 3 alarming readings in a row and clears it after 10 quiet ones (no floods), then
    /// conditions it as its class says.
    private mutating func anomalyAlert(
        _ alarm: Bool, ratio: Double, top: String?, label: String, reading: Reading, tracker: inout MachineTracker,
        source: SourcePosition, into out: inout [PipelineOutput], events: inout ProcessorEvents
    ) {
        tracker.anomalyRun = alarm ? max(1, tracker.anomalyRun + 1) : min(-1, tracker.anomalyRun - 1)
        let run = tracker.anomalyRun
        updateAlarm(
            "anomaly", variable: top, condition: { $0.isActive ? run > -10 : run >= 3 },
            severity: ratio >= 2 ? "critical" : "warning", reading: reading, tracker: &tracker, source: source,
            into: &out, events: &events,
            message: { event in
                guard case .raised = event else { return "operation back to normal on \(reading.machine)" }
                return
                    "unusual operation on \(reading.machine) (score \(String(format: "%.1f", ratio)) x the limit, model \(label)), mostly \(top ?? "?")"
            }
        ) { e in
            e.number("score", ratio)
            if let top { e.string("top_variable", top) }
        }
    }

    /// "spc/torque_nm" -> "spc".
    static func alarmClassName(_ key: String) -> String {
        key.firstIndex(of: "/").map { String(key[..<$0]) } ?? key
    }

    /// Feeds one alarm condition of the machine (key: the class, "/variable" for per-variable classes) through its
    /// alarm point and writes what happened to the alerts topic: a raise, a return to normal, or an alarm that
    /// suppression kept from the operator (counted, with its reason: none is lost). Start-up and first-out
    /// suppression are decided here; suppression by machine state where the machine stops running.
    private func updateAlarm(
        _ key: String, variable: String? = nil, condition: (AlarmPoint) -> Bool,
        suppression stateSuppression: AlarmPoint.Suppression? = nil, severity: String, reading: Reading,
        tracker: inout MachineTracker, source: SourcePosition, into out: inout [PipelineOutput],
        events: inout ProcessorEvents, message: (AlarmPoint.Event) -> String, evidence: (inout JSONObject) -> Void
    ) {
        let className = Self.alarmClassName(key)
        let alarmClass = settings.alarms[className]
        // The variable a record names: the key's ("spc/torque_nm"), else the one named when the alarm was raised
        // (an anomaly's top variable), so its return to normal names the same condition.
        let keyVariable = key.firstIndex(of: "/").map { String(key[key.index(after: $0)...]) }
        let variable = keyVariable ?? tracker.alarmVariables?[key] ?? variable
        var alarms = tracker.alarms ?? [:]
        var point = alarms[key] ?? AlarmPoint()
        var suppression = stateSuppression
        let t = reading.timestamp
        if suppression == nil, let since = tracker.runningSince, since != .min,
            Double(t - since) < alarmClass.startupSeconds * 1000
        {
            suppression = .init("starting up (\((t - since) / 1000) s after it resumed)", clearsActive: true)
        }
        if suppression == nil,
            let first = alarmClass.suppressedBy.first(where: { other in
                alarms.contains { Self.alarmClassName($0.key) == other && $0.value.isActive }
            })
        {
            suppression = .init("first-out: \(first) active on the machine", clearsActive: false)
        }
        let event = point.update(condition: condition(point), at: t, class: alarmClass, suppression: suppression)
        alarms[key] = point
        tracker.alarms = alarms
        guard let event else { return }

        let status: String
        let raisedAt: Int64
        var reason: String?
        if keyVariable == nil {
            if case .raised = event, let named = variable {
                var names = tracker.alarmVariables ?? [:]
                names[key] = named
                tracker.alarmVariables = names
            } else if case .cleared = event {
                tracker.alarmVariables?[key] = nil
            }
        }
        switch event {
        case .raised(let at):
            (status, raisedAt) = ("raised", at)
        case .cleared(let raised, _, let why):
            (status, raisedAt, reason) = ("cleared", raised, why)
        case .suppressed(let at, let why):
            (status, raisedAt, reason) = ("suppressed", at, why)
        }
        let kind = className
        var a = JSONObject()
        a.string(
            "id",
            "\(reading.machine)/\(kind)/\(variable.map { $0 + "/" } ?? "")\(raisedAt)\(status == "suppressed" ? "/suppressed" : "")"
        )
        a.string("machine", reading.machine)
        a.string("ts", Timestamp.format(t))
        a.string("kind", kind)
        a.string("severity", severity)
        a.string("priority", alarmClass.priority.rawValue)
        a.string("status", status)
        if let variable { a.string("variable", variable) }
        if status == "cleared" { a.string("raised_at", Timestamp.format(raisedAt)) }
        if let reason { a.string("reason", reason) }
        if alarmClass.latched { a.bool("latched", true) }
        a.string(
            "message",
            status == "suppressed"
                ? "\(message(.raised(at: t))) [suppressed: \(reason ?? "?")]"
                : message(event)
                    + (status == "cleared" && reason != nil ? " (\(reason!))" : ""))
        if status != "cleared" { a.object("evidence", evidence) }
        a.raw("source", JSONObject.source(source))
        out.append(
            PipelineOutput(
                topic: settings.alertsTopic, key: Array(reading.machine.utf8), value: a.finished(), timestamp: t))
        switch status {
        case "raised": events.alerts += 1
        case "suppressed": events.suppressedAlarms += 1
        default: break
        }
    }

    // MARK: - Checkpoints

    /// The state of the machines whose readings live in `partitions` of the input topic.
    func snapshot(machinesOf partitions: Set<Int>, partitionCount: Int) throws -> [String: MachineTracker] {
        machines.filter { partitions.contains(partitionOf(machine: $0.key, count: partitionCount)) }
    }

    mutating func restore(_ state: [String: MachineTracker]) {
        machines.merge(state) { $1 }
    }

    mutating func forget(machinesOf partitions: Set<Int>, partitionCount: Int) {
        machines = machines.filter { !partitions.contains(partitionOf(machine: $0.key, count: partitionCount)) }
    }

    func partitionOf(machine: String, count: Int) -> Int {
        Partitioner.partition(forKey: Array(machine.utf8), partitions: count)
    }
}

/// What processing produced, for live figures and metrics.
public struct ProcessorEvents: Sendable {
    public var predictions = 0
    public var recommendations = 0
    /// Setpoint changes closed loop made.
    public var setpointChanges = 0
    /// Why the optimizer held when something was wrong (a model that is not finite, a solve that did not settle),
    /// by kind, with the latest message.
    public var optimizerProblems: [String: Int] = [:]
    public var lastOptimizerProblem: String?
    public var deadLetters: [String: Int] = [:]
    public var alerts = 0
    /// Alarms that suppression kept from the operator (written to the alerts topic with status "suppressed").
    public var suppressedAlarms = 0
    public var lastRisk: [String: Double] = [:]
    public var oee: [String: Double] = [:]

    public init() {}
}
