import Analytics
import Bus
import Foundation
import Learn
import Optimizer
import Plant
import Primitives
import Topics

/// Turns reading records into predictions, alerts, KPIs and dead letters, keeping per-machine state.
///
/// Deterministic: the same records after the same state give the same outputs, which is what lets a restarted worker
/// rebuild its state from a checkpoint by replaying input. CPU-bound and synchronous; the worker drives it.
public struct ReadingProcessor: Sendable {
    public let settings: PipelineSettings
    let validator: ReadingValidator
    /// The process's machines, variables and products, which the decoder gives as these Strings.
    let known: KnownTexts
    let derived: [(name: String, expression: FeatureExpression)]
    let variableNames: [String]
    /// The process's variables by name, and their running means' feature names (`NAME_ewma`) as JSON in that order.
    let meanVariables: [String]
    let meanKeys: EncodedKeys
    /// The derived features' names as JSON, in `derived`'s order.
    let derivedKeys: EncodedKeys
    /// The control charts by variable (the config's `spc`, true unless set false).
    let charts: [String: Chart]
    /// The same, by the variable's place in the process config (a reading sends its variables in that order: looked
    /// up by position when the name there matches, by name otherwise).
    let chartsInOrder: [Chart?]
    /// The alarm classes the processor raises, resolved once (a lookup by name copied the class at every alarm
    /// point, several times per reading).
    let alarmClasses: (failureRisk: AlarmClass, spc: AlarmClass, anomaly: AlarmClass)
    var scorer: Scorer?
    var scratch: Scorer.Scratch?
    /// A "fails within" model that drives the failure alarm in place of the main model's risk (which keeps driving
    /// predictions and recommendations): `run --alarm-model`.
    var forecaster: Scorer?
    var forecastScratch: Scorer.Scratch?
    /// A challenger scored beside the production model on every running reading (its own topic; never alarms or
    /// setpoints): the registry's `challenger` alias, or `run --shadow`.
    var shadow: Scorer?
    var shadowScratch: Scorer.Scratch?
    /// The end of the challenger's training data (its snapshot's time range): readings up to it are not scored in
    /// shadow, so its evidence is on readings it never saw (a worker replaying history would otherwise judge it on its
    /// own training data).
    var shadowAfter: Int64?
    /// An anomaly detector in production instead of a classifier (processes without failure labels).
    var detector: (detector: any AnomalyDetector, label: String)?
    /// The process's machines by their place in `validator.knownMachines` (the validator finds it by the id's bytes;
    /// a dictionary keyed by the id hashed its 16 bytes and more per reading: 1.3 % of the worker in a profile). A
    /// machine whose id is not plain ASCII, or not in the config (a checkpoint's), is kept in `otherMachines`.
    var machineIDs: KnownTexts { validator.knownMachines }
    /// Each of `machineIDs` as a record key (the prediction's key made from the id per reading was an allocation).
    let machineKeys: [[UInt8]]
    var trackers: [MachineTracker?]
    var otherMachines: [String: MachineTracker] = [:]
    /// Setpoint recommendations from the production model, when the process has something to optimize.
    var recommender: Recommender?
    /// Why the production model cannot drive recommendations (logged by the worker), if it cannot.
    public private(set) var recommenderProblem: String?
    /// Apply recommendations without an operator.
    public var closedLoop: Bool
    /// The last reading decoded, whose lists the next one is decoded into (`ReadingDecoder.decode(_:known:into:)`).
    var decoded = Self.noReading
    static let noReading = Reading(machine: "", timestamp: 0, values: [])

    public init(settings: PipelineSettings) throws {
        self.settings = settings
        self.validator = ReadingValidator(config: settings.process)
        self.known = KnownTexts(
            settings.process.machineIDs + settings.process.variables.map(\.name) + settings.process.products.map(\.name)
        )
        let ids = validator.knownMachines
        self.machineKeys = (0..<ids.count).map { Array(ids[$0].utf8) }
        self.trackers = Array(repeating: nil, count: ids.count)
        self.variableNames = settings.process.variables.map(\.name)
        self.meanVariables = variableNames.sorted()
        self.meanKeys = EncodedKeys(meanVariables.map { $0 + "_ewma" })
        let baseline = settings.spcBaseline
        let charts = Dictionary(
            uniqueKeysWithValues: settings.process.variables.filter(\.spc).map {
                ($0.name, Chart($0, baseline: baseline))
            })
        self.charts = charts
        self.chartsInOrder = settings.process.variables.map { charts[$0.name] }
        self.closedLoop = settings.closedLoop
        self.alarmClasses = (
            Self.alarmClass(named: "failure_risk", in: settings.alarms),
            Self.alarmClass(named: "spc", in: settings.alarms), Self.alarmClass(named: "anomaly", in: settings.alarms)
        )
        let names = variableNames
        self.derived = try settings.process.features.derived.map {
            ($0.name, try FeatureExpression($0.expression, variables: names))
        }
        self.derivedKeys = EncodedKeys(derived.map(\.name))
    }

