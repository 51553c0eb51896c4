import Bus
import Connectors
import Foundation
import Logging
import MQTT
import Plant
import Primitives
import ServiceLifecycle
import Synchronization
import Topics

/// Figures of a simulation run, shared between the runner and whoever reports on it.
final class SimulationStats: Sendable {
    struct Snapshot: Sendable {
        var produced: Int64 = 0
        var durable: Int64 = 0
        var bad: [BadReadingInjector.Kind: Int] = [:]
        var failures: [String: Int] = [:]
        var failedProducts = 0
        var good = 0
        var scrap = 0
        var setpointsApplied = 0
        var states: [String: MachineState] = [:]
        var simulatedTime: Int64 = 0
        var finished = false
    }

    private let state = Mutex(Snapshot())
    let started = ContinuousClock.now

    var snapshot: Snapshot { state.withLock { $0 } }
    func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }
}

/// Runs the plant simulator into a topic: as fast as possible, or paced at a rate in real time.
struct SimulationRunner: Service {
    struct Options: Sendable {
        var topic = "readings"
        var count: Int64?
        /// Simulated time (fast) or wall time (paced) to run for.
        var duration: Duration?
        /// Readings per second in total; nil: as fast as possible.
        var rate: Double?
        var badFraction = 0.0
        var seed: UInt64 = 1
        var labelsTopic: String?
        var applySetpoints = true
        /// Readings go to an MQTT broker instead of the bus, on topics made from the machine id's levels.
        var mqtt: MQTTTarget?
        /// Readings go to an OPC UA server's nodes instead of the bus (the demo's server: `OPCUAPlantWriter`), and
        /// setpoint changes come from its setpoint nodes.
        var opcua: String?
    }

    struct MQTTTarget: Sendable {
        var client: MQTTClientOptions
        /// `{site}/{line}/{machine}/telemetry`: the levels of the machine id "site/line/machine".
        var topic: NameTemplate
        /// Where the machines take setpoint commands (`{site}/{line}/{machine}/cmd`, as the connector's sink writes
        /// them); nil: setpoint changes come from the bus.
        var commands: NameTemplate?

        func topic(for machine: String) -> String { topic.fill(machineID: machine) }
    }

    let bus: any MessageBus
    let simulatorStart: PlantSimulator
    let options: Options
    let stats: SimulationStats
    /// Readings acknowledged durable so far (the embedded log knows; Kafka acknowledges durably).
    let durableCount: @Sendable () -> Int64?

