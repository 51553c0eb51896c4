public import NIOCore

/// MQTT control packets, 3.1.1 (OASIS Standard, 2014) and 5.0 (OASIS Standard, 2019): values and their codecs on
/// `ByteBuffer`, no I/O. A packet is a fixed header (type and flags, then the remaining length as a variable byte
/// integer), a variable header and a payload; 5.0 adds properties to most variable headers.
public enum MQTTVersion: UInt8, Sendable {
    case v311 = 4
    case v5 = 5
}

public enum MQTTQoS: UInt8, Sendable, Comparable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A packet that does not follow the specification: what and at which byte of the packet.
public struct MQTTWireError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct MQTTConnect: Sendable, Equatable {
    public struct Will: Sendable, Equatable {
        public var topic: String
        public var payload: [UInt8]
        public var qos: MQTTQoS
        public var retain: Bool
        public var properties: MQTTProperties

        public init(
            topic: String, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false,
            properties: MQTTProperties = []
        ) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
            self.properties = properties
        }
    }

    public var clientID: String
    /// 3.1.1's clean session; 5.0's clean start.
    public var cleanStart: Bool
    public var keepAliveSeconds: UInt16
    public var username: String?
    public var password: [UInt8]?
    public var will: Will?
    public var properties: MQTTProperties

    public init(
        clientID: String, cleanStart: Bool = true, keepAliveSeconds: UInt16 = 60, username: String? = nil,
        password: [UInt8]? = nil, will: Will? = nil, properties: MQTTProperties = []
    ) {
        self.clientID = clientID
        self.cleanStart = cleanStart
        self.keepAliveSeconds = keepAliveSeconds
        self.username = username
        self.password = password
        self.will = will
        self.properties = properties
    }
}

public struct MQTTConnAck: Sendable, Equatable {
    public var sessionPresent: Bool
    /// 3.1.1's return code or 5.0's reason code (0: accepted).
    public var code: UInt8
    public var properties: MQTTProperties

    public init(sessionPresent: Bool, code: UInt8, properties: MQTTProperties = []) {
        self.sessionPresent = sessionPresent
        self.code = code
        self.properties = properties
    }
}

public struct MQTTPublish: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: MQTTQoS
    public var retain: Bool
    public var duplicate: Bool
    /// Present exactly when qos > 0.
    public var packetID: UInt16?
    public var properties: MQTTProperties

    public init(
        topic: String, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false, duplicate: Bool = false,
        packetID: UInt16? = nil, properties: MQTTProperties = []
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.duplicate = duplicate
        self.packetID = packetID
        self.properties = properties
    }
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP: a packet id and (5.0) a reason code and properties.
public struct MQTTAcknowledgement: Sendable, Equatable {
    public var packetID: UInt16
    public var reason: UInt8
    public var properties: MQTTProperties

    public init(packetID: UInt16, reason: UInt8 = 0, properties: MQTTProperties = []) {
        self.packetID = packetID
        self.reason = reason
        self.properties = properties
    }
}

public struct MQTTSubscribe: Sendable, Equatable {
    public struct Filter: Sendable, Equatable {
        public var filter: String
        public var qos: MQTTQoS
        /// 5.0's subscription options beyond the QoS (no local, retain as published, retain handling), raw bits 2-5.
        public var options: UInt8

        public init(_ filter: String, qos: MQTTQoS = .atLeastOnce, options: UInt8 = 0) {
            self.filter = filter
            self.qos = qos
            self.options = options
        }
    }

    public var packetID: UInt16
    public var filters: [Filter]
    public var properties: MQTTProperties

    public init(packetID: UInt16, filters: [Filter], properties: MQTTProperties = []) {
        self.packetID = packetID
        self.filters = filters
        self.properties = properties
    }
}

/// SUBACK and UNSUBACK: a code per filter (granted QoS or failure).
public struct MQTTSubAck: Sendable, Equatable {
    public var packetID: UInt16
    public var codes: [UInt8]
    public var properties: MQTTProperties

    public init(packetID: UInt16, codes: [UInt8], properties: MQTTProperties = []) {
        self.packetID = packetID
        self.codes = codes
        self.properties = properties
    }
}

public struct MQTTUnsubscribe: Sendable, Equatable {
    public var packetID: UInt16
    public var filters: [String]
    public var properties: MQTTProperties

    public init(packetID: UInt16, filters: [String], properties: MQTTProperties = []) {
        self.packetID = packetID
        self.filters = filters
        self.properties = properties
    }
}

/// DISCONNECT (and 5.0's AUTH): a reason code and properties (3.1.1's DISCONNECT has neither).
public struct MQTTDisconnect: Sendable, Equatable {
    public var reason: UInt8
    public var properties: MQTTProperties

    public init(reason: UInt8 = 0, properties: MQTTProperties = []) {
        self.reason = reason
        self.properties = properties
    }
}

public enum MQTTPacket: Sendable, Equatable {
    case connect(MQTTConnect)
    case connack(MQTTConnAck)
    case publish(MQTTPublish)
    case puback(MQTTAcknowledgement)
    case pubrec(MQTTAcknowledgement)
    case pubrel(MQTTAcknowledgement)
    case pubcomp(MQTTAcknowledgement)
    case subscribe(MQTTSubscribe)
    case suback(MQTTSubAck)
    case unsubscribe(MQTTUnsubscribe)
    case unsuback(MQTTSubAck)
    case pingreq
    case pingresp
    case disconnect(MQTTDisconnect)
    case auth(MQTTDisconnect)

    /// The control packet type (the fixed header's high nibble).
    public var type: UInt8 {
        switch self {
        case .connect: 1
        case .connack: 2
        case .publish: 3
        case .puback: 4
        case .pubrec: 5
        case .pubrel: 6
        case .pubcomp: 7
        case .subscribe: 8
        case .suback: 9
        case .unsubscribe: 10
        case .unsuback: 11
        case .pingreq: 12
        case .pingresp: 13
        case .disconnect: 14
        case .auth: 15
        }
    }
}