    /// Uses a "fails within" model of the registry for the failure alarm from now on.
    public mutating func use(forecaster file: ModelFile, name: String, version: Int) throws {
        guard file.description.history?.horizon != nil, file.description.task == .binary else {
            throw LearnError(
                "\(name) v\(version) is not a \"fails within\" model: the failure alarm takes one trained with `train --task failure_within`"
            )
        }
        let s = try Scorer(name: name, version: version, file: file, variables: variableNames)
        forecaster = s
        forecastScratch = s.makeScratch()
    }

    /// Scores a challenger in shadow from now on (nil: stops). Only models the pipeline can score as it scores the
    /// champion: trained by Millstream, with their preprocessing.
    public mutating func use(shadow file: ModelFile?, name: String, version: Int) throws {
        guard let file else {
            shadow = nil
            shadowScratch = nil
            return
        }
        guard file.description.anomalyDetector == nil else {
            throw LearnError("\(name) v\(version) is an anomaly detector: shadow scoring compares failure-risk models")
        }
        let s = try Scorer(name: name, version: version, file: file, variables: variableNames)
        shadow = s
        shadowScratch = s.makeScratch()
        shadowAfter = file.description.metadata.dataset?.to.flatMap(Timestamp.parse)
    }

    /// The challenger in shadow ("failure@v4"), if any.
    public var shadowLabel: String? { shadow?.label }

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
        let s = try Scorer(name: name, version: version, file: file, variables: variableNames)
        scorer = s
        scratch = s.makeScratch()
        do {
            recommender = try Recommender(file: file, label: s.label, settings: settings)
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
        // Decoded into the last reading's lists (`decoded`), given back at the end. Swapped in and out: taken with an
        // assignment, the reading was copied (its lists and texts retained, then released) twice a reading.
        var reading = Self.noReading
        swap(&reading, &decoded)
        defer { swap(&reading, &decoded) }
        let place: Int?
        do {
            try ReadingDecoder.decode(value, known: known, into: &reading)
            place = try validator.validate(reading, now: now)
        } catch {
            deadLetter(
                value: value, reason: error.reason.rawValue, message: error.message, source: source, now: now,
                into: &out)
            events.deadLetters[error.reason.rawValue, default: 0] += 1
            return
        }
        // The machine's state is changed in place (a copy would copy all its windows per reading).
        if let k = place {
            var all = trackers
            trackers = []  // `all` is now the only reference: changed in place below, no copy
            if all[k] == nil { all[k] = MachineTracker() }
            accept(
                reading, key: machineKeys[k], value: value, source: source, now: now, into: &out, events: &events,
                tracker: &all[k]!)
            trackers = all
        } else {
            var all = otherMachines
            otherMachines = [:]
            accept(
                reading, key: Array(reading.machine.utf8), value: value, source: source, now: now, into: &out,
                events: &events, tracker: &all[reading.machine, default: MachineTracker()])
            otherMachines = all
        }
    }

    /// A valid reading: dead-lettered when later than the machine's allowed lateness, tracked otherwise. (Checked
    /// here, on the tracker in place: reading its last timestamp out of the dictionary copied the whole tracker.)
    private mutating func accept(
        _ reading: Reading, key: [UInt8], value: [UInt8], source: SourcePosition, now: Int64,
        into out: inout [PipelineOutput],
        events: inout ProcessorEvents, tracker: inout MachineTracker
    ) {
        if let last = tracker.lastTimestamp, reading.timestamp < last - settings.allowedLatenessMilliseconds {
            deadLetter(
                value: value, reason: "too_late",
                message:
                    "ts \(Timestamp.format(reading.timestamp)) is \((last - reading.timestamp) / 1000) s older than the machine's newest reading (allowed lateness \(settings.allowedLatenessMilliseconds / 1000) s)",
                source: source, now: now, into: &out)
            events.deadLetters["too_late", default: 0] += 1
            return
        }
        track(reading, key: key, source: source, now: now, into: &out, events: &events, tracker: &tracker)
    }

