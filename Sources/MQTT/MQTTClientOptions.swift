public import ClientTLS
public import MQTTWire

/// A problem talking to an MQTT broker: what and where, and whether trying again may help.
public struct MQTTError: Error, Sendable, CustomStringConvertible {
    public let message: String
    /// True for a lost or refused connection that a later attempt may get (not for bad credentials or a bad filter).
    public let retriable: Bool

    public init(_ message: String, retriable: Bool = false) {
        self.message = message
        self.retriable = retriable
    }
    public var description: String { message }
}

/// How to reach a broker and what session to hold there.
public struct MQTTClientOptions: Sendable {
    public var host: String
    public var port: Int
    public var version: MQTTVersion
    public var clientID: String
    /// False keeps the session on the broker across connections: its subscriptions, and QoS 1 and 2 messages that
    /// arrive while the client is away or that it had not acknowledged, are delivered when it comes back.
    public var cleanStart: Bool
    /// 5.0: how long the broker keeps the session after the connection ends (0: until it ends). 3.1.1 keeps a
    /// session that is not clean until a clean connection replaces it.
    public var sessionExpirySeconds: UInt32
    /// A PINGREQ when nothing was sent for this long; the connection is closed as dead when no PINGRESP comes within
    /// it.
    public var keepAliveSeconds: UInt16
    public var username: String?
    public var password: String?
    public var tls: ClientTLS?
    public var will: MQTTConnect.Will?
    /// 5.0: at most this many QoS 1 and 2 messages unacknowledged on their way to this client (the broker waits).
    public var receiveMaximum: UInt16
    public var connectTimeout: Duration
    /// Received batches (one per socket read) buffered for the consumer before the client stops reading the socket.
    public var bufferedBatches: Int

    public init(
        host: String, port: Int = 1883, version: MQTTVersion = .v5, clientID: String, cleanStart: Bool = true,
        sessionExpirySeconds: UInt32 = 0, keepAliveSeconds: UInt16 = 30, username: String? = nil,
        password: String? = nil, tls: ClientTLS? = nil, will: MQTTConnect.Will? = nil, receiveMaximum: UInt16 = 1024,
        connectTimeout: Duration = .seconds(10), bufferedBatches: Int = 16
    ) {
        self.host = host
        self.port = port
        self.version = version
        self.clientID = clientID
        self.cleanStart = cleanStart
        self.sessionExpirySeconds = sessionExpirySeconds
        self.keepAliveSeconds = keepAliveSeconds
        self.username = username
        self.password = password
        self.tls = tls
        self.will = will
        self.receiveMaximum = receiveMaximum
        self.connectTimeout = connectTimeout
        self.bufferedBatches = bufferedBatches
    }

    public var endpoint: String { "\(tls == nil ? "mqtt" : "mqtts")://\(host):\(port)" }

    var connectPacket: MQTTConnect {
        var properties: MQTTProperties = []
        if version == .v5 {
            if sessionExpirySeconds > 0 {
                properties.entries.append((MQTTProperties.sessionExpiry, .fourByteInteger(sessionExpirySeconds)))
            }
            properties.entries.append((MQTTProperties.receiveMaximum, .twoByteInteger(receiveMaximum)))
        }
        return MQTTConnect(
            clientID: clientID, cleanStart: cleanStart, keepAliveSeconds: keepAliveSeconds, username: username,
            password: password.map { Array($0.utf8) }, will: will, properties: properties)
    }
}

/// An application message received from the broker: the PUBLISH as it came. QoS 1 and 2 messages stay
/// unacknowledged until the consumer calls `MQTTConnection.acknowledge` (after it has kept them), so a crash before
/// then has the broker send them again (with `duplicate` set).
public typealias MQTTMessage = MQTTPublish
