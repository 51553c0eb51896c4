import ClientTLS
import Foundation
public import MQTT
import MQTTWire
import Modbus
import OPCUA
public import Plant
import Yams

/// The `connectors:` section of a process config: which machine protocols `millstream connect` reads and how their
/// data points map to the config's machines and variables.
public struct ConnectorSettings: Sendable {
    public var mqtt: MQTTSourceSettings?
    public var sparkplug: SparkplugSettings?
    public var opcua: [OPCUAServerSettings]
    public var modbus: [ModbusDeviceSettings]

    public init(
        mqtt: MQTTSourceSettings? = nil, sparkplug: SparkplugSettings? = nil, opcua: [OPCUAServerSettings] = [],
        modbus: [ModbusDeviceSettings] = []
    ) {
        self.mqtt = mqtt
        self.sparkplug = sparkplug
        self.opcua = opcua
        self.modbus = modbus
    }

    /// Reads the section from a process config file's text (nothing configured when it has none); errors name the
    /// file, line and column. Variables must be the config's.
    public static func load(yaml text: String, source: String, process: ProcessConfig) throws -> ConnectorSettings {
        guard let root = try Yams.compose(yaml: text), let section = root.mapping?["connectors"] else {
            return ConnectorSettings()
        }
        let y = YAMLReader(source: source)
        let fields = try y.mapping(section, "connectors", allowed: ["mqtt", "sparkplug", "opcua", "modbus"])
        let modbus = try fields["modbus"].map { node in
            try y.sequence(node, "connectors.modbus").enumerated().map {
                try y.modbusDevice($1, "connectors.modbus[\($0)]", process: process)
            }
        }
        let opcua = try fields["opcua"].map { node in
            try y.sequence(node, "connectors.opcua").enumerated().map {
                try y.opcuaServer($1, "connectors.opcua[\($0)]", process: process, baseDirectory: source)
            }
        }
        return ConnectorSettings(
            mqtt: try fields["mqtt"].map { try y.mqttSource($0, process: process) },
            sparkplug: try fields["sparkplug"].map { try y.sparkplug($0, process: process) }, opcua: opcua ?? [],
            modbus: modbus ?? [])
    }
}

/// An MQTT source: the broker, the session and the topics whose JSON messages become readings.
public struct MQTTSourceSettings: Sendable {
    public var client: MQTTClientOptions
    public var qos: MQTTQoS
    public var mappings: [JSONReadingMapping]
    /// Setpoint changes back to the machines (nil: none are written).
    public var setpoints: MQTTSinkSettings?

    public init(
        client: MQTTClientOptions, qos: MQTTQoS = .atLeastOnce, mappings: [JSONReadingMapping],
        setpoints: MQTTSinkSettings? = nil
    ) {
        self.client = client
        self.qos = qos
        self.mappings = mappings
        self.setpoints = setpoints
    }
}

extension YAMLReader {
    static let mqttClientKeys = [
        "url", "version", "client_id", "username", "password_env", "ca_file", "cert_file", "key_file", "keep_alive_s",
        "receive_maximum",
    ]

    func mqttSource(_ node: Node, process: ProcessConfig) throws -> MQTTSourceSettings {
        let path = "connectors.mqtt"
        let f = try mapping(
            node, path, allowed: Self.mqttClientKeys + ["qos", "session_expiry_s", "topics", "setpoints"])
        var client = try mqttClient(f, node, path, clientID: "millstream-connect")
        client.cleanStart = false
        client.sessionExpirySeconds = 86_400
        if let s = f["session_expiry_s"] {
            client.sessionExpirySeconds = UInt32(try integer(s, path, 0...Int(UInt32.max)))
        }
        let qos = try f["qos"].map { MQTTQoS(rawValue: UInt8(try integer($0, path + ".qos", 0...2)))! } ?? .atLeastOnce
        let topicsNode = try required(f, "topics", in: node, path)
        let mappings = try sequence(topicsNode, path + ".topics").enumerated().map {
            try jsonMapping($1, "\(path).topics[\($0)]", process: process)
        }
        guard !mappings.isEmpty else { throw error(topicsNode, path + ".topics", "must list at least one topic") }
        return MQTTSourceSettings(
            client: client, qos: qos, mappings: mappings,
            setpoints: try f["setpoints"].map { try mqttSink($0, path + ".setpoints", client: client) })
    }

