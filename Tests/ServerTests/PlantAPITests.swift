import Bus
import Foundation
import HummingbirdTesting
import Learn
import Plant
import Primitives
import Registry
import Testing
import Topics

@testable import Server

/// The plant API over a view fed with the pipeline's records: alerts acknowledged and cleared by operators (recorded
/// on the bus, refused when they make no sense), machines, KPIs, SPC charts, monitoring, probes and /metrics.
@Suite struct PlantAPITests {
    static func record(_ topic: String, _ offset: Int64, _ json: String) -> ConsumedRecord {
        ConsumedRecord(
            topic: topic, partition: 0, offset: offset, timestamp: 0, key: nil, value: Array(json.utf8), headers: [])
    }

    static let machine = "plant1/line1/m01"

    static func feed(_ view: PlantView) async {
        var records: [ConsumedRecord] = []
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for i in 0..<120 {
            let ts = Timestamp.format(now - Int64(120 - i) * 1000)
            // Torque steady around 40, then a jump over the last five readings (a rule 1 violation at least).
            let torque = i < 115 ? 40 + Double(i % 5) * 0.5 : 60.0
            records.append(
                record(
                    "readings", Int64(i),
                    #"{"machine":"\#(machine)","ts":"\#(ts)","seq":\#(i),"values":{"air_temp_k":300,"process_temp_k":310,"rpm":1500,"torque_nm":\#(torque),"tool_wear_min":\#(i)},"product":"M","state":"running","good":1,"scrap":0}"#
                ))
            records.append(
                record(
                    "predictions", Int64(i),
                    #"{"machine":"\#(machine)","ts":"\#(ts)","seq":\#(i),"state":"running","product":"M","risk":\#(Double(i) / 200),"failure":\#(i >= 100),"model":"failure@v1","modes":{"HDF":0.1},"features":{"power_w":6000}}"#
                ))
            // Labels: failures from reading 110 on.
            records.append(
                record(
                    "labels", Int64(i),
                    #"{"machine":"\#(machine)","seq":\#(i),"failure":\#(i >= 110 ? 1 : 0),"modes":[]}"#))
        }
        records.append(
            record(
                "alerts", 0,
                #"{"id":"\#(machine)/failure_risk/1","machine":"\#(machine)","ts":"\#(Timestamp.format(now))","kind":"failure_risk","severity":"critical","status":"raised","message":"failure risk 60 % on \#(machine)","evidence":{"risk":0.6},"source":{"topic":"readings","partition":0,"offset":119}}"#
            ))
        records.append(
            record(
                "kpis", 0,
                #"{"machine":"\#(machine)","ts":"\#(Timestamp.format(now))","hour":{"availability":0.9,"performance":0.8,"quality":0.95,"oee":0.684,"good":100,"scrap":5,"downtime":[]},"shift":{"availability":0.9,"performance":0.8,"quality":0.95,"oee":0.684,"good":100,"scrap":5,"downtime":[{"reason":"tool_change","seconds":300}]}}"#
            ))
        records.append(record("dead-letters", 0, #"{"reason":"not_finite","error":"x","original":"{}"}"#))
        await view.apply(records, now: now)
    }

    @Test func alertsAreAcknowledgedAndClearedOnceAndRecordedOnTheBus() async throws {
        let t = try TestServer()
        defer { t.remove() }
        await Self.feed(t.view)
        let id = "\(Self.machine)/failure_risk/1".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let (op, viewer) = (t.token[.operator]!, t.token[.viewer]!)
        try await t.test { client in
            let list = try await client.call(.get, "/api/alerts?status=raised", token: viewer)
            #expect((list.json["alerts"] as? [[String: Any]])?.count == 1)
            #expect(list.json["active"] as? Int == 1)
            // A viewer may not, and nothing changes.
            #expect(try await client.call(.post, "/api/alerts/\(id)/acknowledge", token: viewer).status == .forbidden)
            let ack = try await client.call(.post, "/api/alerts/\(id)/acknowledge", token: op, json: ["note": "on it"])
            #expect(ack.status == .ok, "\(ack.text)")
            #expect(ack.json["acknowledged_by"] as? String == "test-operator")
            let again = try await client.call(.post, "/api/alerts/\(id)/acknowledge", token: op)
            #expect(again.status == .conflict)
            #expect((again.json["error"] as? String)?.contains("already acknowledged by test-operator") == true)
            let clear = try await client.call(.post, "/api/alerts/\(id)/clear", token: op)
            #expect(clear.json["status"] as? String == "cleared")
            #expect(try await client.call(.post, "/api/alerts/\(id)/clear", token: op).status == .conflict)
            #expect(try await client.call(.post, "/api/alerts/nosuch/clear", token: op).status == .notFound)
            #expect(
                try await client.call(.post, "/api/alerts/\(id)/clear", token: op, raw: Array("{".utf8)).status
                    == .badRequest)
            let active = try await client.call(.get, "/api/alerts", token: viewer)
            #expect(active.json["active"] as? Int == 0)
        }
        // The two actions are on the bus (a restarted server replays them) and in the audit log.
        let consumer = try await t.bus.consumer(ConsumerOptions(topics: [Topics.alertActions.name]))
        let actions = try await consumer.poll(maxRecords: 10, timeout: .seconds(1))
        #expect(actions.count == 2)
        let fresh = PlantView(process: .milling())
        await Self.feed(fresh)
        await fresh.apply(actions, now: 0)
        let replayed =
            try JSONSerialization.jsonObject(with: Data(await fresh.alertJSON("\(Self.machine)/failure_risk/1")))
            as! [String: Any]
        #expect(replayed["status"] as? String == "cleared")
        #expect(replayed["acknowledged_by"] as? String == "test-operator")
        #expect(
            t.audit.entries.map { $0["action"] } == [
                "POST /api/alerts/{id}/acknowledge", "POST /api/alerts/{id}/clear",
            ])
        #expect(t.audit.entries.allSatisfy { $0["user"] == "test-operator" })
    }

    /// Alarm management on the server: suppressed alarms are counted, not listed; shelving takes an alarm and its
    /// repeats off the active list until it expires (operator role, audited, on the bus); a latched alarm back to
    /// normal stays until acknowledged; /api/alarms counts the journal.
    @Test func shelvingSuppressionLatchingAndTheAlarmKPIs() async throws {
        let t = try TestServer()
        defer { t.remove() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        func alarm(_ n: Int64, _ fields: String, at millis: Int64) -> ConsumedRecord {
            Self.record(
                "alerts", n,
                #"{"machine":"\#(Self.machine)","ts":"\#(Timestamp.format(millis))","severity":"warning","message":"m","evidence":{},\#(fields)}"#
            )
        }
        await t.view.apply(
            [
                alarm(
                    0, #""id":"a1","kind":"spc","variable":"rpm","priority":"low","status":"raised""#, at: now - 60_000),
                alarm(
                    1,
                    #""id":"s1","kind":"spc","variable":"torque_nm","priority":"low","status":"suppressed","reason":"machine down""#,
                    at: now - 50_000),
                alarm(
                    2, #""id":"r1","kind":"failure_risk","priority":"medium","latched":true,"status":"raised""#,
                    at: now - 40_000),
                alarm(
                    3,
                    #""id":"r1","kind":"failure_risk","priority":"medium","status":"cleared","raised_at":"\#(Timestamp.format(now - 40_000))","reason":"machine down""#,
                    at: now - 30_000),
            ], now: now)
        let (op, viewer) = (t.token[.operator]!, t.token[.viewer]!)
        try await t.test { client in
            var list = try await client.call(.get, "/api/alerts?status=raised", token: viewer)
            var rows = list.json["alerts"] as? [[String: Any]] ?? []
            // The SPC alarm and the latched failure warning (back to normal, not acknowledged); the suppressed one
            // only counted.
            #expect(Set(rows.compactMap { $0["id"] as? String }) == ["a1", "r1"], "\(list.text)")
            #expect(rows.first { $0["id"] as? String == "r1" }?["needs_acknowledge"] as? Bool == true)
            #expect(list.json["suppressed"] as? Int == 1)
            #expect(try await client.call(.post, "/api/alerts/a1/shelve", token: viewer).status == .forbidden)
            #expect(
                try await client.call(.post, "/api/alerts/a1/shelve", token: op, json: ["minutes": 0]).status
                    == .badRequest)
            #expect(
                try await client.call(.post, "/api/alerts/a1/acknowledge", token: op, json: ["minutes": 5]).status
                    == .badRequest)
            let shelve = try await client.call(.post, "/api/alerts/a1/shelve", token: op, json: ["minutes": 30])
            #expect(shelve.status == .ok, "\(shelve.text)")
            #expect(shelve.json["shelved_by"] as? String == "test-operator")
            #expect(try await client.call(.post, "/api/alerts/a1/shelve", token: op).status == .conflict)
            #expect(try await client.call(.post, "/api/alerts/r1/shelve", token: op).status == .conflict)
            list = try await client.call(.get, "/api/alerts?status=raised", token: viewer)
            rows = list.json["alerts"] as? [[String: Any]] ?? []
            #expect(rows.compactMap { $0["id"] as? String } == ["r1"])
            #expect(list.json["shelved"] as? Int == 1)
            let shelved = try await client.call(.get, "/api/alerts?status=shelved", token: viewer)
            #expect((shelved.json["alerts"] as? [[String: Any]])?.first?["id"] as? String == "a1")
            // Acknowledging the latched warning takes it off the active list.
            #expect(try await client.call(.post, "/api/alerts/r1/acknowledge", token: op).status == .ok)
            #expect(try await client.call(.get, "/api/alerts", token: viewer).json["active"] as? Int == 0)
        }
        // While shelved, the condition's next raise is journaled as shelved, not annunciated.
        await t.view.apply(
            [
                alarm(
                    4,
                    #""id":"a1","kind":"spc","variable":"rpm","priority":"low","status":"cleared","raised_at":"\#(Timestamp.format(now - 60_000))""#,
                    at: now - 20_000),
                alarm(
                    5, #""id":"a2","kind":"spc","variable":"rpm","priority":"low","status":"raised""#, at: now - 10_000),
            ], now: now)
        try await t.test { client in
            let k = try await client.call(.get, "/api/alarms?hours=1", token: viewer)
            #expect(k.status == .ok, "\(k.text)")
            // Raised and annunciated: a1 and r1; a2 came while shelved.
            #expect(k.json["alarms"] as? Int == 2, "\(k.text)")
            #expect(k.json["shelved"] as? Int == 1 && k.json["suppressed"] as? Int == 1)
            #expect((k.json["by_priority"] as? [String: Int])?["medium"] == 1)
            #expect(try await client.call(.get, "/api/alarms?hours=0", token: viewer).status == .badRequest)
            let metrics = try await client.call(.get, "/api/alarms", token: viewer)
            #expect(metrics.json["per_operator_per_10_min"] != nil)
        }
        #expect(t.audit.entries.contains { $0["action"] == "POST /api/alerts/{id}/shelve" })
        let consumer = try await t.bus.consumer(ConsumerOptions(topics: [Topics.alertActions.name]))
        let actions = try await consumer.poll(maxRecords: 10, timeout: .seconds(1))
        let shelveAction = actions.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.value)) as? [String: Any]
        }
        .first { $0["action"] as? String == "shelve" }
        #expect(shelveAction?["minutes"] as? Double == 30 && shelveAction?["until"] is String)
    }

