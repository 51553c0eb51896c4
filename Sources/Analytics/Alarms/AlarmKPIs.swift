import Foundation

/// One entry of the alarm journal (the `alerts` topic): a raise, a return to normal, or an alarm that suppression or
/// shelving kept from the operator.
public struct AlarmRecord: Sendable, Equatable {
    public enum Status: String, Sendable, Codable {
        case raised, cleared, suppressed, shelved
    }

    public var machine: String
    /// The alarm class ("failure_risk", "spc", "anomaly").
    public var kind: String
    /// The variable of a per-variable class (SPC), if any.
    public var variable: String?
    public var priority: AlarmPriority
    public var status: Status
    /// Milliseconds since the epoch (the reading's time).
    public var time: Int64
    /// For `cleared`: when the alarm was raised.
    public var raisedAt: Int64?
    public var reason: String?

    public init(
        machine: String, kind: String, variable: String? = nil, priority: AlarmPriority, status: Status, time: Int64,
        raisedAt: Int64? = nil, reason: String? = nil
    ) {
        self.machine = machine
        self.kind = kind
        self.variable = variable
        self.priority = priority
        self.status = status
        self.time = time
        self.raisedAt = raisedAt
        self.reason = reason
    }

    /// The condition this record is about: machine, class and variable.
    public var condition: String { "\(machine) \(kind)\(variable.map { " " + $0 } ?? "")" }
}

/// A breakdown, for the forecast's precision and recall.
public struct FailureEvent: Sendable, Equatable {
    public var machine: String
    public var time: Int64
    /// The failure modes, where known (the simulator's labels: twf, hdf, pwf, osf, rnf).
    public var modes: [String]

    public init(machine: String, time: Int64, modes: [String] = []) {
        self.machine = machine
        self.time = time
        self.modes = modes
    }
}

/// The alarm-system figures ISA-18.2 and EEMUA 191 audit, from an alarm journal over a period.
public struct AlarmKPIs: Sendable, Equatable {
    public struct Options: Sendable, Equatable {
        public var machinesPerOperator = 20
        public var windowMinutes = 10.0
        /// More than this many alarms for one operator in one window is a flood (ISA-18.2: 10 in 10 minutes).
        public var floodThreshold = 10
        /// The same condition raised this often within `chatterSeconds` chatters (ISA-18.2 TR5: 3 in 60 s).
        public var chatterCount = 3
        public var chatterSeconds = 60.0
        /// An alarm back to normal within this many seconds was fleeting.
        public var fleetingSeconds = 60.0
        /// An alarm active longer than this is stale.
        public var staleHours = 24.0
        /// The failure forecast's horizon: a failure-risk alarm is right if its machine fails within it.
        public var horizonMinutes = 30.0
        /// A failure counts as warned when an alarm was active at least this long before it.
        public var minimumLeadMinutes = 10.0
        /// Failure modes that build up over time (a state can announce them); the others are reported apart.
        public var buildUpModes: Set<String> = ["twf", "osf", "hdf"]
        public var forecastClass = "failure_risk"
        public init() {}
    }

    public struct Count: Sendable, Equatable {
        public var name: String
        public var count: Int
    }

    /// How well the failure-risk alarms forecast breakdowns.
    public struct Forecast: Sendable, Equatable {
        public var alarms: Int
        /// Alarms followed by a failure of their machine within the horizon.
        public var rightAlarms: Int
        public var precision: Double?
        /// Failures per group ("build_up", "other", "unknown"): how many, how many warned at least the minimum lead
        /// ahead, the recall, and the median lead of the warned ones (minutes).
        public var groups: [Group]
        /// The same per failure mode (a failure of several modes counts in each).
        public var modes: [Group]

        public struct Group: Sendable, Equatable {
            public var name: String
            public var failures: Int
            public var warned: Int
            public var recall: Double?
            public var medianLeadMinutes: Double?
        }
    }

    public var start: Int64
    public var end: Int64
    public var machines: Int
    public var operators: Int
    public var windows: Int
    public var annunciated: Int
    public var byPriority: [Count]
    public var suppressed: Int
    public var suppressedByReason: [Count]
    public var shelved: Int
    public var meanPerOperatorPerWindow: Double
    public var peakPerOperatorPerWindow: Int
    public var floodPercent: Double
    /// Conditions that chattered, and how many raises fell in their chattering bursts.
    public var chatteringConditions: Int
    public var fleeting: Int
    /// Active at the end of the period, and of those, active for longer than the stale limit.
    public var standing: Int
    public var stale: Int
    /// The ten most frequent conditions and the share of all alarms they raised.
    public var top: [Count]
    public var topShare: Double
    public var forecast: Forecast?

