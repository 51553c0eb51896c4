import Allocator
import ArgumentParser
import Bus
import Buses
import Foundation
import Logging
import Observability
import Pipeline
import Server
import ServiceLifecycle

extension Millstream {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one pipeline worker: readings in; predictions, alerts, KPIs and dead letters out.",
            discussion: """
                The worker joins the consumer group "pipeline" on the readings topic, validates each reading against \
                the process config, keeps per-machine features, SPC charts and OEE, scores the registry's production \
                model (reloaded when a new version is promoted) and writes to the topics predictions, alerts, kpis \
                and dead-letters. With a failure-risk model it also recommends setpoint changes and tool changes \
                (topic recommendations; docs/optimizer.md), and in closed loop carries them out (topic setpoints). \
                Every reading yields its outputs exactly once, also across crashes: kill it and start it again. \
                Start several on Kafka to share the partitions.
                """)
        @Option(help: "Process configuration (YAML); default: the built-in milling process.") var config: String?
        @Option(help: "Model registry directory.") var registry: String = "./models"
        @Option(help: "Model to score (its production version, or NAME@vN); none: no scoring.") var model: String?
        @Option(
            help:
                "A \"fails within\" model (train --task failure_within) that drives the failure alarm; --model keeps driving predictions and recommendations."
        )
        var alarmModel: String?
        @Option(
            help: ArgumentHelp(
                "A model to score in shadow beside --model (default: --model's alias challenger, when it has one).",
                discussion:
                    "Its scores go to the topic shadow-predictions with the champion's on the same reading, exactly once; they never raise alarms or change setpoints. The worker follows the reference: point the alias at another version and it scores that one; remove it and shadow scoring stops."
            ))
        var shadow: String?
        @Flag(help: "Score no challenger in shadow.") var noShadow = false
        @Option(
            help:
                "Stop once no new readings arrived for this long (e.g. 2s) and the group has none left on any partition, instead of running until Ctrl-C."
        )
        var exitWhenIdle: String?
        @Option(help: "Serve /healthz, /readyz and /metrics on this port (0: off), for probes and Prometheus.")
        var healthPort = 0
        @Option(help: "Address of the health port.") var healthHost = "127.0.0.1"
        @Option(help: "Tokens file: /metrics on the health port needs a viewer token.") var tokens =
            "./millstream-tokens.json"
        @Flag(
            inversion: .prefixedNo,
            help: ArgumentHelp(
                "Apply recommendations without an operator, within the guardrails (default: the config's optimizer.closed_loop).",
                discussion:
                    "Switch it off at once, for every worker: POST /api/optimizer/closed-loop {\"enabled\":false}."))
        var closedLoop: Bool?
        @Option(
            help:
                "Recommend only for readings at most this old by the wall clock (history replays rebuild state but recommend nothing); 'always' for every reading."
        )
        var recommendWithin = "10m"
        @Option(
            help:
                "Checkpoint the per-machine state at most this often (e.g. 10s, 500ms): shorter replays less after a crash, at a small cost."
        )
        var checkpointEvery = "10s"
        @OptionGroup var busOptions: BusOptions
        @OptionGroup var output: OutputOptions

        /// `failure@production` -> `failure@challenger`.
        static func challenger(of model: String) -> String {
            String(model.prefix { $0 != "@" }) + "@challenger"
        }

        func validate() throws {
            if noShadow && shadow != nil { throw ValidationError("--shadow and --no-shadow exclude each other") }
            guard (0...65535).contains(healthPort) else {
                throw ValidationError("--health-port \(healthPort) must be from 0 to 65535")
            }
        }

        func run() async throws {
            let telemetry = try Observability.bootstrap(service: "millstream-run", level: .info)
            let process = try loadProcessConfig(config)
            let bus = try openBus(busOptions.bus)
            var options = PipelineWorker.Options()
            options.registry = registry
            options.model = model
            options.alarmModel = alarmModel
            options.shadow = noShadow ? nil : shadow ?? model.map { Self.challenger(of: $0) }
            options.exitWhenIdle = try exitWhenIdle.map { try parseDuration($0, option: "--exit-when-idle") }
            var settings = PipelineSettings(process: process)
            if let closedLoop { settings.closedLoop = closedLoop }
            settings.checkpointInterval = try parseDuration(checkpointEvery, option: "--checkpoint-every")
            if recommendWithin == "always" {
                settings.recommendationMaxAgeMilliseconds = nil
            } else {
                let age = try parseDuration(recommendWithin, option: "--recommend-within")
                settings.recommendationMaxAgeMilliseconds =
                    age.components.seconds * 1000
                    + age.components.attoseconds / 1_000_000_000_000_000
            }
            let worker = PipelineWorker(bus: bus, settings: settings, options: options)
            // Not the bus URL: a Kafka URL may carry a SASL password.
            Logger(label: "millstream.run").info(
                "pipeline worker starting", metadata: ["allocator": "\(Allocator.description)"])
            var services: [any Service] = [BusService(bus: bus), worker]
            if healthPort > 0 {
                var o = ServerOptions()
                o.host = healthHost
                o.port = healthPort
                o.version = Millstream.configuration.version
                let metrics = ServerMetrics(version: o.version)
                let stats = worker.stats
                let health = HealthServer(options: o, tokens: try TokenStore(path: tokens), metrics: metrics) {
                    let s = stats.snapshot
                    return s.caughtUp || s.firstBatchDone != nil
                }
                services += [health.application(), WorkerGauges(stats: stats, metrics: metrics)]
            }
            try await runServices(services, main: 1, telemetry: telemetry)
            try await bus.close()
            let s = worker.stats.snapshot
            if output.json {
                print(
                    Terminal.jsonLine([
                        "processed": s.processed, "replayed": s.replayed, "predictions": s.events.predictions,
                        "dead_letters": s.events.deadLetters, "alerts": s.events.alerts, "model": s.model ?? NSNull(),
                        "shadow_predictions": s.events.shadowPredictions, "shadow": s.shadow ?? NSNull(),
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

/// Copies the worker's figures into its metrics every two seconds.
struct WorkerGauges: Service {
    let stats: PipelineStats
    let metrics: ServerMetrics

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let s = stats.snapshot
            metrics.pipeline(processed: s.processed, lag: s.lag)
            metrics.worker(
                predictions: s.events.predictions, alerts: s.events.alerts, deadLetters: s.events.deadLetters,
                caughtUp: s.caughtUp)
            try? await Task.sleep(for: .seconds(2))
        }
    }
}