    /// What the models made of one running reading.
    struct Scores {
        var risk: Double?
        var forecast: Double?
        var estimate: Double?
        var anomaly: (ratio: Double, alarm: Bool, top: String?)?
        /// The challenger's output (a risk, or an estimate for a regression) when one is in shadow.
        var shadow: Double?
    }

    private mutating func track(
        _ reading: Reading, key: [UInt8], source: SourcePosition, now: Int64, into out: inout [PipelineOutput],
        events: inout ProcessorEvents,
        tracker: inout MachineTracker
    ) {
        updateState(reading, source: source, into: &out, events: &events, tracker: &tracker)
        let scores =
            reading.state == .running
            ? score(reading, source: source, into: &out, events: &events, tracker: &tracker) : Scores()
        tracker.lastRisk = scores.risk ?? tracker.lastRisk
        recommender?.recommend(
            reading, tracker: &tracker, now: now, closedLoop: closedLoop, into: &out, events: &events)
        if let forecast = scores.forecast {
            riskAlert(
                forecast, forecast: true, reading: reading, tracker: &tracker, source: source, into: &out,
                events: &events)
        } else if let risk = scores.risk, forecaster == nil {
            riskAlert(
                risk, forecast: false, reading: reading, tracker: &tracker, source: source, into: &out, events: &events)
        }
        writePrediction(reading, key: key, scores, tracker: tracker, source: source, into: &out)
        if let value = scores.shadow, let shadow {
            writeShadow(reading, value, shadow: shadow, scores, source: source, into: &out)
            events.shadowPredictions += 1
        }
        events.predictions += 1
        if tracker.readings % settings.kpiEvery == 0 {
            writeKPIs(reading, tracker: tracker, source: source, into: &out, events: &events)
        }
    }

    /// Each machine's latest risk, into `events.lastRisk`: the worker calls this once a batch (set per reading, it
    /// hashed the machine's id per reading, 0.7 % of the worker in a profile).
    public func noteRisks(into events: inout ProcessorEvents) {
        for k in trackers.indices {
            if let risk = trackers[k]?.lastRisk { events.lastRisk[machineIDs[k]] = risk }
        }
        for (id, tracker) in otherMachines {
            if let risk = tracker.lastRisk { events.lastRisk[id] = risk }
        }
    }

    /// OEE time (the time since the previous reading counts for the previous state), the machine's state, and its
    /// alarms while it does not run: they return to normal (suppressed by state) or their off-delay runs.
    private func updateState(
        _ reading: Reading, source: SourcePosition, into out: inout [PipelineOutput], events: inout ProcessorEvents,
        tracker: inout MachineTracker
    ) {
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
        guard reading.state != .running else {
            if tracker.runningSince == nil {
                tracker.runningSince = seenBefore && previousState != "running" ? reading.timestamp : .min
            }
            return
        }
        tracker.runningSince = nil
        for case let chart? in chartsInOrder where chart.restartAfter.contains(reading.state) {
            tracker.spc[chart.variable] = nil
        }
        // Only points away from normal are fed the absent condition (`AlarmPoint.isNormal`): looking up every point's
        // class per reading of a stopped machine was 3 % of the worker.
        let notNormal = tracker.alarms?.compactMap { $0.value.isNormal ? nil : $0.key } ?? []
        for key in notNormal.sorted() {
            let alarmClass = Self.alarmClass(named: String(Self.alarmClassName(key)), in: settings.alarms)
            let byState = alarmClass.suppressInStates.contains(reading.state.rawValue)
            updateAlarm(
                key, class: alarmClass, condition: { _ in false },
                suppression: byState
                    ? AlarmPoint.Suppression("machine \(reading.state.rawValue)", clearsActive: true) : nil,
                severity: "info", reading: reading, tracker: &tracker, source: source, into: &out,
                events: &events,
                message: { _ in
                    "\(key.replacingOccurrences(of: "/", with: " ")) on \(reading.machine) back to normal"
                }, evidence: { AlertEvidence() })
        }
    }

