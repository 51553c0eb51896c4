import Foundation
import Testing

@testable import Analytics

/// Alarm conditioning and the alarm-system KPIs against hand-built sequences and hand counts.
@Suite struct AlarmTests {
    /// Readings a minute apart: minute n is n x 60,000 ms.
    static func minute(_ n: Double) -> Int64 { Int64(n * 60_000) }

    /// Feeds (minute, condition) pairs; returns the events with their minute.
    static func run(
        _ point: inout AlarmPoint, _ steps: [(Double, Bool)], _ c: AlarmClass,
        suppression: AlarmPoint.Suppression? = nil
    ) -> [String] {
        steps.compactMap { m, condition in
            point.update(condition: condition, at: minute(m), class: c, suppression: suppression).map {
                switch $0 {
                case .raised(let at): "raised \(Double(at) / 60_000)"
                case .cleared(let raised, let at, let reason):
                    "cleared \(Double(at) / 60_000) (raised \(Double(raised) / 60_000))\(reason.map { " " + $0 } ?? "")"
                case .suppressed(let at, let reason): "suppressed \(Double(at) / 60_000) \(reason)"
                }
            }
        }
    }

    @Test func onDelayFiltersBlips() {
        let c = AlarmClass(name: "x", consequence: .minor, respondWithinMinutes: 60, onDelaySeconds: 120)
        var p = AlarmPoint()
        // A one-reading blip and a two-reading one never raise; three readings (2 minutes held) do, once.
        let events = Self.run(
            &p, [(0, true), (1, false), (2, true), (3, true), (4, false), (5, true), (6, true), (7, true), (8, true)], c
        )
        #expect(events == ["raised 7.0"])
        #expect(p.isActive)
    }

    @Test func offDelayMakesOneAlarmPerEpisode() {
        let c = AlarmClass(name: "x", consequence: .minor, respondWithinMinutes: 60, offDelaySeconds: 300)
        var p = AlarmPoint()
        // Raised at 0; gaps of 2 and 4 minutes are folded into the episode; a 5-minute quiet clears it at 15.
        let steps: [(Double, Bool)] = [
            (0, true), (1, false), (2, true), (3, false), (6, false), (7, true), (10, false), (12, false), (15, false),
            (16, true),
        ]
        #expect(Self.run(&p, steps, c) == ["raised 0.0", "cleared 15.0 (raised 0.0)", "raised 16.0"])
    }

    @Test func deadbandHoldsAnAnalogAlarm() {
        let c = AlarmClass(name: "risk", consequence: .major, respondWithinMinutes: 15, limit: 0.5, deadband: 0.2)
        var p = AlarmPoint()
        var events: [String] = []
        for (m, risk) in [(0.0, 0.45), (1, 0.5), (2, 0.35), (3, 0.31), (4, 0.29), (5, 0.49), (6, 0.55)] {
            let condition = p.condition(value: risk, limit: 0.5, deadband: 0.2)
            events += Self.run(&p, [(m, condition)], c)
        }
        // 0.5 raises; 0.35 and 0.31 stay above 0.3; 0.29 clears; 0.49 does not raise again, 0.55 does.
        #expect(events == ["raised 1.0", "cleared 4.0 (raised 1.0)", "raised 6.0"])
    }

    @Test func stateSuppressionClearsAndCountsOnce() {
        let c = AlarmClass(name: "x", consequence: .major, respondWithinMinutes: 15)
        let down = AlarmPoint.Suppression("machine down", clearsActive: true)
        var p = AlarmPoint()
        var events = Self.run(&p, [(0, true)], c)
        events += Self.run(&p, [(1, true), (2, true), (3, true)], c, suppression: down)
        events += Self.run(&p, [(4, true)], c)
        // The active alarm returns to normal with the reason; the condition that persists is suppressed once, not per
        // reading; once the suppression ends the alarm is raised again.
        #expect(events == ["raised 0.0", "cleared 1.0 (raised 0.0) machine down", "raised 4.0"])
        var q = AlarmPoint()
        events = Self.run(&q, [(0, false), (1, true), (2, true), (3, false), (4, true)], c, suppression: down)
        #expect(events == ["suppressed 1.0 machine down", "suppressed 4.0 machine down"])
        #expect(!q.isActive)
    }

