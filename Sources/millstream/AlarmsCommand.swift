import Analytics
import ArgumentParser
import Bus
import Buses
import Foundation
import Learn
import Pipeline
import Plant
import Registry
import Topics

extension Millstream {
    struct Alarms: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Alarm-system figures (ISA-18.2, EEMUA 191) and the failure forecast's lead time.",
            subcommands: [Report.self, Evaluate.self])
    }
}

/// Options both alarm commands share: how the figures are counted.
struct AlarmFigureOptions: ParsableArguments {
    @Option(help: "Machines one operator watches (default: the process config's alarms.machines_per_operator).")
    var machinesPerOperator: Int?
    @Option(
        help: "The failure forecast's horizon in minutes: a failure-risk alarm is right if a failure follows within it."
    )
    var horizon: Double = 30
    @Option(help: "A failure counts as warned when a failure-risk alarm was active at least this many minutes before.")
    var minimumLead: Double = 10

    func options(_ process: ProcessConfig) -> AlarmKPIs.Options {
        var o = AlarmKPIs.Options()
        o.machinesPerOperator = machinesPerOperator ?? process.alarms.machinesPerOperator
        o.horizonMinutes = horizon
        o.minimumLeadMinutes = minimumLead
        return o
    }

    func validate() throws {
        if let machinesPerOperator, machinesPerOperator < 1 {
            throw ValidationError("--machines-per-operator must be at least 1")
        }
        guard horizon > 0, minimumLead >= 0 else {
            throw ValidationError("--horizon must be above 0 and --minimum-lead at least 0")
        }
    }
}

extension Millstream.Alarms {
    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The alarm-system KPIs of the alerts on a bus, against the failures in its readings.",
            discussion: """
                Reads the alerts topic (the alarm journal the pipeline writes) and the readings topic from the start. \
                Failures are the running readings after which a machine went down; with --labels (the simulator's \
                labels topic) they also carry their failure modes, so the forecast's recall is split into modes that \
                build up over time (tool wear, overstrain, heat dissipation) and the others. Prints alarms per \
                operator per 10 minutes (mean and peak), the share of 10-minute windows in flood, chattering, \
                fleeting, standing and stale alarms, the top 10, suppressed alarms by reason, and the failure-risk \
                alarms' precision, recall and median lead time.
                """)
        @Option(help: "Process config (machines per operator); default: the built-in milling process.") var config:
            String?
        @Option(help: "Only alarms and failures at or after this time (ISO 8601).") var since: String?
        @Option(help: "Only alarms and failures before this time (ISO 8601).") var until: String?
        @Option(help: "A labels topic with failure modes (the simulator's `labels`).") var labels: String?
        @Option(help: "The alerts topic.") var alerts = "alerts"
        @Option(help: "The readings topic (failures, machines and the period).") var readings = "readings"
        @OptionGroup var figures: AlarmFigureOptions
        @OptionGroup var busOptions: BusOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let process = try loadProcessConfig(config)
            let from = try since.map { try Millstream.Dataset.Snapshot.time($0, "--since") }
            let to = try until.map { try Millstream.Dataset.Snapshot.time($0, "--until") }
            let bus = try openBus(busOptions.bus, readOnly: true)
            var modes = LabelJoin()
            if let labels {
                _ = try await Millstream.Dataset.Snapshot.readAll(bus, topic: labels, busText: busOptions.bus) { r in
                    guard let label = try? Topics.labels.decode(r.value), let m = label.modes, !m.isEmpty else {
                        return
                    }
                    modes.add(label)
                }
            }
            var failures = FailureFinder()
            _ = try await Millstream.Dataset.Snapshot.readAll(bus, topic: readings, busText: busOptions.bus) { r in
                guard let reading = try? ReadingDecoder.decode(r.value) else { return }
                failures.add(reading) {
                    modes.label(machine: $0.machine, seq: $0.sequence ?? -1, millis: $0.timestamp)?.modes?.map {
                        $0.lowercased()
                    } ?? []
                }
            }
            var records: [AlarmRecord] = []
            var unreadable = 0
            if try await bus.topicNames().contains(alerts) {
                _ = try await Millstream.Dataset.Snapshot.readAll(bus, topic: alerts, busText: busOptions.bus) { r in
                    if let record = AlarmRecord(json: r.value) { records.append(record) } else { unreadable += 1 }
                }
            }
            guard let first = failures.first, let last = failures.last else {
                throw CommandError("\(readings) on \(busOptions.bus) holds no readings: nothing to report on")
            }
            let start = from ?? first
            let end = to ?? (last + 1)
            guard start < end else { throw ValidationError("--since must be before --until") }
            let kpis = AlarmKPIs.compute(
                records, failures: failures.events, machines: failures.machines.sorted(), start: start, end: end,
                options: figures.options(process))
            if output.json {
                var object = kpis.json
                object["bus"] = busOptions.bus
                object["unreadable_alerts"] = unreadable
                print(Terminal.jsonLine(object))
            } else {
                print(kpis.text(title: "alarms on \(busOptions.bus)", options: figures.options(process)))
                if unreadable > 0 { print("(\(unreadable) records of \(alerts) were not alarms and were left out)") }
            }
        }
    }
}

