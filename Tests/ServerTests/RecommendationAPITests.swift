import Bus
import Foundation
import HummingbirdTesting
import Plant
import Primitives
import Testing
import Topics

@testable import Server

/// Recommendations from the workers, approved or rejected by operators: approval puts the setpoint change on the
/// setpoints topic; decisions are recorded on recommendation-actions (a restarted server replays them); stale or
/// decided ones are refused; closed loop is switched off by an operator, on only by an engineer.
@Suite struct RecommendationAPITests {
    static let machine = "plant1/line1/m01"

    static func recommendation(_ seconds: Int, mode: String = "advisory", tool: Bool = false) -> ConsumedRecord {
        let ts = Timestamp.format(1_800_000_000_000 + Int64(seconds) * 1000)
        let id = "\(machine)@\(1_800_000_000_000 + Int64(seconds) * 1000)"
        return PlantAPITests.record(
            "recommendations", Int64(seconds),
            #"{"id":"\#(id)","machine":"\#(machine)","ts":"\#(ts)","model":"failure@v1","mode":"\#(mode)","changes":[{"variable":"rpm","from":1510,"to":1560,"unit":"rpm"}],"maintenance":[\#(tool ? #""tool_change""# : "")],"risk_before":0.04,"risk_after":0.01,"rate_change":0.01,"gain":1.2,"contributions":[{"variable":"tool_wear_min","value":190,"unit":"min","effect":0.02}],"explanation":"Failure risk 4 % per part."}"#
        )
    }

    static func encoded(_ seconds: Int) -> String {
        "\(machine)@\(1_800_000_000_000 + Int64(seconds) * 1000)".addingPercentEncoding(
            withAllowedCharacters: .alphanumerics)!
    }

    @Test func approvalSendsTheSetpointsAndIsRecorded() async throws {
        let t = try TestServer()
        defer { t.remove() }
        await t.view.apply(
            [
                Self.recommendation(0, mode: "closed_loop"), Self.recommendation(100),
                Self.recommendation(400, tool: true),
            ],
            now: 0)
        let (op, viewer) = (t.token[.operator]!, t.token[.viewer]!)
        try await t.test { client in
            let pending = try await client.call(.get, "/api/recommendations?status=pending", token: viewer)
            let rows = pending.json["recommendations"] as? [[String: Any]] ?? []
            // The first was applied by closed loop; the second was superseded by the third.
            #expect(rows.map { $0["id"] as? String } == ["\(Self.machine)@1800000400000"])
            let all = try await client.call(.get, "/api/recommendations?status=all", token: viewer)
            #expect(
                (all.json["recommendations"] as? [[String: Any]])?.map { $0["status"] as? String } == [
                    "pending", "superseded", "applied",
                ])
            #expect(
                try await client.call(.post, "/api/recommendations/\(Self.encoded(400))/approve", token: viewer).status
                    == .forbidden)
            let stale = try await client.call(.post, "/api/recommendations/\(Self.encoded(100))/approve", token: op)
            #expect(stale.status == .conflict)
            #expect((stale.json["error"] as? String)?.contains("superseded") == true, "\(stale.text)")
            let ok = try await client.call(
                .post, "/api/recommendations/\(Self.encoded(400))/approve", token: op, json: ["note": "go"])
            #expect(ok.status == .ok, "\(ok.text)")
            #expect(ok.json["status"] as? String == "approved")
            #expect(ok.json["decided_by"] as? String == "test-operator")
            let twice = try await client.call(.post, "/api/recommendations/\(Self.encoded(400))/reject", token: op)
            #expect(twice.status == .conflict)
            #expect(try await client.call(.post, "/api/recommendations/nosuch/approve", token: op).status == .notFound)
            #expect(
                try await client.call(.get, "/api/recommendations?status=maybe", token: viewer).status == .badRequest)
        }
        // The setpoint change went to the plant, the decision to the actions topic.
        let setpoints = try await t.bus.consumer(ConsumerOptions(topics: [Topics.setpoints.name]))
        let changes = try await setpoints.poll(maxRecords: 10, timeout: .seconds(1))
        #expect(changes.count == 1)
        let change = try Topics.setpoints.decode(changes[0].value).change
        #expect(change.machine == Self.machine && change.values == [Measurement("rpm", 1560)] && change.changeTool)
        let actions = try await t.bus.consumer(ConsumerOptions(topics: [Topics.recommendationActions.name]))
        let recorded = try await actions.poll(maxRecords: 10, timeout: .seconds(1))
        #expect(recorded.count == 1)
        // A restarted server sees the same statuses.
        let fresh = PlantView(process: .milling())
        await fresh.apply(recorded + [Self.recommendation(100), Self.recommendation(400, tool: true)], now: 0)
        let replayed =
            try JSONSerialization.jsonObject(
                with: Data(try await fresh.recommendationJSON("\(Self.machine)@1800000400000")))
            as! [String: Any]
        #expect(replayed["status"] as? String == "approved")
        #expect(t.audit.entries.map { $0["action"] } == ["POST /api/recommendations/{id}/approve"])
    }

    @Test func closedLoopIsSwitchedOffByOperatorsAndOnByEngineers() async throws {
        let t = try TestServer()
        defer { t.remove() }
        let (op, engineer) = (t.token[.operator]!, t.token[.engineer]!)
        try await t.test { client in
            let on = try await client.call(.post, "/api/optimizer/closed-loop", token: op, json: ["enabled": true])
            #expect(on.status == .forbidden)
            #expect(
                try await client.call(.post, "/api/optimizer/closed-loop", token: engineer, json: ["enabled": true])
                    .status
                    == .ok)
            let off = try await client.call(.post, "/api/optimizer/closed-loop", token: op, json: ["enabled": false])
            #expect(off.status == .ok)
            #expect((off.json["closed_loop"] as? [String: Any])?["enabled"] as? Bool == false)
            #expect(
                try await client.call(.post, "/api/optimizer/closed-loop", token: op, json: ["enabled": "no"]).status
                    == .badRequest)
        }
        let consumer = try await t.bus.consumer(ConsumerOptions(topics: [Topics.optimizerControl.name]))
        let records = try await consumer.poll(maxRecords: 10, timeout: .seconds(1))
        #expect(records.map { try? Topics.optimizerControl.decode($0.value).closedLoop } == [true, false])
    }
}
