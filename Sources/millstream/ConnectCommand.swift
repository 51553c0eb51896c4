import ArgumentParser
import Bus
import Buses
import Connectors
import Foundation
import Logging
import Observability
import Plant
import Server
import ServiceLifecycle

extension Millstream {
    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Read machines' own protocols (MQTT, Sparkplug B, Modbus TCP) into the readings topic; write setpoints back.",
            discussion: """
                The `connectors:` section of the process config names the broker and maps each topic's messages to \
                a machine and its variables (docs/connectors.md). Messages that cannot become readings go to the \
                dead-letters topic with the reason. A message is acknowledged to the broker only after its reading \
                is on the bus; a lost broker is reconnected with backoff, and the persistent session's queued \
                messages follow. Stop with Ctrl-C (SIGINT) or SIGTERM.

                Examples:
                  millstream connect --config plant.yaml --bus embedded://./data
                  millstream connect --connectors examples/connectors/mqtt.yaml --bus embedded://./data
                  MQTT_PASSWORD=... millstream connect --config plant.yaml --bus kafka://broker:9092
                """)

        @Option(help: "Process configuration (YAML); default: the built-in milling process.")
        var config: String?

        @Option(help: "A YAML file with the `connectors:` section, when it is not in the process config.")
        var connectors: String?

        @OptionGroup var busOptions: BusOptions

        @Option(help: "Print the connector's figures every this long.")
        var statsEvery = "10s"

        @Option(help: "Serve /healthz, /readyz and /metrics on this port (0: off), for probes and Prometheus.")
        var healthPort = 0
        @Option(help: "Address of the health port.") var healthHost = "127.0.0.1"
        @Option(help: "Tokens file: /metrics on the health port needs a viewer token.") var tokens =
            "./millstream-tokens.json"

        func validate() throws {
            guard (0...65535).contains(healthPort) else {
                throw ValidationError("--health-port \(healthPort) must be from 0 to 65535")
            }
        }

        func run() async throws {
            let telemetry = try Observability.bootstrap(service: "millstream-connect", level: .info)
            var (process, text, source) = try loadProcessConfigText(config)
            if let connectors {
                guard let data = FileManager.default.contents(atPath: connectors) else {
                    throw CommandError("cannot read connectors file \(connectors): no such file or no permission")
                }
                text = String(decoding: data, as: UTF8.self)
                source = connectors
            }
            let settings = try ConnectorSettings.load(yaml: text, source: source, process: process)
            guard
                settings.mqtt != nil || settings.sparkplug != nil || !settings.opcua.isEmpty || !settings.modbus.isEmpty
            else {
                throw CommandError("\(source) has no connectors: section with a source (see docs/connectors.md)")
            }
            let interval = try parseDuration(statsEvery, option: "--stats-every")
            let bus = try openBus(busOptions.bus)
            let stats = ConnectorStats()
            let sources = Self.services(settings, process: process, bus: bus, stats: stats)
            let connector = ConnectorGroup(services: sources)
            var services: [any Service] = [BusService(bus: bus), connector]
            if interval > .zero { services.append(StatsPrinter(stats: stats, every: interval)) }
            if healthPort > 0 {
                var o = ServerOptions()
                o.host = healthHost
                o.port = healthPort
                o.version = Millstream.configuration.version
                let metrics = ServerMetrics(version: o.version)
                let health = HealthServer(options: o, tokens: try TokenStore(path: tokens), metrics: metrics) {
                    stats.snapshot.connections > 0
                }
                services += [health.application(), ConnectorGauges(stats: stats, metrics: metrics)]
            }
            try await runServices(services, main: 1, telemetry: telemetry)
            try await bus.close()
            print(Self.summary(stats.snapshot))
        }

        static func summary(_ s: ConnectorStats.Snapshot) -> String {
            let dead = s.deadLetters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let writes = s.setpointWrites.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            return "connect: \(grouped(s.received)) messages, \(grouped(s.readings)) readings, "
                + "\(grouped(s.deadLetters.values.reduce(0, +))) dead letters\(dead.isEmpty ? "" : " (\(dead))"), "
                + "\(s.connections) connections"
                + (writes.isEmpty ? "" : "; setpoint writes: " + writes.joined(separator: ", "))
        }
    }
}