    /// Repeats of an open incident fold into it; an SPC alert with no violation for 10 minutes clears itself.
    @Test func repeatsFoldInAndQuietSPCAlertsClear() async throws {
        let view = PlantView(process: .milling())
        func spc(_ id: Int, _ millis: Int64, variable: String = "rpm") -> ConsumedRecord {
            Self.record(
                "alerts", Int64(id),
                #"{"id":"a\#(id)","machine":"\#(Self.machine)","ts":"\#(Timestamp.format(millis))","kind":"spc","severity":"warning","status":"raised","variable":"\#(variable)","message":"rpm out","evidence":{}}"#
            )
        }
        let t0: Int64 = 1_800_000_000_000
        await view.apply([spc(1, t0), spc(2, t0 + 1_000), spc(3, t0 + 2_000)], now: 0)
        var open =
            try JSONSerialization.jsonObject(
                with: Data(try await view.alertsJSON(status: "raised", machine: nil, limit: 10))) as! [String: Any]
        #expect(open["active"] as? Int == 1)
        #expect(((open["alerts"] as? [[String: Any]])?.first?["occurrences"]) as? Int == 3)
        // Eleven minutes later another variable fires: the rpm incident has been quiet for more than 10 minutes.
        await view.apply([spc(4, t0 + 2_000 + 11 * 60_000, variable: "torque_nm")], now: 0)
        open =
            try JSONSerialization.jsonObject(
                with: Data(try await view.alertsJSON(status: "all", machine: nil, limit: 10))) as! [String: Any]
        let rows = open["alerts"] as? [[String: Any]] ?? []
        #expect(rows.map { $0["status"] as? String } == ["raised", "cleared"])
        #expect(rows.last?["cleared_by"] as? String == "no violation for 10 min")
    }

