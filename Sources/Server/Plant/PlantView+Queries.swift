import Analytics
import Foundation
import Plant
import Registry
import Topics

/// The view's answers, encoded as JSON inside the actor (Foundation's JSON objects are not Sendable).
extension PlantView {
    func machineRow(_ m: MachineStatus) -> [String: Any] {
        var row: [String: Any] = [
            "id": m.id, "state": m.state, "ts": m.ts, "predictions": m.predictions, "modes": m.modes,
        ]
        row["line"] = m.line ?? NSNull()
        row["product"] = m.product ?? NSNull()
        row["risk"] = m.risk ?? NSNull()
        row["failure"] = m.failure ?? NSNull()
        row["model"] = m.model ?? NSNull()
        row["oee"] = m.kpi?.hour.oee ?? NSNull()
        if let anomaly = m.anomaly { row["anomaly"] = JSON.any(anomaly) }
        return row
    }

    var sortedMachines: [MachineStatus] { machines.values.sorted { $0.id < $1.id } }

    func machinesJSON() -> [UInt8] { JSON.encode(["machines": sortedMachines.map(machineRow)]) }

    func machineJSON(_ id: String) throws -> [UInt8] {
        guard let m = machines[id] else {
            throw APIError.notFound(
                "no machine '\(id)'; known: \(machines.keys.sorted().prefix(5).joined(separator: ", "))...")
        }
        var row = machineRow(m)
        row["features"] = m.features
        row["kpi"] = m.kpi.map(JSON.any) ?? NSNull()
        row["risk_history"] = m.risks.map { [$0.millis, $0.value] as [Any] }
        row["values"] = m.values.mapValues { $0.map { [$0.millis, $0.value] as [Any] } }
        row["variables"] = process.variables.map { v -> [String: Any] in
            var o: [String: Any] = ["name": v.name, "unit": v.unit]
            o["lsl"] = v.lsl ?? NSNull()
            o["usl"] = v.usl ?? NSNull()
            return o
        }
        row["alerts"] = Array(
            alertOrder.reversed().lazy.compactMap { self.alerts[$0] }.filter { $0.machine == id }.prefix(20).map(
                alertRow))
        return JSON.encode(row)
    }

    func alertRow(_ a: Alert) -> [String: Any] {
        var o: [String: Any] = [
            "id": a.id, "machine": a.machine, "ts": a.ts, "kind": a.kind, "severity": a.severity, "status": a.status,
            "message": a.message, "evidence": a.evidence.map(JSON.any) ?? NSNull(),
            "source": a.source.map(JSON.any) ?? NSNull(),
            "acknowledged": a.acknowledgedBy != nil, "occurrences": a.occurrences, "last_ts": a.lastTs,
        ]
        o["variable"] = a.variable ?? NSNull()
        o["acknowledged_by"] = a.acknowledgedBy ?? NSNull()
        o["acknowledged_ts"] = a.acknowledgedTs ?? NSNull()
        o["cleared_by"] = a.clearedBy ?? NSNull()
        o["cleared_ts"] = a.clearedTs ?? NSNull()
        o["priority"] = a.priority ?? NSNull()
        o["latched"] = a.latched
        o["clear_reason"] = a.clearReason ?? NSNull()
        let now = Self.wallMillis()
        o["shelved_until"] = a.shelvedUntil.flatMap { $0 > now ? Timestamp.format($0) : nil } ?? NSNull()
        o["shelved_by"] = a.shelvedUntil.map { $0 > now } == true ? (a.shelvedBy ?? NSNull()) : NSNull()
        o["needs_acknowledge"] = Self.needsAcknowledge(a)
        return o
    }

    static func wallMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// A latched alarm back to normal that no one acknowledged yet (ISA-18.2: returned, unacknowledged).
    static func needsAcknowledge(_ a: Alert) -> Bool { a.latched && a.status == "cleared" && a.acknowledgedBy == nil }

    /// On the operator's active list: raised and not shelved now, or latched and waiting for acknowledgement.
    static func isActive(_ a: Alert, now: Int64) -> Bool {
        (a.status == "raised" && (a.shelvedUntil ?? .min) <= now) || needsAcknowledge(a)
    }

