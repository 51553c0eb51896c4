import ArgumentParser
import Foundation
import Learn
import Registry

extension Millstream {
    struct Retrain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Retrain a model from the stream: snapshot, validate, split, train, evaluate, register, shadow, decide.",
            discussion: """
                Each run lives in WORK/RUN (retrain.yaml's work): the snapshot and its hold-out, state.json (the \
                steps done and what they produced) and log.jsonl (one line per event). A run that stopped resumes \
                with --run RUN: the steps done are not done again. --step runs one step of a run (an Airflow task \
                per step: examples/airflow). --watch runs until stopped and starts a run on the triggers in \
                retrain.yaml: a schedule, a drift alert, a drop of the champion's live F1, or a request from the \
                API (POST /api/models/NAME/retrain). See docs/lifecycle.md.
                """)
        @Option(help: "The retrain config (YAML).") var config: String
        @Option(help: "The run to resume or to run a step of (default: a new run, named by the time).") var run: String?
        @Option(help: "Run only this step: \(RetrainStep.allCases.map(\.rawValue).joined(separator: ", ")).")
        var step: RetrainStep?
        @Flag(help: "Run until stopped, starting a run on the config's triggers.") var watch = false
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if watch && (run != nil || step != nil) {
                throw ValidationError("--watch starts its own runs: no --run or --step")
            }
            if step != nil && run == nil { throw ValidationError("--step needs --run: the run whose step it is") }
        }

        func run() async throws {
            let config = try RetrainConfig.load(self.config)
            if watch {
                try await runServices([RetrainWatcher(config: config)], main: 0)
                return
            }
            let id = run ?? RetrainRun.newID()
            var retrain = try RetrainRun(config: config, id: id, reason: run == nil ? "by hand" : nil)
            if let step {
                try await retrain.perform(step)
            } else {
                try await retrain.perform()
            }
            if output.json {
                print(Terminal.jsonLine(retrain.state.json(id: id, directory: retrain.directory)))
            } else {
                print(
                    "retrain \(id): \(retrain.state.outcome ?? "steps done: \(retrain.state.done.joined(separator: ", "))")"
                )
                print("  files, state and log in \(retrain.directory)")
            }
        }
    }
}

/// The steps of a retraining run, in order.
enum RetrainStep: String, CaseIterable, Codable, ExpressibleByArgument {
    case snapshot, validate, split, train, evaluate, register, shadow, decide
}
