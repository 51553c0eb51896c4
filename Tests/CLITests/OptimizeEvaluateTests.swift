import Foundation
import Testing

/// `millstream optimize evaluate --json` reports one object per policy with the figures a plant compares, and the
/// tuning grids the baselines were chosen from.
@Suite struct OptimizeEvaluateTests {
    @Test func theJSONReportHasAllFourPolicies() async throws {
        let run = try await CLI.run([
            "optimize", "evaluate", "--machines", "3", "--hours", "12", "--history-hours", "96", "--seed", "5",
            "--json", "--quiet",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(report["profile"] as? String == "realistic")
        #expect(report["tuning_seed"] as? Int == 1005)
        let policies = try #require(report["policies"] as? [String: [String: Any]])
        #expect(Set(policies.keys) == ["reactive", "preventive", "condition", "optimized"])
        for (name, p) in policies {
            for field in [
                "failures_per_1000h", "failures_twf_per_1000h", "failures_hdf_per_1000h", "failures_pwf_per_1000h",
                "failures_osf_per_1000h", "failures_rnf_per_1000h", "good_parts", "scrap", "oee",
                "energy_kwh_per_good_part", "tool_changes", "setpoint_changes", "policy",
            ] {
                #expect(p[field] != nil, "\(name) has no \(field)")
            }
            let oee = try #require((p["oee"] as? NSNumber)?.doubleValue)
            #expect(oee > 0.3 && oee < 0.9, "\(name): OEE \(oee)")
        }
        #expect((policies["reactive"]?["setpoint_changes"] as? Int) == 0)
        let tuning = try #require(report["tuning"] as? [String: [[String: Any]]])
        #expect(tuning["preventive"]?.count == 7)
        #expect((tuning["condition"]?.count ?? 0) >= 10)
        let goal = try #require(report["goal"] as? [String: Any])
        #expect(goal["met"] is Bool && goal["vs_preventive"] != nil && goal["vs_condition"] != nil)
    }

    @Test func aHistoryWithTooFewFailuresIsAClearError() async throws {
        let run = try await CLI.run([
            "optimize", "evaluate", "--machines", "2", "--hours", "4", "--history-hours", "48", "--seed", "7",
            "--quiet",
        ])
        #expect(run.status != 0)
        #expect(run.stderr.contains("failed parts of") && run.stderr.contains("--history-hours"), "\(run.stderr)")
    }

    @Test func aBadProfileIsRefusedByName() async throws {
        let run = try await CLI.run(["optimize", "evaluate", "--profile", "factory"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("factory") && run.stderr.contains("realistic"), "\(run.stderr)")
    }
}