    static func isShelved(_ a: Alert, now: Int64) -> Bool { a.status == "raised" && (a.shelvedUntil ?? .min) > now }

    /// Alerts newest first. `raised`: the active list (shelved ones left out, latched ones waiting for an
    /// acknowledgement kept); `shelved`; `cleared`; `all`.
    func alertsJSON(status: String?, machine: String?, limit: Int) throws -> [UInt8] {
        if let status, !["raised", "shelved", "cleared", "all"].contains(status) {
            throw APIError.badRequest("status must be raised, shelved, cleared or all, got '\(status)'")
        }
        let now = Self.wallMillis()
        let rows = alertOrder.reversed().lazy.compactMap { self.alerts[$0] }
            .filter { a in
                let wanted =
                    switch status {
                    case nil, "all": true
                    case "raised": Self.isActive(a, now: now)
                    case "shelved": Self.isShelved(a, now: now)
                    default: a.status == status && !Self.needsAcknowledge(a)
                    }
                return wanted && (machine == nil || a.machine == machine)
            }
            .prefix(limit).map(alertRow)
        return JSON.encode([
            "alerts": Array(rows), "active": alerts.values.filter { Self.isActive($0, now: now) }.count,
            "shelved": alerts.values.filter { Self.isShelved($0, now: now) }.count,
            "suppressed": suppressedAlarms.values.reduce(0, +),
            "suppressed_by_reason": suppressedAlarms.sorted { $0.key < $1.key }.map { key, count -> [String: Any] in
                let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
                return ["kind": parts[0], "reason": parts.count > 1 ? parts[1] : "", "count": count]
            },
        ])
    }

    func alertJSON(_ id: String) throws -> [UInt8] {
        guard let a = alerts[id] else { throw APIError.notFound("no alert '\(id)'") }
        return JSON.encode(alertRow(a))
    }

    func kpisJSON() -> [UInt8] {
        var lines: [String: (oee: Double, n: Int, good: Double, scrap: Double)] = [:]
        var downtime: [String: Double] = [:]
        var rows: [[String: Any]] = []
        for m in sortedMachines {
            guard let k = m.kpi else { continue }
            rows.append([
                "machine": m.id, "line": m.line ?? NSNull(), "ts": k.ts, "hour": JSON.any(k.hour),
                "shift": JSON.any(k.shift),
            ])
            var l = lines[m.line ?? "-"] ?? (0, 0, 0, 0)
            l.oee += k.hour.oee
            l.n += 1
            l.good += Double(k.hour.good)
            l.scrap += Double(k.hour.scrap)
            lines[m.line ?? "-"] = l
            for r in k.shift.downtime { downtime[r.reason, default: 0] += r.seconds }
        }
        let lineRows = lines.sorted { $0.key < $1.key }.map { name, l -> [String: Any] in
            ["line": name, "oee": l.oee / Double(max(1, l.n)), "machines": l.n, "good": l.good, "scrap": l.scrap]
        }
        let pareto = downtime.sorted { $0.value > $1.value }.map {
            ["reason": $0.key, "seconds": $0.value] as [String: Any]
        }
        return JSON.encode(["machines": rows, "lines": lineRows, "downtime_pareto": pareto])
    }

