import ArgumentParser
import Bus
import BusEmbedded
import Buses
import Connectors
import EventLog
import Foundation
import Logging
import MQTT
import Plant
import ServiceLifecycle

extension Millstream {
    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the plant simulator (milling machines, AI4I 2020 rules) into the readings topic.",
            discussion: """
                Readings are keyed by machine id. Paced runs (--rate) stamp readings with the wall clock and run the \
                machines' physics in compressed time; --fast runs in simulated time (by default ending about now). \
                Setpoint records on the `setpoints` topic change a machine's speed and torque target as they arrive.

                Examples:
                  millstream simulate --machines 20 --count 100000 --fast --bus embedded://./data
                  millstream simulate --machines 5 --rate 50 --duration 10m --bad-fraction 0.01
                """)

        @Option(help: "Number of machines, taken in order from the process config (built-in: up to 100).")
        var machines = 20

        @Option(help: "Readings per second in total, paced in real time.")
        var rate: Double?

        @Flag(help: "Run as fast as possible in simulated time.")
        var fast = false

        @Option(help: "Total number of readings across all machines.")
        var count: Int64?

        @Option(help: "How long to run (500ms, 90s, 10m, 2h, 1d): simulated time with --fast, wall time otherwise.")
        var duration: String?

        @Option(help: "Random seed; the same seed gives the same readings.")
        var seed: UInt64 = 1

        @Option(
            help: "Plant profile: realistic (a plant's variation and failure rates) or ai4i (the AI4I 2020 dataset's).")
        var profile = PlantProfile.realistic

        @Option(help: "Process configuration (YAML); default: the built-in milling process (config/milling.yaml).")
        var config: String?

        @Option(help: "Topic to write readings to.")
        var topic = "readings"

        @Option(help: "Fraction (0 to 1) of readings to replace with realistic bad input, for testing dead letters.")
        var badFraction = 0.0

        @Option(help: "Simulated start time with --fast (ISO 8601, e.g. 2026-01-01T00:00:00Z).")
        var start: String?

        @Option(
            help: ArgumentHelp(
                "Change the process at this simulated time (ISO 8601), as --change says.",
                discussion: "For the models to notice: drift detection, retraining (docs/lifecycle.md)."))
        var changeAt: String?
        @Option(
            help:
                "The change: delta_mean=K (process minus air temperature: a cooling that degrades), air_mean=K, wear_scale=F (tools wear F times faster), torque_sd=Nm, random_failure=P."
        )
        var change: String?

        @Option(
            help: ArgumentHelp(
                "Publish the readings to this MQTT broker (mqtt://HOST[:PORT]) instead of the bus, QoS 1.",
                discussion: "`millstream connect` brings them to the bus (docs/connectors.md); labels stay on the bus.")
        )
        var mqtt: String?

        @Option(help: "The MQTT topic of a machine's readings, from its id's levels {site}, {line} and {machine}.")
        var mqttTopic = "{site}/{line}/{machine}/telemetry"

        @Option(
            help:
                "With --mqtt: the machines take setpoint commands on this topic (e.g. {site}/{line}/{machine}/cmd, as `connect` writes them) instead of from the bus."
        )
        var mqttCommands: String?

        @Flag(help: "Also write the true failure of each product to the `labels` topic.")
        var labels = false

        @Option(help: "Progress on stderr: auto (a status line on a terminal), json (JSON lines), none.")
        var progress: ProgressMode = .auto

        @OptionGroup var busOptions: BusOptions
        @OptionGroup var output: OutputOptions

        enum ProgressMode: String, ExpressibleByArgument, CaseIterable { case auto, json, none }

        func validate() throws {
            if rate != nil && fast { throw ValidationError("give either --rate or --fast, not both") }
            if let rate, !(rate > 0 && rate <= 10_000_000) {
                throw ValidationError("--rate \(rate) is out of range: 0 < rate <= 10000000 readings/s")
            }
            if let count, count < 1 { throw ValidationError("--count \(count) must be at least 1") }
            if !(0...1).contains(badFraction) {
                throw ValidationError("--bad-fraction \(badFraction) must be from 0 to 1")
            }
            if machines < 1 { throw ValidationError("--machines \(machines) must be at least 1") }
            if let duration { _ = try parseDuration(duration, option: "--duration") }
            if let start, Timestamp.parse(start) == nil {
                throw ValidationError("--start \(start) is not an ISO 8601 time like 2026-01-01T00:00:00Z")
            }
            if start != nil && !fast { throw ValidationError("--start only applies with --fast") }
            if !fast && rate == nil && count == nil && duration == nil {
                // Paced with no end would be a demo; say so rather than run forever silently.
                throw ValidationError("give --count or --duration (or use `millstream demo` for an endless run)")
            }
        }

        func run() async throws {
            let process = try loadProcessConfig(config)
            let bus = try openBus(busOptions.bus)
            let paceRate = fast ? nil : (rate ?? Double(machines))
            let durationValue = try duration.map { try parseDuration($0, option: "--duration") }
            var startTime = currentMilliseconds()
            if fast {
                if let start {
                    startTime = Timestamp.parse(start)!
                } else {
                    // End about now: the simulated history has just happened.
                    let readingsPerMachine = Double(count ?? 0) / Double(machines)
                    let span = durationValue.map { Double($0.components.seconds) } ?? readingsPerMachine * 60
                    startTime -= Int64(span * 1000)
                    startTime -= startTime % 60_000
                }
            }
            var simulator = try PlantSimulator(
                config: process, machines: machines, seed: seed, start: startTime, profile: profile)
            if let change {
                guard let text = changeAt, let at = Timestamp.parse(text) else {
                    throw ValidationError("--change needs --change-at with an ISO 8601 time like 2026-05-04T00:00:00Z")
                }
                simulator.schedule(try ProcessChange(at: at, text: change))
            } else if changeAt != nil {
                throw ValidationError("--change-at needs --change: what changes")
            }
            let stats = SimulationStats()
            let target = try mqtt.map { try mqttTarget($0) }
            // Readings published to MQTT are durable as the broker acknowledges them.
            var durable = durableCounter(bus: bus, topic: topic)
            if target != nil { durable = { nil } }
            let runner = SimulationRunner(
                bus: bus, simulatorStart: simulator,
                options: .init(
                    topic: topic, count: count, duration: durationValue, rate: paceRate, badFraction: badFraction,
                    seed: seed, labelsTopic: labels ? "labels" : nil, mqtt: target),
                stats: stats, durableCount: durable)
            let reporter = ProgressReporter(stats: stats, total: count, mode: progress)
            try await runServices([BusService(bus: bus), runner, reporter], main: 1)
            try await bus.close()
            Terminal.endStatus()
            report(stats.snapshot, elapsed: ContinuousClock.now - stats.started)
        }

        private func mqttTarget(_ url: String) throws -> SimulationRunner.MQTTTarget {
            guard let u = URLComponents(string: url), u.scheme == "mqtt", let host = u.host, !host.isEmpty else {
                throw ValidationError("--mqtt \(url) is not mqtt://HOST[:PORT]")
            }
            return SimulationRunner.MQTTTarget(
                client: MQTTClientOptions(host: host, port: u.port ?? 1883, clientID: "millstream-simulator-\(seed)"),
                topic: NameTemplate(mqttTopic), commands: mqttCommands.map(NameTemplate.init))
        }

        private func report(_ s: SimulationStats.Snapshot, elapsed: Duration) {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            let rate = seconds > 0 ? Double(s.produced) / seconds : 0
            let badTotal = s.bad.values.reduce(0, +)
            if output.json {
                print(
                    Terminal.jsonLine([
                        "readings": s.produced, "durable": s.durable, "topic": topic, "bus": busOptions.bus,
                        "machines": machines, "seconds": (seconds * 1000).rounded() / 1000,
                        "readings_per_second": rate.rounded(),
                        "bad": badTotal,
                        "bad_by_kind": Dictionary(uniqueKeysWithValues: s.bad.map { ($0.key.rawValue, $0.value) }),
                        "failures": s.failedProducts, "failures_by_mode": s.failures, "good": s.good, "scrap": s.scrap,
                        "setpoints_applied": s.setpointsApplied, "simulated_until": Timestamp.format(s.simulatedTime),
                    ]))
            } else {
                print(
                    "wrote \(grouped(s.produced)) readings from \(machines) machines to \(topic) on \(busOptions.bus)")
                print(
                    String(
                        format: "  %.2f s, %@ readings/s; durable: %@", seconds, grouped(Int(rate)), grouped(s.durable))
                )
                if badTotal > 0 {
                    print(
                        "  bad readings mixed in: \(badTotal) (\(s.bad.map { "\($0.key.rawValue) \($0.value)" }.sorted().joined(separator: ", ")))"
                    )
                }
                let modes = s.failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                    separator: ", ")
                print(
                    "  failures: \(s.failedProducts)\(modes.isEmpty ? "" : " (\(modes))"); good \(grouped(s.good)), scrap \(grouped(s.scrap))"
                )
            }
        }
    }
}