    /// A running reading: the running means and SPC, then the failure model, the alarm model and the detector.
    private mutating func score(
        _ reading: Reading, source: SourcePosition, into out: inout [PipelineOutput], events: inout ProcessorEvents,
        tracker: inout MachineTracker
    ) -> Scores {
        var scores = Scores()
        for (k, m) in reading.values.enumerated() {
            tracker.ewma.add(m.value, for: m.name, at: k)
            let chart = k < variableNames.count && variableNames[k] == m.name ? chartsInOrder[k] : charts[m.name]
            if let chart {
                checkSPC(
                    chart, value: m.value, reading: reading, tracker: &tracker, source: source, into: &out,
                    events: &events)
            }
        }
        if let scorer, scratch != nil {
            let value = scorer.score(reading, scratch: &scratch!, window: &tracker.history)
            if scorer.regression { scores.estimate = value } else { scores.risk = value }
        }
        if let shadow, shadowScratch != nil, reading.timestamp > shadowAfter ?? .min {
            scores.shadow = shadow.score(reading, scratch: &shadowScratch!, window: &tracker.shadowWindow)
        }
        if let forecaster, forecastScratch != nil {
            scores.forecast = forecaster.score(reading, scratch: &forecastScratch!, window: &tracker.forecastWindow)
        }
        scores.anomaly = checkDetector(reading, source: source, into: &out, events: &events, tracker: &tracker)
        return scores
    }

    /// The anomaly detector on the reading (with the machine's previous samples for a dynamic one), and its alarm.
    private func checkDetector(
        _ reading: Reading, source: SourcePosition, into out: inout [PipelineOutput], events: inout ProcessorEvents,
        tracker: inout MachineTracker
    ) -> (ratio: Double, alarm: Bool, top: String?)? {
        guard let (d, label) = detector else { return nil }
        let values = d.variables.map { reading[$0] ?? .nan }
        guard values.allSatisfy(\.isFinite) else { return nil }
        var sample = values
        if d.lags > 0 {
            // The machine's latest samples, oldest first, taken as the batch path takes a series.
            var recent = (tracker.detectorHistory ?? []) + [values]
            if recent.count > d.lags + 1 { recent.removeFirst(recent.count - d.lags - 1) }
            sample = d.sample(recent, at: recent.count - 1)
            tracker.detectorHistory = recent
        }
        let result = d.check(sample)
        let top = result.contributions.indices.max { result.contributions[$0] < result.contributions[$1] }
            .map { d.variables[$0] }
        anomalyAlert(
            result.alarm, ratio: result.score / d.limit, top: top, label: label, reading: reading, tracker: &tracker,
            source: source, into: &out, events: &events)
        return (result.score / d.limit, result.alarm, top)
    }

    /// The reading's record on the predictions topic.
    ///
    /// Not inlined: inlined into `track`, whose processor and tracker are inout, the optimizer copied both (the whole
    /// processor, and 728 bytes of tracker) around the alarm calls before it, 14 % of the samples in the profile of
    /// the build that kept machines by place (`track` itself had only gained a parameter). Called, it borrows them.
    @inline(never)
    private func writePrediction(
        _ reading: Reading, key: [UInt8], _ scores: Scores, tracker: MachineTracker, source: SourcePosition,
        into out: inout [PipelineOutput]
    ) {
        var modes: NamedValues?
        if scores.risk != nil, let scorer, !scorer.modeLabels.isEmpty, let output = scratch?.output {
            modes = NamedValues(scorer.modeLabels.enumerated().map { ($1, Double(output[$0 + 1])) })
        }
        // Written from the reading and the scores (a `PredictionRecord` made first copied every feature's name into
        // it per reading); the bytes are those of the record, as `PredictionRecord.encode` says.
        let value = PredictionRecord.encode(
            machine: reading.machine, timestamp: reading.timestamp, seq: reading.sequence,
            state: reading.state.rawValue, product: reading.product, risk: scores.risk,
            failure: scores.risk.map { $0 >= (scorer?.threshold ?? 0.5) },
            model: scores.risk == nil && scores.anomaly == nil && scores.estimate == nil ? nil : modelLabel,
            horizonMinutes: scores.risk == nil ? nil : scorer?.horizon,
            estimate: scores.estimate.flatMap { value in scorer.map { .init(target: $0.target, value: value) } },
            modes: modes,
            forecast: scores.forecast.flatMap { p in
                forecaster.map { .init(probability: p, horizonMinutes: $0.horizon, model: $0.label) }
            },
            anomaly: scores.anomaly.map { .init(score: $0.ratio, alarm: $0.alarm, topVariable: $0.top) },
            source: source
        ) { features in
            writeFeatures(reading, means: tracker.ewma, into: &features)
        }
        out.append(
            PipelineOutput(
                topic: settings.predictionsTopic, key: key, value: value,
                timestamp: reading.timestamp))
    }