extension Millstream.Connect {
    /// The sources the settings configure, and one setpoint sink for every target they name (one audit trail, each
    /// change written once, where its machine is); each is announced on stdout.
    static func services(
        _ settings: ConnectorSettings, process: ProcessConfig, bus: any MessageBus, stats: ConnectorStats
    ) -> [any Service] {
        let machines = Set(process.machineIDs)
        var sources: [any Service] = []
        var targets: [any SetpointTarget] = []
        if let mqtt = settings.mqtt {
            sources.append(MQTTSource(settings: mqtt, machines: machines, bus: bus, stats: stats))
            print(
                "connect: reading \(mqtt.client.endpoint) (\(mqtt.mappings.map(\.topic.text).joined(separator: ", ")))")
            if let sink = mqtt.setpoints {
                targets.append(MQTTSetpointTarget(sink))
                print("connect: writing setpoint changes to \(sink.client.endpoint) topic \(sink.topic.text)")
            }
        }
        if let sparkplug = settings.sparkplug {
            let directory = SparkplugDirectory()
            sources.append(
                SparkplugSource(settings: sparkplug, machines: machines, bus: bus, directory: directory, stats: stats))
            print(
                "connect: Sparkplug B host\(sparkplug.hostID.map { " \($0)" } ?? "") on \(sparkplug.client.endpoint), "
                    + "group \(sparkplug.group), machines \(sparkplug.mapping.machine.text)")
            if sparkplug.commands != nil {
                targets.append(SparkplugSetpointTarget(settings: sparkplug, directory: directory))
                print("connect: writing setpoint changes as Sparkplug commands (DCMD/NCMD)")
            }
        }
        if !settings.opcua.isEmpty {
            sources.append(OPCUASource(servers: settings.opcua, machines: machines, bus: bus, stats: stats))
            for s in settings.opcua {
                let policy = s.client.security.policyURI.split(separator: "#").last ?? ""
                print(
                    "connect: subscribing to \(s.client.endpointURL) (\(policy)) for "
                        + s.machines.map(\.machine).joined(separator: ", "))
            }
            let target = OPCUASetpointTarget(servers: settings.opcua)
            if !target.servers.isEmpty {
                targets.append(target)
                print("connect: writing setpoint changes to \(target.endpoint)")
            }
        }
        if !settings.modbus.isEmpty {
            sources.append(ModbusSource(devices: settings.modbus, bus: bus, stats: stats))
            for d in settings.modbus {
                print("connect: polling \(d.endpoint) unit \(d.unit) every \(d.interval) for \(d.machine)")
            }
            let target = ModbusSetpointTarget(devices: settings.modbus)
            if !target.devices.isEmpty {
                targets.append(target)
                print("connect: writing setpoint changes to \(target.endpoint)")
            }
        }
        if !targets.isEmpty {
            sources.append(
                SetpointSink(
                    target: targets.count == 1 ? targets[0] : SetpointTargets(targets), process: process, bus: bus,
                    stats: stats))
        }
        return sources
    }
}

/// The configured sources and sinks as one service: all run until shutdown; the first to fail ends the others.
struct ConnectorGroup: Service {
    let services: [any Service]

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for s in services { group.addTask { try await s.run() } }
            try await group.waitForAll()
        }
    }
}

/// Copies the connectors' figures into their metrics every two seconds.
struct ConnectorGauges: Service {
    let stats: ConnectorStats
    let metrics: ServerMetrics

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let s = stats.snapshot
            metrics.connector(
                received: s.received, readings: s.readings, deadLetters: s.deadLetters, connections: s.connections,
                setpointWrites: s.setpointWrites)
            try? await Task.sleep(for: .seconds(2))
        }
    }
}

/// Prints the connector's figures at an interval while it runs.
struct StatsPrinter: Service {
    let stats: ConnectorStats
    let every: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: every)
            if Task.isCancelled { return }
            print(Millstream.Connect.summary(stats.snapshot))
        }
    }
}