extension AlarmRecord {
    /// An alert record of the pipeline; nil for anything else.
    init?(json: [UInt8]) {
        guard let a = try? Topics.alerts.decode(json), let status = Status(rawValue: a.status),
            let time = Timestamp.parse(a.ts)
        else { return nil }
        self.init(
            machine: a.machine, kind: a.kind, variable: a.variable,
            priority: a.priority.flatMap(AlarmPriority.init(rawValue:)) ?? .low, status: status, time: time,
            raisedAt: a.raisedAt.flatMap(Timestamp.parse), reason: a.reason)
    }
}

extension AlarmKPIs {
    /// ISA-18.2's and EEMUA 191's targets for one operator.
    static let targets = (mean: 1.0, manageable: 2.0, floodPercent: 1.0)

    var json: [String: Any] { json(time: Timestamp.format) }

    func text(title: String, options: Options) -> String {
        func pct(_ x: Double?) -> String { x.map { String(format: "%.0f %%", $0 * 100) } ?? "-" }
        let hours = Double(end - start) / 3_600_000
        let reasons: [String] = suppressedByReason.map { "\($0.name) \($0.count)" }
        let suppressedReasons = reasons.isEmpty ? "" : " (\(reasons.joined(separator: ", ")))"
        var lines = [
            "\(title): \(Timestamp.format(start)) to \(Timestamp.format(end)) (\(String(format: "%.1f", hours)) h), \(machines) machines, \(operators) operator\(operators == 1 ? "" : "s") (\(options.machinesPerOperator) machines each)",
            "  alarms                     \(annunciated) ("
                + byPriority.map { "\($0.name) \($0.count)" }.joined(separator: ", ")
                + ")",
            String(
                format: "  per operator per 10 min    mean %.2f, peak %d   (ISA-18.2: about 1 acceptable, 2 at most)",
                meanPerOperatorPerWindow, peakPerOperatorPerWindow),
            String(
                format: "  windows in flood           %.2f %%   (more than %d in 10 min; target under 1 %%)",
                floodPercent, options.floodThreshold),
            "  chattering                 \(chatteringConditions)   (\(options.chatterCount) raises within \(Int(options.chatterSeconds)) s; target 0)",
            "  fleeting                   \(fleeting)   (back to normal within \(Int(options.fleetingSeconds)) s)",
            "  standing at the end        \(standing), stale (over \(Int(options.staleHours)) h) \(stale)",
            "  suppressed by design       \(suppressed)\(suppressedReasons)",
            "  shelved                    \(shelved)",
            String(format: "  top 10 conditions          %.0f %% of all alarms", topShare * 100),
        ]
        for t in top { lines.append("    \(t.count)  \(t.name)") }
        if let f = forecast {
            lines.append(
                "  failure-risk alarms        \(f.alarms), \(f.rightAlarms) followed by a failure within \(Int(options.horizonMinutes)) min: precision \(pct(f.precision))"
            )
            for g in f.groups {
                let label =
                    g.name == "build_up"
                    ? "modes that build up (twf, osf, hdf)"
                    : g.name == "other" ? "other modes (pwf, rnf)" : "failures (modes unknown)"
                lines.append(
                    "    \(label): \(g.failures), warned at least \(Int(options.minimumLeadMinutes)) min ahead \(g.warned): recall \(pct(g.recall)), median lead \(g.medianLeadMinutes.map { String(format: "%.0f min", $0) } ?? "-")"
                )
            }
            if !f.modes.isEmpty {
                lines.append(
                    "    by mode: " + f.modes.map { "\($0.name) \($0.warned)/\($0.failures)" }.joined(separator: ", "))
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension Millstream.Alarms {
    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The alarm system on the simulated plant: KPIs and lead time with and without alarm management.",
            discussion: """
                Trains the lead-time model as a plant would: `millstream train --task failure_within` on a history \
                of the plant's own running readings, failures found from the machine states (a separate seed, \
                seed + 1000). Then runs the pipeline's own processing (scoring with a window per machine, SPC, \
                alarm management) over a period of the plant on --seed and counts the alarms against the \
                simulator's failures and their modes: once with the process config's alarm classes, once with no \
                alarm management (every alarm raised on its first reading and cleared on the next, nothing \
                suppressed), the system a plant has before it rationalises its alarms. Prints both and the goal \
                (ISA-18.2 figures, and a forecast with precision of at least 50 % and recall of at least 60 % of \
                the failures that build up, at a median lead of at least 10 min).
                """)
        @Option(help: "Process config; default: the built-in milling process.") var config: String?
        @Option(help: "Machines.") var machines = 20
        @Option(help: "Hours of plant time evaluated.") var hours: Double = 24
        @Option(help: "The evaluated seed; the history is simulated on seed + 1000.") var seed: UInt64 = 1
        @Option(help: "Days of history the lead-time model learns from.") var historyDays: Double = 7
        @Option(help: "Plant profile: realistic or ai4i.") var profile = PlantProfile.realistic
        @Option(help: "The model's window: running readings per machine.") var window = 10
        @Option(help: "Window statistics, comma separated.") var windowStatistics = "last,mean,slope,ewma"
        @Option(help: "Hidden layers of the lead-time model, comma separated.") var layers = "32,32"
        @Option(help: "Maximum training epochs.") var epochs = 40
        @Option(
            help:
                "More options for `millstream train`, space separated (e.g. \"--dropout 0.2 --class-weight balanced\")."
        )
        var trainOptions: String?
        @Option(help: "Folder for the history and the model (default: a temporary one, removed after).") var work:
            String?
        @Option(help: "The baseline rule warns while the process runs less than this many K above the air.")
        var ruleDelta: Double = 9
        @Option(help: "... or the tool has more than this many minutes of wear.") var ruleWear: Double = 190
        @OptionGroup var figures: AlarmFigureOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard machines >= 1, hours > 0, historyDays > 0, window >= 1, epochs >= 1 else {
                throw ValidationError("--machines, --hours, --history-days, --window and --epochs must be positive")
            }
        }

        func run() async throws {
            let process = try loadProcessConfig(config)
            let options = figures.options(process)
            let folder = work ?? NSTemporaryDirectory() + "millstream-alarms-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { if work == nil { try? FileManager.default.removeItem(atPath: folder) } }
            let historyStart = Timestamp.parse("2026-01-01T00:00:00Z")!
            let start = historyStart + Int64(historyDays * 86_400_000)

            // 1-2. The plant's history (failures from the machine states), and the lead-time model trained from it.
            Terminal.error("history: \(machines) machines x \(Self.g(historyDays)) days on seed \(seed + 1000)")
            let lead = try LeadTimeTraining(
                process: process, profile: profile, machines: machines, seed: seed + 1000, start: historyStart,
                days: historyDays, horizon: figures.horizon, window: window, windowStatistics: windowStatistics,
                layers: layers, epochs: epochs, trainSeed: seed, folder: folder,
                extra: trainOptions?.split(separator: " ").map(String.init) ?? []
            ).run { Terminal.error($0) }
            let (version, trained, seconds, arguments) = (lead.version, lead.result, lead.seconds, lead.arguments)
            let collector = (rows: lead.rows, failureCount: lead.failures)
            let (file, _) = try ModelRegistry(root: folder + "/models").load(ModelReference("lead@v\(version.version)"))

            // 3. The pipeline's processing over the evaluated period, with and without alarm management.
            Terminal.error(
                "evaluate: \(machines) machines x \(Self.g(hours)) h on seed \(seed) (model trained in \(String(format: "%.1f", seconds)) s)"
            )
            let end = start + Int64(hours * 3_600_000)
            let (journals, failures) = try replay(
                process, model: file, version: version.version, start: start, end: end)
            let ids = Array(process.machineIDs.prefix(machines))
            let results = journals.map {
                AlarmKPIs.compute($0, failures: failures, machines: ids, start: start, end: end, options: options)
            }
            let report = Findings(
                collectorRows: collector.rows, collectorFailures: collector.failureCount, trained: trained,
                seconds: seconds, arguments: arguments, failures: failures.count, results: results)
            if output.json { printJSON(report, options: options) } else { printText(report, options: options) }
        }

        /// What the evaluation found, for printing.
        struct Findings {
            let collectorRows: Int
            let collectorFailures: Int
            let trained: TrainingResult
            let seconds: Double
            let arguments: [String]
            let failures: Int
            /// With alarm management, without, and the engineer's rule in place of the forecast.
            let results: [AlarmKPIs]
        }

        /// The evaluated period through the pipeline's processing, with and without alarm management, and the
        /// plant engineer's rule through the same conditioning as the forecast: warn while the process runs less
        /// than --rule-delta K above the air (heat dissipation fails below 8.6 K) or the tool has more than
        /// --rule-wear min of wear (overstrain and tool failures come with wear). Returns the three alarm journals and
        /// the failures.
        func replay(_ process: ProcessConfig, model file: ModelFile, version: Int, start: Int64, end: Int64) throws
            -> (journals: [[AlarmRecord]], failures: [FailureEvent])
        {
            var managed = PipelineSettings(process: process)
            var unmanaged = PipelineSettings(process: Self.everyChartTest(process))
            unmanaged.alarms = Self.unmanaged(process.alarms)
            managed.closedLoop = false
            var runs = [try ReadingProcessor(settings: managed), try ReadingProcessor(settings: unmanaged)]
            for i in runs.indices { try runs[i].use(model: file, name: "lead", version: version) }
            var rule = EngineerRule(riskClass: process.alarms["failure_risk"], delta: ruleDelta, wear: ruleWear)
            var journals: [[AlarmRecord]] = [[], []]
            var failures: [FailureEvent] = []
            var plant = try PlantSimulator(
                config: process, machines: machines, seed: seed, start: start, profile: profile)
            var out: [PipelineOutput] = []
            var events = ProcessorEvents()
            var offset: Int64 = 0
            while true {
                let s = plant.next()
                guard s.reading.timestamp < end else { break }
                if !s.failure.isEmpty {
                    failures.append(
                        FailureEvent(
                            machine: s.reading.machine, time: s.reading.timestamp,
                            modes: s.failure.names.map { $0.lowercased() }))
                }
                rule.add(s.reading)
                let value = ReadingEncoder.encode(s.reading)
                let source = SourcePosition(topic: "readings", partition: 0, offset: offset)
                offset += 1
                for i in runs.indices {
                    out.removeAll(keepingCapacity: true)
                    // An hour after the reading by the wall clock: scored and alarmed as live, no recommendations.
                    runs[i].process(
                        value: value, source: source, now: s.reading.timestamp + 3_600_000, into: &out,
                        events: &events)
                    for o in out where o.topic == managed.alertsTopic {
                        if let r = AlarmRecord(json: o.value) { journals[i].append(r) }
                    }
                }
            }
            return (journals + [rule.records], failures)
        }

        /// The plant engineer's rule as an alarm point per machine.
        struct EngineerRule {
            let riskClass: AlarmClass
            let delta: Double
            let wear: Double
            var point: [String: AlarmPoint] = [:]
            var runningSince: [String: Int64] = [:]
            var records: [AlarmRecord] = []

            mutating func add(_ r: Reading) {
                let event: AlarmPoint.Event?
                if r.state == .running {
                    if runningSince[r.machine] == nil { runningSince[r.machine] = r.timestamp }
                    let warm = Double(r.timestamp - runningSince[r.machine]!) >= riskClass.startupSeconds * 1000
                    let hot = (r["process_temp_k"] ?? .infinity) - (r["air_temp_k"] ?? 0) < delta
                    let worn = (r["tool_wear_min"] ?? 0) > wear
                    event = point[r.machine, default: AlarmPoint()].update(
                        condition: hot || worn, at: r.timestamp, class: riskClass,
                        suppression: warm ? nil : .init("starting up", clearsActive: true))
                } else {
                    runningSince[r.machine] = nil
                    event = point[r.machine, default: AlarmPoint()].update(
                        condition: false, at: r.timestamp, class: riskClass,
                        suppression: .init("machine \(r.state.rawValue)", clearsActive: true))
                }
                records += Evaluate.records(event, machine: r.machine, priority: riskClass.priority)
            }
        }

        func printJSON(_ report: Findings, options: AlarmKPIs.Options) {
            let results = report.results
            let goal = Self.goal(results[0])
            print(
                Terminal.jsonLine([
                    "seed": seed, "machines": machines, "hours": hours, "profile": profile.rawValue,
                    "history_days": historyDays, "history_rows": report.collectorRows,
                    "history_failures": report.collectorFailures,
                    "model": [
                        "train": "millstream train " + report.arguments.joined(separator: " "),
                        "seconds": report.seconds, "metrics": report.trained.testMetrics,
                    ],
                    "failures": report.failures, "managed": results[0].json, "unmanaged": results[1].json,
                    "rule": [
                        "what": "process - air < \(Self.g(ruleDelta)) K or tool wear > \(Self.g(ruleWear)) min",
                        "forecast": results[2].json["failure_forecast"] ?? NSNull(),
                    ],
                    "goal": goal.map { ["what": $0.what, "met": $0.met] },
                    "side_by_side": Self.sideBySide(results).map { row -> [String: Any] in
                        [
                            "figure": row.figure, "peer": row.peer, "ours": row.ours as Any? ?? NSNull(),
                            "theirs": row.theirs as Any? ?? NSNull(), "ratio": row.ratio as Any? ?? NSNull(),
                        ]
                    },
                ]))
        }

        func printText(_ report: Findings, options: AlarmKPIs.Options) {
            let results = report.results
            print(
                "lead-time model: \(report.collectorRows) running readings, \(report.collectorFailures) failures of seed \(seed + 1000); test "
                    + report.trained.testMetrics.sorted { $0.key < $1.key }.map {
                        "\($0.key) \(String(format: "%.3f", $0.value))"
                    }.joined(separator: ", "))
            print(results[0].text(title: "with alarm management", options: options))
            print(
                results[1].text(
                    title: "without alarm management (every chart test on every part, no conditioning)",
                    options: options))
            print(
                "the rule \"process - air < \(Self.g(ruleDelta)) K or tool wear > \(Self.g(ruleWear)) min\" in place of the forecast:"
            )
            let forecastLines = results[2].text(title: "", options: options).split(separator: "\n").drop {
                !$0.hasPrefix("  failure-risk")
            }
            print(forecastLines.joined(separator: "\n"))
            print("side by side (ours / the peer's, same run):")
            for row in Self.sideBySide(results) {
                func f(_ x: Double?) -> String { x.map { String(format: "%.3g", $0) } ?? "-" }
                print(
                    "  \(row.figure.padding(toLength: 46, withPad: " ", startingAt: 0)) \(f(row.ours)) / \(f(row.theirs)) (\(row.peer))   ratio \(row.ratio.map { String(format: "%.2f", $0) } ?? "-")"
                )
            }
            print("goal:")
            for g in Self.goal(results[0]) { print("  \(g.met ? "met    " : "NOT met") \(g.what)") }
        }

        /// A raise or a return to normal as a journal record.
        static func records(_ event: AlarmPoint.Event?, machine: String, priority: AlarmPriority) -> [AlarmRecord] {
            switch event {
            case .raised(let at)?:
                [AlarmRecord(machine: machine, kind: "failure_risk", priority: priority, status: .raised, time: at)]
            case .cleared(let raised, let at, let reason)?:
                [
                    AlarmRecord(
                        machine: machine, kind: "failure_risk", priority: priority, status: .cleared, time: at,
                        raisedAt: raised, reason: reason)
                ]
            case .suppressed(let at, let reason)?:
                [
                    AlarmRecord(
                        machine: machine, kind: "failure_risk", priority: priority, status: .suppressed, time: at,
                        reason: reason)
                ]
            case nil: []
            }
        }

        /// The process with every chart test on every part: what a plant charts before it chooses.
        static func everyChartTest(_ process: ProcessConfig) -> ProcessConfig {
            var p = process
            for i in p.variables.indices {
                p.variables[i].spcRules = nil
                p.variables[i].spcSubgroup = 1
                p.variables[i].spcRestartAfter = []
                p.variables[i].spcBaseline = nil
            }
            return p
        }

        /// Every class raised on its first reading and cleared on the next; nothing suppressed.
        static func unmanaged(_ settings: AlarmSettings) -> AlarmSettings {
            var s = settings
            for (name, c) in s.classes {
                var u = c
                u.onDelaySeconds = 0
                u.offDelaySeconds = 0
                u.deadband = 0
                u.suppressInStates = []
                u.startupSeconds = 0
                u.suppressedBy = []
                s.classes[name] = u
            }
            return s
        }

        /// Our figures beside the peers' from the same run: the alarm system without management, and the plant
        /// engineer's rule in place of the forecast; ratio = ours / theirs.
        static func sideBySide(_ r: [AlarmKPIs]) -> [(
            figure: String, peer: String, ours: Double?, theirs: Double?, ratio: Double?
        )] {
            let (managed, unmanaged, rule) = (r[0], r[1], r[2])
            func recall(_ k: AlarmKPIs) -> Double? { k.forecast?.groups.first { $0.name == "build_up" }?.recall }
            let rows: [(String, String, Double?, Double?)] = [
                (
                    "alarms per operator per 10 min, mean", "no management", managed.meanPerOperatorPerWindow,
                    unmanaged.meanPerOperatorPerWindow
                ),
                (
                    "alarms per operator per 10 min, peak", "no management", Double(managed.peakPerOperatorPerWindow),
                    Double(unmanaged.peakPerOperatorPerWindow)
                ),
                ("% of 10-minute windows in flood", "no management", managed.floodPercent, unmanaged.floodPercent),
                ("failure-warning precision", "the rule", managed.forecast?.precision, rule.forecast?.precision),
                ("build-up failures warned >= 10 min ahead", "the rule", recall(managed), recall(rule)),
            ]
            return rows.map { figure, peer, ours, theirs in
                (figure, peer, ours, theirs, ours.flatMap { o in theirs.flatMap { $0 > 0 ? o / $0 : nil } })
            }
        }

        static func goal(_ k: AlarmKPIs) -> [(what: String, met: Bool)] {
            let buildUp = k.forecast?.groups.first { $0.name == "build_up" }
            return [
                (
                    String(
                        format: "at most 1 alarm per operator per 10 min on average (%.2f)", k.meanPerOperatorPerWindow),
                    k.meanPerOperatorPerWindow <= 1
                ),
                (
                    String(format: "under 1 %% of 10-minute windows in flood (%.2f %%)", k.floodPercent),
                    k.floodPercent < 1
                ),
                ("no chattering alarms (\(k.chatteringConditions))", k.chatteringConditions == 0),
                (
                    "failure-risk precision at least 50 % (\(k.forecast?.precision.map { String(format: "%.0f %%", $0 * 100) } ?? "-"))",
                    (k.forecast?.precision ?? 0) >= 0.5
                ),
                (
                    "recall at least 60 % of the failures that build up (\(buildUp?.recall.map { String(format: "%.0f %%", $0 * 100) } ?? "-"))",
                    (buildUp?.recall ?? 0) >= 0.6
                ),
                (
                    "median lead at least 10 min (\(buildUp?.medianLeadMinutes.map { String(format: "%.0f min", $0) } ?? "-"))",
                    (buildUp?.medianLeadMinutes ?? 0) >= 10
                ),
            ]
        }

        static func g(_ x: Double) -> String { x == x.rounded() ? "\(Int(x))" : "\(x)" }
    }
}

/// Trains a "fails within" model on a simulated history of the plant, exactly as `millstream train --task
/// failure_within` trains one on a `dataset snapshot`: failures from the machine states, a window per machine.
struct LeadTimeTraining {
    let process: ProcessConfig
    let profile: PlantProfile
    let machines: Int
    let seed: UInt64
    let start: Int64
    let days: Double
    var horizon = 30.0
    var window = 10
    var windowStatistics = "last,mean,slope,ewma"
    var layers = "32,32"
    var epochs = 40
    var trainSeed: UInt64 = 0
    /// Where the history CSV goes; the model goes to `registry` (default: FOLDER/models).
    let folder: String
    var registry: String?
    var name = "lead"
    var extra: [String] = []

