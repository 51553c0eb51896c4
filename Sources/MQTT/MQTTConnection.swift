import ClientTLS
public import MQTTWire
import NIOConcurrencyHelpers
public import NIOCore
import NIOPosix

/// One session with an MQTT broker (3.1.1 or 5.0) over TCP or TLS. The protocol runs in a channel handler on the
/// connection's event loop; `messages` yields what arrives, one batch per socket read, and the socket is not read
/// while the consumer is `bufferedBatches` behind. QoS 1 and 2 messages are acknowledged only by `acknowledge`.
/// Create with `connect`, end with `disconnect`; a lost connection ends `messages` with an error that says why.
public final class MQTTConnection: Sendable {
    public typealias Messages = NIOThrowingAsyncSequenceProducer<
        [MQTTMessage], any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, MQTTReadDelegate
    >

    public let options: MQTTClientOptions
    /// The broker's CONNACK: whether it kept a session, and (5.0) its limits.
    public let connAck: MQTTConnAck
    public let messages: Messages
    private let channel: any Channel

    private init(options: MQTTClientOptions, connAck: MQTTConnAck, messages: Messages, channel: any Channel) {
        self.options = options
        self.connAck = connAck
        self.messages = messages
        self.channel = channel
    }

    public var endpoint: String { options.endpoint }
    public var isActive: Bool { channel.isActive }

