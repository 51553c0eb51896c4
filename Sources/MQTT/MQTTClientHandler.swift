import MQTTWire
import NIOCore

/// Splits the byte stream into MQTT control packets.
struct MQTTPacketDecoder: ByteToMessageDecoder {
    typealias InboundOut = MQTTPacket
    let codec: MQTTCodec

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let packet = try codec.read(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(packet))
        return .continue
    }
}

/// What the connection asks of its handler; each completes its promise (or fails it when the connection ends).
enum MQTTCommand {
    case connect(MQTTConnect, EventLoopPromise<MQTTConnAck>)
    case subscribe(MQTTSubscribe, EventLoopPromise<MQTTSubAck>)
    case unsubscribe(MQTTUnsubscribe, EventLoopPromise<MQTTSubAck>)
    /// Completed when written (QoS 0), acknowledged (QoS 1) or completed (QoS 2).
    case publish(MQTTPublish, EventLoopPromise<Void>)
    case acknowledge([(packetID: UInt16, qos: MQTTQoS)])
    case disconnect(MQTTDisconnect)
}

/// The client's protocol state on the connection's event loop (no task of its own): packet identifiers and the
/// requests waiting for them, the QoS 2 exchanges, keep-alive, the broker's receive maximum, and the received
/// messages handed to an async sequence with back-pressure (reading from the socket stops while the consumer is
/// behind).
final class MQTTClientHandler: ChannelDuplexHandler {
    typealias InboundIn = MQTTPacket
    typealias OutboundIn = MQTTCommand
    typealias OutboundOut = ByteBuffer
    typealias Source = NIOThrowingAsyncSequenceProducer<
        [MQTTMessage], any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark,
        MQTTReadDelegate
    >.Source

    private enum Waiter {
        case subscription(EventLoopPromise<MQTTSubAck>)
        case publish(EventLoopPromise<Void>, qos: MQTTQoS)
    }

    private let codec: MQTTCodec
    private let endpoint: String
    private let keepAliveSeconds: UInt16
    private let source: Source
    private var connecting: EventLoopPromise<MQTTConnAck>?
    private var waiting: [UInt16: Waiter] = [:]
    private var lastID: UInt16 = 0
    /// Publishes held back while the broker's receive maximum of QoS 1 and 2 messages is in flight.
    private var held: [(MQTTPublish, EventLoopPromise<Void>)] = []
    private var inFlight = 0
    private var sendQuota = Int(UInt16.max)
    private var batch: [MQTTMessage] = []
    private var keepAlive: RepeatedTask?
    private var lastWrite = NIODeadline.now()
    private var pingSent: NIODeadline?
    /// Why the connection ends, when it is not our own DISCONNECT.
    private var failure: MQTTError?
    private var disconnecting = false
    /// The consumer has the most batches it may have waiting; `paused`: the socket is not being read.
    private var consumerBehind = false
    private var paused = false
    private var finished = false

    init(codec: MQTTCodec, endpoint: String, keepAliveSeconds: UInt16, source: Source) {
        self.codec = codec
        self.keepAliveSeconds = keepAliveSeconds
        self.endpoint = endpoint
        self.source = source
    }