    func run() async throws {
        guard let target = options.mqtt, let commands = target.commands else { return try await simulate(inbox: nil) }
        var client = target.client
        client.clientID += "-commands"
        let connection = try await MQTTConnection.connect(client)
        try await connection.subscribe([.init(commands.filter)])
        let inbox = CommandInbox()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await inbox.read(connection) }
            try await simulate(inbox: inbox)
            group.cancelAll()
        }
        await connection.disconnect()
    }

    private func simulate(inbox: CommandInbox?) async throws {
        let producer = try await bus.producer()
        var mqtt: MQTTConnection?
        if let target = options.mqtt { mqtt = try await MQTTConnection.connect(target.client) }
        var opcua: OPCUAPlantWriter?
        if let endpoint = options.opcua { opcua = try await OPCUAPlantWriter(endpoint: endpoint) }
        var readings: [Reading] = []
        let setpoints =
            options.applySetpoints && inbox == nil && options.opcua == nil
            ? try await bus.consumer(ConsumerOptions(topics: [Topics.setpoints.name], start: .latest)) : nil
        var simulator = simulatorStart
        var injector = BadReadingInjector(fraction: options.badFraction, seed: options.seed)
        let clock = ContinuousClock()
        var lastLook = clock.now
        let begin = clock.now
        let simulatedStart = simulator.now
        var produced: Int64 = 0
        var records: [Record] = []
        var labels: [Record] = []
        records.reserveCapacity(1000)
        var tally = Tally()
        var lastStats = begin

        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            guard
                let batch = await nextBatch(
                    produced: produced, elapsed: clock.now - begin, simulated: simulator.now - simulatedStart)
            else { break }
            if batch == 0 { continue }
            records.removeAll(keepingCapacity: true)
            labels.removeAll(keepingCapacity: true)
            let wall = currentMilliseconds()
            readings.removeAll(keepingCapacity: true)
            for _ in 0..<batch {
                var s = simulator.next()
                // Paced runs stamp readings with the wall clock: the plant's physics runs in compressed time.
                if options.rate != nil { s.reading.timestamp = wall }
                if opcua != nil { readings.append(s.reading) }
                let key = Array(s.reading.machine.utf8)
                let (bytes, bad) = injector.encode(s.reading)
                records.append(Record(key: key, value: bytes, timestamp: s.reading.timestamp))
                tally.add(s)
                if options.labelsTopic != nil, s.reading.state == .running, bad == nil {
                    labels.append(Record(key: key, value: label(s), timestamp: s.reading.timestamp))
                }
            }
            if let opcua {
                try await opcua.write(readings)
                if clock.now - lastLook >= .milliseconds(200) {
                    lastLook = clock.now
                    for change in try await opcua.changes() where (try? simulator.apply(change)) != nil {
                        stats.update { $0.setpointsApplied += 1 }
                    }
                }
            } else if let mqtt, let target = options.mqtt {
                try await mqtt.publish(
                    records.map { (target.topic(for: String(decoding: $0.key!, as: UTF8.self)), $0.value) })
            } else {
                _ = try await producer.send(records, to: options.topic)
            }
            if let labelsTopic = options.labelsTopic, !labels.isEmpty {
                _ = try await producer.send(labels, to: labelsTopic)
            }
            produced += batch
            if let setpoints { try await apply(setpoints, to: &simulator) }
            for change in inbox?.take() ?? [] where (try? simulator.apply(change)) != nil {
                stats.update { $0.setpointsApplied += 1 }
            }
            if clock.now - lastStats >= .milliseconds(50) || options.rate != nil {
                lastStats = clock.now
                publish(produced, injector.counts, tally, simulator.now)
            }
        }
        try await producer.flush()
        await mqtt?.disconnect()
        await opcua?.close()
        publish(produced, injector.counts, tally, simulator.now)
        stats.update { $0.finished = true }
        try await setpoints?.close()
    }

    /// How many readings to make now: nil when the run is over (count, duration), 0 when a paced run must wait.
    private func nextBatch(produced: Int64, elapsed: Duration, simulated: Int64) async -> Int64? {
        if let count = options.count, produced >= count { return nil }
        var batch: Int64 = 1000
        if let count = options.count { batch = min(batch, count - produced) }
        if let rate = options.rate {
            if let d = options.duration, elapsed >= d { return nil }
            let due =
                Int64(
                    Double(elapsed.components.seconds) * rate + Double(elapsed.components.attoseconds) * 1e-18 * rate)
                - produced
            if due <= 0 {
                try? await Task.sleep(for: .milliseconds(max(1, min(50, Int(1000 / rate)))))
                return 0
            }
            return min(batch, due)
        }
        if let d = options.duration, simulated >= Int64(d.components.seconds * 1000) { return nil }
        return batch
    }

    /// Setpoint changes that arrived (approved or from closed loop), applied to the simulated machines.
    private func apply(_ setpoints: any MessageConsumer, to simulator: inout PlantSimulator) async throws {
        for record in try await setpoints.poll(maxRecords: 1000, timeout: .zero) {
            if let change = try? Topics.setpoints.decode(record.value).change, (try? simulator.apply(change)) != nil {
                stats.update { $0.setpointsApplied += 1 }
            }
        }
    }

    /// What the simulated plant made so far.
    struct Tally {
        var failures: [String: Int] = [:]
        var failedProducts = 0
        var good = 0
        var scrap = 0
        var states: [String: MachineState] = [:]

        mutating func add(_ s: SimulatedReading) {
            states[s.reading.machine] = s.reading.state
            good += s.reading.good
            scrap += s.reading.scrap
            if !s.failure.isEmpty {
                failedProducts += 1
                for name in s.failure.names { failures[name, default: 0] += 1 }
            }
        }
    }

    private func publish(
        _ produced: Int64, _ bad: [BadReadingInjector.Kind: Int], _ tally: Tally, _ time: Int64
    ) {
        let durable = durableCount() ?? produced
        stats.update {
            $0.produced = produced
            $0.durable = durable
            $0.bad = bad
            $0.failures = tally.failures
            $0.failedProducts = tally.failedProducts
            $0.good = tally.good
            $0.scrap = tally.scrap
            $0.states = tally.states
            $0.simulatedTime = time
        }
    }

    /// The truth about one product, for the `labels` topic (failures arrive later than readings in a real plant).
    private func label(_ s: SimulatedReading) -> [UInt8] {
        LabelRecord(
            machine: s.reading.machine, seq: s.reading.sequence ?? 0, ts: Timestamp.format(s.reading.timestamp),
            failure: s.failure.isEmpty ? 0 : 1,
            modes: s.failure.names
        ).encoded()
    }
}

/// Setpoint commands the simulated machines received over MQTT, waiting for the simulation loop to apply them.
final class CommandInbox: Sendable {
    private let queue = Mutex<[SetpointChange]>([])

    /// Reads commands until cancelled; each is acknowledged once it is queued.
    func read(_ connection: MQTTConnection) async throws {
        for try await batch in connection.messages {
            let changes = batch.compactMap { try? SetpointCommand.decode($0.payload).change }
            queue.withLock { $0 += changes }
            connection.acknowledge(batch)
        }
    }

    func take() -> [SetpointChange] {
        queue.withLock { q in
            defer { q = [] }; return q
        }
    }
}

/// Keeps the bus's background duties (periodic fsync) running until shutdown.
struct BusService: Service {
    let bus: any MessageBus
    func run() async throws {
        try await cancelWhenGracefulShutdown { try await bus.run() }
    }
}

func currentMilliseconds() -> Int64 { Timestamp.now() }

/// Runs services until the one marked `main` finishes or SIGINT / SIGTERM arrives, then shuts the rest down in reverse
/// order (the bus last, so everything written is flushed; the telemetry exporters of `Observability.bootstrap` after
/// it, so the last spans and logs go out).
func runServices(_ services: [any Service], main: Int, telemetry: [any Service] = []) async throws {
    var logger = Logger(label: "millstream")
    logger.logLevel = .warning
    let main = main + telemetry.count
    let configured = (telemetry + services).enumerated().map { i, s in
        ServiceGroupConfiguration.ServiceConfiguration(
            service: s, successTerminationBehavior: i == main ? .gracefullyShutdownGroup : .cancelGroup)
    }
    try await ServiceGroup(
        configuration: .init(services: configured, gracefulShutdownSignals: [.sigint, .sigterm], logger: logger)
    ).run()
}
