/// The host application's side of Sparkplug B (3.0, chapter 7 and 10) without I/O: it follows every edge node's
/// births, deaths and sequence numbers, resolves aliases, and keeps each node's and device's current metrics, since
/// data messages carry only the metrics that changed. It answers each message with events: a snapshot of the entity's
/// metrics after a birth or data, a rejection (the message's values cannot be trusted, and why), a rebirth request
/// (the host lost track of the node: a sequence gap, data without a birth), an entity going offline.
public struct SparkplugHost: Sendable {
    /// A metric's latest value.
    public struct Observed: Sendable, Equatable {
        public var value: SparkplugValue
        public var dataType: SparkplugDataType
        /// When it was acquired (the metric's timestamp, else the payload's), milliseconds since the epoch.
        public var timestamp: UInt64?
        public var quality: Int?
    }

    /// An entity's metrics after a message: all of them by name, and which ones this message carried.
    public struct Snapshot: Sendable {
        public var entity: SparkplugEntityID
        public var type: SparkplugMessageType
        public var metrics: [String: Observed]
        public var changed: Set<String>
        /// The payload's timestamp (when it was sent).
        public var timestamp: UInt64?
    }

    public enum Event: Sendable {
        case snapshot(Snapshot)
        /// The message was not taken; `reason` is a short code (`malformed`, `no_birth`, `sequence_gap`, `stale`,
        /// `unknown_alias`, `wrong_type`, `historical`), `message` what and where.
        case rejected(SparkplugEntityID?, reason: String, message: String)
        /// Ask the edge node to publish its births again (an NCMD with `Node Control/Rebirth` true).
        case rebirth(SparkplugNodeID, why: String)
        case online(SparkplugEntityID)
        case offline(SparkplugEntityID, why: String)
    }

    struct Entity: Sendable {
        var online = true
        var metrics: [String: Observed] = [:]
        /// Names and types from the birth (a data message may leave the type out).
        var types: [String: SparkplugDataType] = [:]
    }

    struct Node: Sendable {
        var bdSeq: UInt64?
        var lastSeq: UInt64
        var online = true
        /// Set after a sequence gap: nothing is taken until the next NBIRTH.
        var lost: String?
        /// Aliases are unique across an edge node and its devices.
        var aliases: [UInt64: (device: String?, name: String)] = [:]
        var entities: [String?: Entity] = [:]
    }

    var nodes: [SparkplugNodeID: Node] = [:]
    var lastRebirth: [SparkplugNodeID: UInt64] = [:]
    /// The least time between two rebirth requests to one node, milliseconds.
    public var rebirthInterval: UInt64 = 5_000

    public init() {}

    /// Whether the entity is born and alive.
    public func isOnline(_ entity: SparkplugEntityID) -> Bool {
        guard let node = nodes[entity.node], node.online, node.lost == nil else { return false }
        return node.entities[entity.device]?.online ?? false
    }

    /// A metric's alias and data type from the entity's birth (nil: not born, or no such metric).
    public func metric(_ name: String, of entity: SparkplugEntityID) -> (alias: UInt64?, type: SparkplugDataType)? {
        guard let node = nodes[entity.node], let type = node.entities[entity.device]?.types[name] else { return nil }
        let alias = node.aliases.first { $0.value.device == entity.device && $0.value.name == name }?.key
        return (alias, type)
    }

    /// Takes one message; `now` (milliseconds since the epoch) paces rebirth requests.
    public mutating func receive(topic: SparkplugTopic, payload bytes: [UInt8], now: UInt64) -> [Event] {
        let payload: SparkplugPayload
        do { payload = try SparkplugPayload(decoding: bytes) } catch {
            return [.rejected(topic.entity, reason: "malformed", message: "\(topic): \(error.message)")]
        }
        switch topic.type {
        case .nbirth: return nodeBirth(topic, payload)
        case .ndeath: return nodeDeath(topic, payload)
        case .dbirth, .ndata, .ddata, .ddeath: return sequenced(topic, payload, now: now)
        case .ncmd, .dcmd: return []
        }
    }