    // MARK: outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        defer { updateReading(context) }
        switch unwrapOutboundIn(data) {
        case .connect(let connect, let answer):
            connecting = answer
            send(.connect(connect), context: context, promise: promise)
        case .subscribe(var subscribe, let answer):
            subscribe.packetID = nextID()
            waiting[subscribe.packetID] = .subscription(answer)
            send(.subscribe(subscribe), context: context, promise: promise)
        case .unsubscribe(var unsubscribe, let answer):
            unsubscribe.packetID = nextID()
            waiting[unsubscribe.packetID] = .subscription(answer)
            send(.unsubscribe(unsubscribe), context: context, promise: promise)
        case .publish(let publish, let answer):
            promise?.succeed()
            if publish.qos == .atMostOnce {
                send(.publish(publish), context: context, promise: answer)
            } else if inFlight >= sendQuota {
                held.append((publish, answer))
            } else {
                startPublish(publish, answer, context: context)
            }
        case .acknowledge(let messages):
            for m in messages {
                let ack = MQTTAcknowledgement(packetID: m.packetID)
                send(m.qos == .exactlyOnce ? .pubrec(ack) : .puback(ack), context: context, promise: nil)
            }
            promise?.succeed()
        case .disconnect(let disconnect):
            disconnecting = true
            send(.disconnect(disconnect), context: context, promise: promise)
        }
    }

    private func startPublish(_ publish: MQTTPublish, _ answer: EventLoopPromise<Void>, context: ChannelHandlerContext)
    {
        var publish = publish
        publish.packetID = nextID()
        inFlight += 1
        waiting[publish.packetID!] = .publish(answer, qos: publish.qos)
        send(.publish(publish), context: context, promise: nil)
    }

    private func send(_ packet: MQTTPacket, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        codec.write(packet, to: &buffer)
        lastWrite = .now()
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    /// The next packet identifier not in use (1...65535; 0 is not allowed).
    private func nextID() -> UInt16 {
        repeat { lastID = lastID == UInt16.max ? 1 : lastID + 1 } while waiting[lastID] != nil
        return lastID
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let packet = unwrapInboundIn(data)
        defer { updateReading(context) }
        switch packet {
        case .connack(let ack): connected(ack, context: context)
        case .publish(let publish): batch.append(publish)
        case .puback(let ack): finishPublish(ack, context: context)
        case .pubrec(let ack):
            if ack.reason >= 0x80 {
                finishPublish(ack, context: context)
            } else {
                send(.pubrel(MQTTAcknowledgement(packetID: ack.packetID)), context: context, promise: nil)
                context.flush()
            }
        case .pubrel(let ack):
            send(.pubcomp(MQTTAcknowledgement(packetID: ack.packetID)), context: context, promise: nil)
            context.flush()
        case .pubcomp(let ack): finishPublish(ack, context: context)
        case .suback(let ack), .unsuback(let ack):
            if case .subscription(let promise) = waiting.removeValue(forKey: ack.packetID) { promise.succeed(ack) }
        case .pingresp: pingSent = nil
        case .disconnect(let d):
            failure = MQTTError(
                "broker \(endpoint) disconnected: \(MQTTReason.name(d.reason, version: codec.version))"
                    + reasonString(d.properties), retriable: true)
            context.close(promise: nil)
        case .connect, .subscribe, .unsubscribe, .pingreq, .auth:
            failure = MQTTError("broker \(endpoint) sent a packet of type \(packet.type), which a server must not send")
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        guard !batch.isEmpty else { return }
        let messages = batch
        batch = []
        if source.yield(messages) == .stopProducing {
            consumerBehind = true
            updateReading(context)
        }
    }

    /// Reading stops while the consumer is behind, unless an answer the client waits for (CONNACK, SUBACK, a PUBACK,
    /// a PINGRESP) may be behind the messages in the socket: then it goes on (the broker's receive maximum still
    /// bounds the QoS 1 and 2 messages buffered), or a consumer that subscribes before it reads would wait forever.
    private func updateReading(_ context: ChannelHandlerContext) {
        let pause = consumerBehind && connecting == nil && waiting.isEmpty && pingSent == nil
        guard pause != paused else { return }
        paused = pause
        context.channel.setOption(ChannelOptions.autoRead, value: !pause).whenComplete { _ in }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is MQTTReadDelegate.Resume {
            consumerBehind = false
            updateReading(context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func connected(_ ack: MQTTConnAck, context: ChannelHandlerContext) {
        guard let promise = connecting else { return }
        connecting = nil
        if case .twoByteInteger(let quota) = ack.properties[MQTTProperties.receiveMaximum] { sendQuota = Int(quota) }
        var seconds = Int64(0)
        if case .twoByteInteger(let s) = ack.properties[MQTTProperties.serverKeepAlive] { seconds = Int64(s) }
        promise.succeed(ack)
        if ack.code == 0 { startKeepAlive(seconds: seconds, context: context) }
    }

    private func finishPublish(_ ack: MQTTAcknowledgement, context: ChannelHandlerContext) {
        guard case .publish(let promise, _) = waiting.removeValue(forKey: ack.packetID) else { return }
        inFlight -= 1
        if ack.reason >= 0x80 {
            promise.fail(
                MQTTError(
                    "broker \(endpoint) refused a publish: \(MQTTReason.name(ack.reason, version: codec.version))"
                        + reasonString(ack.properties)))
        } else {
            promise.succeed()
        }
        while inFlight < sendQuota, !held.isEmpty {
            let (publish, answer) = held.removeFirst()
            startPublish(publish, answer, context: context)
        }
        context.flush()
    }

    private func reasonString(_ properties: MQTTProperties) -> String {
        if case .utf8(let s) = properties[MQTTProperties.reasonString] { return ": \(s)" }
        return ""
    }

    // MARK: keep-alive and the end

    /// A PINGREQ when nothing was written for the keep-alive time; the connection is dead when its PINGRESP has not
    /// come within another keep-alive time (the broker's own keep-alive, when it sets one, wins).
    private func startKeepAlive(seconds: Int64, context: ChannelHandlerContext) {
        let configured = Int64(keepAliveSeconds)
        let interval = TimeAmount.seconds(seconds > 0 ? seconds : configured)
        guard interval > .zero else { return }
        let check = TimeAmount.nanoseconds(max(interval.nanoseconds / 4, 250_000_000))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        keepAlive = context.eventLoop.scheduleRepeatedTask(initialDelay: check, delay: check) { _ in
            let (handler, context) = loopBound.value
            handler.checkKeepAlive(interval: interval, context: context)
        }
    }

    private func checkKeepAlive(interval: TimeAmount, context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if let sent = pingSent, now - sent > interval {
            failure = MQTTError("broker \(endpoint) did not answer a PINGREQ within \(interval)", retriable: true)
            context.close(promise: nil)
        } else if pingSent == nil, now - lastWrite >= interval {
            pingSent = now
            updateReading(context)
            send(.pingreq, context: context, promise: nil)
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failure == nil {
            failure =
                error as? MQTTError
                ?? MQTTError(
                    error is MQTTWireError
                        ? "broker \(endpoint) sent a malformed packet: \(error)"
                        : "connection to \(endpoint): \(error)",
                    retriable: true)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepAlive?.cancel()
        let error = failure ?? MQTTError("connection to MQTT broker \(endpoint) closed", retriable: true)
        connecting?.fail(error)
        connecting = nil
        for (_, waiter) in waiting {
            switch waiter {
            case .subscription(let p): p.fail(error)
            case .publish(let p, _): p.fail(error)
            }
        }
        waiting = [:]
        for (_, p) in held { p.fail(error) }
        held = []
        if !batch.isEmpty { _ = source.yield(batch) }
        batch = []
        if disconnecting && failure == nil { source.finish() } else { source.finish(error) }
        finished = true
        context.fireChannelInactive()
    }

    /// A channel that never became active (the connection failed) still ends its sequence.
    func handlerRemoved(context: ChannelHandlerContext) {
        if !finished { source.finish(MQTTError("connection to MQTT broker \(endpoint) failed", retriable: true)) }
        finished = true
    }
}

/// Tells the handler (on its event loop) when the consumer has caught up, and closes the connection when it stops
/// consuming altogether.
public struct MQTTReadDelegate: NIOAsyncSequenceProducerDelegate {
    struct Resume {}
    let channel: any Channel

    public func produceMore() {
        channel.pipeline.fireUserInboundEventTriggered(Resume())
    }

    public func didTerminate() {
        channel.close(promise: nil)
    }
}