    struct Result {
        var rows: Int
        var failures: Int
        var version: ModelVersion
        var result: TrainingResult
        var seconds: Double
        var arguments: [String]
    }

    func run(progress: (String) -> Void) throws -> Result {
        var simulator = try PlantSimulator(
            config: process, machines: machines, seed: seed, start: start, profile: profile)
        var collector = SnapshotCollector(
            validator: ReadingValidator(config: process), since: nil, until: nil, failures: nil)
        let end = start + Int64(days * 86_400_000)
        while true {
            let s = simulator.next()
            guard s.reading.timestamp < end else { break }
            collector.add(ReadingEncoder.encode(s.reading))
        }
        let csv = folder + "/history.csv"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(collector.csv(variables: process.variables.map(\.name))).write(to: URL(fileURLWithPath: csv))
        } catch {
            throw CommandError("cannot write the history to \(csv): \(error.localizedDescription)")
        }
        let arguments =
            [
                "--task", "failure_within", "--horizon", Millstream.Alarms.Evaluate.g(horizon), "--data", csv,
                "--unit", "machine", "--time", "minutes", "--event", "failure", "--window", "\(window)",
                "--window-statistics", windowStatistics, "--layers", layers, "--epochs", "\(epochs)", "--seed",
                "\(trainSeed)", "--name", name, "--registry", registry ?? folder + "/models", "--promote", "production",
                "--quiet",
            ] + extra
        progress(
            "train: \(collector.rows) running readings, \(collector.failureCount) failures: millstream train \(arguments.joined(separator: " "))"
        )
        guard collector.failureCount > 0 else {
            throw CommandError(
                "the \(Millstream.Alarms.Evaluate.g(days))-day history of \(machines) machine\(machines == 1 ? "" : "s") holds no failure to learn from: simulate more days or machines"
            )
        }
        guard let (version, result, seconds) = try Millstream.Train.parse(arguments).fit() else {
            throw CommandError("training registered no model")
        }
        return Result(
            rows: collector.rows, failures: collector.failureCount, version: version, result: result,
            seconds: seconds, arguments: arguments)
    }
}