    /// An individuals chart of the machine's recent values of one variable: limits from the first points (at most
    /// 100, at least 20), every point checked by the Western Electric or Nelson rules, Cp/Cpk against the spec limits.
    func spcJSON(machine id: String, variable: String, rules: String?) throws -> [UInt8] {
        guard let m = machines[id] else { throw APIError.notFound("no machine '\(id)'") }
        guard let v = process.variable(variable) else {
            throw APIError.notFound(
                "no variable '\(variable)' in process \(process.process); variables: \(process.variables.map(\.name).joined(separator: ", "))"
            )
        }
        let ruleSet: RuleChecker.RuleSet
        switch rules ?? "western_electric" {
        case "western_electric": ruleSet = .westernElectric
        case "nelson": ruleSet = .nelson
        default: throw APIError.badRequest("rules must be western_electric or nelson, got '\(rules!)'")
        }
        let points = m.values[variable] ?? []
        var answer: [String: Any] = [
            "machine": id, "variable": variable, "unit": v.unit, "rules": ruleSet.rawValue,
            "points": points.map { [$0.millis, $0.value] as [Any] }, "lsl": v.lsl ?? NSNull(), "usl": v.usl ?? NSNull(),
        ]
        let baseline = min(100, points.count / 2)
        guard baseline >= 20, let limits = ControlLimits.individuals(points.prefix(baseline).map(\.value)) else {
            answer["status"] = "collecting"
            answer["message"] = "\(points.count) points so far; the chart needs at least 40"
            return JSON.encode(answer)
        }
        var checker = RuleChecker(limits: limits, ruleSet: ruleSet)
        var violations: [[String: Any]] = []
        for (i, p) in points.enumerated() {
            let broken = checker.add(p.value)
            if !broken.isEmpty {
                violations.append([
                    "index": i, "ts": Timestamp.format(p.millis), "value": p.value,
                    "rules": broken.map(\.rawValue), "description": broken.map(\.description).joined(separator: "; "),
                ])
            }
        }
        let values = points.map(\.value)
        let mean = values.reduce(0, +) / Double(values.count)
        let capability = Capability(mean: mean, sigma: limits.sigma, lsl: v.lsl, usl: v.usl)
        answer["status"] = "ok"
        answer["baseline_points"] = baseline
        answer["center"] = limits.center
        answer["sigma"] = limits.sigma
        answer["ucl"] = limits.upper
        answer["lcl"] = limits.lower
        answer["violations"] = violations
        answer["cp"] = capability.cp ?? NSNull()
        answer["cpk"] = capability.cpk ?? NSNull()
        return JSON.encode(answer)
    }

    func monitoringJSON() -> [UInt8] {
        let rows = outcomes.sorted { $0.key < $1.key }.map { model, o -> [String: Any] in
            let rolling = Self.figures(o.recent.suffix(10_000))
            let t = o.total
            return [
                "model": model, "labelled": t.labelled,
                "confusion": ["tp": t.tp, "fp": t.fp, "tn": t.tn, "fn": t.fn],
                "precision": t.precision ?? NSNull(), "recall": t.recall ?? NSNull(), "f1": t.f1 ?? NSNull(),
                "rolling": [
                    "window": rolling.count, "precision": rolling.precision as Any? ?? NSNull(),
                    "recall": rolling.recall as Any? ?? NSNull(), "f1": rolling.f1 as Any? ?? NSNull(),
                ] as [String: Any],
            ]
        }
        // Each challenger in shadow beside the champion, on the same labelled readings.
        let shadow = shadowOutcomes.values.sorted {
            ($0.challenger, $0.champion ?? "") < ($1.challenger, $1.champion ?? "")
        }
        .map { t -> [String: Any] in
            [
                "challenger": t.challenger, "champion": t.champion ?? NSNull(),
                "labelled": t.challengerOutcomes.labelled, "failures": t.challengerOutcomes.failures,
                "challenger_f1": t.challengerOutcomes.f1 ?? NSNull(),
                "challenger_precision": t.challengerOutcomes.precision ?? NSNull(),
                "challenger_recall": t.challengerOutcomes.recall ?? NSNull(),
                "champion_f1": t.championOutcomes.f1 ?? NSNull(),
                "champion_precision": t.championOutcomes.precision ?? NSNull(),
                "champion_recall": t.championOutcomes.recall ?? NSNull(),
                "last": t.lastMillis > 0 ? Timestamp.format(t.lastMillis) : NSNull(),
            ]
        }
        // Hour by hour (the readings' time), each model's live figures: how they change as the plant changes.
        let hours = timeline.keys.sorted().flatMap { hour in
            timeline[hour]!.sorted { $0.key < $1.key }.map { model, o -> [String: Any] in
                [
                    "hour": Timestamp.format(hour * 3_600_000), "model": model, "labelled": o.labelled,
                    "failures": o.failures, "tp": o.tp, "fp": o.fp, "fn": o.fn, "f1": o.f1 ?? NSNull(),
                ]
            }
        }
        return JSON.encode([
            "models": rows, "shadow": shadow, "timeline": hours, "awaiting_labels": awaitingLabel.count,
            "drift": drift.values.sorted { $0.model < $1.model }.map(\.json),
            "drift_thresholds": ["psi": DriftReport.psiThreshold, "ks": DriftReport.ksThreshold],
        ])
    }

