import EventLog
import Foundation
import Testing

/// Alarm management through the real pipeline and bus: `simulate --labels`, a lead-time model from the stream's own
/// history, `run`, then `alarms report` against the alerts topic; and the `alarms evaluate` benchmark in small.
@Suite(.serialized) struct AlarmsTests {
    /// Both runs start at a fixed time: a simulation that ends "now" follows the hall's daily temperature cycle from
    /// the hour the test runs, and whether a warning is active when a machine goes down depended on it.
    @Test func theJournalLosesNoAlarmAndTheReportCountsIt() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let history = "embedded://\(dir)/history"
        let sim = try await CLI.run([
            "simulate", "--machines", "10", "--duration", "2d", "--fast", "--seed", "7", "--start",
            "2026-03-02T00:00:00Z", "--bus", history,
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        let snap = try await CLI.run(["dataset", "snapshot", "--bus", history, "--out", dir, "--name", "h"])
        #expect(snap.status == 0, "\(snap.stderr)")
        let fit = try await CLI.run([
            "train", "--task", "failure_within", "--horizon", "30", "--data", dir + "/h.csv", "--unit", "machine",
            "--time", "minutes", "--event", "failure", "--window", "10", "--layers", "16", "--epochs", "3",
            "--name", "lead", "--registry", dir + "/models", "--promote", "production", "--quiet",
        ])
        #expect(fit.status == 0, "\(fit.stderr)")

        let bus = "embedded://\(dir)/plant"
        let day = try await CLI.run([
            "simulate", "--machines", "10", "--duration", "12h", "--fast", "--seed", "8", "--start",
            "2026-03-04T00:00:00Z", "--labels", "--bus", bus,
        ])
        #expect(day.status == 0, "\(day.stderr)")
        // The forecast as the alarm model: it drives the warnings and rides along in each prediction.
        let run = try await CLI.run([
            "run", "--bus", bus, "--alarm-model", "lead", "--registry", dir + "/models", "--exit-when-idle", "1s",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let predictions = try RecommendationFlowTests.records(dir + "/plant", "predictions")
        #expect(
            predictions.contains { ($0["forecast"] as? [String: Any])?["model"] as? String == "lead@v1" }
                && predictions.allSatisfy { $0["risk"] == nil || $0["risk"] is NSNull })

        // The journal: every record names its priority; raises and returns alternate per condition; every
        // suppressed alarm is written with its reason.
        // A condition belongs to one machine, so its records are in one partition, in order.
        let alerts = try RecommendationFlowTests.records(dir + "/plant", "alerts")
        #expect(!alerts.isEmpty)
        var open: [String: String] = [:]
        var raised = 0
        var suppressed = 0
        for a in alerts {
            let condition = "\(a["machine"] ?? "") \(a["kind"] ?? "") \(a["variable"] ?? "")"
            #expect(["low", "medium", "high", "urgent"].contains(a["priority"] as? String ?? ""), "\(a)")
            switch a["status"] as? String {
            case "raised":
                #expect(open[condition] == nil, "\(condition) raised twice without a return to normal")
                open[condition] = a["id"] as? String
                raised += 1
            case "cleared":
                #expect(open.removeValue(forKey: condition) == a["id"] as? String, "\(condition): \(a)")
            case "suppressed":
                #expect(!((a["reason"] as? String) ?? "").isEmpty, "\(a)")
                suppressed += 1
            default:
                Issue.record("unexpected status in \(a)")
            }
        }
        // Failure-risk alarms of machines that went down returned to normal with that reason.
        #expect(
            alerts.contains { $0["status"] as? String == "cleared" && $0["reason"] as? String == "machine down" })
        // Every record says what happened in words, also a return to normal because the machine stopped.
        #expect(
            alerts.allSatisfy { ($0["message"] as? String)?.first?.isLetter == true },
            "\(alerts.filter { ($0["message"] as? String)?.first?.isLetter != true }.prefix(3))")

        let report = try await CLI.run(["alarms", "report", "--bus", bus, "--labels", "labels", "--json"])
        #expect(report.status == 0, "\(report.stderr)")
        let k = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        #expect(k["alarms"] as? Int == raised)
        #expect(k["suppressed"] as? Int == suppressed)
        #expect(k["standing"] as? Int == open.count)
        #expect(k["machines"] as? Int == 10 && k["operators"] as? Int == 1)
        let forecast = try #require(k["failure_forecast"] as? [String: Any])
        let groups = try #require(forecast["failures"] as? [String: Any])
        let failures = groups.values.compactMap { ($0 as? [String: Any])?["failures"] as? Int }.reduce(0, +)
        // Every failure of the simulator's labels is found from the machine states and classed by its modes.
        let labelled = try RecommendationFlowTests.records(dir + "/plant", "labels").filter {
            $0["failure"] as? Int == 1
        }.count
        #expect(failures == labelled && failures > 0, "\(report.stdout)")
        #expect(groups["unknown"] == nil)

        let text = try await CLI.run(["alarms", "report", "--bus", bus])
        #expect(text.stdout.contains("per operator per 10 min"), "\(text.stdout)")
        let none = try await CLI.run(["alarms", "report", "--bus", "embedded://\(dir)/none"])
        #expect(none.status != 0 && none.stderr.contains("no Millstream log at"), "\(none.stderr)")
    }

    @Test func evaluateComparesWithAndWithoutAlarmManagement() async throws {
        let result = try await CLI.run([
            "alarms", "evaluate", "--machines", "4", "--hours", "12", "--history-days", "2", "--epochs", "2",
            "--layers", "8", "--seed", "3", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let managed = try #require(o["managed"] as? [String: Any])
        let unmanaged = try #require(o["unmanaged"] as? [String: Any])
        // The same plant and model: conditioning only ever folds or suppresses alarms.
        #expect((managed["alarms"] as? Int ?? .max) <= (unmanaged["alarms"] as? Int ?? 0), "\(result.stdout)")
        #expect(unmanaged["suppressed"] as? Int == 0)
        #expect((o["goal"] as? [[String: Any]])?.count == 6)
        // Ours beside the peers' from the same run, with the ratio.
        let rows = o["side_by_side"] as? [[String: Any]] ?? []
        #expect(rows.count == 5 && rows.first?["peer"] as? String == "no management", "\(rows)")
        if let ours = rows.first?["ours"] as? Double, let theirs = rows.first?["theirs"] as? Double, theirs > 0 {
            #expect(abs((rows.first?["ratio"] as? Double ?? -1) - ours / theirs) < 1e-9)
        }
        #expect((o["model"] as? [String: Any])?["train"] as? String != nil)
        #expect(result.stderr.contains("history: 4 machines x 2 days on seed 1003"), "\(result.stderr)")
    }
}
