import ArgumentParser
import Foundation
import Optimizer
import OptimizerEvaluation
import Plant
import Primitives

extension Millstream {
    struct Optimize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Setpoint recommendations: measure what the optimizer does in closed loop.",
            discussion: """
                The optimizer recommends, per machine, setpoint changes within each controllable variable's bounds, \
                step and minimum interval, and maintenance actions (a tool change), to cut the expected failure cost \
                while keeping the rate of parts. The pipeline makes the recommendations live (`millstream run`); \
                this command measures them on the simulator. See docs/optimizer.md.
                """,
            subcommands: [Evaluate.self])
    }
}

extension Millstream.Optimize {
    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Run the simulated plant under the policies a plant would run and under the optimizer, and compare.",
            discussion: """
                Four policies on the same random streams (the same parts, temperatures, lots, tools and random \
                failures): reactive (tools changed at their rated life or on failure), preventive (a fixed \
                tool-change interval), condition (tool change on measured wear, speed raised when the temperature \
                difference closes in on its limit) and optimized (Millstream's closed loop, at most one \
                recommendation per machine per 5 minutes, as the pipeline). The preventive interval and the \
                condition thresholds are chosen by grid search on a separate tuning seed (the most good parts); the \
                risk model is trained on that seed's reactive run, from its readings and which parts failed, never \
                the simulator's rules. Reports per policy: failures by mode per 1,000 operating hours, good parts, \
                scrap, OEE, energy per good part, tool changes and setpoint changes.

                Example:
                  millstream optimize evaluate --machines 20 --hours 168 --seed 1 --plot docs/optimizer-trace.svg
                """)

        @Option(help: "Simulated machines.") var machines = 20
        @Option(help: "Simulated hours per run.") var hours = 168.0
        @Option(help: "Random seed of the evaluated plant (every policy) and of the model's training.")
        var seed: UInt64 = 1
        @Option(help: "Plant profile: realistic (a plant's variation and failure rates) or ai4i (the dataset's).")
        var profile = PlantProfile.realistic
        @Option(
            help: "Seed of the history the model learns from and the baselines are tuned on (default: seed + 1000).")
        var tuningSeed: UInt64?
        @Option(help: "Hours of that history (four weeks).") var historyHours = 672.0
        @Option(help: "At most one recommendation per machine per this many seconds of its time (the pipeline's).")
        var recommendationInterval = 300.0
        @Option(help: "Process config (default: the built-in milling process).") var config: String?
        @Option(help: "Write the traced machine's risk, setpoints and tool wear over time to this SVG file.")
        var plot: String?
        @Option(help: "Hours of the plot.") var plotHours = 48.0
        @Option(help: "Solver: automatic, gradient or pattern_search.") var solver = "automatic"
        @Option(
            help:
                "Weight of the trust region (parts per part per squared unit of distance beyond the model's data; 0: off)."
        )
        var trustWeight = 10.0
        @Option(
            help: "How scenarios count in the trust region: uniform (the tails as much as the middle) or probability.")
        var trustWeighting = "uniform"
        @Option(
            help:
                "Search each machine only from where its last search ended, exploring every this many searches (default: explore every search; see docs/optimizer.md)."
        )
        var explorationInterval: Int?
        @Option(
            help:
                "A start that comes this close to a better one (share of the allowed range) stops; 0: every start searches to the end."
        )
        var mergeRadius = SolverOptions().mergeRadius
        @Option(
            help:
                "Share of the scenarios a search's coarse first phase runs on (below 1; 0: one phase on all of them; see docs/optimizer.md)."
        )
        var coarseFraction = SolverOptions().coarseFraction ?? 0
        @Option(
            help:
                "Everyday setpoint variation in the history the model learns from, in steps of each control (0: nominal setpoints; see docs/optimizer.md)."
        )
        var exploration = 0.0
        @Option(help: "Numeric inputs the model sees only through derived features (comma separated).")
        var hiddenInputs: String?
        @Flag(help: "No progress lines on stderr.") var quiet = false
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (1...100).contains(machines) else { throw ValidationError("--machines must be from 1 to 100") }
            guard hours > 0 && hours <= 10_000 else {
                throw ValidationError("--hours must be above 0 and at most 10000")
            }
            if !(historyHours > 0 && historyHours <= 10_000) {
                throw ValidationError("--history-hours must be above 0 and at most 10000")
            }
            guard recommendationInterval >= 0 else { throw ValidationError("--recommendation-interval must be >= 0") }
            guard plotHours > 0 else { throw ValidationError("--plot-hours must be above 0") }
            guard (explorationInterval ?? 1) >= 1 else {
                throw ValidationError("--exploration-interval must be at least 1")
            }
            guard (0...1).contains(mergeRadius) else { throw ValidationError("--merge-radius must be from 0 to 1") }
            guard (0..<1).contains(coarseFraction) else {
                throw ValidationError("--coarse-fraction must be 0 (off) or above 0 and below 1")
            }
            guard SolverOptions.TrustWeighting(rawValue: trustWeighting) != nil else {
                throw ValidationError("--trust-weighting takes probability or uniform")
            }
            guard SolverOptions.Method(rawValue: solver) != nil else {
                throw ValidationError("--solver takes automatic, gradient or pattern_search")
            }
        }

        func run() async throws {
            let process = try loadProcessConfig(config)
            var settings = ClosedLoopEvaluation.Settings()
            settings.machines = machines
            settings.hours = hours
            settings.seed = seed
            settings.profile = profile
            settings.tuningSeed = tuningSeed
            settings.historyHours = historyHours
            settings.recommendationIntervalSeconds = recommendationInterval
            settings.traceHours = min(plotHours, hours)
            settings.solver.method = SolverOptions.Method(rawValue: solver)!
            settings.solver.trustWeight = trustWeight
            settings.solver.trustWeighting = SolverOptions.TrustWeighting(rawValue: trustWeighting)!
            settings.solver.explorationInterval = explorationInterval
            settings.solver.mergeRadius = mergeRadius
            settings.solver.coarseFraction = coarseFraction == 0 ? nil : coarseFraction
            settings.exploration = exploration
            if let hiddenInputs { settings.training.hiddenInputs = hiddenInputs.split(separator: ",").map(String.init) }
            let started = ContinuousClock.now
            let report = try ClosedLoopEvaluation.run(config: process, settings: settings) { line in
                if !quiet { Terminal.error("optimize evaluate: \(line)") }
            }
            let seconds = (ContinuousClock.now - started).seconds
            if let plot {
                try write(TracePlot.svg(report, hours: settings.traceHours, variables: words(process)), to: plot)
            }
            let goal = EvaluationGoal(report)
            if output.json {
                printJSON(report, goal: goal, seconds: seconds)
            } else {
                printTable(report, goal: goal, seconds: seconds)
                if let plot { print("plot: \(plot)") }
            }
        }

        private func words(_ process: ProcessConfig) -> [String: (String, String)] {
            Dictionary(
                uniqueKeysWithValues: process.variables.map {
                    ($0.name, ($0.description.isEmpty ? $0.name : $0.description, $0.unit))
                })
        }

        private func write(_ svg: String, to path: String) throws {
            do {
                try svg.write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw CommandError("cannot write the plot to \(path): \(error.localizedDescription)")
            }
        }

        private func object(_ m: RunMetrics) -> [String: Any] {
            var d: [String: Any] = [:]
            for (k, v) in m.fields { d[k] = v == v.rounded() && abs(v) < 1e15 ? Int(v) as Any : v as Any }
            d["failures_by_mode"] = m.failuresByMode
            if !m.holds.isEmpty { d["holds"] = m.holds }
            return d
        }

        private func printJSON(_ report: ClosedLoopEvaluation.Report, goal: EvaluationGoal, seconds: Double) {
            var policies: [String: Any] = [:]
            for p in report.policies {
                var o = object(p.metrics)
                o["policy"] = p.description
                policies[p.name] = o
            }
            func grid(_ points: [ClosedLoopEvaluation.TuningPoint]) -> [[String: Any]] {
                points.map {
                    [
                        "policy": $0.policy.description, "good_parts": $0.metrics.goodParts,
                        "failures_per_1000h": $0.metrics.failuresPer1000Hours, "tool_changes": $0.metrics.toolChanges,
                    ]
                }
            }
            print(
                Terminal.jsonLine([
                    "policies": policies, "profile": profile.rawValue, "machines": machines, "hours": hours,
                    "seed": seed, "tuning_seed": report.tuningSeed,
                    "tuning": ["preventive": grid(report.preventiveGrid), "condition": grid(report.conditionGrid)],
                    "goal": goal.json,
                    "model": [
                        "training_rows": report.trainingRows, "training_failures": report.trainingFailures,
                        "test_metrics": report.modelMetrics,
                    ],
                    "seconds": (seconds * 10).rounded() / 10,
                ]))
        }

        private func printTable(_ report: ClosedLoopEvaluation.Report, goal: EvaluationGoal, seconds: Double) {
            let names = report.policies.map(\.name)
            let metrics = report.policies.map(\.metrics)
            func row(_ label: String, digits: Int = 1, _ value: (RunMetrics) -> Double) -> String {
                label.padding(toLength: 30, withPad: " ", startingAt: 0)
                    + metrics.map { String(format: "%.\(digits)f", value($0)).leftPadded(12) }.joined()
            }
            print(
                "\(machines) machines x \(String(format: "%g", hours)) h, seed \(seed), profile \(profile.rawValue); "
                    + "baselines tuned and model trained on seed \(report.tuningSeed) (\(report.trainingRows) parts, "
                    + "\(report.trainingFailures) failed; test ROC AUC \(String(format: "%.3f", report.modelMetrics["roc_auc"] ?? .nan)))"
            )
            for p in report.policies { print("  \(p.name): \(p.description)") }
            print("".padding(toLength: 30, withPad: " ", startingAt: 0) + names.map { $0.leftPadded(12) }.joined())
            print(row("failures per 1,000 op. h") { $0.failuresPer1000Hours })
            for (_, mode) in FailureModes.all {
                print(row("  \(mode)") { $0.per1000Hours(Double($0.failuresByMode[mode] ?? 0)) })
            }
            print(row("failures", digits: 0) { Double($0.failures) })
            print(row("operating hours", digits: 0) { $0.operatingHours })
            print(row("good parts", digits: 0) { Double($0.goodParts) })
            print(row("scrap (% of parts)", digits: 2) { $0.scrapRate * 100 })
            print(row("OEE (%)") { $0.oee * 100 })
            print(row("energy per good part (Wh)") { $0.energyPerGoodPart * 1000 })
            print(row("tool changes", digits: 0) { Double($0.toolChanges) })
            print(row("setpoint changes", digits: 0) { Double($0.setpointChanges) })
            print(goal.summary + String(format: "; %.1f s", seconds))
            if let example = report.examples.first(where: { !$0.maintenance.isEmpty }) ?? report.examples.first {
                print("example: \(example.machine): \(example.explanation)")
            }
        }
    }
}

extension EvaluationGoal {
    var json: [String: Any] {
        var out: [String: Any] = ["met": met]
        for c in comparisons {
            out["vs_\(c.baseline)"] = [
                "failure_reduction": c.failureReduction, "good_parts_ratio": c.goodPartsRatio,
                "energy_per_good_part_ratio": c.energyRatio, "met": c.met,
            ]
        }
        return out
    }

    var summary: String {
        let parts = comparisons.map {
            String(
                format: "vs %@: failures %+.1f %%, good parts %.1f %%, energy per good part %.1f %%", $0.baseline,
                -$0.failureReduction * 100, $0.goodPartsRatio * 100, $0.energyRatio * 100)
        }
        return "optimized " + parts.joined(separator: "; ")
            + " (goal: -30 %, >= 100 %, <= 100 %: \(met ? "met" : "not met"))"
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