    public static func compute(
        _ records: [AlarmRecord], failures: [FailureEvent]? = nil, machines machineList: [String], start: Int64,
        end: Int64, options o: Options = Options()
    ) -> AlarmKPIs {
        let machinesSorted = machineList.sorted()
        let perOperator = max(1, o.machinesPerOperator)
        let operators = max(1, (machinesSorted.count + perOperator - 1) / perOperator)
        let operatorOf = Dictionary(
            uniqueKeysWithValues: machinesSorted.enumerated().map { ($0.element, $0.offset / perOperator) })
        let windowMs = Int64(o.windowMinutes * 60_000)
        let windows = max(1, Int((end - start + windowMs - 1) / windowMs))
        let inPeriod = records.filter { $0.time >= start && $0.time < end }.sorted { $0.time < $1.time }
        let raised = inPeriod.filter { $0.status == .raised }

        var perWindow = [[Int]](repeating: [Int](repeating: 0, count: windows), count: operators)
        for r in raised {
            let w = Int((r.time - start) / windowMs)
            perWindow[operatorOf[r.machine] ?? 0][w] += 1
        }
        let cells = perWindow.flatMap { $0 }
        let floods = cells.filter { $0 > o.floodThreshold }.count
        let (episodes, open) = Self.episodes(records, raised: raised, start: start, end: end)
        let fleeting = episodes.filter { e in
            e.cleared.map { Double($0 - e.raised) < o.fleetingSeconds * 1000 } ?? false
        }
        .count
        let top = Array(counted(raised.map(\.condition)).prefix(10))
        let forecast = failures.map {
            Self.forecast(raised: raised, episodes: episodes, failures: $0, start: start, end: end, options: o)
        }
        let suppressed = inPeriod.filter { $0.status == .suppressed }
        return AlarmKPIs(
            start: start, end: end, machines: machinesSorted.count, operators: operators, windows: windows,
            annunciated: raised.count,
            byPriority: AlarmPriority.allCases.reversed().map { p in
                Count(name: p.rawValue, count: raised.filter { $0.priority == p }.count)
            },
            suppressed: suppressed.count,
            suppressedByReason: counted(suppressed.map { "\($0.kind): \(reasonKind($0.reason))" }),
            shelved: inPeriod.filter { $0.status == .shelved }.count,
            meanPerOperatorPerWindow: Double(raised.count) / Double(operators * windows),
            peakPerOperatorPerWindow: cells.max() ?? 0,
            floodPercent: 100 * Double(floods) / Double(cells.count),
            chatteringConditions: chattering(raised, options: o), fleeting: fleeting, standing: open.count,
            stale: open.values.filter { Double(end - $0) > o.staleHours * 3_600_000 }.count, top: top,
            topShare: raised.isEmpty ? 0 : Double(top.reduce(0) { $0 + $1.count }) / Double(raised.count),
            forecast: forecast)
    }

    /// Names counted, most frequent first.
    static func counted(_ names: [String]) -> [Count] {
        Dictionary(grouping: names, by: { $0 }).map { Count(name: $0.key, count: $0.value.count) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }
    }

    /// Conditions that chattered: raised `chatterCount` times within `chatterSeconds`.
    static func chattering(_ raised: [AlarmRecord], options o: Options) -> Int {
        var chattering = 0
        for (_, times) in Dictionary(grouping: raised, by: \.condition).mapValues({ $0.map(\.time) }) {
            let span = Int64(o.chatterSeconds * 1000)
            let k = o.chatterCount - 1
            if times.count > k, times.indices.dropFirst(k).contains(where: { times[$0] - times[$0 - k] <= span }) {
                chattering += 1
            }
        }
        return chattering
    }

    typealias Episode = (condition: String, machine: String, kind: String, raised: Int64, cleared: Int64?)

    /// Episodes raised in the period: raise to return (or still open at the end), and the conditions open at the end
    /// with when they were raised.
    static func episodes(_ records: [AlarmRecord], raised: [AlarmRecord], start: Int64, end: Int64) -> (
        [Episode], [String: Int64]
    ) {
        var open: [String: Int64] = [:]
        var episodes: [Episode] = []
        for r in records.sorted(by: { $0.time < $1.time }) where r.time < end {
            switch r.status {
            case .raised: open[r.condition] = r.time
            case .cleared:
                let raisedAt = r.raisedAt ?? open[r.condition]
                open[r.condition] = nil
                if let raisedAt, raisedAt >= start {
                    episodes.append((r.condition, r.machine, r.kind, raisedAt, r.time))
                }
            default: break
            }
        }
        let machineOf = Dictionary(raised.map { ($0.condition, ($0.machine, $0.kind)) }) { a, _ in a }
        for (condition, at) in open where at >= start {
            let (machine, kind) = machineOf[condition] ?? ("", "")
            episodes.append((condition, machine, kind, at, nil))
        }
        return (episodes, open)
    }

