import ArgumentParser
import Bus
import Buses
import Connectors
import Foundation
import Learn
import LocalPeers
import Logging
import MQTT
import OPCUA
import Pipeline
import Plant
import Registry
import Server
import ServiceLifecycle
import Synchronization

extension Millstream {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Run the plant on this machine: simulated machines, the embedded log, a pipeline worker and a failure model.",
            discussion: """
                On first start it trains a failure model on the bundled AI4I 2020 data (data/ai4i2020.csv), which \
                drives the risk per part and the setpoint recommendations, and a lead-time model ("fails within \
                30 min") on a week of the simulated plant's own history, which drives the failure warnings; both go \
                to production. Then simulated machines stream readings into the embedded log, a pipeline \
                worker scores them and writes predictions, alerts, KPIs and dead letters, and a live panel shows the \
                plant. Ctrl-C (or SIGTERM) stops cleanly; starting again continues where it stopped. Watch the \
                streams from another terminal: `millstream tail alerts`.
                """)
        @Option(help: "Number of simulated machines.") var machines = 20
        @Option(help: "Readings per second per machine.") var ratePerMachine = 5.0
        @Option(help: "Random seed.") var seed: UInt64 = 1
        @Option(help: "Plant profile: realistic (a plant's variation and failure rates) or ai4i (the dataset's).")
        var profile = PlantProfile.realistic
        @Option(help: "Fraction of bad readings mixed in (they go to dead letters).") var badFraction = 0.01
        @Option(help: "Model registry directory.") var registry: String = "./models"
        @Option(help: "Training data for the first model (the AI4I 2020 CSV).") var trainingData: String =
            "data/ai4i2020.csv"
        @Option(
            help:
                "Days of the plant's history the failure warnings' lead-time model learns from at first start (0: warnings from the failure model's risk)."
        )
        var historyDays: Double = 7
        @Option(
            help: ArgumentHelp(
                "Where the readings come from: bus (the simulator writes them), mqtt (through a real broker) or opcua (through a real OPC UA server).",
                discussion:
                    "mqtt starts Debian's Mosquitto on a free port, has the simulator publish each machine's readings to it (QoS 1) and `millstream connect`'s MQTT source bring them to the bus. opcua starts asyncua's OPC UA server (from the project venv) with a node per variable of each machine, has the simulator write its readings there and `connect`'s OPC UA source subscribe to them; setpoint changes are written to the machines' setpoint nodes, which the simulated machines follow (docs/connectors.md)."
            ))
        var source: ReadingSource = .bus
        @Flag(help: "Run without the HTTP server and dashboard.") var noServer = false
        @OptionGroup var server: ServerArguments
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
            if !noServer { try ensureListenable(host: server.host, port: server.port) }
            try ensureModel(process)
            let alarmModel = try ensureLeadTimeModel(process)
            let bus = try openBus(busOptions.bus)
            let simulator = try PlantSimulator(
                config: process, machines: machines, seed: seed, start: currentMilliseconds(), profile: profile)
            let stats = SimulationStats()
            let (broker, connectors) = try await startSource(process, bus: bus)
            defer { broker?.remove() }
            let (opcuaServer, opcuaConnectors) = try await startOPCUA(process, bus: bus)
            defer { opcuaServer?.stop() }
            // Readings published to MQTT are durable as the broker acknowledges them.
            var durable = durableCounter(bus: bus, topic: "readings")
            if broker != nil || opcuaServer != nil { durable = { nil } }
            let runner = SimulationRunner(
                bus: bus, simulatorStart: simulator,
                options: .init(
                    rate: ratePerMachine * Double(machines), badFraction: badFraction, seed: seed,
                    labelsTopic: "labels",
                    mqtt: broker.map(Self.publishing), opcua: opcuaServer?.endpoint),
                stats: stats, durableCount: durable)
            var options = PipelineWorker.Options()
            options.registry = registry
            options.model = "failure"
            options.alarmModel = alarmModel
            options.shadow = "failure@challenger"
            var quiet = Logger(label: "millstream.pipeline")
            quiet.logLevel = .warning  // the live panel owns the terminal
            // Paced, the plant runs in compressed time: a machine makes a part every 1/rate-per-machine seconds of the
            // wall clock instead of every base cycle, so the pipeline's OEE takes the ideal cycle on the same clock.
            // The alarm philosophy's delays run on the same clock.
            var compressed = process
            let scale = ratePerMachine * profile.physics.baseCycleSeconds
            compressed.idealCycleSeconds /= scale
            compressed.alarms = process.alarms.compressed(by: scale)
            let worker = PipelineWorker(
                bus: bus, settings: PipelineSettings(process: compressed), options: options, logger: quiet)
            Terminal.error(
                "millstream demo: \(machines) machines -> \(busOptions.bus); models in \(registry); Ctrl-C stops")
            let dashboard = DashboardAddress()
            let (extra, metrics) =
                noServer
                ? ([], nil)
                : try serverStack(process: process, bus: bus, scale: scale, dashboard: dashboard)
            try await runServices(
                [
                    BusService(bus: bus), worker, runner,
                    LivePanel(
                        stats: stats, pipeline: worker.stats, bus: bus, machines: machines, metrics: metrics,
                        dashboard: dashboard),
                ] + connectors + opcuaConnectors + extra,
                main: 2)
            try await bus.close()
            let s = stats.snapshot
            let p = worker.stats.snapshot
            print(
                "\nstopped: \(grouped(s.produced)) readings written this run, all durable (\(grouped(s.durable)) fsynced); \(grouped(p.processed)) processed"
            )
        }

        /// The server's services for the demo: a fresh admin token each start, valid for a day, printed with the
        /// dashboard's address (the browser signs in with it on the form: a token never goes in a URL); the plant's
        /// history kept beside the bus, so the trends reach back past the server's in-memory window.
        func serverStack(process: ProcessConfig, bus: any MessageBus, scale: Double, dashboard: DashboardAddress)
            throws -> ([any Service], ServerMetrics?)
        {
            let tokens = try TokenStore(path: server.tokens)
            let token = try tokens.create(name: "demo-admin", role: .admin, validFor: .seconds(86_400))
            var serverLogger = Logger(label: "millstream.server")
            serverLogger.logLevel = .warning
            let scheme = server.scheme
            let host = server.host
            var arguments = server
            if arguments.historian == nil { arguments.historian = "./millstream-history.sqlite" }
            let stack = try ServerStack(
                arguments: arguments, tokens: tokens, process: process, bus: bus, registry: registry,
                logger: serverLogger, clockScale: scale
            ) { port in
                dashboard.set("\(scheme)://\(host):\(port)/   (sign in with the admin token)")
                Terminal.error("dashboard: \(scheme)://\(host):\(port)/")
                Terminal.error("admin token (valid 24 h; `millstream tokens create` makes others): \(token)")
            }
            return (stack.services, stack.metrics)
        }

        enum ReadingSource: String, ExpressibleByArgument, CaseIterable { case bus, mqtt, opcua }

        /// With `--source opcua`: asyncua's server with the demo's machines as nodes, and the OPC UA source and
        /// setpoint target of `millstream connect` on it.
        private func startOPCUA(_ process: ProcessConfig, bus: any MessageBus) async throws
            -> (OPCUAServerPeer?, [any Service])
        {
            guard source == .opcua else { return (nil, []) }
            let ids = Array(process.machineIDs.prefix(machines))
            Terminal.error("demo: starting asyncua's OPC UA server with \(ids.count) machines ...")
            let server: OPCUAServerPeer
            do { server = try await OPCUAServerPeer(machines: ids, writable: true) } catch {
                throw CommandError(
                    "cannot start the demo's OPC UA server: \(error) (run from the repository: scripts/demo)")
            }
            func node(_ machine: String, _ name: String) -> OPCUANodeSpec { OPCUANodeSpec("ns=2;s=\(machine)/\(name)") }
            var settings = OPCUAServerSettings(
                client: try OPCUAClientOptions(endpointURL: server.endpoint, sessionName: "millstream-connect"),
                machines: ids.map { m in
                    OPCUAMachineMapping(
                        machine: m, values: OPCUAPlantWriter.nodes.map { ($0.variable, node(m, $0.name)) },
                        setpoints: OPCUAPlantWriter.setpoints.map { ($0.variable, node(m, $0.name)) },
                        state: node(m, "State"), product: node(m, "Product"), good: node(m, "Good"),
                        scrap: node(m, "Scrap"))
                })
            settings.publishingInterval = .milliseconds(50)
            settings.samplingInterval = .zero
            var logger = Logger(label: "millstream.connect.opcua")
            logger.logLevel = .warning  // the live panel owns the terminal
            Terminal.error(
                "through OPC UA: asyncua's server at \(server.endpoint), a node per variable (ns=2;s=<machine>/<Name>), "
                    + "setpoints written to <machine>/SpeedSetpoint and TorqueSetpoint")
            return (
                server,
                [
                    OPCUASource(servers: [settings], machines: Set(process.machineIDs), bus: bus, logger: logger),
                    SetpointSink(
                        target: OPCUASetpointTarget(servers: [settings]), process: process, bus: bus, logger: logger),
                ]
            )
        }

        /// With `--source mqtt`: a Mosquitto on a free port and the connector that reads it into the bus.
        private func startSource(_ process: ProcessConfig, bus: any MessageBus) async throws
            -> (Mosquitto?, [any Service])
        {
            guard source == .mqtt else { return (nil, []) }
            let broker = try Mosquitto()
            try await broker.ready()
            let topic = try TopicPattern("plant1/{line}/{machine}/telemetry")
            let settings = MQTTSourceSettings(
                client: MQTTClientOptions(
                    host: "127.0.0.1", port: broker.port, clientID: "millstream-connect", cleanStart: false,
                    sessionExpirySeconds: 3600),
                mappings: [
                    .readingFormat(topic: topic, machine: NameTemplate("plant1/{line}/{machine}"), process: process)
                ])
            var logger = Logger(label: "millstream.connect.mqtt")
            logger.logLevel = .warning  // the live panel owns the terminal
            Terminal.error(
                "through MQTT: Mosquitto at mqtt://127.0.0.1:\(broker.port), readings on \(topic), setpoint commands on \(Self.commands.text)"
            )
            var sinkClient = settings.client
            sinkClient.clientID += "-setpoints"
            let sink = MQTTSinkSettings(client: sinkClient, topic: Self.commands)
            return (
                broker,
                [
                    MQTTSource(settings: settings, machines: Set(process.machineIDs), bus: bus, logger: logger),
                    SetpointSink(target: MQTTSetpointTarget(sink), process: process, bus: bus, logger: logger),
                ]
            )
        }

        static func publishing(_ broker: Mosquitto) -> SimulationRunner.MQTTTarget {
            SimulationRunner.MQTTTarget(
                client: MQTTClientOptions(host: "127.0.0.1", port: broker.port, clientID: "millstream-simulator"),
                topic: NameTemplate("{site}/{line}/{machine}/telemetry"), commands: commands)
        }

        static let commands = NameTemplate("{site}/{line}/{machine}/cmd")

        /// Trains and promotes the lead-time model of the failure warnings ("fails within 30 min", from a simulated
        /// history of this plant on seed + 1000) if the registry has none in production; its name, or nil without one.
        private func ensureLeadTimeModel(_ process: ProcessConfig) throws -> String? {
            guard historyDays > 0 else { return nil }
            let models = try ModelRegistry(root: registry)
            if (try? models.resolve(ModelReference("lead@production"))) != nil { return "lead" }
            Terminal.error(
                "demo: first start, training the failure warnings' lead-time model on \(Millstream.Alarms.Evaluate.g(historyDays)) days of the plant's history ..."
            )
            let folder = NSTemporaryDirectory() + "millstream-demo-history-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let lead: LeadTimeTraining.Result
            do {
                lead = try LeadTimeTraining(
                    process: process, profile: profile, machines: machines, seed: seed + 1000,
                    start: currentMilliseconds() - Int64(historyDays * 86_400_000), days: historyDays, folder: folder,
                    registry: registry
                ).run { _ in }
            } catch {
                // The plant runs without it: the warnings then come from the failure model's risk per part.
                Terminal.error("demo: no lead-time model (\(error)); failure warnings come from the failure model")
                return nil
            }
            Terminal.error(
                String(
                    format:
                        "demo: lead v%d in production (%d running readings, %d failures; test PR-AUC %.3f; trained in %.1f s)",
                    lead.version.version, lead.rows, lead.failures, lead.result.testMetrics["pr_auc"] ?? 0, lead.seconds
                )
            )
            return "lead"
        }

        /// Trains and promotes the failure model if the registry has none in production.
        private func ensureModel(_ process: ProcessConfig) throws {
            let registry = try ModelRegistry(root: registry)
            if (try? registry.resolve(ModelReference("failure@production"))) != nil { return }
            guard FileManager.default.fileExists(atPath: trainingData) else {
                throw CommandError(
                    "no failure model in \(self.registry) and no training data at \(trainingData): run the demo from the repository, or pass --training-data PATH/ai4i2020.csv"
                )
            }
            Terminal.error("demo: first start, training the failure model on \(trainingData) ...")
            // One model for the overall failure risk and the risk of each failure mode.
            let table = try TrainingTable(
                path: trainingData, target: "Machine failure", extraTargets: ["TWF", "HDF", "PWF", "OSF", "RNF"],
                drop: [],
                config: process)
            var spec = TrainingSpec()
            spec.scaling = .treeSteps
            spec.bins = 8
            spec.patience = 30
            spec.epochs = 100
            let started = ContinuousClock.now
            var result = try Trainer.train(
                table.data, spec: spec,
                metadata: .init(
                    created: ISO8601DateFormatter().string(from: Date()), datasetSHA256: table.sha256,
                    hyperparameters: ["data": trainingData, "target": "Machine failure"],
                    codeVersion: Millstream.configuration.version,
                    source: "millstream demo"))
            result.model.description.columns = table.columns
            let version = try registry.register(result.model, as: "failure")
            try registry.promote("failure", version: version.version, to: .production)
            let elapsed = ContinuousClock.now - started
            Terminal.error(
                String(
                    format: "demo: failure v%d in production (test F1 %.3f, ROC-AUC %.3f; trained in %.1f s)",
                    version.version,
                    result.testMetrics["f1"] ?? 0, result.testMetrics["roc_auc"] ?? 0,
                    Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18))
        }
    }
}

