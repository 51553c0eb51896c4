import Bus
import Foundation
import HummingbirdTesting
import Plant
import Primitives
import Registry
import Testing
import Topics

@testable import Server

/// A challenger's shadow records joined with labels beside the champion's decisions on the same readings; promotion
/// refused until the policy's evidence is in, then done, audited and recorded with the evidence in the history.
@Suite struct ChallengerAPITests {
    static let machine = "plant1/line1/m01"

    /// `count` readings from `first`: a label (every 10th a failure), and the challenger's and the champion's
    /// decisions (the champion misses every failure whose index ends in 0 or 1 of 20; the challenger finds all).
    /// Shadow records come before their label for odd readings and after it for even ones, as topics interleave.
    static func feed(_ view: PlantView, first: Int, count: Int) async {
        var records: [ConsumedRecord] = []
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var offset = Int64(first * 2)
        func add(_ topic: String, _ json: String) {
            records.append(PlantAPITests.record(topic, offset, json))
            offset += 1
        }
        for i in first..<(first + count) {
            let failed = i % 10 == 0
            let championSays = failed && i % 20 != 0
            let ts = Timestamp.format(now - Int64(first + count - i) * 1000)
            let shadow =
                #"{"machine":"\#(machine)","ts":"\#(ts)","seq":\#(i),"model":"failure@v2","risk":\#(failed ? 0.9 : 0.1),"failure":\#(failed),"champion":"failure@v1","champion_risk":\#(championSays ? 0.8 : 0.2),"champion_failure":\#(championSays)}"#
            let label = #"{"machine":"\#(machine)","seq":\#(i),"failure":\#(failed ? 1 : 0)}"#
            if i % 2 == 1 {
                add("shadow-predictions", shadow)
                add("labels", label)
            } else {
                add("labels", label)
                add("shadow-predictions", shadow)
            }
        }
        await view.apply(records, now: now)
    }

