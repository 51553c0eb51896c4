import Foundation
import TestSupport
import Testing

/// The shipped Prometheus alert rules are valid (`promtool check rules`) and fire when they should
/// (`promtool test rules` with deploy/prometheus/alerts_test.yml); a firing rule goes through a real Alertmanager with
/// the shipped routes to a webhook.
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

    /// Debian's Prometheus evaluates the shipped rules against a server that is not there (`up == 0`), and Debian's
    /// Alertmanager, with the shipped config (`amtool check-config`), routes the firing MillstreamDown, a critical
    /// one, to both of the on-call receiver's webhooks (a real HTTP receiver). Only the waits are shortened: `for` to
    /// 0 s, `group_wait` to 1 s.
    @Test func aFiringRuleReachesTheWebhookThroughAlertmanager() async throws {
        let shipped = LiveDemo.repository + "/deploy/alertmanager/alertmanager.yml"
        let check = try await runTool("/usr/bin/amtool", ["check-config", shipped])
        #expect(check.0 == 0, "\(check.1)")
        let dir = NSTemporaryDirectory() + "alertmanager-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (hook, manager, prometheusPort, nobody) = (
            TansuBroker.freePort(), TansuBroker.freePort(), TansuBroker.freePort(), TansuBroker.freePort()
        )
        let log = dir + "/received.jsonl"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let receiver = try Child(
            LiveDemo.repository + "/.venv/bin/python",
            [LiveDemo.repository + "/Tests/NotificationsTests/Peer/webhook.py", "\(hook)", log])
        defer { receiver.stop(SIGKILL) }
        let routes = try String(contentsOfFile: shipped, encoding: .utf8)
            .replacingOccurrences(of: "http://control-room.plant.local:9000", with: "http://127.0.0.1:\(hook)")
            .replacingOccurrences(of: "http://on-call.plant.local:9000", with: "http://127.0.0.1:\(hook)")
            .replacingOccurrences(of: "group_wait: 30s", with: "group_wait: 1s")
        try routes.write(toFile: dir + "/alertmanager.yml", atomically: true, encoding: .utf8)
        let rules = try String(contentsOfFile: Self.deploy + "/alerts.yml", encoding: .utf8)
            .replacingOccurrences(of: #"for: \d+m"#, with: "for: 0s", options: .regularExpression)
        try rules.write(toFile: dir + "/alerts.yml", atomically: true, encoding: .utf8)
        try """
        global: { scrape_interval: 1s, evaluation_interval: 1s }
        rule_files: [alerts.yml]
        alerting: { alertmanagers: [{ static_configs: [{ targets: ["127.0.0.1:\(manager)"] }] }] }
        scrape_configs:
          - job_name: millstream
            static_configs: [{ targets: ["127.0.0.1:\(nobody)"] }]
        """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let alertmanager = try Child(
            "/usr/bin/prometheus-alertmanager",
            [
                "--config.file=\(dir)/alertmanager.yml", "--storage.path=\(dir)/am",
                "--web.listen-address=127.0.0.1:\(manager)", "--cluster.listen-address=",
            ], stderr: dir + "/alertmanager.log")
        defer { alertmanager.stop(SIGKILL) }
        let prometheus = try Child(
            "/usr/bin/prometheus",
            [
                "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
                "--web.listen-address=127.0.0.1:\(prometheusPort)",
            ])
        defer { prometheus.stop(SIGKILL) }
        var posts: [(path: String, body: [String: Any])] = []
        let started = ContinuousClock.now
        while Set(posts.map(\.path)) != ["/alerts", "/page"] && ContinuousClock.now - started < .seconds(90) {
            try await Task.sleep(for: .milliseconds(500))
            posts = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                guard let line = try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String],
                    let body = try? JSONSerialization.jsonObject(with: Data((line["body"] ?? "").utf8))
                        as? [String: Any]
                else { return nil }
                return (line["path"] ?? "", body)
            }
        }
        #expect(Set(posts.map(\.path)) == ["/alerts", "/page"], "no webhook call within 90 s: \(posts)")
        for (path, body) in posts {
            let alerts = body["alerts"] as? [[String: Any]] ?? []
            let labels = alerts.first?["labels"] as? [String: String] ?? [:]
            #expect(body["receiver"] as? String == "on-call", "\(path): \(body)")
            #expect(body["status"] as? String == "firing" && labels["alertname"] == "MillstreamDown", "\(body)")
            #expect(labels["severity"] == "critical" && labels["instance"] == "127.0.0.1:\(nobody)")
        }
    }
}
