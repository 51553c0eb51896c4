import ArgumentParser
import Bus
import Foundation
import Logging
import Plant
import ServiceLifecycle

extension Millstream {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Run the plant on this machine: simulated machines streaming into the embedded log, with live figures.",
            discussion: """
                Runs until Ctrl-C, which stops cleanly (everything written is fsynced). Starting again appends to the \
                same log. Watch the stream from another terminal with `millstream tail readings`.
                """)
        @Option(help: "Number of simulated machines.") var machines = 20
        @Option(help: "Readings per second per machine.") var ratePerMachine = 5.0
        @Option(help: "Random seed.") var seed: UInt64 = 1
        @Option(help: "Fraction of bad readings mixed in (they will feed the dead-letter path).") var badFraction = 0.01
        @OptionGroup var busOptions: BusOptions

        func validate() throws {
            guard (1...100).contains(machines) else {
                throw ValidationError("--machines \(machines) must be from 1 to 100")
            }
            guard ratePerMachine > 0 && ratePerMachine <= 10_000 else {
                throw ValidationError("--rate-per-machine \(ratePerMachine) must be above 0 and at most 10000")
            }
            guard (0...1).contains(badFraction) else { throw ValidationError("--bad-fraction must be from 0 to 1") }
        }

        func run() async throws {
            let process = ProcessConfig.milling()
            let bus = try openBus(busOptions.bus)
            let simulator = try PlantSimulator(
                config: process, machines: machines, seed: seed, start: currentMilliseconds())
            let stats = SimulationStats()
            let runner = SimulationRunner(
                bus: bus, simulatorStart: simulator,
                options: .init(
                    rate: ratePerMachine * Double(machines), badFraction: badFraction, seed: seed, labelsTopic: "labels"
                ),
                stats: stats, durableCount: durableCounter(bus: bus, topic: "readings"))
            var logger = Logger(label: "millstream")
            logger.logLevel = .warning
            Terminal.error("millstream demo: \(machines) machines -> readings on \(busOptions.bus); Ctrl-C stops")
            let group = ServiceGroup(
                configuration: .init(
                    services: [
                        .init(service: BusService(bus: bus)),
                        .init(service: runner, successTerminationBehavior: .gracefullyShutdownGroup),
                        .init(service: LivePanel(stats: stats, bus: bus, machines: machines)),
                    ],
                    gracefulShutdownSignals: [.sigint, .sigterm], logger: logger))
            try await group.run()
            try await bus.close()
            let s = stats.snapshot
            print(
                "\nstopped: \(grouped(s.produced)) readings written this run, all durable (\(grouped(s.durable)) fsynced)"
            )
        }
    }
}

/// A live view of the plant in the terminal, refreshed every second.
struct LivePanel: Service {
    let stats: SimulationStats
    let bus: any MessageBus
    let machines: Int

    func run() async throws {
        var lastProduced: Int64 = 0
        var lastTime = ContinuousClock.now
        var tick = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let s = stats.snapshot
            let now = ContinuousClock.now
            let dt = now - lastTime
            let seconds = Double(dt.components.seconds) + Double(dt.components.attoseconds) * 1e-18
            let rate = Double(s.produced - lastProduced) / max(seconds, 0.001)
            lastProduced = s.produced
            lastTime = now
            tick += 1
            var counts: [MachineState: Int] = [:]
            for state in s.states.values { counts[state, default: 0] += 1 }
            let total = try? await bus.describeTopic("readings").records
            let units = s.good + s.scrap
            let scrapRate = units > 0 ? Double(s.scrap) / Double(units) * 100 : 0
            let modes = s.failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "  ")
            let lines = [
                "Millstream demo: \(machines) machines   (Ctrl-C stops)",
                String(
                    format: "readings   %8.0f/s   this run %@   in log %@   durable %@", rate, grouped(s.produced),
                    grouped(total ?? 0), grouped(s.durable)),
                "machines   running \(counts[.running, default: 0])   down \(counts[.down, default: 0])   tool change \(counts[.toolChange, default: 0])",
                String(format: "parts      good %@   scrap %@ (%.1f%%)", grouped(s.good), grouped(s.scrap), scrapRate),
                "failures   \(s.failedProducts)   \(modes)",
                "bad input  \(s.bad.values.reduce(0, +)) readings mixed in for the dead-letter path",
            ]
            if Terminal.stdoutIsTTY {
                FileHandle.standardOutput.write(Data(("\u{1B}[H\u{1B}[2J" + lines.joined(separator: "\n") + "\n").utf8))
            } else if tick % 5 == 1 {
                FileHandle.standardOutput.write(Data((lines[1] + " | " + lines[2] + " | " + lines[4] + "\n").utf8))
            }
        }
    }
}
