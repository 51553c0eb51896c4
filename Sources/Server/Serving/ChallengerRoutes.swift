import Bus
import Foundation
import Hummingbird
import Plant
import Primitives
import Registry
import Topics

/// A model's challenger in shadow: the live evidence beside the champion's, and its promotion or rejection, which
/// the policy gates (enough labelled outcomes, a margin of live F1) and the audit log and the model's history record.
struct ChallengerRoutes {
    let registry: ModelRegistry
    let view: PlantView
    let audit: AuditLog
    let policy: PromotionPolicy
    let bus: any MessageBus
    let maxBodyBytes: Int

    /// The challenger's version, the paired outcomes and what the policy says of them.
    func evidence(_ name: String) async throws -> (
        version: Int, json: [String: Any], decision: PromotionPolicy.Decision
    ) {
        guard ((try? registry.versions(of: name)) ?? []).isEmpty == false else {
            throw APIError.notFound("no model '\(name)' in the registry")
        }
        guard let version = try registry.aliases(of: name)["challenger"] else {
            throw APIError.notFound(
                "\(name) has no challenger: point the alias at a version (millstream models alias \(name)@vN challenger) and run the pipeline"
            )
        }
        let label = "\(name)@v\(version)"
        let tally = await view.shadowEvidence(challenger: label)
        let challenger = tally?.challengerOutcomes ?? Outcomes()
        let champion = tally?.championOutcomes ?? Outcomes()
        let decision = policy.decide(challenger: challenger, champion: champion)
        let json: [String: Any] = [
            "name": name, "challenger": label, "champion": tally?.champion ?? NSNull(),
            "labelled": challenger.labelled, "failures": challenger.failures,
            "challenger_figures": Self.figures(challenger), "champion_figures": Self.figures(champion),
            "policy": [
                "min_outcomes": policy.minOutcomes, "min_failures": policy.minFailures, "margin": policy.margin,
            ],
            "decision": decision.verdict, "reason": decision.reason,
        ]
        return (version, json, decision)
    }

    static func figures(_ o: Outcomes) -> [String: Any] {
        [
            "tp": o.tp, "fp": o.fp, "tn": o.tn, "fn": o.fn, "precision": o.precision ?? NSNull(),
            "recall": o.recall ?? NSNull(), "f1": o.f1 ?? NSNull(),
        ]
    }

    func register(on routes: inout RouteTable) {
        routes.add(
            .get, "/api/models/{name}/challenger", role: .viewer,
            "The challenger in shadow: its live outcomes and the champion's on the same labelled readings, and what the promotion policy says"
        ) { _, c in
            JSON.response(try await self.evidence(try c.parameters.require("name")).json)
        }
        routes.add(
            .post, "/api/models/{name}/challenger/promote", role: .engineer,
            "Promote the challenger to production when the policy allows it (409 with the evidence when not); the pipeline reloads within seconds",
            changesState: true, audit: audit
        ) { _, c in
            try await self.settle(c, promote: true)
        }
        routes.add(
            .post, "/api/models/{name}/retrain", role: .engineer,
            "Ask `millstream retrain --watch` to retrain the model now (body {\"reason\": \"...\"}, optional); 202 once the request is on the bus",
            changesState: true, audit: audit
        ) { request, c in
            try await self.requestRetrain(request, c)
        }
        routes.add(
            .post, "/api/models/{name}/challenger/reject", role: .engineer,
            "Reject the challenger (archived, its alias removed: shadow scoring stops), with the evidence so far",
            changesState: true, audit: audit
        ) { _, c in
            try await self.settle(c, promote: false)
        }
    }

    /// Asks `millstream retrain --watch` to retrain the model: a record on `retrain-requests` (durable before 202).
    private func requestRetrain(_ request: Request, _ c: ServerContext) async throws -> Response {
        let name = try c.parameters.require("name")
        guard ((try? registry.versions(of: name)) ?? []).isEmpty == false else {
            throw APIError.notFound("no model '\(name)' in the registry")
        }
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let object = body.readableBytes > 0 ? try JSON.object(body) : [:]
        let reason = object["reason"] as? String
        if let reason, reason.count > 1_000 { throw APIError.badRequest("reason must be at most 1000 characters") }
        let record = RetrainRequestRecord(
            model: name, by: c.identity?.name ?? "?", ts: Timestamp.format(Int64(Date().timeIntervalSince1970 * 1000)),
            reason: reason)
        do {
            let producer = try await bus.producer()
            _ = try await producer.send(
                [
                    Record(
                        key: Array(name.utf8), value: record.encoded(),
                        timestamp: Int64(Date().timeIntervalSince1970 * 1000))
                ], to: Topics.retrainRequests.name)
            try await producer.flush()
        } catch {
            throw APIError(
                .serviceUnavailable,
                "could not write to \(Topics.retrainRequests.name) on \(bus.url) (\(error)); nothing was asked")
        }
        return JSON.response(
            ["model": name, "requested_by": record.by, "ts": record.ts, "topic": Topics.retrainRequests.name],
            status: .accepted)
    }

    /// Promotes (only on a `promote` verdict, else 409 with the reason) or rejects the model's challenger, with the
    /// evidence as the history's note; answers the evidence and the challenger's new stage.
    private func settle(_ c: ServerContext, promote: Bool) async throws -> Response {
        let name = try c.parameters.require("name")
        var (_, json, decision) = try await evidence(name)
        if promote, decision.verdict != "promote" {
            throw APIError(.conflict, "\(name)'s challenger may not be promoted: \(decision.reason)")
        }
        do {
            try registry.settleChallenger(name, promote: promote, by: c.identity?.name, note: decision.reason)
        } catch {
            throw APIError(.conflict, "\(error)")
        }
        json["stage"] = promote ? "production" : "archived"
        return JSON.response(json)
    }
}
