import ArgumentParser
import Foundation
import Optimizer
import Plant

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
            abstract: "Run the simulated plant without and with the optimizer in closed loop, and compare.",
            discussion: """
                Both runs use the same random streams (the same parts, temperatures, tools and random failures). \
                The risk model is trained only on the run without the optimizer, from its readings and which parts \
                failed; the simulator's rules are never shown to it. Reports per 1,000 operating (machine) hours: \
                failures by mode, good parts, scrap, OEE, energy, setpoint changes and tool changes.

                Example:
                  millstream optimize evaluate --machines 20 --hours 168 --seed 1 --plot docs/optimizer-trace.svg
                """)

        @Option(help: "Simulated machines.") var machines = 20
        @Option(help: "Simulated hours per run.") var hours = 168.0
        @Option(help: "Random seed of the plant (both runs) and of the model's training.") var seed: UInt64 = 1
        @Option(help: "Process config (default: the built-in milling process).") var config: String?
        @Option(help: "Write the traced machine's risk, setpoints and tool wear over time to this SVG file.")
        var plot: String?
        @Option(help: "Hours of the plot.") var plotHours = 48.0
        @Option(help: "Solver: automatic, gradient or pattern_search.") var solver = "automatic"
        @Option(
            help:
                "Weight of the trust region (parts per part per squared unit of distance beyond the model's data; 0: off)."
        )
        var trustWeight = 1.0
        @Option(
            help:
                "Search each machine only from where its last search ended, exploring every this many searches (default: explore every search; see docs/optimizer.md)."
        )
        var explorationInterval: Int?
        @Option(
            help:
                "Everyday setpoint variation without the optimizer, in steps of each control (0: fixed nominal setpoints; see docs/optimizer.md)."
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
            guard plotHours > 0 else { throw ValidationError("--plot-hours must be above 0") }
            guard (explorationInterval ?? 1) >= 1 else {
                throw ValidationError("--exploration-interval must be at least 1")
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
            settings.traceHours = min(plotHours, hours)
            settings.solver.method = SolverOptions.Method(rawValue: solver)!
            settings.solver.trustWeight = trustWeight
            settings.solver.explorationInterval = explorationInterval
            settings.exploration = exploration
            if let hiddenInputs { settings.training.hiddenInputs = hiddenInputs.split(separator: ",").map(String.init) }
            let started = ContinuousClock.now
            let report = try ClosedLoopEvaluation.run(config: process, settings: settings) { line in
                if !quiet { Terminal.error("optimize evaluate: \(line)") }
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            if let plot {
                let words = Dictionary(
                    uniqueKeysWithValues: process.variables.map {
                        ($0.name, ($0.description.isEmpty ? $0.name : $0.description, $0.unit))
                    })
                let svg = TracePlot.svg(report, hours: settings.traceHours, variables: words)
                do {
                    try svg.write(toFile: plot, atomically: true, encoding: .utf8)
                } catch {
                    throw CommandError("cannot write the plot to \(plot): \(error.localizedDescription)")
                }
            }
            let b = report.baseline
            let o = report.optimized
            let cut = b.failuresPer1000Hours > 0 ? 1 - o.failuresPer1000Hours / b.failuresPer1000Hours : 0
            let throughput = b.goodParts > 0 ? Double(o.goodParts) / Double(b.goodParts) : 0
            if output.json {
                func object(_ m: RunMetrics) -> [String: Any] {
                    var d: [String: Any] = [:]
                    for (k, v) in m.fields { d[k] = v == v.rounded() && abs(v) < 1e15 ? Int(v) as Any : v as Any }
                    d["failures_by_mode"] = m.failuresByMode
                    if !m.holds.isEmpty { d["holds"] = m.holds }
                    return d
                }
                print(
                    Terminal.jsonLine([
                        "baseline": object(b), "optimized": object(o),
                        "baseline_fixed_setpoints": report.fixedSetpoints.map(object) as Any? ?? NSNull(),
                        "failure_reduction": cut, "good_parts_ratio": throughput,
                        "machines": machines, "hours": hours, "seed": seed,
                        "model": ["training_rows": report.trainingRows, "test_metrics": report.modelMetrics],
                        "seconds": (seconds * 10).rounded() / 10,
                    ]))
                return
            }
            func row(_ name: String, _ a: Double, _ b: Double, digits: Int = 1) -> String {
                let f = "%.\(digits)f"
                return name.padding(toLength: 30, withPad: " ", startingAt: 0)
                    + String(format: f, a).leftPadded(12) + String(format: f, b).leftPadded(12)
            }
            print(
                "\(machines) machines x \(String(format: "%g", hours)) h, seed \(seed): risk model trained on \(report.trainingRows) baseline parts (test ROC AUC \(String(format: "%.3f", report.modelMetrics["roc_auc"] ?? .nan)))"
            )
            print(
                "".padding(toLength: 30, withPad: " ", startingAt: 0) + "baseline".leftPadded(12)
                    + "optimized".leftPadded(12))
            print(row("failures per 1,000 op. h", b.failuresPer1000Hours, o.failuresPer1000Hours))
            for (_, mode) in FailureModes.all {
                print(
                    row(
                        "  \(mode)", b.per1000Hours(Double(b.failuresByMode[mode] ?? 0)),
                        o.per1000Hours(Double(o.failuresByMode[mode] ?? 0))))
            }
            print(row("failures", Double(b.failures), Double(o.failures), digits: 0))
            print(row("operating hours", b.operatingHours, o.operatingHours, digits: 0))
            print(row("good parts", Double(b.goodParts), Double(o.goodParts), digits: 0))
            print(row("scrap (% of parts)", b.scrapRate * 100, o.scrapRate * 100, digits: 2))
            print(row("OEE (%)", b.oee * 100, o.oee * 100))
            print(row("energy per good part (Wh)", b.energyPerGoodPart * 1000, o.energyPerGoodPart * 1000))
            print(row("setpoint changes", Double(b.setpointChanges), Double(o.setpointChanges), digits: 0))
            print(row("tool changes ordered", Double(b.maintenanceActions), Double(o.maintenanceActions), digits: 0))
            print(
                "failures per 1,000 operating hours \(String(format: "%.1f", b.failuresPer1000Hours)) -> \(String(format: "%.1f", o.failuresPer1000Hours)) (\(String(format: "%.1f", cut * 100)) % fewer); good parts \(String(format: "%.1f", throughput * 100)) % of the baseline; \(String(format: "%.1f", seconds)) s"
            )
            if let example = report.examples.first(where: { !$0.maintenance.isEmpty }) ?? report.examples.first {
                print("example: \(example.machine): \(example.explanation)")
            }
            if let plot { print("plot: \(plot)") }
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
