/// The kinds of message in the Sparkplug B topic namespace (`spBv1.0/<group>/<kind>/<edge node>[/<device>]`).
public enum SparkplugMessageType: String, Sendable, CaseIterable {
    case nbirth = "NBIRTH"
    case ndeath = "NDEATH"
    case dbirth = "DBIRTH"
    case ddeath = "DDEATH"
    case ndata = "NDATA"
    case ddata = "DDATA"
    case ncmd = "NCMD"
    case dcmd = "DCMD"

    /// Whether the message is about a device (and its topic names one).
    public var isDevice: Bool { [.dbirth, .ddeath, .ddata, .dcmd].contains(self) }
}

/// An edge node: the group it is in and its id.
public struct SparkplugNodeID: Hashable, Sendable, CustomStringConvertible {
    public var group: String
    public var node: String

    public init(group: String, node: String) {
        self.group = group
        self.node = node
    }

    public var description: String { "\(group)/\(node)" }
}

/// What a message is about: an edge node itself (device nil) or one of its devices.
public struct SparkplugEntityID: Hashable, Sendable, CustomStringConvertible {
    public var node: SparkplugNodeID
    public var device: String?

    public init(node: SparkplugNodeID, device: String? = nil) {
        self.node = node
        self.device = device
    }

    public var description: String { device.map { "\(node)/\($0)" } ?? node.description }
}

/// A topic of the Sparkplug B namespace.
public struct SparkplugTopic: Hashable, Sendable, CustomStringConvertible {
    public static let namespace = "spBv1.0"

    public var type: SparkplugMessageType
    public var entity: SparkplugEntityID

    public init(_ type: SparkplugMessageType, _ entity: SparkplugEntityID) {
        self.type = type
        self.entity = entity
    }

    /// Parses a topic; nil for one outside the namespace or the host applications' `spBv1.0/STATE/<host>`; an error
    /// for one in the namespace that is not well formed.
    public init?(parsing topic: String) throws(SparkplugError) {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard levels.first == Self.namespace, levels.count >= 2, levels[1] != "STATE" else { return nil }
        guard levels.count == 4 || levels.count == 5 else {
            throw SparkplugError("topic \(topic): expected spBv1.0/<group>/<type>/<edge node>[/<device>]")
        }
        guard let type = SparkplugMessageType(rawValue: levels[2]) else {
            throw SparkplugError("topic \(topic): \(levels[2]) is not a Sparkplug message type")
        }
        guard type.isDevice == (levels.count == 5) else {
            throw SparkplugError(
                "topic \(topic): a \(type.rawValue) topic " + (type.isDevice ? "names a device" : "names no device"))
        }
        guard levels.allSatisfy({ !$0.isEmpty }) else { throw SparkplugError("topic \(topic): an empty level") }
        self.init(
            type, SparkplugEntityID(node: .init(group: levels[1], node: levels[3]), device: levels.dropFirst(4).first))
    }

    public var text: String {
        var t = "\(Self.namespace)/\(entity.node.group)/\(type.rawValue)/\(entity.node.node)"
        if let device = entity.device { t += "/" + device }
        return t
    }

    public var description: String { text }

    /// The subscription filter for every message of `group` (`+`: all groups).
    public static func filter(group: String) -> String { "\(namespace)/\(group)/#" }

    /// A host application's state topic (Sparkplug 3.0): `spBv1.0/STATE/<host id>`.
    public static func state(hostID: String) -> String { "\(namespace)/STATE/\(hostID)" }
}

/// A Sparkplug message that cannot be taken: what is wrong.
public struct SparkplugError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
