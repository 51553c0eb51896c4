public import Bus
import Foundation
public import Logging
public import OPCUA
import OPCUAWire
import Plant
public import ServiceLifecycle
import Synchronization
import Topics

/// An OPC UA server and the machines whose variables are its nodes.
public struct OPCUAServerSettings: Sendable {
    public var client: OPCUAClientOptions
    public var publishingInterval: Duration = .milliseconds(100)
    public var samplingInterval: Duration = .milliseconds(100)
    public var machines: [OPCUAMachineMapping]

    public init(client: OPCUAClientOptions, machines: [OPCUAMachineMapping]) {
        self.client = client
        self.machines = machines
    }
}

/// A node by id: `ns=2;s=m01/Speed`, or with its namespace's URI, `nsu=urn:plc:machines;s=m01/Speed`, which
/// stays right when the server renumbers its namespaces.
public struct OPCUANodeSpec: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public init(_ text: String) { self.text = text }
    public var description: String { text }

    /// Whether the text is a node id (with `nsu=` resolved as namespace 1 for the check).
    public var isValid: Bool { resolve(["", "x"], uriOf: { _ in 1 }) != nil }

    /// The node id, its namespace URI looked up in the server's namespace array.
    func resolve(_ namespaces: [String], uriOf: (String) -> Int? = { _ in nil }) -> OPCUANodeID? {
        guard text.hasPrefix("nsu="), let semi = text.firstIndex(of: ";") else { return OPCUANodeID(parsing: text) }
        let uri = String(text[text.index(text.startIndex, offsetBy: 4)..<semi])
        guard let index = namespaces.firstIndex(of: uri) ?? uriOf(uri), index <= Int(UInt16.max) else { return nil }
        return OPCUANodeID(parsing: "ns=\(index);" + text[text.index(after: semi)...])
    }
}

/// One machine's variables as nodes of a server.
public struct OPCUAMachineMapping: Sendable {
    public var machine: String
    public var values: [(variable: String, node: OPCUANodeSpec)]
    public var setpoints: [(variable: String, node: OPCUANodeSpec)]
    /// Nodes written when a setpoint changes (default: the same nodes as `setpoints` report).
    public var writes: [(variable: String, node: OPCUANodeSpec)]
    public var state: OPCUANodeSpec?
    public var product: OPCUANodeSpec?
    public var good: OPCUANodeSpec?
    public var scrap: OPCUANodeSpec?

    public init(
        machine: String, values: [(variable: String, node: OPCUANodeSpec)],
        setpoints: [(variable: String, node: OPCUANodeSpec)] = [],
        writes: [(variable: String, node: OPCUANodeSpec)]? = nil,
        state: OPCUANodeSpec? = nil, product: OPCUANodeSpec? = nil, good: OPCUANodeSpec? = nil,
        scrap: OPCUANodeSpec? = nil
    ) {
        self.machine = machine
        self.values = values
        self.setpoints = setpoints
        self.writes = writes ?? setpoints
        self.state = state
        self.product = product
        self.good = good
        self.scrap = scrap
    }

    /// What a monitored node is to the reading.
    enum Role: Sendable, Equatable {
        case value(String), setpoint(String), state, product, good, scrap
    }

    var items: [(role: Role, node: OPCUANodeSpec)] {
        values.map { (.value($0.variable), $0.node) } + setpoints.map { (.setpoint($0.variable), $0.node) }
            + [(Role.state, state), (.product, product), (.good, good), (.scrap, scrap)].compactMap { r, n in
                n.map { (r, $0) }
            }
    }
}

/// Reads OPC UA servers into the readings topic: one session and one subscription per server, every mapped node a
/// monitored item; each publish response's changes make one reading per machine (all of its mapped variables, the
/// changed ones new), stamped with the latest SourceTimestamp among them. A value whose status is not good is not
/// taken: while a variable's latest status is bad or uncertain, its machine's readings go to dead letters naming
/// the node and the status. A node that does not exist is logged and left out; the rest are read. Two publish
/// requests are kept in flight; a notification message is acknowledged after its readings are on the bus. A lost
/// server is reconnected with backoff (and its current values come again as the new subscription's first message).
public struct OPCUASource: Service {
    public let servers: [OPCUAServerSettings]
    public let machines: Set<String>
    public let bus: any MessageBus
    public let stats: ConnectorStats
    public var readingsTopic = Topics.readings.name
    public var deadLettersTopic = Topics.deadLetters.name
    let logger: Logger