    /// Drift: torque's live values (40 to 42, then 60) against a training reference of N(40, 1) is flagged and
    /// raises a drift alert; rpm, constant in both, is stable; both reach /api/monitoring and /metrics.
    @Test func driftAgainstTheTrainingReference() async throws {
        let t = try TestServer()
        defer { t.remove() }
        var rng = RandomSource(seed: 5)
        let model = try Sequential([Dense(1, activation: .sigmoid)], inputSize: 1, seed: 1)
        var description = ModelFile.Description(
            task: .binary, inputSize: 1, outputSize: 1, layers: model.configurations, preprocessing: nil, target: "y",
            classes: ["0", "1"], threshold: 0.5,
            metadata: .init(created: "x", datasetSHA256: nil, hyperparameters: [:], codeVersion: "test"))
        description.reference = [
            "torque_nm": ReferenceDistribution((0..<5_000).map { _ in 40 + rng.normal() }),
            "rpm": ReferenceDistribution([Double](repeating: 1500, count: 1000)),
        ]
        description.predictionReference = ReferenceDistribution((0..<1_000).map { Double($0) / 1_000 * 0.6 })
        try t.registry.register(ModelFile(description: description, model: model), as: "failure")
        await Self.feed(t.view)
        let (values, risks, span) = await t.view.driftSamples()
        let reports = DriftMonitor(registry: t.registry).reports(values: values, risks: risks, span: span)
        #expect(reports.map(\.model) == ["failure@v1"])
        // The plant time the check covers: the 120 running readings, a second apart.
        #expect(span.map { $0.upperBound - $0.lowerBound } == 119_000)
        let features = Dictionary(uniqueKeysWithValues: (reports.first?.features ?? []).map { ($0.name, $0) })
        #expect(features["torque_nm"]?.drifted == true)
        #expect(features["rpm"]?.drifted == false)
        #expect(reports.first?.prediction?.drifted == false)
        await t.view.record(drift: reports[0], now: 1_800_000_000_000)
        let viewer = t.token[.viewer]!
        try await t.test { client in
            let monitoring = try await client.call(.get, "/api/monitoring", token: viewer).json
            let drift = (monitoring["drift"] as? [[String: Any]])?.first
            #expect(drift?["drifted"] as? Bool == true)
            #expect(drift?["window_to"] as? String == span.map { Timestamp.format($0.upperBound) })
            #expect(drift?["window_from"] as? String == span.map { Timestamp.format($0.lowerBound) })
            let alerts =
                try await client.call(.get, "/api/alerts?status=raised", token: viewer).json["alerts"]
                as? [[String: Any]] ?? []
            #expect(alerts.contains { $0["kind"] as? String == "drift" && $0["variable"] as? String == "torque_nm" })
        }
    }