    /// The prediction's features: the derived ones, then the running means (`NAME_ewma`) by name. When a machine's
    /// means are those of the process's variables, their names are the ones encoded once (sorting the means and
    /// joining the names per reading was 2 % of the worker in a profile); a machine that also sends undeclared
    /// variables has its names joined.
    ///
    /// The lists are read through buffer pointers: iterated as arrays, every element (a name, an expression's
    /// program, an encoded key) was retained and released per reading, 1.7 % of the worker in a profile.
    private func writeFeatures(_ reading: Reading, means: RunningMeans, into features: inout ObjectWriter) {
        if !derived.isEmpty {
            withUnsafeTemporaryAllocation(of: Double.self, capacity: variableNames.count) { inputs in
                variableNames.withUnsafeBufferPointer { names in
                    for i in 0..<names.count { inputs[i] = reading.value(names[i], at: i) ?? .nan }
                }
                derived.withUnsafeBufferPointer { derived in
                    for j in 0..<derived.count {
                        features.number(derivedKeys, at: j, derived[j].expression.evaluate(UnsafeBufferPointer(inputs)))
                    }
                }
            }
        }
        let written = means.values.withUnsafeBufferPointer { values in
            means.names.withUnsafeBufferPointer { names in
                means.byName.withUnsafeBufferPointer { byName in
                    meanVariables.withUnsafeBufferPointer { known in
                        guard byName.count == known.count else { return false }
                        for j in 0..<byName.count where names[byName[j]] != known[j] { return false }
                        for j in 0..<byName.count { features.number(meanKeys, at: j, values[byName[j]]) }
                        return true
                    }
                }
            }
        }
        if written { return }
        for i in means.byName { features.number(named: means.names[i] + "_ewma", means.values[i]) }
    }

    /// The challenger's record on the shadow topic, with the champion's decision on the same reading.
    private func writeShadow(
        _ reading: Reading, _ value: Double, shadow: Scorer, _ scores: Scores, source: SourcePosition,
        into out: inout [PipelineOutput]
    ) {
        let championValue = scores.risk ?? scores.estimate
        let record = ShadowPredictionRecord(
            machine: reading.machine, ts: Timestamp.format(reading.timestamp), seq: reading.sequence,
            model: shadow.label, risk: shadow.regression ? nil : value,
            failure: shadow.regression ? nil : value >= shadow.threshold, estimate: shadow.regression ? value : nil,
            champion: championValue == nil ? nil : modelLabel, championRisk: scores.risk,
            championFailure: scores.risk.map { $0 >= (scorer?.threshold ?? 0.5) }, championEstimate: scores.estimate,
            horizonMinutes: shadow.horizon, source: source)
        out.append(
            PipelineOutput(
                topic: settings.shadowTopic, key: Array(reading.machine.utf8), value: record.encoded(),
                timestamp: reading.timestamp))
    }

    /// The machine's OEE over the hour and the shift, on the KPIs topic.
    private func writeKPIs(
        _ reading: Reading, tracker: MachineTracker, source: SourcePosition, into out: inout [PipelineOutput],
        events: inout ProcessorEvents
    ) {
        func figures(_ window: RollingOEE) -> KPIRecord.Figures {
            let f = window.total(now: reading.timestamp).figures(idealCycleSeconds: settings.process.idealCycleSeconds)
            return KPIRecord.Figures(
                availability: f.availability, performance: f.performance, quality: f.quality, oee: f.oee,
                good: f.goodUnits, scrap: f.scrapUnits,
                downtime: f.downtime.map { .init(reason: $0.reason, seconds: $0.seconds) })
        }
        let kpi = KPIRecord(
            machine: reading.machine, ts: Timestamp.format(reading.timestamp), hour: figures(tracker.hour),
            shift: figures(tracker.shift), source: source)
        events.oee[reading.machine] = kpi.hour.oee
        out.append(
            PipelineOutput(
                topic: settings.kpisTopic, key: Array(reading.machine.utf8), value: kpi.encoded(),
                timestamp: reading.timestamp))
    }

    private func deadLetter(
        value: [UInt8], reason: String, message: String, source: SourcePosition, now: Int64,
        into out: inout [PipelineOutput]
    ) {
        let text = String(validating: value, as: UTF8.self)
        let d = DeadLetterRecord(
            reason: reason, error: message, original: text,
            originalBase64: text == nil ? Data(value).base64EncodedString() : nil, ts: Timestamp.format(now),
            source: source)
        out.append(PipelineOutput(topic: settings.deadLettersTopic, key: [], value: d.encoded(), timestamp: now))
    }

