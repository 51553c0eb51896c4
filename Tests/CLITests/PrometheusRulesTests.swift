import Foundation
import Testing

/// The shipped Prometheus alert rules are valid (`promtool check rules`) and fire when they should
/// (`promtool test rules` with deploy/prometheus/alerts_test.yml).
@Suite struct PrometheusRulesTests {
    static let deploy = LiveDemo.repository + "/deploy/prometheus"

    @Test func rulesAreValidAndFireAsTested() async throws {
        let check = try await runTool("/usr/bin/promtool", ["check", "rules", Self.deploy + "/alerts.yml"])
        #expect(check.0 == 0, "\(check.1)")
        #expect(check.1.contains("SUCCESS: 9 rules found"), "\(check.1)")
        let test = try await runTool("/usr/bin/promtool", ["test", "rules", "alerts_test.yml"], directory: Self.deploy)
        #expect(test.0 == 0, "\(test.1)")
        #expect(test.1.contains("SUCCESS"), "\(test.1)")
    }

    /// A broken rule file fails the check (the check can fail).
    @Test func aBrokenRuleIsRefused() async throws {
        let path = NSTemporaryDirectory() + "rules-\(UUID().uuidString).yml"
        try "groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m]\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let check = try await runTool("/usr/bin/promtool", ["check", "rules", path])
        #expect(check.0 != 0)
    }
}