    /// The broker and session options shared by the MQTT and Sparkplug sources: url, version, client id, password,
    /// TLS, keep-alive, receive maximum.
    func mqttClient(_ f: [String: Node], _ node: Node, _ path: String, clientID: String) throws -> MQTTClientOptions {
        let urlNode = try required(f, "url", in: node, path)
        let url = try string(urlNode, path + ".url")
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme, ["mqtt", "mqtts"].contains(scheme),
            let host = parsed.host, !host.isEmpty
        else { throw error(urlNode, path + ".url", "'\(url)' is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]") }
        var client = MQTTClientOptions(
            host: host, port: parsed.port ?? (scheme == "mqtts" ? 8883 : 1883),
            clientID: try f["client_id"].map { try string($0, path + ".client_id") } ?? clientID)
        if let v = f["version"] {
            switch try string(v, path + ".version") {
            case "5", "5.0": client.version = .v5
            case "3.1.1", "311": client.version = .v311
            case let other: throw error(v, path + ".version", "'\(other)' is not 5 or 3.1.1")
            }
        }
        client.username = try f["username"].map { try string($0, path + ".username") }
        if let env = f["password_env"] {
            let name = try string(env, path + ".password_env")
            guard let password = ProcessInfo.processInfo.environment[name] else {
                throw error(env, path + ".password_env", "the environment variable \(name) is not set")
            }
            client.password = password
        }
        if scheme == "mqtts" || f["ca_file"] != nil {
            client.tls = ClientTLS(
                caFile: try f["ca_file"].map { try string($0, path + ".ca_file") },
                certificateFile: try f["cert_file"].map { try string($0, path + ".cert_file") },
                keyFile: try f["key_file"].map { try string($0, path + ".key_file") })
        }
        if let s = f["keep_alive_s"] { client.keepAliveSeconds = UInt16(try integer(s, path, 0...65535)) }
        if let s = f["receive_maximum"] { client.receiveMaximum = UInt16(try integer(s, path, 1...65535)) }
        return client
    }

    /// `setpoints: {topic: plant1/{line}/{machine}/cmd, confirm_within_s: 30, tolerance: 0.001}`: the sink, with a
    /// client id of its own (`<client_id>-setpoints`: two sessions of one id would take each other over).
    func mqttSink(_ node: Node, _ path: String, client: MQTTClientOptions) throws -> MQTTSinkSettings {
        let f = try mapping(node, path, allowed: ["topic", "confirm_within_s", "tolerance"])
        let topicNode = try required(f, "topic", in: node, path)
        let topic = NameTemplate(try string(topicNode, path + ".topic"))
        for name in topic.names where !["site", "line", "machine"].contains(name) {
            throw error(topicNode, path + ".topic", "{\(name)} is not {site}, {line} or {machine}")
        }
        var sinkClient = client
        sinkClient.clientID = client.clientID + "-setpoints"
        var sink = MQTTSinkSettings(client: sinkClient, topic: topic)
        try confirmation(f, path, within: &sink.confirmWithin, tolerance: &sink.tolerance)
        return sink
    }

    /// A sink's `confirm_within_s` (above 0) and `tolerance` (0 or more), where given.
    func confirmation(_ f: [String: Node], _ path: String, within: inout Duration, tolerance: inout Double) throws {
        if let c = f["confirm_within_s"] {
            let seconds = try number(c, path + ".confirm_within_s")
            guard seconds > 0 else { throw error(c, path + ".confirm_within_s", "must be above 0") }
            within = .milliseconds(Int64(seconds * 1000))
        }
        if let t = f["tolerance"] {
            tolerance = try number(t, path + ".tolerance")
            guard tolerance >= 0 else { throw error(t, path + ".tolerance", "must be 0 or more") }
        }
    }