    /// One variable's control chart as the config asks for it. A class: the processor hands a chart around per value
    /// charted, and a struct of four lists and texts was four retains and releases each time.
    final class Chart: Sendable {
        let variable: String
        /// The tests that raise alarms (nil: every test).
        let tests: Set<String>?
        /// Machine states after which the limits are estimated anew (a list of states: a set of their names hashed
        /// the state of every reading of a stopped machine, per chart).
        let restartAfter: [MachineState]
        /// Parts per subgroup (1: an individuals chart).
        let subgroup: Int
        /// Chart points the limits are estimated from.
        let baselinePoints: Int
        /// The chart's alarm condition ("spc/torque_nm").
        let alarmKey: String

        init(_ v: ProcessVariable, baseline: Int) {
            variable = v.name
            tests = v.spcRules.map(Set.init)
            restartAfter = MachineState.allCases.filter { v.spcRestartAfter.contains($0.rawValue) }
            subgroup = max(1, v.spcSubgroup)
            baselinePoints = max(20, (v.spcBaseline ?? baseline) / subgroup)
            alarmKey = "spc/" + v.name
        }
    }

    /// Charts a part's value in the variable's state, changed in place (taken out of the machine's dictionary and
    /// put back, its windows were copied on every change): nil while a subgroup or the baseline fills, else the
    /// point charted, the limits and the tests it violates that the chart runs.
    private static func chartPoint(
        _ value: Double, _ chart: Chart, state s: inout MachineTracker.VariableSPC
    ) -> (value: Double, limits: ControlLimits, violations: [String])? {
        // With subgroups, the chart takes the mean of each n consecutive parts (an X-bar chart).
        var value = value
        if chart.subgroup > 1 {
            if s.subgroup == nil { s.subgroup = [] }
            s.subgroup!.append(value)
            guard s.subgroup!.count >= chart.subgroup else { return nil }
            value = s.subgroup!.reduce(0, +) / Double(s.subgroup!.count)
            s.subgroup!.removeAll(keepingCapacity: true)  // (a new list per subgroup was an allocation)
        }
        guard let limits = s.limits else {
            s.baseline.append(value)
            if s.baseline.count >= chart.baselinePoints, let l = ControlLimits.individuals(s.baseline), l.sigma > 0 {
                s.limits = l
                s.checker = RuleChecker(limits: l)
                s.ewma = EWMAChart(limits: l)
                s.cusum = CUSUMChart(limits: l)
                s.baseline = []
            }
            return nil
        }
        var violations = s.checker!.add(value).map(\.rawValue)
        if s.ewma!.add(value) { violations.append("ewma") }
        if s.cusum!.add(value) { violations.append("cusum") }
        if let allowed = chart.tests { violations.removeAll { !allowed.contains($0) } }
        return (value, limits, violations)
    }