    @Test func firstOutLeavesActiveAlarmsAndSuppressesNewOnes() {
        let c = AlarmClass(name: "spc", consequence: .minor, respondWithinMinutes: 60, offDelaySeconds: 120)
        let firstOut = AlarmPoint.Suppression("first-out: failure_risk active", clearsActive: false)
        var active = AlarmPoint()
        var events = Self.run(&active, [(0, true)], c)
        // Raised before the first-out alarm: it stays and clears on its own.
        events += Self.run(&active, [(1, true), (2, false), (4, false)], c, suppression: firstOut)
        #expect(events == ["raised 0.0", "cleared 4.0 (raised 0.0)"])
        var later = AlarmPoint()
        events = Self.run(&later, [(0, false), (1, true), (2, true)], c, suppression: firstOut)
        #expect(events == ["suppressed 1.0 first-out: failure_risk active"])
    }

    @Test func prioritiesFollowTheMatrix() {
        #expect(AlarmPriority.of(.minor, respondWithinMinutes: 60) == .low)
        #expect(AlarmPriority.of(.severe, respondWithinMinutes: 60) == .medium)
        #expect(AlarmPriority.of(.major, respondWithinMinutes: 15) == .medium)
        #expect(AlarmPriority.of(.major, respondWithinMinutes: 5) == .high)
        #expect(AlarmPriority.of(.major, respondWithinMinutes: 2) == .urgent)
        #expect(AlarmPriority.of(.minor, respondWithinMinutes: 1) == .high)
        #expect(AlarmClass.failureRisk.priority == .medium && AlarmClass.spc.priority == .low)
        #expect(AlarmPriority.low < .urgent)
    }

    @Test func kpisAgainstAHandCount() throws {
        let m = Self.minute
        let machines = (1...40).map { String(format: "m%02d", $0) }
        func raised(_ machine: String, _ kind: String, _ t: Double, _ v: String? = nil) -> AlarmRecord {
            AlarmRecord(machine: machine, kind: kind, variable: v, priority: .low, status: .raised, time: m(t))
        }
        func cleared(_ machine: String, _ kind: String, _ t: Double, raised r: Double, _ v: String? = nil)
            -> AlarmRecord
        {
            AlarmRecord(
                machine: machine, kind: kind, variable: v, priority: .low, status: .cleared, time: m(t), raisedAt: m(r))
        }
        var records: [AlarmRecord] = []
        // Operator 0 (m01...m20): a flood of 11 SPC alarms in minutes 0-9 of window 0, m01's torque chattering (three
        // raises in 50 s: 0, 0.4, 0.8 min), each cleared after 0.1 min (fleeting).
        for (i, t) in [0.0, 0.4, 0.8].enumerated() {
            records.append(raised("m01", "spc", t, "torque"))
            records.append(cleared("m01", "spc", t + 0.1, raised: t, "torque"))
            _ = i
        }
        for k in 2...9 { records.append(raised(String(format: "m%02d", k), "spc", Double(k), "rpm")) }
        // Operator 1 (m21...m40): two failure-risk alarms, one right (m21 fails 20 min later), one wrong.
        records.append(raised("m21", "failure_risk", 30))
        records.append(cleared("m21", "failure_risk", 50, raised: 30))
        records.append(raised("m22", "failure_risk", 30))
        records.append(cleared("m22", "failure_risk", 45, raised: 30))
        // Suppressed and shelved ones count apart.
        records.append(
            AlarmRecord(
                machine: "m23", kind: "spc", variable: "rpm", priority: .low, status: .suppressed, time: m(31),
                reason: "machine down"))
        records.append(
            AlarmRecord(
                machine: "m24", kind: "spc", variable: "rpm", priority: .low, status: .shelved, time: m(32)))
        let failures = [
            FailureEvent(machine: "m21", time: m(50), modes: ["twf"]),  // warned 20 min ahead
            FailureEvent(machine: "m25", time: m(55), modes: ["osf"]),  // not warned
            FailureEvent(machine: "m26", time: m(56), modes: ["pwf"]),  // not warned, apart
        ]
        let k = AlarmKPIs.compute(records, failures: failures, machines: machines, start: 0, end: m(60))
        #expect(k.operators == 2 && k.windows == 6)
        #expect(k.annunciated == 3 + 8 + 2)
        #expect(k.meanPerOperatorPerWindow == 13.0 / 12)
        #expect(k.peakPerOperatorPerWindow == 11)
        #expect(abs(k.floodPercent - 100.0 / 12) < 1e-9)
        #expect(k.chatteringConditions == 1)
        #expect(k.fleeting == 3)
        // m02...m09 rpm never cleared: standing at the end, not stale after an hour.
        #expect(k.standing == 8 && k.stale == 0)
        #expect(k.top.first == AlarmKPIs.Count(name: "m01 spc torque", count: 3))
        #expect(k.suppressed == 1 && k.suppressedByReason == [AlarmKPIs.Count(name: "spc: machine down", count: 1)])
        #expect(k.shelved == 1)
        let f = try #require(k.forecast)
        #expect(f.alarms == 2 && f.rightAlarms == 1 && f.precision == 0.5)
        let buildUp = try #require(f.groups.first { $0.name == "build_up" })
        #expect(buildUp.failures == 2 && buildUp.warned == 1 && buildUp.recall == 0.5)
        #expect(buildUp.medianLeadMinutes == 20)
        let other = try #require(f.groups.first { $0.name == "other" })
        #expect(other.failures == 1 && other.warned == 0)
        #expect(f.modes.map(\.name) == ["osf", "pwf", "twf"])
        #expect(f.modes.first { $0.name == "twf" }?.warned == 1 && f.modes.first { $0.name == "osf" }?.warned == 0)
    }
}

