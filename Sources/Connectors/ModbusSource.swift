public import Bus
public import Logging
public import Modbus
import Plant
import Primitives
public import ServiceLifecycle
import Topics

/// One Modbus device polled for one machine's reading.
public struct ModbusDeviceSettings: Sendable {
    public var host: String
    public var port: Int
    public var unit: UInt8
    public var machine: String
    public var interval: Duration
    /// Variable name and where its value is.
    public var points: [(variable: String, point: ModbusPoint)]
    /// Setpoint name and the holding register (or coil) a setpoint change is written to.
    public var setpoints: [(variable: String, point: ModbusPoint)] = []

    public init(
        host: String, port: Int = 502, unit: UInt8 = 1, machine: String, interval: Duration = .seconds(1),
        points: [(variable: String, point: ModbusPoint)]
    ) {
        self.host = host
        self.port = port
        self.unit = unit
        self.machine = machine
        self.interval = interval
        self.points = points
    }

    public var endpoint: String { "modbus://\(host):\(port)" }

    /// The reads one poll makes: the points of a table in address order, neighbours (at most 8 unmapped items
    /// apart) merged into one request up to the table's limit (125 registers, 2,000 bits).
    typealias Read = (table: ModbusTable, address: UInt16, count: Int, points: [Int])

    var reads: [Read] {
        var out: [Read] = []
        let order = points.indices.sorted {
            (points[$0].point.table.rawValue, points[$0].point.address)
                < (points[$1].point.table.rawValue, points[$1].point.address)
        }
        for i in order {
            let p = points[i].point
            let end = Int(p.address) + p.count
            if var last = out.last, last.table == p.table, Int(p.address) >= Int(last.address),
                Int(p.address) <= Int(last.address) + last.count + 8, end - Int(last.address) <= p.table.maximumPerRead
            {
                last.count = max(last.count, end - Int(last.address))
                last.points.append(i)
                out[out.count - 1] = last
            } else {
                out.append((p.table, p.address, p.count, [i]))
            }
        }
        return out
    }
}

/// Polls Modbus TCP devices at their intervals and writes each poll's reading to the readings topic. A read the
/// device refuses (an address it does not have) leaves those variables out of the reading and is logged once with
/// the endpoint, unit, table and address; a lost connection is made again with backoff. Each device is a child task
/// of the service.
public struct ModbusSource: Service {
    public let devices: [ModbusDeviceSettings]
    public let bus: any MessageBus
    public let stats: ConnectorStats
    public var readingsTopic = Topics.readings.name
    let logger: Logger

    public init(
        devices: [ModbusDeviceSettings], bus: any MessageBus, stats: ConnectorStats = .init(),
        logger: Logger = Logger(label: "millstream.connect.modbus")
    ) {
        self.devices = devices
        self.bus = bus
        self.stats = stats
        self.logger = logger
    }