/// A live view of the plant in the terminal, refreshed every second.
struct LivePanel: Service {
    let stats: SimulationStats
    let pipeline: PipelineStats
    let bus: any MessageBus
    let machines: Int
    let metrics: ServerMetrics?
    let dashboard: DashboardAddress

    func run() async throws {
        var lastProduced: Int64 = 0
        var lastProcessed = 0
        var lastTime = ContinuousClock.now
        var tick = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let s = stats.snapshot
            let p = pipeline.snapshot
            let now = ContinuousClock.now
            let dt = now - lastTime
            let seconds = max(0.001, Double(dt.components.seconds) + Double(dt.components.attoseconds) * 1e-18)
            let rate = Double(s.produced - lastProduced) / seconds
            let processedRate = Double(p.processed - lastProcessed) / seconds
            lastProduced = s.produced
            lastProcessed = p.processed
            lastTime = now
            tick += 1
            var counts: [MachineState: Int] = [:]
            for state in s.states.values { counts[state, default: 0] += 1 }
            let total = try? await bus.describeTopic("readings").records
            let units = s.good + s.scrap
            let scrapRate = units > 0 ? Double(s.scrap) / Double(units) * 100 : 0
            let modes = s.failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: " ")
            let risky = p.events.lastRisk.sorted { $0.value > $1.value }.prefix(3)
                .map {
                    "\($0.key.split(separator: "/").suffix(2).joined(separator: "/")) \(Int(($0.value * 100).rounded()))%"
                }.joined(separator: "  ")
            let oee =
                p.events.oee.isEmpty
                ? "-" : "\(Int((p.events.oee.values.reduce(0, +) / Double(p.events.oee.count) * 100).rounded()))%"
            let dead = p.events.deadLetters.values.reduce(0, +)
            metrics?.pipeline(processed: p.processed, lag: p.lag)
            var lines = [
                "Millstream demo: \(machines) machines   model \(p.model ?? "none")   (Ctrl-C stops)",
                String(
                    format: "readings   %6.0f/s in, %6.0f/s scored   in log %@   predictions %@", rate, processedRate,
                    grouped(total ?? 0), grouped(p.events.predictions)),
                "machines   running \(counts[.running, default: 0])   down \(counts[.down, default: 0])   tool change \(counts[.toolChange, default: 0])   OEE (last hour) \(oee)",
                "risk       highest now: \(risky.isEmpty ? "-" : risky)",
                "alerts     \(p.events.alerts) raised (failure risk and SPC)   dead letters \(dead)",
                String(
                    format: "parts      good %@   scrap %@ (%.1f%%)   failures %d  %@", grouped(s.good),
                    grouped(s.scrap), scrapRate, s.failedProducts, modes),
            ]
            if let url = dashboard.value { lines.append("dashboard  \(url)") }
            if Terminal.stdoutIsTTY {
                FileHandle.standardOutput.write(Data(("\u{1B}[H\u{1B}[2J" + lines.joined(separator: "\n") + "\n").utf8))
            } else if tick % 5 == 1 {
                FileHandle.standardOutput.write(Data((lines[1] + " | " + lines[2] + " | " + lines[4] + "\n").utf8))
                if tick == 1, let url = dashboard.value {
                    FileHandle.standardOutput.write(Data("dashboard: \(url)\n".utf8))
                }
            }
        }
    }
}

/// The dashboard's address, once the server has its port.
final class DashboardAddress: Sendable {
    private let url = Mutex<String?>(nil)
    func set(_ value: String) { url.withLock { $0 = value } }
    var value: String? { url.withLock { $0 } }
}