    func integer(_ node: Node, _ path: String, _ range: ClosedRange<Int>) throws -> Int {
        let value = try integer(node, path)
        guard range.contains(value) else {
            throw error(node, path, "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func jsonMapping(_ node: Node, _ path: String, process: ProcessConfig) throws -> JSONReadingMapping {
        let f = try mapping(
            node, path,
            allowed: [
                "topic", "machine", "values", "setpoints", "timestamp", "timestamp_unit", "state", "product", "good",
                "scrap", "sequence",
            ])
        let topicNode = try required(f, "topic", in: node, path)
        let topic: TopicPattern
        do { topic = try TopicPattern(try string(topicNode, path + ".topic")) } catch let e as MappingError {
            throw error(topicNode, path + ".topic", e.message)
        }
        let machineNode = try required(f, "machine", in: node, path)
        let machine = NameTemplate(try string(machineNode, path + ".machine"))
        for name in machine.names where !topic.names.contains(name) {
            throw error(machineNode, path + ".machine", "{\(name)} is not a level of the topic \(topic)")
        }
        func fields(_ key: String) throws -> [(variable: String, field: FieldPath)] {
            try variableMap(f, key, path, process: process) { FieldPath(try string($0, $1)) }.map { ($0, $1) }
        }
        let valuesNode = try required(f, "values", in: node, path)
        let values = try fields("values")
        guard !values.isEmpty else { throw error(valuesNode, path + ".values", "must map at least one variable") }
        var unit = JSONReadingMapping.TimeUnit.milliseconds
        if let u = f["timestamp_unit"] {
            let text = try string(u, path + ".timestamp_unit")
            guard let parsed = JSONReadingMapping.TimeUnit(rawValue: text) else {
                throw error(u, path + ".timestamp_unit", "'\(text)' is not ms or s")
            }
            unit = parsed
        }
        func field(_ key: String) throws -> FieldPath? {
            try f[key].map { FieldPath(try string($0, path + "." + key)) }
        }
        return JSONReadingMapping(
            topic: topic, machine: machine, values: values, setpoints: try fields("setpoints"),
            timestamp: try field("timestamp"), timeUnit: unit, state: try field("state"),
            product: try field("product"), good: try field("good"), scrap: try field("scrap"),
            sequence: try field("sequence"))
    }
}

extension YAMLReader {
    /// `{url: modbus://HOST:PORT, unit: 1, machine: ID, interval_ms: 1000, points: {variable: {table, address, type,
    /// order, scale, offset}}, setpoints: {...}}`.
    func modbusDevice(_ node: Node, _ path: String, process: ProcessConfig) throws -> ModbusDeviceSettings {
        let f = try mapping(node, path, allowed: ["url", "unit", "machine", "interval_ms", "points", "setpoints"])
        let urlNode = try required(f, "url", in: node, path)
        let url = try string(urlNode, path + ".url")
        guard let u = URLComponents(string: url), u.scheme == "modbus", let host = u.host, !host.isEmpty else {
            throw error(urlNode, path + ".url", "'\(url)' is not modbus://HOST[:PORT]")
        }
        let machineNode = try required(f, "machine", in: node, path)
        let machine = try string(machineNode, path + ".machine")
        guard process.machineIDs.contains(machine) else {
            throw error(machineNode, path + ".machine", "\(machine) is not a machine of the process config")
        }
        var device = ModbusDeviceSettings(host: host, port: u.port ?? 502, machine: machine, points: [])
        if let n = f["unit"] { device.unit = UInt8(try integer(n, path + ".unit", 0...255)) }
        if let n = f["interval_ms"] {
            device.interval = .milliseconds(try integer(n, path + ".interval_ms", 10...86_400_000))
        }
        let pointsNode = try required(f, "points", in: node, path)
        device.points = try variableMap(f, "points", path, process: process) { try modbusPoint($0, $1) }.map {
            ($0, $1)
        }
        guard !device.points.isEmpty else {
            throw error(pointsNode, path + ".points", "must map at least one variable")
        }
        device.setpoints = try modbusSetpoints(f, path, process: process)
        return device
    }

    /// `setpoints: {variable: {table: holding, address, type, ...}}`: where setpoint changes are written.
    func modbusSetpoints(_ f: [String: Node], _ path: String, process: ProcessConfig) throws
        -> [(variable: String, point: ModbusPoint)]
    {
        try variableMap(f, "setpoints", path, process: process, setpoints: true) { p, at in
            let point = try modbusPoint(p, at)
            guard point.table == .holdingRegisters || point.table == .coils else {
                throw error(
                    p, at, "a setpoint must be a holding register or a coil (\(point.table.rawValue) is read-only)")
            }
            return point
        }.map { ($0, $1) }
    }

    func modbusPoint(_ node: Node, _ path: String) throws -> ModbusPoint {
        let f = try mapping(node, path, allowed: ["table", "address", "type", "order", "scale", "offset"])
        func choice<T: RawRepresentable<String>>(_ key: String, _ all: [T], _ fallback: T) throws -> T {
            guard let n = f[key] else { return fallback }
            let text = try string(n, path + "." + key)
            guard let v = T(rawValue: text) else {
                throw error(
                    n, path + "." + key, "'\(text)' is not one of " + all.map(\.rawValue).joined(separator: ", "))
            }
            return v
        }
        let table = try choice("table", ModbusTable.allCases, ModbusTable.holdingRegisters)
        let address = try integer(try required(f, "address", in: node, path), path + ".address", 0...65535)
        var point = ModbusPoint(
            table: table, address: UInt16(address), type: try choice("type", ModbusValueType.allCases, .uint16),
            order: try choice("order", ModbusByteOrder.allCases, .abcd))
        if let n = f["scale"] { point.scale = try number(n, path + ".scale") }
        if let n = f["offset"] { point.offset = try number(n, path + ".offset") }
        guard address + point.count <= 65536 else { throw error(node, path, "runs past address 65535") }
        return point
    }
}

extension YAMLReader {
    /// `sparkplug: {url, group, host_id, machine: plant1/{node}/{device}, metrics: {variable: metric name},
    /// setpoints: {...}, state, product, good, scrap, commands: {confirm_within_s, tolerance}}` and the broker's keys.
    func sparkplug(_ node: Node, process: ProcessConfig) throws -> SparkplugSettings {
        let path = "connectors.sparkplug"
        let f = try mapping(
            node, path,
            allowed: Self.mqttClientKeys + [
                "qos", "group", "host_id", "machine", "metrics", "setpoints", "state", "product", "good", "scrap",
                "commands",
            ])
        // A host application's session is clean (Sparkplug 3.0, 7.4): what it missed, a rebirth gives it again.
        let client = try mqttClient(f, node, path, clientID: "millstream-sparkplug-host")
        let machineNode = try required(f, "machine", in: node, path)
        let machine = NameTemplate(try string(machineNode, path + ".machine"))
        for name in machine.names where !["group", "node", "device"].contains(name) {
            throw error(machineNode, path + ".machine", "{\(name)} is not {group}, {node} or {device}")
        }
        guard machine.names.contains("node") else {
            throw error(machineNode, path + ".machine", "must name the edge node ({node}) so that machines differ")
        }
        func metrics(_ key: String, setpoint: Bool) throws -> [(variable: String, metric: String)] {
            try variableMap(f, key, path, process: process, setpoints: setpoint) { try string($0, $1) }.map { ($0, $1) }
        }
        let metricsNode = try required(f, "metrics", in: node, path)
        let values = try metrics("metrics", setpoint: false)
        guard !values.isEmpty else { throw error(metricsNode, path + ".metrics", "must map at least one variable") }
        let mapping = SparkplugMapping(
            machine: machine, values: values, setpoints: try metrics("setpoints", setpoint: true),
            state: try f["state"].map { try string($0, path + ".state") },
            product: try f["product"].map { try string($0, path + ".product") },
            good: try f["good"].map { try string($0, path + ".good") },
            scrap: try f["scrap"].map { try string($0, path + ".scrap") })
        var settings = SparkplugSettings(
            client: client,
            qos: try f["qos"].map { MQTTQoS(rawValue: UInt8(try integer($0, path + ".qos", 0...2)))! } ?? .atLeastOnce,
            group: try f["group"].map { try string($0, path + ".group") } ?? "+",
            hostID: try f["host_id"].map { try string($0, path + ".host_id") }, mapping: mapping)
        if let c = f["commands"] {
            let cf = try self.mapping(c, path + ".commands", allowed: ["confirm_within_s", "tolerance"])
            var commands = SparkplugCommandSettings()
            try confirmation(
                cf, path + ".commands", within: &commands.confirmWithin, tolerance: &commands.tolerance)
            guard !mapping.setpoints.isEmpty else {
                throw error(c, path + ".commands", "commands need setpoints: map the setpoint metrics")
            }
            settings.commands = commands
        }
        return settings
    }
}

extension YAMLReader {
    /// `{url: opc.tcp://HOST:4840/PATH, security: none | basic256sha256, certificate, private_key,
    /// server_certificate, username, password_env, publishing_interval_ms, sampling_interval_ms, machines: [{machine,
    /// nodes: {variable: node id}, setpoints, writes, state, product, good, scrap}]}`. Files are relative to the
    /// configuration's directory.
    func opcuaServer(_ node: Node, _ path: String, process: ProcessConfig, baseDirectory source: String) throws
        -> OPCUAServerSettings
    {
        let f = try mapping(
            node, path,
            allowed: [
                "url", "security", "certificate", "private_key", "server_certificate", "application_uri", "username",
                "password_env", "publishing_interval_ms", "sampling_interval_ms", "machines",
            ])
        let urlNode = try required(f, "url", in: node, path)
        let url = try string(urlNode, path + ".url")
        var client: OPCUAClientOptions
        do { client = try OPCUAClientOptions(endpointURL: url) } catch {
            throw self.error(urlNode, path + ".url", error.message)
        }
        if let a = f["application_uri"] { client.applicationURI = try string(a, path + ".application_uri") }
        let base = URL(fileURLWithPath: source).deletingLastPathComponent()
        func file(_ key: String) throws -> String? {
            guard let n = f[key] else { return nil }
            let name = try string(n, "\(path).\(key)")
            let url = name.hasPrefix("/") ? URL(fileURLWithPath: name) : base.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw error(n, "\(path).\(key)", "cannot read \(url.path)")
            }
            return String(decoding: data, as: UTF8.self)
        }
        let securityNode = f["security"]
        switch try securityNode.map({ try string($0, path + ".security") }) ?? "none" {
        case "none":
            for key in ["certificate", "private_key", "server_certificate"] where f[key] != nil {
                throw error(f[key]!, "\(path).\(key)", "only with security: basic256sha256")
            }
        case "basic256sha256":
            guard let certificate = try file("certificate"), let key = try file("private_key") else {
                throw error(
                    securityNode!, path + ".security",
                    "basic256sha256 needs certificate and private_key (this client's, PEM)")
            }
            client.security = .basic256Sha256(
                OPCUAClientCertificate(
                    certificatePEM: certificate, privateKeyPEM: key,
                    trustedServerCertificatePEM: try file("server_certificate")))
        case let other: throw error(securityNode!, path + ".security", "'\(other)' is not none or basic256sha256")
        }
        if let u = f["username"] {
            let user = try string(u, path + ".username")
            guard let env = f["password_env"] else { throw error(u, path, "a username needs password_env") }
            let name = try string(env, path + ".password_env")
            guard let password = ProcessInfo.processInfo.environment[name] else {
                throw error(env, path + ".password_env", "the environment variable \(name) is not set")
            }
            client.identity = .userName(user, password: password)
        }
        let machinesNode = try required(f, "machines", in: node, path)
        let machines = try sequence(machinesNode, path + ".machines").enumerated().map {
            try opcuaMachine($1, "\(path).machines[\($0)]", process: process)
        }
        guard !machines.isEmpty else { throw error(machinesNode, path + ".machines", "must list at least one machine") }
        var server = OPCUAServerSettings(client: client, machines: machines)
        if let n = f["publishing_interval_ms"] {
            server.publishingInterval = .milliseconds(try integer(n, path + ".publishing_interval_ms", 1...3_600_000))
        }
        if let n = f["sampling_interval_ms"] {
            server.samplingInterval = .milliseconds(try integer(n, path + ".sampling_interval_ms", 0...3_600_000))
        }
        return server
    }

    func opcuaMachine(_ node: Node, _ path: String, process: ProcessConfig) throws -> OPCUAMachineMapping {
        let f = try mapping(
            node, path, allowed: ["machine", "nodes", "setpoints", "writes", "state", "product", "good", "scrap"])
        let machineNode = try required(f, "machine", in: node, path)
        let machine = try string(machineNode, path + ".machine")
        guard process.machineIDs.contains(machine) else {
            throw error(machineNode, path + ".machine", "\(machine) is not a machine of the process config")
        }
        func spec(_ n: Node, _ at: String) throws -> OPCUANodeSpec {
            let s = OPCUANodeSpec(try string(n, at))
            guard s.isValid else {
                throw error(n, at, "'\(s)' is not a node id (i=85, ns=2;s=Machine/Speed, nsu=URI;s=..., ns=1;g=GUID)")
            }
            return s
        }
        func nodes(_ key: String, setpoint: Bool) throws -> [(variable: String, node: OPCUANodeSpec)] {
            try variableMap(f, key, path, process: process, setpoints: setpoint) { try spec($0, $1) }.map { ($0, $1) }
        }
        let nodesNode = try required(f, "nodes", in: node, path)
        let values = try nodes("nodes", setpoint: false)
        guard !values.isEmpty else { throw error(nodesNode, path + ".nodes", "must map at least one variable") }
        let setpoints = try nodes("setpoints", setpoint: true)
        return OPCUAMachineMapping(
            machine: machine, values: values, setpoints: setpoints,
            writes: f["writes"] == nil ? nil : try nodes("writes", setpoint: true),
            state: try f["state"].map { try spec($0, path + ".state") },
            product: try f["product"].map { try spec($0, path + ".product") },
            good: try f["good"].map { try spec($0, path + ".good") },
            scrap: try f["scrap"].map { try spec($0, path + ".scrap") })
    }
}

extension YAMLReader {
    /// `{variable: X, ...}` under `key` (empty when absent): each variable must be the process config's (a setpoint's
    /// must be controllable); each X is read by `value` with the node and its path.
    func variableMap<T>(
        _ f: [String: Node], _ key: String, _ path: String, process: ProcessConfig, setpoints: Bool = false,
        _ value: (Node, String) throws -> T
    ) throws -> [(variable: String, value: T)] {
        guard let n = f[key] else { return [] }
        return try orderedMapping(n, path + "." + key).map { (variable, node) in
            let at = "\(path).\(key).\(variable)"
            guard let v = process.variable(variable) else {
                throw error(
                    node, at,
                    "the process config has no variable \(variable) (it has "
                        + process.variables.map(\.name).joined(separator: ", ") + ")")
            }
            if setpoints && v.controllable == nil {
                throw error(node, at, "\(variable) is not a setpoint (controllable) of the process config")
            }
            return (variable, try value(node, at))
        }
    }
}