    @Test func machinesKPIsChartsAndMonitoring() async throws {
        let t = try TestServer()
        defer { t.remove() }
        await Self.feed(t.view)
        let viewer = t.token[.viewer]!
        let m = Self.machine.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        try await t.test { client in
            let machines =
                try await client.call(.get, "/api/machines", token: viewer).json["machines"] as? [[String: Any]]
            #expect(machines?.count == 1)
            #expect(machines?.first?["risk"] as? Double == 119.0 / 200)
            #expect(machines?.first?["oee"] as? Double == 0.684)
            let one = try await client.call(.get, "/api/machines/\(m)", token: viewer).json
            #expect((one["risk_history"] as? [Any])?.count == 120)
            #expect(((one["values"] as? [String: Any])?["torque_nm"] as? [Any])?.count == 120)
            #expect(try await client.call(.get, "/api/machines/nosuch", token: viewer).status == .notFound)
            // The chart: limits from the first 60 points (40 to 42), the jump to 60 breaks rule 1.
            let chart = try await client.call(.get, "/api/machines/\(m)/spc/torque_nm", token: viewer).json
            #expect(chart["status"] as? String == "ok")
            #expect(chart["baseline_points"] as? Int == 60)
            let violations = chart["violations"] as? [[String: Any]] ?? []
            #expect(
                violations.contains {
                    ($0["rules"] as? [String])?.contains("beyond_3_sigma") == true && $0["index"] as? Int == 115
                })
            #expect(chart["cpk"] != nil)
            #expect(try await client.call(.get, "/api/machines/\(m)/spc/nosuch", token: viewer).status == .notFound)
            #expect(
                try await client.call(.get, "/api/machines/\(m)/spc/torque_nm?rules=x", token: viewer).status
                    == .badRequest)
            let kpis = try await client.call(.get, "/api/kpis", token: viewer).json
            #expect((kpis["downtime_pareto"] as? [[String: Any]])?.first?["reason"] as? String == "tool_change")
            // Predictions 100-119 say failure, labels 110-119 are failures: precision 0.5, recall 1.
            let monitoring = try await client.call(.get, "/api/monitoring", token: viewer).json
            let model = (monitoring["models"] as? [[String: Any]])?.first
            #expect(model?["labelled"] as? Int == 120)
            #expect(model?["precision"] as? Double == 0.5)
            #expect(model?["recall"] as? Double == 1)
            let summary = try await client.call(.get, "/api/summary", token: viewer).json
            #expect(summary["dead_letters"] as? Int == 1)
            let events = try await client.call(.get, "/api/events?events=1", token: viewer)
            #expect(events.headers[.contentType] == "text/event-stream")
            #expect(events.text.hasPrefix("event: plant\ndata: {"))
            #expect(try await client.call(.get, "/api/events?events=0", token: viewer).status == .badRequest)
        }
    }

    /// A machine whose count of parts starts again (a restarted gateway, a second simulation) repeats sequence
    /// numbers: a label is joined with the reading of its own time, never with an earlier one of the same number.
    @Test func labelsOfARestartedCountJoinByTime() async throws {
        let t = try TestServer()
        defer { t.remove() }
        let machine = Self.machine
        let start = Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000
        var offsets = ["predictions": Int64(0), "labels": 0]
        func add(_ topic: String, _ json: String) -> ConsumedRecord {
            defer { offsets[topic]! += 1 }
            return Self.record(topic, offsets[topic]!, json)
        }
        var records: [ConsumedRecord] = []
        for run in 0..<2 {
            for seq in 0..<10 {
                let ts = Timestamp.format(start + Int64(run * 600 + seq) * 1000)
                // The model says failure on every reading; the first run's parts failed, the second's did not.
                records.append(
                    add(
                        "predictions",
                        #"{"machine":"\#(machine)","ts":"\#(ts)","seq":\#(seq),"state":"running","risk":0.9,"failure":true,"model":"failure@v1","features":{}}"#
                    ))
                // Each label comes after its prediction: the second run's predictions find the first run's label of
                // their sequence number waiting, which is not theirs.
                records.append(
                    add(
                        "labels",
                        #"{"machine":"\#(machine)","seq":\#(seq),"ts":"\#(ts)","failure":\#(run == 0 ? 1 : 0)}"#))
            }
        }
        await t.view.apply(records, now: start + 3_600_000)
        let outcomes = await t.view.outcomes["failure@v1"]?.total
        #expect(outcomes == Outcomes(tp: 10, fp: 10, tn: 0, fn: 0), "\(String(describing: outcomes))")
    }

    @Test func probesAndMetrics() async throws {
        let t = try TestServer()
        defer { t.remove() }
        try await t.test { client in
            let health = try await client.call(.get, "/healthz", token: nil)
            let ready = try await client.call(.get, "/readyz", token: nil)
            #expect(health.status == .ok)
            #expect(ready.status == .serviceUnavailable)
        }
        t.ready.set()
        await Self.feed(t.view)
        let viewer = t.token[.viewer]!
        try await t.test { client in
            #expect(try await client.call(.get, "/readyz", token: nil).status == .ok)
            let metrics = try await client.call(.get, "/metrics", token: viewer)
            #expect(metrics.status == .ok)
            let text = metrics.text
            for series in [
                "millstream_build_info{version=\"test\"} 1",
                "millstream_predictions_total{model=\"failure@v1\",class=\"failure\"} 20",
                "millstream_dead_letters_total{reason=\"not_finite\"} 1",
                "millstream_alerts_total{kind=\"failure_risk\",severity=\"critical\"} 1",
                "millstream_oee_ratio{machine=\"plant1/line1/m01\"} 0.684",
                "millstream_end_to_end_latency_seconds_bucket",
                "millstream_model_precision_ratio{model=\"failure@v1\"} 0.5",
            ] {
                #expect(text.contains(series), "missing \(series)")
            }
        }
    }
}