    private func checkSPC(
        _ chart: Chart, value: Double, reading: Reading, tracker: inout MachineTracker, source: SourcePosition,
        into out: inout [PipelineOutput], events: inout ProcessorEvents
    ) {
        let variable = chart.variable
        guard
            let (value, limits, violations) = Self.chartPoint(
                value, chart, state: &tracker.spc[variable, default: MachineTracker.VariableSPC()])
        else { return }
        // One alarm per out-of-control episode of the variable: raised at the first violation, back to normal once
        // the class's off-delay passed without one.
        updateAlarm(
            chart.alarmKey, class: alarmClasses.spc, variable: variable, condition: { _ in !violations.isEmpty },
            severity: violations.contains("beyond_3_sigma") ? "warning" : "info", reading: reading, tracker: &tracker,
            source: source, into: &out, events: &events,
            message: { event in
                switch event {
                case .raised:
                    "\(variable) out of control on \(reading.machine): \(value) (\(violations.joined(separator: ", ")))"
                default: "\(variable) back in control on \(reading.machine)"
                }
            }
        ) {
            AlertEvidence(
                numbers: ["value": value, "center": limits.center, "lcl": limits.lower, "ucl": limits.upper],
                rules: violations)
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
        let alarmClass = alarmClasses.failureRisk
        let limit = alarmClass.limit ?? 0.5
        guard
            let event = alarmEvent(
                "failure_risk", class: alarmClass,
                condition: { $0.condition(value: risk, limit: limit, deadband: alarmClass.deadband) },
                at: reading.timestamp, tracker: &tracker)
        else { return }
        // The most likely failure mode, for multi-label models.
        var mode: String?
        if !forecast, let scorer, let output = scratch?.output, !scorer.modeLabels.isEmpty {
            let best = scorer.modeLabels.indices.max { output[$0 + 1] < output[$1 + 1] }!
            mode = scorer.modeLabels[best]
        }
        let percent = Int((risk * 100).rounded())
        // Why: asked of the model only for a raise (or one that suppression kept back), one model call per input.
        var drivers: [Scorer.Contribution] = []
        if case .cleared = event {
        } else if forecast, let forecaster, forecastScratch != nil {
            drivers = forecaster.contributions(&forecastScratch!, top: 3)
        } else if !forecast, let scorer, scratch != nil {
            drivers = scorer.contributions(&scratch!, top: 3)
        }
        let model = forecast ? forecaster : scorer
        let horizon = model?.horizon
        let advice = tracker.lastAdvice
        writeAlarm(
            event, key: "failure_risk", class: alarmClass, severity: risk >= 0.8 ? "critical" : "warning",
            reading: reading, tracker: &tracker, source: source, into: &out, events: &events,
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
        ) {
            var numbers: NamedValues = ["risk": risk, "limit": limit]
            if let horizon { numbers.append("horizon_min", horizon) }
            for m in reading.values { numbers.append(m.name, m.value) }
            return AlertEvidence(
                numbers: numbers, mode: mode,
                contributions: drivers.isEmpty
                    ? nil : drivers.map { .init(input: $0.name, value: $0.value, effect: $0.effect) })
        }
    }

    static func minutes(_ m: Double) -> String { m == m.rounded() ? "\(Int(m)) min" : "\(m) min" }
    static func short(_ v: Double) -> String { abs(v) >= 100 ? String(Int(v.rounded())) : String(format: "%.3g", v) }

    /// Raises an anomaly alert after 3 alarming readings in a row and clears it after 10 quiet ones (no floods), then
    /// conditions it as its class says.
    private func anomalyAlert(
        _ alarm: Bool, ratio: Double, top: String?, label: String, reading: Reading, tracker: inout MachineTracker,
        source: SourcePosition, into out: inout [PipelineOutput], events: inout ProcessorEvents
    ) {
        tracker.anomalyRun = alarm ? max(1, tracker.anomalyRun + 1) : min(-1, tracker.anomalyRun - 1)
        let run = tracker.anomalyRun
        updateAlarm(
            "anomaly", class: alarmClasses.anomaly, variable: top, condition: { $0.isActive ? run > -10 : run >= 3 },
            severity: ratio >= 2 ? "critical" : "warning", reading: reading, tracker: &tracker, source: source,
            into: &out, events: &events,
            message: { event in
                guard case .raised = event else { return "operation back to normal on \(reading.machine)" }
                return
                    "unusual operation on \(reading.machine) (score \(String(format: "%.1f", ratio)) x the limit, model \(label)), mostly \(top ?? "?")"
            }
        ) {
            AlertEvidence(numbers: ["score": ratio], topVariable: top)
        }
    }

    /// The class in force for alarms named `name` (named so on its records, whatever its entry says).
    static func alarmClass(named name: String, in settings: AlarmSettings) -> AlarmClass {
        var c = settings[name]
        c.name = name
        return c
    }

    /// "spc/torque_nm" -> "spc".
    static func alarmClassName(_ key: String) -> Substring {
        // By bytes: `prefix(while:)` over Characters broke graphemes per key, several keys per reading (2 % of the
        // worker in a profile).
        guard let slash = key.utf8.firstIndex(of: UInt8(ascii: "/")) else { return key[...] }
        return key[..<slash]
    }

    /// Feeds one alarm condition of the machine (key: the class, "/variable" for per-variable classes) through its
    /// alarm point and writes what happened to the alerts topic.
    private func updateAlarm(
        _ key: String, class alarmClass: AlarmClass, variable: String? = nil, condition: (AlarmPoint) -> Bool,
        suppression: AlarmPoint.Suppression? = nil, severity: String, reading: Reading,
        tracker: inout MachineTracker, source: SourcePosition, into out: inout [PipelineOutput],
        events: inout ProcessorEvents, message: (AlarmPoint.Event) -> String, evidence: () -> AlertEvidence
    ) {
        guard
            let event = alarmEvent(
                key, class: alarmClass, condition: condition, suppression: suppression, at: reading.timestamp,
                tracker: &tracker)
        else { return }
        writeAlarm(
            event, key: key, class: alarmClass, variable: variable, severity: severity, reading: reading,
            tracker: &tracker, source: source, into: &out, events: &events, message: message, evidence: evidence)
    }

    /// What a reading at `t` does to one alarm point of the machine: start-up and first-out suppression are decided
    /// here, suppression by machine state by the caller (where the machine stops running).
    private func alarmEvent(
        _ key: String, class alarmClass: AlarmClass, condition: (AlarmPoint) -> Bool,
        suppression stateSuppression: AlarmPoint.Suppression? = nil, at t: Int64, tracker: inout MachineTracker
    ) -> AlarmPoint.Event? {
        var suppression = stateSuppression
        if suppression == nil, let since = tracker.runningSince, since != .min,
            Double(t - since) < alarmClass.startupSeconds * 1000
        {
            suppression = .init("starting up (\((t - since) / 1000) s after it resumed)", clearsActive: true)
        }
        if suppression == nil, let alarms = tracker.alarms,
            let first = alarmClass.suppressedBy.first(where: { other in
                alarms.contains { Self.alarmClassName($0.key) == other && $0.value.isActive }
            })
        {
            suppression = .init("first-out: \(first) active on the machine", clearsActive: false)
        }
        // Changed in place: the machine's alarms are not copied per reading. One lookup of the point (two, one to
        // read its condition and one to update it, hashed the key twice per alarm point and reading).
        if tracker.alarms == nil { tracker.alarms = [:] }
        func update(_ point: inout AlarmPoint) -> AlarmPoint.Event? {
            point.update(condition: condition(point), at: t, class: alarmClass, suppression: suppression)
        }
        return update(&tracker.alarms![key, default: AlarmPoint()])
    }

    /// Writes an alarm point's event to the alerts topic: a raise, a return to normal, or an alarm that suppression
    /// kept from the operator (counted, with its reason: none is lost).
    private func writeAlarm(
        _ event: AlarmPoint.Event, key: String, class alarmClass: AlarmClass, variable: String? = nil, severity: String,
        reading: Reading, tracker: inout MachineTracker, source: SourcePosition, into out: inout [PipelineOutput],
        events: inout ProcessorEvents, message: (AlarmPoint.Event) -> String, evidence: () -> AlertEvidence
    ) {
        let t = reading.timestamp
        // The variable a record names: the key's ("spc/torque_nm"), else the one named when the alarm was raised
        // (an anomaly's top variable), so its return to normal names the same condition.
        let keyVariable = key.firstIndex(of: "/").map { String(key[key.index(after: $0)...]) }
        let variable = keyVariable ?? tracker.alarmVariables?[key] ?? variable
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
        let kind = alarmClass.name
        let text =
            status == "suppressed"
            ? "\(message(.raised(at: t))) [suppressed: \(reason ?? "?")]"
            : message(event) + (status == "cleared" && reason != nil ? " (\(reason!))" : "")
        let alert = AlertRecord(
            id:
                "\(reading.machine)/\(kind)/\(variable.map { $0 + "/" } ?? "")\(raisedAt)\(status == "suppressed" ? "/suppressed" : "")",
            machine: reading.machine, ts: Timestamp.format(t), kind: kind, severity: severity,
            priority: alarmClass.priority.rawValue, status: status, variable: variable,
            raisedAt: status == "cleared" ? Timestamp.format(raisedAt) : nil, reason: reason,
            latched: alarmClass.latched ? true : nil, message: text, evidence: status != "cleared" ? evidence() : nil,
            source: source)
        out.append(
            PipelineOutput(
                topic: settings.alertsTopic, key: Array(reading.machine.utf8), value: alert.encoded(), timestamp: t))
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
        for (machine, tracker) in state {
            if let k = machineIDs.index(of: machine) { trackers[k] = tracker } else { otherMachines[machine] = tracker }
        }
    }

    mutating func forget(machinesOf partitions: Set<Int>, partitionCount: Int) {
        for k in trackers.indices where partitions.contains(partitionOf(machine: machineIDs[k], count: partitionCount))
        {
            trackers[k] = nil
        }
        otherMachines = otherMachines.filter {
            !partitions.contains(partitionOf(machine: $0.key, count: partitionCount))
        }
    }

    /// Every machine's state, by id.
    var machines: [String: MachineTracker] {
        var all = otherMachines
        for (k, tracker) in trackers.enumerated() { if let tracker { all[machineIDs[k]] = tracker } }
        return all
    }

    func partitionOf(machine: String, count: Int) -> Int {
        Partitioner.partition(forKey: Array(machine.utf8), partitions: count)
    }
}

/// What processing produced, for live figures and metrics.
public struct ProcessorEvents: Sendable {
    public var predictions = 0
    /// Records a challenger wrote in shadow.
    public var shadowPredictions = 0
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
    /// Each machine's latest failure risk (the worker notes them once a batch: `ReadingProcessor.noteRisks`).
    public var lastRisk: [String: Double] = [:]
    public var oee: [String: Double] = [:]

    public init() {}
}