/// The false-alarm rate of a chart's test set on in-control data (independent normal parts), as the pipeline runs
/// it: limits from a baseline, then every test on every point.
@Suite struct ChartFalseAlarmTests {
    /// A seeded normal stream (xorshift and Box-Muller), so the figures are the same on every run.
    struct Normal {
        var state: UInt64
        mutating func uniform() -> Double {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return (Double(state >> 11) + 0.5) / Double(1 << 53)
        }
        mutating func next() -> Double {
            (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
        }
    }

    /// Violating points per 1,000 parts over `parts` parts, charts restarted every `run` parts (a lot).
    static func falseAlarms(
        subgroup: Int, tests: Set<String>, baseline parts0: Int = 100, parts: Int = 400_000, run: Int = 2_000
    ) -> Double {
        var normal = Normal(state: 0x9E37_79B9_7F4A_7C15)
        var alarms = 0
        var used = 0
        while used < parts {
            var baseline: [Double] = []
            var checker: RuleChecker?
            var ewma: EWMAChart?
            var cusum: CUSUMChart?
            for _ in 0..<(run / subgroup) {
                var x = 0.0
                for _ in 0..<subgroup { x += normal.next() }
                x /= Double(subgroup)
                used += subgroup
                guard checker != nil else {
                    baseline.append(x)
                    if baseline.count >= max(20, parts0 / subgroup), let l = ControlLimits.individuals(baseline) {
                        checker = RuleChecker(limits: l)
                        ewma = EWMAChart(limits: l)
                        cusum = CUSUMChart(limits: l)
                    }
                    continue
                }
                var hit = checker!.add(x).map(\.rawValue)
                if ewma!.add(x) { hit.append("ewma") }
                if cusum!.add(x) { hit.append("cusum") }
                if hit.contains(where: tests.contains) { alarms += 1 }
            }
        }
        return 1_000 * Double(alarms) / Double(used)
    }

    @Test func theChosenSetRaisesAFractionOfTheFalseAlarms() {
        let every: Set<String> = [
            "beyond_3_sigma", "2_of_3_beyond_2_sigma", "4_of_5_beyond_1_sigma", "8_on_one_side", "ewma", "cusum",
        ]
        let all = Self.falseAlarms(subgroup: 1, tests: every)
        let threeSigma = Self.falseAlarms(subgroup: 1, tests: ["beyond_3_sigma"])
        let chosen100 = Self.falseAlarms(subgroup: 5, tests: ["beyond_3_sigma", "cusum"])
        let chosen = Self.falseAlarms(subgroup: 5, tests: ["beyond_3_sigma", "cusum"], baseline: 250)
        // Measured on 400,000 parts: every test 22.0 per 1,000 parts; beyond 3 sigma 3.3 (theory 2.7 with known
        // limits: limits from 100 points scatter it); the milling config's set, subgroups of 5 with beyond 3 sigma
        // and CUSUM, 2.5 with limits from 100 parts and 1.4 with limits from 250.
        #expect(threeSigma > 2 && threeSigma < 5, "beyond 3 sigma: \(threeSigma) per 1,000 parts")
        #expect(all > 5 * threeSigma, "every test: \(all) per 1,000 parts")
        #expect(
            chosen < chosen100 && chosen < 2 && all > 10 * chosen, "chosen: \(chosen) (\(chosen100) from 100 parts)")
    }
}
