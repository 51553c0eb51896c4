import EventLog
import Foundation
import Plant
import Primitives
import Testing

/// The pipeline's recommendations end to end: a failure model trained from the CLI, simulated readings, a worker in
/// advisory mode (recommendations only) and in closed loop (setpoint changes on the setpoints topic, within the
/// guardrails), and closed loop switched off through the control topic.
@Suite(.serialized) struct RecommendationFlowTests {
    static func records(_ dir: String, _ topic: String) throws -> [[String: Any]] {
        try logRecords(dir, topic).map { try JSONSerialization.jsonObject(with: Data($0.value)) as! [String: Any] }
    }

    @Test func advisoryThenClosedLoopThenSwitchedOff() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let registry = dir + "/models"
        let train = try await CLI.run([
            "train", "--config", TrainTests.recipe, "--data", TrainTests.ai4i, "--target", "Machine failure",
            "--epochs", "8", "--batch-size", "128", "--name", "failure", "--registry", registry, "--promote",
            "production", "--quiet", "--json",
        ])
        #expect(train.status == 0, "\(train.stderr)")
        for (mode, flag) in [("advisory", "--no-closed-loop"), ("closed_loop", "--closed-loop")] {
            let bus = "embedded://\(dir)/\(mode)"
            let sim = try await CLI.run([
                "simulate", "--machines", "4", "--count", "4000", "--fast", "--seed", "3", "--start",
                "2026-05-01T06:00:00Z", "--bus", bus,
            ])
            #expect(sim.status == 0, "\(sim.stderr)")
            let run = try await CLI.run([
                "run", "--bus", bus, "--registry", registry, "--model", "failure", flag, "--exit-when-idle", "1s",
                "--recommend-within", "always",
            ])
            #expect(run.status == 0, "\(run.stderr)")
            let path = "\(dir)/\(mode)"
            let recommendations = try Self.records(path, "recommendations")
            #expect(!recommendations.isEmpty, "\(mode): no recommendations\n\(run.stderr)")
            #expect(recommendations.allSatisfy { $0["mode"] as? String == mode })
            #expect(recommendations.allSatisfy { ($0["explanation"] as? String)?.hasPrefix("Failure risk") == true })
            let setpoints = try Self.records(path, "setpoints")
            if mode == "advisory" {
                #expect(setpoints.isEmpty)
                continue
            }
            #expect(setpoints.count == recommendations.count)
            // No plant applies the changes here (the readings were simulated before), so every reading reports the
            // nominal setpoints: every change is within bounds and one step of them, and a machine's changes of a
            // variable are at least its minimum interval apart.
            let config = ProcessConfig.milling()
            var last: [String: Int64] = [:]
            for s in setpoints {
                let machine = s["machine"] as! String
                #expect(s["by"] as? String == "closed_loop")
                let ts = try #require(Timestamp.parse(s["ts"] as! String))
                for (name, value) in s["values"] as! [String: Double] {
                    let c = try #require(config.variable(name)?.controllable)
                    #expect(value >= c.min && value <= c.max && abs(value - c.nominal) <= c.maxStep + 1e-9, "\(s)")
                    if let previous = last[machine + name] {
                        #expect(Double(ts - previous) >= c.minIntervalSeconds * 1000, "\(s)")
                    }
                    last[machine + name] = ts
                }
            }
        }
        // Closed loop switched off on the control topic: the next worker makes recommendations but changes nothing.
        let bus = "embedded://\(dir)/off"
        #expect(
            try await CLI.run([
                "simulate", "--machines", "4", "--count", "3000", "--fast", "--seed", "4", "--start",
                "2026-05-01T06:00:00Z", "--bus", bus,
            ]).status == 0)
        let log = try EventLog.open(directory: dir + "/off")
        if !(try log.topicNames().contains("optimizer-control")) {
            try log.createTopic("optimizer-control", configuration: .init(partitions: 1))
        }
        _ = try log.topic("optimizer-control").partitions[0].append([
            Record(value: Array(#"{"closed_loop":false,"by":"test"}"#.utf8), timestamp: 0)
        ])
        try log.close()
        let off = try await CLI.run([
            "run", "--bus", bus, "--registry", registry, "--model", "failure", "--closed-loop", "--exit-when-idle",
            "1s", "--recommend-within", "always",
        ])
        #expect(off.status == 0, "\(off.stderr)")
        #expect(try !Self.records(dir + "/off", "recommendations").isEmpty)
        #expect(try Self.records(dir + "/off", "setpoints").isEmpty)
    }

    /// The evaluation command's contract: a JSON object with every policy's run and the fields the docs promise, and
    /// a plot. (The runs were top-level `baseline` and `optimized` before the baselines became policies.)
    @Test func evaluateReportsBothRunsAsJSON() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try await CLI.run([
            "optimize", "evaluate", "--machines", "3", "--hours", "8", "--seed", "5", "--json", "--quiet", "--plot",
            dir + "/trace.svg", "--plot-hours", "4",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let policies = try #require(report["policies"] as? [String: Any])
        for run in ["reactive", "optimized"] {
            let r = try #require(policies[run] as? [String: Any], "\(run) missing")
            for key in [
                "failures", "failures_per_1000h", "good_parts", "scrap", "oee", "operating_hours", "setpoint_changes",
                "failures_by_mode", "energy_kwh", "scheduled_hours",
            ] {
                #expect(r[key] != nil, "\(run).\(key) missing")
            }
            #expect((r["scheduled_hours"] as? Double ?? Double(r["scheduled_hours"] as? Int ?? 0)) == 24)
        }
        // Identical random streams: the same simulated plant, so the same scheduled time and product mix; the
        // baseline never changes a setpoint.
        #expect((policies["reactive"] as? [String: Any])?["setpoint_changes"] as? Int == 0)
        let svg = try String(contentsOfFile: dir + "/trace.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("Setpoint: Rotational speed of the spindle"))
        // Bad input is refused with a clear message.
        let bad = try await CLI.run(["optimize", "evaluate", "--machines", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--machines must be from 1 to 100"))
    }
}
