import ArgumentParser
import Bus
import Foundation
import Logging
import Pipeline
import ServiceLifecycle

extension Millstream {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one pipeline worker: readings in; predictions, alerts, KPIs and dead letters out.",
            discussion: """
                The worker joins the consumer group "pipeline" on the readings topic, validates each reading against \
                the process config, keeps per-machine features, SPC charts and OEE, scores the registry's production \
                model (reloaded when a new version is promoted) and writes to the topics predictions, alerts, kpis \
                and dead-letters. Every reading yields its outputs exactly once, also across crashes: kill it and \
                start it again. Start several on Kafka to share the partitions.
                """)
        @Option(help: "Process configuration (YAML); default: the built-in milling process.") var config: String?
        @Option(help: "Model registry directory.") var registry: String = "./models"
        @Option(help: "Model to score (its production version, or NAME@vN); none: no scoring.") var model: String?
        @Option(help: "Stop once no new readings arrived for this long (e.g. 2s) instead of running until Ctrl-C.")
        var exitWhenIdle: String?
        @OptionGroup var busOptions: BusOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let process = try loadProcessConfig(config)
            let bus = try openBus(busOptions.bus)
            var options = PipelineWorker.Options()
            options.registry = registry
            options.model = model
            options.exitWhenIdle = try exitWhenIdle.map { try parseDuration($0, option: "--exit-when-idle") }
            let worker = PipelineWorker(bus: bus, settings: PipelineSettings(process: process), options: options)
            try await runServices([BusService(bus: bus), worker], main: 1)
            try await bus.close()
            let s = worker.stats.snapshot
            if output.json {
                print(
                    Terminal.jsonLine([
                        "processed": s.processed, "replayed": s.replayed, "predictions": s.events.predictions,
                        "dead_letters": s.events.deadLetters, "alerts": s.events.alerts, "model": s.model ?? NSNull(),
                        "recoveries": s.recoveries,
                    ]))
            } else {
                print(
                    "processed \(grouped(s.processed)) readings: \(grouped(s.events.predictions)) predictions, \(grouped(s.events.deadLetters.values.reduce(0, +))) dead letters, \(s.events.alerts) alerts"
                )
                for r in s.recoveries { print("  recovered \(r)") }
            }
        }
    }
}