    private mutating func nodeBirth(_ topic: SparkplugTopic, _ payload: SparkplugPayload) -> [Event] {
        let id = topic.entity.node
        guard let seq = payload.seq else {
            return [.rejected(topic.entity, reason: "malformed", message: "\(topic): an NBIRTH without seq")]
        }
        let bdSeq = payload.bdSeq
        // A birth starts the node (and its devices) afresh: their births follow.
        var node = Node(bdSeq: bdSeq, lastSeq: seq)
        var events: [Event] = []
        switch born(&node, device: nil, topic, payload) {
        case .success(let snapshot):
            nodes[id] = node
            events.append(.online(topic.entity))
            events.append(.snapshot(snapshot))
        case .failure(let e):
            nodes[id] = nil
            events.append(.rejected(topic.entity, reason: e.reason, message: "\(topic): \(e.message)"))
        }
        return events
    }

    private mutating func nodeDeath(_ topic: SparkplugTopic, _ payload: SparkplugPayload) -> [Event] {
        let id = topic.entity.node
        guard var node = nodes[id], node.online else { return [] }
        let bdSeq = payload.bdSeq
        // A death certificate of an earlier session (its will published late) leaves the current one alive.
        if let b = node.bdSeq, let d = bdSeq, b != d { return [] }
        node.online = false
        var events: [Event] = []
        for (device, var entity) in node.entities where entity.online {
            entity.online = false
            node.entities[device] = entity
            events.append(.offline(SparkplugEntityID(node: id, device: device), why: "NDEATH of \(id)"))
        }
        nodes[id] = node
        return events
    }

    /// DBIRTH, NDATA, DDATA and DDEATH: they carry the node's next sequence number.
    private mutating func sequenced(_ topic: SparkplugTopic, _ payload: SparkplugPayload, now: UInt64) -> [Event] {
        let id = topic.entity.node
        guard var node = nodes[id], node.online else {
            let why = nodes[id] == nil ? "no NBIRTH of \(id) seen" : "\(id) is dead (NDEATH) and not born again"
            return reject(topic, reason: nodes[id] == nil ? "no_birth" : "stale", why, now: now)
        }
        if let lost = node.lost { return reject(topic, reason: "stale", lost, now: now) }
        guard let seq = payload.seq, seq <= 255 else {
            return [.rejected(topic.entity, reason: "malformed", message: "\(topic): seq missing or above 255")]
        }
        let expected = (node.lastSeq + 1) % 256
        guard seq == expected else {
            node.lost = "a message of \(id) was lost (seq \(seq) after \(node.lastSeq)); waiting for its rebirth"
            nodes[id] = node
            return reject(
                topic, reason: "sequence_gap", "seq \(seq) where \(expected) was next; a message was lost", now: now)
        }
        node.lastSeq = seq
        defer { nodes[id] = node }
        switch topic.type {
        case .dbirth:
            switch born(&node, device: topic.entity.device, topic, payload) {
            case .success(let snapshot): return [.online(topic.entity), .snapshot(snapshot)]
            case .failure(let e):
                node.entities[topic.entity.device] = nil
                return [.rejected(topic.entity, reason: e.reason, message: "\(topic): \(e.message)")]
            }
        case .ddeath:
            guard node.entities[topic.entity.device]?.online == true else { return [] }
            node.entities[topic.entity.device]?.online = false
            return [.offline(topic.entity, why: "DDEATH")]
        default:
            guard let entity = node.entities[topic.entity.device], entity.online else {
                let why =
                    "\(topic.entity) has no DBIRTH since "
                    + (node.entities[topic.entity.device] == nil
                        ? "its node's birth" : "its DDEATH")
                return reject(topic, reason: "no_birth", why, now: now)
            }
            return data(&node, entity, topic, payload)
        }
    }

    private mutating func reject(_ topic: SparkplugTopic, reason: String, _ why: String, now: UInt64) -> [Event] {
        var events: [Event] = [.rejected(topic.entity, reason: reason, message: "\(topic): \(why)")]
        let id = topic.entity.node
        if now >= (lastRebirth[id] ?? 0) + rebirthInterval || lastRebirth[id] == nil {
            lastRebirth[id] = now
            events.append(.rebirth(id, why: why))
        }
        return events
    }

    struct Refusal: Error {
        let reason: String
        let message: String
    }

