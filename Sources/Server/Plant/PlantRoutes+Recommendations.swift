import Bus
import Foundation
import Hummingbird
import Plant
import Primitives
import Topics

extension PlantRoutes {
    /// Recommendations (list, approve, reject) and the closed-loop switch.
    func registerRecommendations(on routes: inout RouteTable) {
        let view = self.view
        routes.add(
            .get, "/api/recommendations", role: .viewer,
            "Setpoint recommendations, newest first (status=pending|approved|rejected|applied|superseded|all, machine, limit)"
        ) { request, _ in
            let (status, machine, limit) = try Self.listQuery(request, maximum: 2_000)
            return Self.json(try await view.recommendationsJSON(status: status, machine: machine, limit: limit))
        }
        routes.add(.get, "/api/recommendations/{id}", role: .viewer, "One recommendation with its reasons") { _, c in
            Self.json(try await view.recommendationJSON(try Self.parameter(c, "id")))
        }
        for verb in ["approve", "reject"] {
            routes.add(
                .post, "/api/recommendations/{id}/\(verb)", role: .operator,
                verb == "approve"
                    ? "Approve a recommendation: its setpoints go to the setpoints topic (recorded on recommendation-actions)"
                    : "Reject a recommendation (recorded on recommendation-actions)",
                changesState: true, audit: audit
            ) { request, c in
                try await self.decide(verb, try Self.parameter(c, "id"), request, c)
            }
        }
        routes.add(.get, "/api/optimizer", role: .viewer, "Closed loop on or off, and recommendations by status") {
            _, _ in
            Self.json(await view.optimizerJSON())
        }
        routes.add(
            .post, "/api/optimizer/closed-loop", role: .operator,
            "Switch closed loop for every worker: {\"enabled\":false} (operator) stops it at once; enabling needs engineer",
            changesState: true, audit: audit
        ) { request, c in
            try await self.switchClosedLoop(request, c)
        }
    }

    private func note(_ request: Request) async throws -> (note: String?, body: [String: Any]) {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        guard body.readableBytes > 0 else { return (nil, [:]) }
        let object = try JSON.object(body)
        guard let n = object["note"] else { return (nil, object) }
        guard let s = n as? String, s.count <= 1_000 else {
            throw APIError.badRequest("note must be a string of at most 1000 characters")
        }
        return (s, object)
    }

    private func send(_ value: [UInt8], key: String, to topic: String) async throws {
        do {
            let producer = try await bus.producer()
            _ = try await producer.send(
                [Record(key: Array(key.utf8), value: value, timestamp: Int64(Date().timeIntervalSince1970 * 1000))],
                to: topic)
            try await producer.flush()
        } catch {
            throw APIError(
                .serviceUnavailable, "could not write to \(topic) on \(bus.url) (\(error)); nothing was changed")
        }
    }

    /// Approve: the setpoint change goes to `setpoints` (durable) first, then the decision to
    /// `recommendation-actions`; reject writes only the decision.
    private func decide(_ verb: String, _ id: String, _ request: Request, _ context: ServerContext) async throws
        -> Response
    {
        let (note, _) = try await self.note(request)
        let entry = try await view.check(decision: verb, recommendation: id)
        let who = context.identity?.name ?? "?"
        let millis = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        let ts = Timestamp.format(millis)
        if verb == "approve" {
            let setpoint = SetpointRecord(
                machine: entry.machine, values: NamedValues(entry.record.changes.map { ($0.variable, $0.to) }),
                changeTool: entry.record.maintenance.contains("tool_change"), by: who, recommendation: id,
                ts: Timestamp.format(millis))
            try await send(setpoint.encoded(), key: entry.machine, to: Topics.setpoints.name)
        }
        let action = RecommendationActionRecord(
            id: UUID().uuidString, recommendation: id, machine: entry.machine, action: verb, by: who, ts: ts,
            note: note)
        try await send(action.encoded(), key: entry.machine, to: Topics.recommendationActions.name)
        await view.recordDecision(action)
        return Self.json(try await view.recommendationJSON(id))
    }

    private func switchClosedLoop(_ request: Request, _ context: ServerContext) async throws -> Response {
        let (note, body) = try await self.note(request)
        guard let enabled = body["enabled"] as? NSNumber, JSON.isBoolean(enabled) else {
            throw APIError.badRequest("the body must be {\"enabled\": true|false}")
        }
        if enabled.boolValue, (context.identity?.role ?? .viewer) < .engineer {
            throw APIError(.forbidden, "switching closed loop on needs the engineer role; operators can switch it off")
        }
        let record = OptimizerControlRecord(
            closedLoop: enabled.boolValue, by: context.identity?.name ?? "?",
            ts: Timestamp.format(Int64((Date().timeIntervalSince1970 * 1000).rounded())), note: note)
        try await send(record.encoded(), key: "closed-loop", to: Topics.optimizerControl.name)
        await view.applyControl(record)
        return Self.json(await view.optimizerJSON())
    }
}
