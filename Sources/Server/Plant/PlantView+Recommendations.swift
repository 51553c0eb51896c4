import Foundation
import Topics

/// One recommendation as the dashboard and the API show it.
struct RecommendationEntry: Sendable {
    var id: String
    var machine: String
    var ts: String
    /// The worker's record, as written.
    var record: RecommendationRecord
    /// pending, approved, rejected, applied (closed loop) or superseded (a newer one for the machine came).
    var status: String
    var decidedBy: String?
    var decidedTs: String?
    var note: String?
}

extension PlantView {
    static let recommendationsKept = 2_000

    func applyRecommendation(_ v: RecommendationRecord) {
        let (id, machine) = (v.id, v.machine)
        guard recommendations[id] == nil else { return }
        let closedLoop = v.mode == "closed_loop"
        var entry = RecommendationEntry(
            id: id, machine: machine, ts: v.ts, record: v, status: closedLoop ? "applied" : "pending")
        if closedLoop { entry.decidedBy = "closed_loop" }
        if let older = pendingRecommendation[machine], recommendations[older]?.status == "pending" {
            recommendations[older]?.status = "superseded"
        }
        if !closedLoop { pendingRecommendation[machine] = id }
        recommendations[id] = entry
        recommendationOrder.append(id)
        if recommendationOrder.count > Self.recommendationsKept {
            for old in recommendationOrder.prefix(recommendationOrder.count - Self.recommendationsKept) {
                recommendations[old] = nil
            }
            recommendationOrder.removeFirst(recommendationOrder.count - Self.recommendationsKept)
        }
        if let decision = pendingDecisions.removeValue(forKey: id) { applyDecision(decision) }
    }

    func applyDecision(_ v: RecommendationActionRecord) {
        let (id, action) = (v.recommendation, v.action)
        guard recommendations[id] != nil else {
            pendingDecisions[id] = v
            return
        }
        guard recommendations[id]?.status == "pending" || recommendations[id]?.status == "superseded" else { return }
        recommendations[id]?.status = action == "approve" ? "approved" : "rejected"
        recommendations[id]?.decidedBy = v.by
        recommendations[id]?.decidedTs = v.ts
        recommendations[id]?.note = v.note
        if let machine = recommendations[id]?.machine, pendingRecommendation[machine] == id {
            pendingRecommendation[machine] = nil
        }
    }

    func applyControl(_ v: OptimizerControlRecord) {
        closedLoop = (v.closedLoop, v.by ?? "?", v.ts ?? "")
    }

    /// Refuses a decision on a recommendation that is unknown, already decided, or not the machine's latest.
    func check(decision: String, recommendation id: String) throws -> RecommendationEntry {
        guard let r = recommendations[id] else { throw APIError.notFound("no recommendation '\(id)'") }
        switch r.status {
        case "pending": return r
        case "superseded":
            throw APIError(
                .conflict,
                "recommendation '\(id)' is superseded by a newer one for \(r.machine) (\(pendingRecommendation[r.machine] ?? "none pending")): decide on that one"
            )
        default:
            throw APIError(
                .conflict,
                "recommendation '\(id)' is already \(r.status) (by \(r.decidedBy ?? "?") at \(r.decidedTs ?? "?"))")
        }
    }

    func recordDecision(_ v: RecommendationActionRecord) { applyDecision(v) }

    func recommendationRow(_ r: RecommendationEntry) -> [String: Any] {
        var row = (JSON.any(r.record) as? [String: Any]) ?? [:]
        row["status"] = r.status
        row["decided_by"] = r.decidedBy ?? NSNull()
        row["decided_ts"] = r.decidedTs ?? NSNull()
        if let note = r.note { row["note"] = note }
        return row
    }

    func recommendationsJSON(status: String?, machine: String?, limit: Int) throws -> [UInt8] {
        let statuses = ["pending", "approved", "rejected", "applied", "superseded", "all"]
        if let status, !statuses.contains(status) {
            throw APIError.badRequest("status must be one of \(statuses.joined(separator: ", ")), got '\(status)'")
        }
        let rows = recommendationOrder.reversed().lazy.compactMap { self.recommendations[$0] }
            .filter { r in
                (status == nil || status == "all" || r.status == status) && (machine == nil || r.machine == machine)
            }
            .prefix(limit).map(recommendationRow)
        return JSON.encode([
            "recommendations": Array(rows),
            "pending": recommendations.values.filter { $0.status == "pending" }.count,
        ])
    }

    func recommendationJSON(_ id: String) throws -> [UInt8] {
        guard let r = recommendations[id] else { throw APIError.notFound("no recommendation '\(id)'") }
        return JSON.encode(recommendationRow(r))
    }

    func optimizerJSON() -> [UInt8] {
        var counts: [String: Int] = [:]
        for r in recommendations.values { counts[r.status, default: 0] += 1 }
        return JSON.encode([
            "closed_loop": closedLoop.map { ["enabled": $0.enabled, "by": $0.by, "ts": $0.ts] as [String: Any] }
                ?? NSNull(),
            "recommendations": counts,
        ])
    }
}