    /// A birth's metrics: names, aliases, types, values. The whole birth is refused if any metric is unreadable.
    private func born(
        _ node: inout Node, device: String?, _ topic: SparkplugTopic, _ payload: SparkplugPayload
    ) -> Result<Snapshot, Refusal> {
        var entity = Entity()
        var aliases = node.aliases.filter { $0.value.device != device }
        for m in payload.metrics {
            guard let name = m.name else {
                return .failure(
                    Refusal(reason: "malformed", message: "a birth metric (alias \(m.alias ?? 0)) has no name"))
            }
            guard let type = m.dataType else {
                return .failure(Refusal(reason: "malformed", message: "birth metric \(name) has no data type"))
            }
            if let alias = m.alias {
                if let other = aliases[alias] {
                    return .failure(
                        Refusal(
                            reason: "malformed",
                            message: "alias \(alias) of \(name) is already \(other.name)"
                                + (other.device.map { " of device \($0)" } ?? "")))
                }
                aliases[alias] = (device, name)
            }
            entity.types[name] = type
            if m.isHistorical { continue }
            do {
                entity.metrics[name] = Observed(
                    value: try m.value(as: type), dataType: type, timestamp: m.timestamp ?? payload.timestamp,
                    quality: m.quality)
            } catch {
                return .failure(Refusal(reason: "wrong_type", message: "birth metric \(name) \(error.message)"))
            }
        }
        node.aliases = aliases
        node.entities[device] = entity
        return .success(
            Snapshot(
                entity: topic.entity, type: topic.type, metrics: entity.metrics, changed: Set(entity.metrics.keys),
                timestamp: payload.timestamp))
    }

    /// A data message: each metric by alias or name, with the birth's type; all or nothing.
    private func data(_ node: inout Node, _ entity: Entity, _ topic: SparkplugTopic, _ payload: SparkplugPayload)
        -> [Event]
    {
        var entity = entity
        var changed = Set<String>()
        var historical = 0
        for m in payload.metrics {
            let name: String
            if let alias = m.alias, m.name == nil {
                guard let known = node.aliases[alias], known.device == topic.entity.device else {
                    return [
                        .rejected(
                            topic.entity, reason: "unknown_alias",
                            message: "\(topic): alias \(alias) is not one of \(topic.entity)'s birth")
                    ]
                }
                name = known.name
            } else {
                name = m.name ?? ""
            }
            guard let type = entity.types[name] else {
                return [
                    .rejected(
                        topic.entity, reason: "unknown_metric",
                        message: "\(topic): metric \(name) is not in \(topic.entity)'s birth")
                ]
            }
            if let declared = m.dataType, declared != type {
                return [
                    .rejected(
                        topic.entity, reason: "wrong_type",
                        message: "\(topic): metric \(name) is \(declared) here but \(type) in its birth")
                ]
            }
            if m.isHistorical {
                historical += 1
                continue
            }
            do {
                entity.metrics[name] = Observed(
                    value: try m.value(as: type), dataType: type, timestamp: m.timestamp ?? payload.timestamp,
                    quality: m.quality)
            } catch {
                return [
                    .rejected(topic.entity, reason: "wrong_type", message: "\(topic): metric \(name) \(error.message)")
                ]
            }
            changed.insert(name)
        }
        node.entities[topic.entity.device] = entity
        var events: [Event] = []
        if historical > 0 {
            events.append(
                .rejected(
                    topic.entity, reason: "historical",
                    message: "\(topic): \(historical) historical metric(s) are not live values; kept out of readings"))
        }
        if !changed.isEmpty {
            events.append(
                .snapshot(
                    Snapshot(
                        entity: topic.entity, type: topic.type, metrics: entity.metrics, changed: changed,
                        timestamp: payload.timestamp)))
        }
        return events
    }
}

extension SparkplugPayload {
    /// The birth/death sequence number an NBIRTH and its NDEATH carry (the `bdSeq` metric).
    var bdSeq: UInt64? {
        guard let m = metrics.first(where: { $0.name == "bdSeq" }) else { return nil }
        switch m.raw {
        case .long(let v): return v
        case .int(let v): return UInt64(v)
        default: return nil
        }
    }

    /// The NCMD that asks an edge node for its births again.
    public static func rebirthRequest(timestamp: UInt64) -> SparkplugPayload {
        SparkplugPayload(
            timestamp: timestamp,
            metrics: [
                SparkplugMetric(
                    name: "Node Control/Rebirth", timestamp: timestamp, dataType: .boolean, value: .bool(true))
            ])
    }
}