    func summary() -> [String: Any] {
        var states: [String: Int] = [:]
        for m in machines.values { states[m.state, default: 0] += 1 }
        let oees = machines.values.compactMap { $0.kpi?.hour.oee }
        let risky = machines.values.filter { $0.risk != nil }.sorted { $0.risk! > $1.risk! }.prefix(5)
        let latency = latencies.percentiles([0.5, 0.99])
        return [
            "machines": machines.count, "states": states, "predictions": predictionCount,
            "predictions_by_class": predictionsByClass,
            "alerts_active": alerts.values.filter { $0.status == "raised" }.count,
            "alerts_unacknowledged": alerts.values.filter { $0.status == "raised" && $0.acknowledgedBy == nil }.count,
            "dead_letters": deadLetters.values.reduce(0, +), "dead_letters_by_reason": deadLetters,
            "oee": oees.isEmpty ? NSNull() : oees.reduce(0, +) / Double(oees.count),
            "latency_p50_ms": latency.map { $0[0] * 1000 } ?? NSNull(),
            "latency_p99_ms": latency.map { $0[1] * 1000 } ?? NSNull(),
            "riskiest": Array(risky).map { ["machine": $0.id, "risk": $0.risk!] as [String: Any] },
            "records_seen": recordsSeen, "unreadable_records": unreadable,
        ]
    }

    func summaryJSON() -> [UInt8] { JSON.encode(summary()) }

    /// One server-sent event's data: the summary, every machine's row and the newest alerts.
    func liveJSON() -> [UInt8] {
        JSON.encode([
            "summary": summary(), "machines": sortedMachines.map(machineRow),
            "alerts": Array(alertOrder.reversed().lazy.compactMap { self.alerts[$0] }.prefix(15).map(alertRow)),
        ])
    }

    /// Figures for gauges scraped by Prometheus.
    func gauges() -> (activeAlerts: Int, machinesByState: [String: Int]) {
        var states: [String: Int] = [:]
        for m in machines.values { states[m.state, default: 0] += 1 }
        let now = Self.wallMillis()
        return (alerts.values.filter { Self.isActive($0, now: now) }.count, states)
    }

    /// The alarm-system KPIs over the last `hours` of the alarm journal (by the newest record's time, so a
    /// replayed or compressed history is measured on its own clock).
    func alarmKPIs(hours: Double) -> AlarmKPIs {
        let end = max(journal.last?.time ?? 0, failureFinder.last ?? 0) + 1
        let start = end - Int64(hours * 3_600_000 / clockScale)
        var options = AlarmKPIs.Options()
        options.machinesPerOperator = process.alarms.machinesPerOperator
        // Windows, bursts and horizons are plant time.
        options.windowMinutes /= clockScale
        options.chatterSeconds /= clockScale
        options.fleetingSeconds /= clockScale
        options.staleHours /= clockScale
        options.horizonMinutes /= clockScale
        options.minimumLeadMinutes /= clockScale
        let machineIDs = process.machineIDs.filter { machines[$0] != nil }
        return AlarmKPIs.compute(
            journal, failures: failureFinder.events, machines: machineIDs.isEmpty ? process.machineIDs : machineIDs,
            start: start, end: end, options: options)
    }

    func alarmsJSON(hours: Double) -> [UInt8] {
        let k = alarmKPIs(hours: hours)
        let now = Self.wallMillis()
        var active: [String: Int] = [:]
        for a in alerts.values where Self.isActive(a, now: now) { active[a.priority ?? "unset", default: 0] += 1 }
        var o = k.json(time: Timestamp.format)
        o["hours"] = hours
        o["machines_per_operator"] = process.alarms.machinesPerOperator
        o["shelved_now"] = alerts.values.filter { Self.isShelved($0, now: now) }.count
        o["active_by_priority"] = active
        o["suppressed_by_reason"] = k.suppressedByReason.map { ["reason": $0.name, "count": $0.count] }
        return JSON.encode(o)
    }
}