    public init(
        servers: [OPCUAServerSettings], machines: Set<String>, bus: any MessageBus, stats: ConnectorStats = .init(),
        logger: Logger = Logger(label: "millstream.connect.opcua")
    ) {
        self.servers = servers
        self.machines = machines
        self.bus = bus
        self.stats = stats
        self.logger = logger
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for server in servers {
                group.addTask {
                    let producer = try await bus.producer()
                    try await reconnecting(
                        "OPC UA source", endpoint: server.client.endpointURL, stats: stats, logger: logger,
                        backoff: Backoff()
                    ) { backoff in
                        try await session(server, producer, backoff: &backoff)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// A monitored item: which machine, what it is, its node.
    struct Item: Sendable {
        let machine: Int
        let role: OPCUAMachineMapping.Role
        let spec: OPCUANodeSpec
        let node: OPCUANodeID
    }

    private func session(_ server: OPCUAServerSettings, _ producer: any MessageProducer, backoff: inout Backoff)
        async throws
    {
        let connection = try await OPCUAConnection.connect(server.client)
        stats.update { $0.connections += 1 }
        logger.info(
            "OPC UA source connected",
            metadata: [
                "endpoint": "\(server.client.endpointURL)", "security": "\(server.client.security.policyURI)",
                "server_certificate": "\(connection.serverCertificateThumbprint ?? "-")",
            ])
        do {
            let items = try await resolve(server, connection)
            let subscription = try await connection.createSubscription(publishingInterval: server.publishingInterval)
            let results = try await connection.monitor(
                subscription: subscription.subscriptionID,
                items.enumerated().map { ($0.element.node, UInt32($0.offset)) },
                samplingInterval: server.samplingInterval)
            var live = 0
            for (item, result) in zip(items, results) {
                if result.status.isBad {
                    let machine = server.machines[item.machine].machine
                    let message =
                        "\(server.client.endpointURL): node \(item.spec) (\(item.role) of \(machine)) cannot be "
                        + "monitored: \(result.status)"
                    logger.error("a mapped node is left out", metadata: ["error": "\(message)"])
                    stats.update { $0.lastError = message }
                } else {
                    live += 1
                }
            }
            guard live > 0 else {
                throw OPCUAError("\(server.client.endpointURL): none of the mapped nodes can be monitored")
            }
            backoff.reset()
            let wait =
                Duration.milliseconds(
                    Int64(subscription.revisedPublishingInterval * Double(subscription.revisedMaxKeepAliveCount) * 1.5))
                + .seconds(10)
            var state = SourceState(server: server, items: items)
            try await publishing(connection, &state, producer, wait: wait)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    /// The items' node ids, `nsu=` specs looked up in the server's namespace array (i=2255).
    private func resolve(_ server: OPCUAServerSettings, _ connection: OPCUAConnection) async throws -> [Item] {
        var namespaces: [String] = []
        if server.machines.contains(where: { $0.items.contains { $0.node.text.hasPrefix("nsu=") } }) {
            namespaces = try await connection.namespaces()
        }
        var items: [Item] = []
        for (m, machine) in server.machines.enumerated() {
            for (role, spec) in machine.items {
                guard let node = spec.resolve(namespaces) else {
                    throw OPCUAError(
                        "\(server.client.endpointURL): node \(spec) (\(role) of \(machine.machine)): its namespace is not "
                            + "one of the server's (\(namespaces.joined(separator: ", ")))")
                }
                items.append(Item(machine: m, role: role, spec: spec, node: node))
            }
        }
        return items
    }

    /// Each machine's latest values and statuses.
    struct SourceState {
        let server: OPCUAServerSettings
        let items: [Item]
        var latest: [Int: OPCUADataValue] = [:]
    }

    private func publishing(
        _ connection: OPCUAConnection, _ state: inout SourceState, _ producer: any MessageProducer, wait: Duration
    ) async throws {
        try await withThrowingTaskGroup(of: OPCUAPublishResponse.self) { group in
            for _ in 0..<2 { group.addTask { try await connection.publish(acknowledging: [], wait: wait) } }
            while let response = try await group.next() {
                if let status = try response.statusChange(), status.isBad {
                    throw OPCUAError(
                        "\(connection.endpoint): the subscription ended: \(status)", status: status, retriable: true)
                }
                try await write(try response.dataChanges(), &state, producer)
                let ack = OPCUASubscriptionAcknowledgement(
                    subscriptionID: response.subscriptionID, sequenceNumber: response.sequenceNumber)
                let acks = response.notifications.isEmpty ? [] : [ack]
                if Task.isCancelled { break }
                group.addTask { try await connection.publish(acknowledging: acks, wait: wait) }
            }
        }
    }

    /// One publish response's changes: one reading (or dead letter) per machine that changed.
    private func write(
        _ changes: [OPCUAMonitoredItemNotification], _ state: inout SourceState, _ producer: any MessageProducer
    ) async throws {
        guard !changes.isEmpty else { return }
        var changed: [Int: Int64] = [:]  // machine: latest source time
        var out = ConnectorBatch()
        let now = out.now
        for n in changes {
            let index = Int(n.clientHandle)
            guard index < state.items.count else { continue }
            state.latest[index] = n.value
            let t = (n.value.sourceTimestamp ?? n.value.serverTimestamp).flatMap(OPCUADateTime.unixMilliseconds) ?? now
            changed[state.items[index].machine] = max(changed[state.items[index].machine] ?? .min, t)
        }
        for (m, time) in changed.sorted(by: { $0.key < $1.key }) {
            let mapping = state.server.machines[m]
            do {
                out.add(try self.reading(mapping, m, state, timestamp: time))
            } catch {
                let message = "\(state.server.client.endpointURL) machine \(mapping.machine): \(error.message)"
                out.reject(error.reason, message, original: Array(error.message.utf8))
            }
        }
        try await out.write(
            producer, readingsTopic: readingsTopic, deadLettersTopic: deadLettersTopic, stats: stats,
            received: changes.count)
    }

    private func reading(_ mapping: OPCUAMachineMapping, _ m: Int, _ state: SourceState, timestamp: Int64)
        throws(Unmappable) -> Reading
    {
        guard machines.isEmpty || machines.contains(mapping.machine) else {
            throw Unmappable(reason: "unknown_machine", message: "\(mapping.machine) is not in the process config")
        }
        var reading = Reading(machine: mapping.machine, timestamp: timestamp, values: [])
        for (index, item) in state.items.enumerated() where item.machine == m {
            guard let dv = state.latest[index] else { continue }
            let status = dv.statusCode
            guard status.isGood else {
                throw Unmappable(
                    reason: status.isUncertain ? "uncertain_quality" : "bad_quality",
                    message: "node \(item.spec) (\(item.role)) has status \(status)")
            }
            guard let value = dv.value, value != .null else { continue }
            func number() throws(Unmappable) -> Double {
                guard let x = value.number, x.isFinite else {
                    throw Unmappable(
                        reason: "wrong_type",
                        message: "node \(item.spec) (\(item.role)) is \(value.typeName) \(value), expected a number")
                }
                return x
            }
            func text() throws(Unmappable) -> String {
                guard case .string(let s?) = value else {
                    throw Unmappable(
                        reason: "wrong_type",
                        message: "node \(item.spec) (\(item.role)) is \(value.typeName) \(value), expected a String")
                }
                return s
            }
            switch item.role {
            case .value(let v): reading.values.append(Measurement(v, try number()))
            case .setpoint(let v): reading.setpoints.append(Measurement(v, try number()))
            case .state:
                let s = try text()
                guard let parsed = MachineState(rawValue: s) else {
                    throw Unmappable(
                        reason: "unmappable",
                        message: "node \(item.spec) (state) is \"\(s)\", expected one of "
                            + MachineState.allCases.map(\.rawValue).joined(separator: ", "))
                }
                reading.state = parsed
            case .product: reading.product = try text()
            case .good, .scrap:
                let x = try number()
                guard x >= 0, x == x.rounded(), x < 1e15 else {
                    throw Unmappable(
                        reason: "wrong_type", message: "node \(item.spec) (\(item.role)) is \(x), expected a count")
                }
                if item.role == .good { reading.good = Int(x) } else { reading.scrap = Int(x) }
            }
        }
        return reading
    }
}

/// Setpoint changes written to OPC UA nodes: each value in the node's own data type (read first), then read back;
/// `confirmed` when the server holds what was written. A write the server refuses (a wrong type, out of range, no
/// access) is `refused` with its status.
public struct OPCUASetpointTarget: SetpointTarget {
    public let servers: [OPCUAServerSettings]
    public var confirmWithin: Duration = .seconds(30)
    public var tolerance: Double = 1e-3

    public init(servers: [OPCUAServerSettings]) {
        self.servers = servers.filter { $0.machines.contains { !$0.writes.isEmpty } }
    }

    public var endpoint: String { servers.map(\.client.endpointURL).joined(separator: ", ") }

    public func open() async throws -> any SetpointWriter {
        var connections: [OPCUAConnection] = []
        var namespaces: [[String]] = []
        do {
            for s in servers {
                var options = s.client
                options.sessionName += "-setpoints"
                let c = try await OPCUAConnection.connect(options)
                connections.append(c)
                namespaces.append(try await c.namespaces())
            }
        } catch {
            for c in connections { await c.close() }
            throw error
        }
        return Writer(target: self, connections: connections, namespaces: namespaces)
    }

    final class Writer: SetpointWriter {
        let target: OPCUASetpointTarget
        let connections: [OPCUAConnection]
        /// Each written node's variant (its data type), read once.
        /// Each server's namespace array, for `nsu=` node ids.
        let namespaces: [[String]]
        let types = Mutex<[OPCUANodeID: OPCUAVariant]>([:])

        init(target: OPCUASetpointTarget, connections: [OPCUAConnection], namespaces: [[String]]) {
            self.target = target
            self.connections = connections
            self.namespaces = namespaces
        }

        func find(_ machine: String, _ variables: [String]) -> (Int, [(String, OPCUANodeSpec)])? {
            for (i, s) in target.servers.enumerated() {
                guard let m = s.machines.first(where: { $0.machine == machine }) else { continue }
                let nodes = variables.compactMap { v in m.writes.first { $0.variable == v } }
                if nodes.count == variables.count { return (i, nodes.map { ($0.variable, $0.node) }) }
            }
            return nil
        }

        func place(of machine: String, variables: [String]) -> String? {
            guard let (i, nodes) = find(machine, variables) else { return nil }
            return "\(target.servers[i].client.endpointURL) " + nodes.map { "\($0.1)" }.joined(separator: ", ")
        }

        func write(_ command: SetpointCommand) async throws -> Bool {
            let variables = command.setpoints.entries.map(\.name)
            guard let (i, specs) = find(command.machine, variables) else {
                throw SetpointRefused("no OPC UA node takes \(variables.joined(separator: ", ")) of \(command.machine)")
            }
            let connection = connections[i]
            let endpoint = target.servers[i].client.endpointURL
            let nodes = try specs.map { (v, spec) in
                guard let id = spec.resolve(namespaces[i]) else {
                    throw SetpointRefused("node \(spec) of \(v): its namespace is not one of \(endpoint)'s")
                }
                return id
            }
            let known = types.withLock { t in nodes.map { t[$0] } }
            var current = known
            if known.contains(where: { $0 == nil }) {
                let read = try await connection.read(nodes)
                for (k, dv) in read.enumerated() where current[k] == nil {
                    guard let v = dv.value, dv.statusCode.isGood else {
                        throw SetpointRefused("\(endpoint) node \(specs[k].1) cannot be read: \(dv.statusCode)")
                    }
                    current[k] = v
                }
                types.withLock { t in for (k, n) in nodes.enumerated() { t[n] = current[k] } }
            }
            var values: [(OPCUANodeID, OPCUAVariant)] = []
            for (k, entry) in command.setpoints.entries.enumerated() {
                guard let v = current[k]?.sameType(entry.value) else {
                    throw SetpointRefused(
                        "\(endpoint) node \(specs[k].1) holds \(current[k]?.typeName ?? "nothing"), which cannot take "
                            + "\(entry.value)")
                }
                values.append((nodes[k], v))
            }
            let results = try await connection.write(values)
            if let (k, bad) = results.enumerated().first(where: { $0.element.isBad }) {
                throw SetpointRefused("\(endpoint) refused the write of node \(specs[k].1): \(bad)")
            }
            let back = try await connection.read(nodes)
            return zip(back, command.setpoints.entries).allSatisfy { dv, e in
                guard let x = dv.value?.number else { return false }
                return abs(x - e.value) <= target.tolerance * max(abs(e.value), 1e-9)
            }
        }

        func close() async {
            for c in connections { await c.close() }
        }
    }
}

/// A write the target refuses for good (the sink records it as `refused` with this reason, and does not retry).
public struct SetpointRefused: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