    /// The failure forecast's figures: its alarms followed by a failure within the horizon (precision), and per
    /// group and mode the failures warned at least the minimum lead before (recall) with the median lead.
    static func forecast(
        raised: [AlarmRecord], episodes: [Episode], failures: [FailureEvent], start: Int64, end: Int64,
        options o: Options
    ) -> Forecast {
        let horizon = Int64(o.horizonMinutes * 60_000)
        let lead = Int64(o.minimumLeadMinutes * 60_000)
        let alarms = raised.filter { $0.kind == o.forecastClass }
        let failuresByMachine = Dictionary(grouping: failures, by: \.machine).mapValues { $0.map(\.time).sorted() }
        let right = alarms.filter { a in
            (failuresByMachine[a.machine] ?? []).contains { $0 > a.time && $0 <= a.time + horizon }
        }.count
        let forecastEpisodes = Dictionary(grouping: episodes.filter { $0.kind == o.forecastClass }, by: \.machine)
        var groups: [String: (failures: Int, leads: [Double])] = [:]
        var modes: [String: (failures: Int, leads: [Double])] = [:]
        for f in failures where f.time >= start && f.time < end {
            let group =
                f.modes.isEmpty
                ? "unknown" : f.modes.contains(where: o.buildUpModes.contains) ? "build_up" : "other"
            let warnAt = f.time - lead
            // The episode active `lead` before the failure (raised by then, not returned to normal by then).
            let warning = (forecastEpisodes[f.machine] ?? []).filter {
                $0.raised <= warnAt && ($0.cleared ?? .max) >= warnAt
            }.map(\.raised).max()
            groups[group, default: (0, [])].failures += 1
            if let warning { groups[group]!.leads.append(Double(f.time - warning) / 60_000) }
            for mode in Set(f.modes) {
                modes[mode, default: (0, [])].failures += 1
                if let warning { modes[mode]!.leads.append(Double(f.time - warning) / 60_000) }
            }
        }
        func group(_ name: String, _ g: (failures: Int, leads: [Double])) -> Forecast.Group {
            .init(
                name: name, failures: g.failures, warned: g.leads.count,
                recall: g.failures == 0 ? nil : Double(g.leads.count) / Double(g.failures),
                medianLeadMinutes: median(g.leads))
        }
        return Forecast(
            alarms: alarms.count, rightAlarms: right,
            precision: alarms.isEmpty ? nil : Double(right) / Double(alarms.count),
            groups: ["build_up", "other", "unknown"].compactMap { name in groups[name].map { group(name, $0) } },
            modes: modes.keys.sorted().map { group($0, modes[$0]!) })
    }

    /// "machine down" from "machine down (state down)"-like reasons: the part before a parenthesis.
    public static func reasonKind(_ reason: String?) -> String {
        guard let reason else { return "unknown" }
        return reason.split(separator: "(").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? reason
    }
}

func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

extension AlarmKPIs {
    /// The figures as a JSON object (Foundation's), with times formatted by `time`: one form for `alarms report`,
    /// `alarms evaluate` and the server's /api/alarms.
    public func json(time: (Int64) -> String) -> [String: Any] {
        func group(_ g: Forecast.Group) -> [String: Any] {
            [
                "failures": g.failures, "warned": g.warned, "recall": g.recall as Any? ?? NSNull(),
                "median_lead_min": g.medianLeadMinutes as Any? ?? NSNull(),
            ]
        }
        var o: [String: Any] = [
            "from": time(start), "to": time(end), "hours": Double(end - start) / 3_600_000,
            "machines": machines, "operators": operators, "alarms": annunciated,
            "by_priority": Dictionary(uniqueKeysWithValues: byPriority.map { ($0.name, $0.count) }),
            "per_operator_per_10_min": ["mean": meanPerOperatorPerWindow, "peak": peakPerOperatorPerWindow],
            "flood_percent": floodPercent, "chattering": chatteringConditions, "fleeting": fleeting,
            "standing": standing, "stale": stale, "suppressed": suppressed,
            "suppressed_by_reason": Dictionary(uniqueKeysWithValues: suppressedByReason.map { ($0.name, $0.count) }),
            "shelved": shelved,
            "top": top.map { ["condition": $0.name, "count": $0.count] }, "top_share": topShare,
        ]
        if let f = forecast {
            o["failure_forecast"] = [
                "alarms": f.alarms, "right": f.rightAlarms, "precision": f.precision as Any? ?? NSNull(),
                "failures": Dictionary(uniqueKeysWithValues: f.groups.map { ($0.name, group($0)) }),
                "modes": Dictionary(uniqueKeysWithValues: f.modes.map { ($0.name, group($0)) }),
            ]
        }
        return o
    }
}