    /// Connects, shakes hands (TLS when configured) and opens the session; the broker's refusal is an error naming
    /// its reason.
    public static func connect(_ options: MQTTClientOptions) async throws -> MQTTConnection {
        let endpoint = options.endpoint
        let codec = MQTTCodec(version: options.version)
        let group = MultiThreadedEventLoopGroup.singleton
        let tlsReady = options.tls == nil ? nil : group.any().makePromise(of: Void.self)
        let made = NIOLockedValueBox<Messages?>(nil)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(options.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls = options.tls, let tlsReady {
                            try tls.configure(channel, host: options.host, handshake: tlsReady)
                        }
                        let sequence = Messages.makeSequence(
                            backPressureStrategy: .init(
                                lowWatermark: 1, highWatermark: max(2, options.bufferedBatches)),
                            finishOnDeinit: false, delegate: MQTTReadDelegate(channel: channel))
                        made.withLockedValue { $0 = sequence.sequence }
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(MQTTPacketDecoder(codec: codec)))
                        try channel.pipeline.syncOperations.addHandler(
                            MQTTClientHandler(
                                codec: codec, endpoint: endpoint, keepAliveSeconds: options.keepAliveSeconds,
                                source: sequence.source))
                    }
                }
                .connect(host: options.host, port: options.port).get()
        } catch {
            tlsReady?.fail(error)
            throw MQTTError("cannot connect to MQTT broker \(endpoint): \(error)", retriable: true)
        }
        do {
            if let tlsReady { try await within(options.connectTimeout, on: channel, tlsReady, what: "TLS handshake") }
            let answer = channel.eventLoop.makePromise(of: MQTTConnAck.self)
            try await channel.writeAndFlush(MQTTCommand.connect(options.connectPacket, answer))
            let ack = try await within(options.connectTimeout, on: channel, answer, what: "CONNACK")
            guard ack.code == 0 else {
                throw MQTTError(
                    "broker \(endpoint) refused the connection of client \(options.clientID): "
                        + MQTTReason.name(ack.code, version: options.version),
                    retriable: [3, 0x88, 0x89, 0x9F].contains(ack.code))
            }
            return MQTTConnection(
                options: options, connAck: ack, messages: made.withLockedValue { $0! }, channel: channel)
        } catch {
            try? await channel.close()
            if let error = error as? MQTTError { throw error }
            throw MQTTError("MQTT broker \(endpoint): \(error)", retriable: true)
        }
    }

    private static func within<T: Sendable>(
        _ timeout: Duration, on channel: any Channel, _ promise: EventLoopPromise<T>, what: String
    ) async throws -> T {
        let endpoint = "\(channel.remoteAddress.map { "\($0)" } ?? "broker")"
        let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            promise.fail(MQTTError("no \(what) from \(endpoint) within \(timeout)", retriable: true))
        }
        defer { deadline.cancel() }
        return try await promise.futureResult.get()
    }

    /// Subscribes and returns the granted QoS of each filter; a filter the broker refuses is an error naming it.
    @discardableResult
    public func subscribe(_ filters: [MQTTSubscribe.Filter], properties: MQTTProperties = []) async throws -> [MQTTQoS]
    {
        let answer = channel.eventLoop.makePromise(of: MQTTSubAck.self)
        try await send(.subscribe(MQTTSubscribe(packetID: 0, filters: filters, properties: properties), answer))
        let ack = try await answer.futureResult.get()
        var granted: [MQTTQoS] = []
        for (filter, code) in zip(filters, ack.codes) {
            guard let qos = MQTTQoS(rawValue: code) else {
                throw MQTTError(
                    "broker \(endpoint) refused the subscription to \(filter.filter): "
                        + MQTTReason.name(code, version: options.version))
            }
            granted.append(qos)
        }
        return granted
    }

    public func unsubscribe(_ filters: [String]) async throws {
        let answer = channel.eventLoop.makePromise(of: MQTTSubAck.self)
        try await send(.unsubscribe(MQTTUnsubscribe(packetID: 0, filters: filters), answer))
        _ = try await answer.futureResult.get()
    }

    /// Publishes and returns when the message is written (QoS 0), acknowledged (QoS 1) or its exchange complete
    /// (QoS 2); more than the broker's receive maximum of QoS 1 and 2 publishes wait in the client.
    public func publish(
        _ topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false,
        properties: MQTTProperties = []
    ) async throws {
        try await publishing(topic, payload: payload, qos: qos, retain: retain, properties: properties).get()
    }

    /// `publish` without waiting: the future completes as `publish` returns. Futures of one caller complete in order.
    public func publishing(
        _ topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false,
        properties: MQTTProperties = []
    ) -> EventLoopFuture<Void> {
        let answer = channel.eventLoop.makePromise(of: Void.self)
        let publish = MQTTPublish(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        channel.writeAndFlush(MQTTCommand.publish(publish, answer)).whenFailure { answer.fail(self.lost($0)) }
        return answer.futureResult
    }

    /// Publishes messages in order and returns when the broker has them all (each as `publish` would).
    public func publish(_ messages: [(topic: String, payload: [UInt8])], qos: MQTTQoS = .atLeastOnce) async throws {
        let futures = messages.map { publishing($0.topic, payload: $0.payload, qos: qos) }
        for f in futures { try await f.get() }
    }

    /// Acknowledges QoS 1 and 2 messages (PUBACK or PUBREC), in the order received; QoS 0 ones are skipped.
    public func acknowledge(_ messages: [MQTTMessage]) {
        let acks = messages.compactMap { m in m.packetID.map { (packetID: $0, qos: m.qos) } }
        guard !acks.isEmpty else { return }
        channel.writeAndFlush(MQTTCommand.acknowledge(acks), promise: nil)
    }

    /// Sends DISCONNECT (normal: the will is not published) and closes.
    public func disconnect() async {
        try? await channel.writeAndFlush(MQTTCommand.disconnect(MQTTDisconnect()))
        try? await channel.close()
    }

    /// Closes the socket without DISCONNECT: the broker publishes the will, as after a crash.
    public func abort() async {
        try? await channel.close()
    }

    private func send(_ command: MQTTCommand) async throws {
        do {
            try await channel.writeAndFlush(command)
        } catch {
            throw lost(error)
        }
    }

    private func lost(_ error: any Error) -> MQTTError {
        error as? MQTTError ?? MQTTError("connection to MQTT broker \(endpoint) is closed: \(error)", retriable: true)
    }
}