    @Test func promotionWaitsForEvidenceThenIsAuditedWithIt() async throws {
        let t = try TestServer()
        defer { t.remove() }
        try t.importKeras("softmax", as: "failure", task: .multiclass)
        try t.importKeras("softmax", as: "failure", task: .multiclass)
        try t.registry.promote("failure", version: 1, to: .production)
        try t.registry.setAlias("champion", of: "failure", to: 1)
        let (engineer, operatorToken, viewer) = (t.token[.engineer]!, t.token[.operator]!, t.token[.viewer]!)
        let (registry, view) = (t.registry, t.view)
        try await t.test { client in
            // No challenger yet: a 404 that says how to name one.
            var r = try await client.call(.get, "/api/models/failure/challenger", token: engineer)
            #expect(r.status == .notFound)
            #expect((r.json["error"] as? String)?.contains("models alias failure@vN challenger") == true)
            try registry.setAlias("challenger", of: "failure", to: 2)

            // 300 outcomes: fewer than the policy's 500.
            await Self.feed(view, first: 0, count: 300)
            r = try await client.call(.get, "/api/models/failure/challenger", token: engineer)
            #expect(r.status == .ok)
            #expect(r.json["decision"] as? String == "wait")
            #expect(r.json["labelled"] as? Int == 300)
            #expect(r.json["champion"] as? String == "failure@v1")
            r = try await client.call(.post, "/api/models/failure/challenger/promote", token: engineer, json: [:])
            #expect(r.status == .conflict)
            #expect((r.json["error"] as? String)?.contains("300 labelled outcomes of the 500") == true)
            #expect(try registry.resolve(ModelReference("failure@production")).version == 1)

            await Self.feed(view, first: 300, count: 300)
            r = try await client.call(.get, "/api/models/failure/challenger", token: engineer)
            #expect(r.json["decision"] as? String == "promote")
            let challengerF1 = (r.json["challenger_figures"] as? [String: Any])?["f1"] as? Double
            let championF1 = (r.json["champion_figures"] as? [String: Any])?["f1"] as? Double
            #expect(challengerF1 == 1)
            // The champion found 30 of 60 failures and raised nothing false: F1 = 2/3.
            #expect(abs((championF1 ?? 0) - 2.0 / 3) < 1e-9)
            // The dashboard's monitoring lists the pair.
            let monitoring = try await client.call(.get, "/api/monitoring", token: viewer)
            let shadow = monitoring.json["shadow"] as? [[String: Any]]
            #expect(shadow?.first?["challenger"] as? String == "failure@v2")
            #expect(shadow?.first?["labelled"] as? Int == 600)
            // An operator may not promote; an engineer may.
            r = try await client.call(.post, "/api/models/failure/challenger/promote", token: operatorToken, json: [:])
            #expect(r.status == .forbidden)
            r = try await client.call(.post, "/api/models/failure/challenger/promote", token: engineer, json: [:])
            #expect(r.status == .ok, "\(r.text)")
            #expect(r.json["stage"] as? String == "production")
            // The registry's view compares versions by their aliases, parameters and data.
            let model = try await client.call(.get, "/api/models/failure", token: viewer)
            let rows = model.json["versions"] as? [[String: Any]] ?? []
            #expect(rows.map { $0["aliases"] as? [String] ?? ["?"] } == [[], ["champion"]])
            #expect(rows.allSatisfy { $0["hyperparameters"] is [String: String] && $0.keys.contains("dataset_sha256") })
            // No challenger left: promoting again is a 404.
            r = try await client.call(.post, "/api/models/failure/challenger/promote", token: engineer, json: [:])
            #expect(r.status == .notFound)
        }
        #expect(try t.registry.resolve(ModelReference("failure@production")).version == 2)
        #expect(try t.registry.versions(of: "failure").first { $0.version == 1 }?.stage == .archived)
        #expect(try t.registry.aliases(of: "failure") == ["champion": 2])
        let promotion = try t.registry.history(of: "failure").last { $0.action == "promote" }
        #expect(promotion?.version == 2)
        #expect(promotion?.user == "test-engineer")
        #expect(promotion?.note?.contains("live F1 1.0 against the champion's 0.667 on the same 600") == true)
        let audit = try String(contentsOfFile: t.directory + "/audit.log", encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(
            audit.contains {
                $0["target"] as? String == "/api/models/failure/challenger/promote"
                    && $0["user"] as? String == "test-engineer"
            })
    }

    @Test func aChallengerThatDoesNotBeatTheChampionIsRejected() async throws {
        let t = try TestServer()
        defer { t.remove() }
        try t.importKeras("softmax", as: "failure", task: .multiclass)
        try t.importKeras("softmax", as: "failure", task: .multiclass)
        try t.registry.promote("failure", version: 1, to: .production)
        try t.registry.setAlias("challenger", of: "failure", to: 2)
        // The challenger is the one that misses failures here.
        var records: [ConsumedRecord] = []
        for i in 0..<600 {
            let failed = i % 10 == 0
            let challengerSays = failed && i % 20 != 0
            let v =
                #"{"machine":"\#(Self.machine)","ts":"2026-06-01T00:00:00Z","seq":\#(i),"model":"failure@v2","risk":0.5,"failure":\#(challengerSays),"champion":"failure@v1","champion_risk":0.5,"champion_failure":\#(failed)}"#
            records.append(PlantAPITests.record("shadow-predictions", Int64(i), v))
            records.append(
                PlantAPITests.record(
                    "labels", Int64(i), #"{"machine":"\#(Self.machine)","seq":\#(i),"failure":\#(failed ? 1 : 0)}"#))
        }
        await t.view.apply(records, now: 0)
        let engineer = t.token[.engineer]!
        try await t.test { client in
            var r = try await client.call(.get, "/api/models/failure/challenger", token: engineer)
            #expect(r.json["decision"] as? String == "reject")
            r = try await client.call(.post, "/api/models/failure/challenger/promote", token: engineer, json: [:])
            #expect(r.status == .conflict)
            r = try await client.call(.post, "/api/models/failure/challenger/reject", token: engineer, json: [:])
            #expect(r.status == .ok)
        }
        #expect(try t.registry.versions(of: "failure").first { $0.version == 2 }?.stage == .archived)
        #expect(try t.registry.resolve(ModelReference("failure@production")).version == 1)
        #expect(try t.registry.aliases(of: "failure").isEmpty)
        #expect(try t.registry.history(of: "failure").last?.action == "reject")
    }

    /// A "fails within 30 min" challenger is judged against the machine's failures within its horizon (found in the
    /// readings: running, then down), once the machine's readings have passed it.
    @Test func failsWithinDecisionsAreJudgedAgainstFailuresInTheHorizon() async throws {
        let t = try TestServer()
        defer { t.remove() }
        let start: Int64 = 1_780_000_000_000
        let failures: Set<Int> = [100, 300, 500]
        var records: [ConsumedRecord] = []
        var offset: Int64 = 0
        func add(_ topic: String, _ json: String) {
            records.append(PlantAPITests.record(topic, offset, json))
            offset += 1
        }
        for minute in 0..<640 {
            let ts = Timestamp.format(start + Int64(minute) * 60_000)
            // The part after each failure finds the machine down.
            let down = failures.contains(minute - 1)
            add(
                "readings",
                #"{"machine":"\#(Self.machine)","ts":"\#(ts)","seq":\#(minute),"values":{"air_temp_k":300,"process_temp_k":310,"rpm":1500,"torque_nm":40,"tool_wear_min":1},"product":"M","state":"\#(down ? "down" : "running")","good":\#(down ? 0 : 1),"scrap":0}"#
            )
            guard !down else { continue }
            // The challenger sees each failure coming 30 minutes ahead; the champion never does.
            let coming = failures.contains { minute <= $0 && minute >= $0 - 30 }
            add(
                "shadow-predictions",
                #"{"machine":"\#(Self.machine)","ts":"\#(ts)","seq":\#(minute),"model":"lead@v2","risk":\#(coming ? 0.9 : 0.1),"failure":\#(coming),"champion":"lead@v1","champion_risk":0.1,"champion_failure":false,"horizon_min":30}"#
            )
            // The champion's own predictions, judged the same way.
            add(
                "predictions",
                #"{"machine":"\#(Self.machine)","ts":"\#(ts)","seq":\#(minute),"state":"running","risk":0.1,"failure":false,"model":"lead@v1","horizon_min":30,"features":{}}"#
            )
        }
        await t.view.apply(records, now: 0)
        let tally = await t.view.shadowEvidence(challenger: "lead@v2")
        // The newest reading is at minute 639: the decisions of minutes 0...608 have passed their horizon, 606 running
        // readings (3 were down); 3 failures x 31 readings each (30 minutes ahead, and the failing part) are positives.
        #expect(tally?.challengerOutcomes == Outcomes(tp: 93, fp: 0, tn: 606 - 93, fn: 0))
        #expect(tally?.championOutcomes.tp == 0 && tally?.championOutcomes.fn == 93)
        #expect(
            PromotionPolicy().decide(challenger: tally!.challengerOutcomes, champion: tally!.championOutcomes).verdict
                == "promote")
        // The champion's live figures and their hourly timeline, judged by the horizon too.
        let monitoring = try JSONSerialization.jsonObject(with: Data(await t.view.monitoringJSON())) as? [String: Any]
        let champion = (monitoring?["models"] as? [[String: Any]])?.first { $0["model"] as? String == "lead@v1" }
        #expect(champion?["labelled"] as? Int == 606)
        #expect((champion?["confusion"] as? [String: Int])?["fn"] == 93)
        let timeline = monitoring?["timeline"] as? [[String: Any]] ?? []
        #expect(timeline.count == 11 && timeline.reduce(0) { $0 + ($1["labelled"] as? Int ?? 0) } == 606)
    }

    @Test func policyDecidesOnPairedOutcomes() {
        let policy = PromotionPolicy(minOutcomes: 100, minFailures: 5, margin: 0.05)
        let good = Outcomes(tp: 8, fp: 2, tn: 88, fn: 2)
        let worse = Outcomes(tp: 6, fp: 3, tn: 87, fn: 4)
        #expect(policy.decide(challenger: Outcomes(tp: 8, fp: 2, tn: 80, fn: 2), champion: worse).verdict == "wait")
        #expect(policy.decide(challenger: Outcomes(tp: 2, fp: 0, tn: 98, fn: 2), champion: worse).verdict == "wait")
        #expect(policy.decide(challenger: good, champion: worse).verdict == "promote")
        #expect(policy.decide(challenger: worse, champion: good).verdict == "reject")
        // An alarm that is always on is refused, however bad the champion has become.
        let standing = policy.decide(
            challenger: Outcomes(tp: 10, fp: 90, tn: 0, fn: 0), champion: Outcomes(tp: 0, fp: 0, tn: 90, fn: 10))
        #expect(standing.verdict == "reject" && standing.reason.contains("always on (F1 0.182)"), "\(standing)")
        // Within the margin: not enough to replace a model that works.
        #expect(policy.decide(challenger: Outcomes(tp: 6, fp: 2, tn: 88, fn: 4), champion: worse).verdict == "reject")
    }
}