/// Counts records of `topic` that the embedded log has fsynced since now (nil for other buses).
func durableCounter(bus: any MessageBus, topic: String) -> @Sendable () -> Int64? {
    guard let embedded = bus as? EmbeddedBus, let log = try? embedded.log.topic(topic, create: true) else {
        return { nil }
    }
    let baseline = log.partitions.map(\.latestOffset)
    return { zip(log.partitions, baseline).reduce(0) { $0 + $1.0.durableOffset - $1.1 } }
}

/// Reports a simulation's progress on stderr until the group shuts down.
struct ProgressReporter: Service {
    let stats: SimulationStats
    let total: Int64?
    let mode: Millstream.Simulate.ProgressMode

    func run() async throws {
        guard mode == .json || (mode == .auto && Terminal.stderrIsTTY) else {
            try? await gracefulShutdown()
            return
        }
        let interval: Duration = mode == .json ? .milliseconds(50) : .milliseconds(250)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let s = stats.snapshot
            if mode == .json {
                Terminal.error(Terminal.jsonLine(["produced": s.produced, "durable": s.durable]))
            } else {
                let elapsed = ContinuousClock.now - stats.started
                let seconds = max(
                    0.001, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
                var line = "simulate: \(grouped(s.produced))"
                if let total { line += "/\(grouped(total)) (\(s.produced * 100 / max(1, total))%)" }
                line += " readings · \(grouped(Int(Double(s.produced) / seconds)))/s · durable \(grouped(s.durable))"
                line += " · failures \(s.failedProducts)"
                Terminal.status(line)
            }
            try? await Task.sleep(for: interval)
        }
    }
}