    public func run() async throws {
        let producer = try await bus.producer()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for device in devices {
                group.addTask {
                    try await reconnecting(
                        "Modbus source", endpoint: device.endpoint, stats: stats, logger: logger, backoff: Backoff()
                    ) { backoff in
                        try await poll(device, producer, backoff: &backoff)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private func poll(_ device: ModbusDeviceSettings, _ producer: any MessageProducer, backoff: inout Backoff)
        async throws
    {
        let connection = try await ModbusConnection.connect(host: device.host, port: device.port)
        stats.update { $0.connections += 1 }
        do {
            try await pollLoop(device, connection, producer, backoff: &backoff)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    /// One poll's values; a read the device refuses leaves its variables out (logged once per distinct refusal).
    private func read(_ device: ModbusDeviceSettings, _ connection: ModbusConnection, refused: inout Set<String>)
        async throws -> [Plant.Measurement?]
    {
        var values: [Plant.Measurement?] = Array(repeating: nil, count: device.points.count)
        for read in device.reads {
            for (i, m) in try await attempt(read, device, connection, refused: &refused) { values[i] = m }
        }
        return values
    }

    /// The values of one read. A refused merged read is tried again point by point (one address the device does
    /// not have must not cost its neighbours); a refused single point is left out.
    private func attempt(
        _ read: ModbusDeviceSettings.Read, _ device: ModbusDeviceSettings, _ connection: ModbusConnection,
        refused: inout Set<String>
    ) async throws -> [(Int, Plant.Measurement)] {
        do {
            let data = try await connection.read(
                read.table, address: read.address, count: read.count, unit: device.unit)
            return read.points.map { i in
                let p = device.points[i].point
                let at = Int(p.address - read.address)
                let v =
                    p.table.isBits ? p.value(bit: data[at] != 0) : p.value(registers: Array(data[at..<at + p.count]))
                return (i, Plant.Measurement(device.points[i].variable, v))
            }
        } catch let error as ModbusError where !error.retriable {
            if read.points.count > 1 {
                var out: [(Int, Plant.Measurement)] = []
                for i in read.points {
                    let p = device.points[i].point
                    out += try await attempt(
                        (p.table, p.address, p.count, [i]), device, connection, refused: &refused)
                }
                return out
            }
            let name = device.points[read.points[0]].variable
            let message = "\(error.message) (\(read.table.rawValue) \(read.address), count \(read.count): \(name))"
            if refused.insert(message).inserted {
                stats.update { $0.lastError = message }
                logger.warning("Modbus read refused; the variable is left out", metadata: ["error": "\(message)"])
            }
            return []
        }
    }

    private func pollLoop(
        _ device: ModbusDeviceSettings, _ connection: ModbusConnection, _ producer: any MessageProducer,
        backoff: inout Backoff
    ) async throws {
        var refused = Set<String>()
        let clock = ContinuousClock()
        var next = clock.now
        while !Task.isCancelled {
            let values = try await read(device, connection, refused: &refused)
            backoff.reset()
            let now = Timestamp.now()
            let reading = Reading(machine: device.machine, timestamp: now, values: values.compactMap { $0 })
            _ = try await producer.send(
                [Record(key: Array(reading.machine.utf8), value: reading.encoded(), timestamp: now)],
                to: readingsTopic)
            stats.update {
                $0.received += 1
                $0.readings += 1
            }
            next = max(next + device.interval, clock.now)
            try await Task.sleep(until: next)
        }
    }
}

/// Setpoint changes written to Modbus registers (function 6 or 16, or 5 for a coil) and read back at once.
public struct ModbusSetpointTarget: SetpointTarget {
    public let devices: [ModbusDeviceSettings]
    public var confirmWithin: Duration = .seconds(30)
    public var tolerance: Double = 1e-3

    public init(devices: [ModbusDeviceSettings]) { self.devices = devices.filter { !$0.setpoints.isEmpty } }

    public var endpoint: String { devices.map(\.endpoint).joined(separator: ", ") }

    public func open() async throws -> any SetpointWriter {
        var connections: [String: ModbusConnection] = [:]
        do {
            for d in devices where connections[d.endpoint] == nil {
                connections[d.endpoint] = try await ModbusConnection.connect(host: d.host, port: d.port)
            }
        } catch {
            for c in connections.values { await c.close() }
            throw error
        }
        return Writer(devices: devices, connections: connections, tolerance: tolerance)
    }

    struct Writer: SetpointWriter {
        let devices: [ModbusDeviceSettings]
        let connections: [String: ModbusConnection]
        let tolerance: Double

        func device(_ machine: String, _ variables: [String]) -> ModbusDeviceSettings? {
            devices.first { d in
                d.machine == machine && variables.allSatisfy { v in d.setpoints.contains { $0.variable == v } }
            }
        }

        func place(of machine: String, variables: [String]) -> String? {
            guard let d = device(machine, variables) else { return nil }
            let where_ = d.setpoints.filter { variables.contains($0.variable) }.map {
                "\($0.point.table.rawValue) \($0.point.address) (\($0.variable))"
            }
            return "\(d.endpoint) unit \(d.unit) " + where_.joined(separator: ", ")
        }

        /// Writes each value, then reads the registers back: true when every one holds what was written.
        func write(_ command: SetpointCommand) async throws -> Bool {
            let names = command.setpoints.entries.map(\.name)
            guard let d = device(command.machine, names), let c = connections[d.endpoint] else {
                throw ModbusError("no Modbus device takes \(names.joined(separator: ", ")) of \(command.machine)")
            }
            var same = true
            for e in command.setpoints.entries {
                let point = d.setpoints.first { $0.variable == e.name }!.point
                try await c.write(e.value, to: point, unit: d.unit)
                let back = try await c.read(point.table, address: point.address, count: point.count, unit: d.unit)
                let v = point.table.isBits ? point.value(bit: back[0] != 0) : point.value(registers: back)
                same = same && abs(v - e.value) <= tolerance * max(abs(e.value), 1e-9)
            }
            return same
        }

        func close() async {
            for c in connections.values { await c.close() }
        }
    }
}
