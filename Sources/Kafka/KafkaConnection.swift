import KafkaWire
public import NIOCore
import NIOPosix

/// A problem talking to Kafka: what, where, and the broker's error code when it sent one.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let code: KafkaErrorCode?
    /// True when the request may succeed if tried again (a lost connection, a leader change, a timeout).
    public let retriable: Bool

    public init(_ message: String, code: KafkaErrorCode? = nil, retriable: Bool? = nil) {
        self.message = message
        self.code = code
        self.retriable = retriable ?? code?.retriable ?? false
    }
    public var description: String { message }

    /// The broker answered `code` (not NONE): an error naming it, what was asked and where.
    static func broker(_ code: Int16, _ what: String, message: String? = nil) -> KafkaError {
        let c = KafkaErrorCode.named(code)
        return KafkaError("\(what): \(c.name)\(message.map { ": \($0)" } ?? "")", code: c)
    }
}

/// One TCP connection to one broker. Requests are framed, given correlation ids and matched to their responses on
/// the connection's event loop (a channel handler, no task of its own), so any number may be in flight and a closed
/// connection fails every one of them at once. Create with `connect`, end with `close`.
public final class KafkaConnection: Sendable {
    public let address: String
    public let host: String
    public let port: Int
    /// The broker's supported versions, from the ApiVersions handshake.
    public let versions: ApiVersionsResponse
    private let channel: any Channel
    private let requestTimeout: TimeAmount

    private init(
        host: String, port: Int, channel: any Channel, versions: ApiVersionsResponse, requestTimeout: TimeAmount
    ) {
        self.host = host
        self.port = port
        self.address = "\(host):\(port)"
        self.channel = channel
        self.versions = versions
        self.requestTimeout = requestTimeout
    }

    /// Connects and performs the ApiVersions handshake (v3, falling back to v0 for old brokers), then SASL if asked.
    public static func connect(
        host: String, port: Int, clientID: String = "millstream", timeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(30), security: KafkaSecurity = .plaintext
    ) async throws -> KafkaConnection {
        let address = "\(host):\(port)"
        let channel: any Channel
        let group = MultiThreadedEventLoopGroup.singleton
        // With TLS: completed when the handshake is done (or failed), so its error is reported as such.
        let tlsReady = security.tls == nil ? nil : group.any().makePromise(of: Void.self)
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(timeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try security.configure(channel, host: host, handshake: tlsReady)
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(
                            KafkaRequestHandler(clientID: clientID, address: address))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            tlsReady?.fail(error)
            throw KafkaError("cannot connect to Kafka broker \(address): \(error)", retriable: true)
        }
        if let tlsReady {
            let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                tlsReady.fail(KafkaError("no TLS handshake within \(timeout)"))
            }
            do {
                try await tlsReady.futureResult.get()
                deadline.cancel()
            } catch {
                deadline.cancel()
                try? await channel.close()
                throw KafkaError("TLS handshake with Kafka broker \(address) failed: \(error)", retriable: true)
            }
        }
        let rt = TimeAmount(requestTimeout)
        do {
            let versions = try await handshake(channel, address: address, timeout: TimeAmount(timeout))
            let connection = KafkaConnection(
                host: host, port: port, channel: channel, versions: versions, requestTimeout: rt)
            if let sasl = security.sasl { try await connection.authenticate(sasl) }
            return connection
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Connects, runs `body`, and closes the connection whatever happens.
    public static func withConnection<T: Sendable>(
        host: String, port: Int, clientID: String = "millstream", timeout: Duration = .seconds(10),
        _ body: @Sendable (KafkaConnection) async throws -> T
    ) async throws -> T {
        let connection = try await connect(host: host, port: port, clientID: clientID, timeout: timeout)
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    private static func handshake(_ channel: any Channel, address: String, timeout: TimeAmount) async throws
        -> ApiVersionsResponse
    {
        func ask(_ version: Int16) async throws -> ApiVersionsResponse {
            var body = ByteBuffer()
            ApiVersionsRequest().write(to: &body, version: version)
            var response = try await request(channel, .apiVersions, version, body, timeout: timeout)
            let decoded = try ApiVersionsResponse.read(from: &response, version: version)
            guard decoded.errorCode == 0 else {
                throw KafkaError.broker(decoded.errorCode, "broker \(address) refused ApiVersions v\(version)")
            }
            return decoded
        }
        do {
            return try await ask(3)
        } catch let error as KafkaError where error.code?.code == 35 {
            return try await ask(0)  // UNSUPPORTED_VERSION: an old broker
        }
    }

    private static func request(
        _ channel: any Channel, _ key: ApiKey, _ version: Int16, _ body: ByteBuffer, timeout: TimeAmount
    ) async throws -> ByteBuffer {
        try await write(
            channel, address: "\(channel.remoteAddress.map { "\($0)" } ?? "broker")", key, version, body,
            timeout: timeout
        ).get()
    }

    /// Hands a request to the channel. If it never reaches the handler (the channel closed first), the write fails
    /// and so does the request; otherwise the handler completes it.
    private static func write(
        _ channel: any Channel, address: String, _ key: ApiKey, _ version: Int16, _ body: ByteBuffer,
        timeout: TimeAmount, expectsResponse: Bool = true
    ) -> EventLoopFuture<ByteBuffer> {
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            promise.fail(KafkaError("\(address): the request could not be written: \(error)", retriable: true))
        }
        channel.writeAndFlush(
            KafkaRequestHandler.Request(
                key: key, version: version, body: body, promise: promise, timeout: timeout,
                expectsResponse: expectsResponse),
            promise: written)
        return promise.futureResult
    }

    /// The highest version of `key` in `supported` that the broker also supports.
    public func version(of key: ApiKey, supported: ClosedRange<Int16>) throws -> Int16 {
        guard let v = versions.version(of: key, supported: supported) else {
            throw KafkaError(
                "broker \(address) supports no version of \(key) in \(supported.lowerBound)...\(supported.upperBound)")
        }
        return v
    }

    /// Sends a request body and returns the response body (after the response header).
    public func send(_ key: ApiKey, version: Int16, body: ByteBuffer, timeout: Duration? = nil) async throws
        -> ByteBuffer
    {
        try await enqueue(key, version: version, body: body, timeout: timeout).get()
    }

    /// Writes a request now (requests enqueued from one task reach the broker in that order) and returns the future
    /// response. The idempotent producer relies on the ordering.
    public func enqueue(_ key: ApiKey, version: Int16, body: ByteBuffer, timeout: Duration? = nil)
        -> EventLoopFuture<ByteBuffer>
    {
        Self.write(
            channel, address: address, key, version, body, timeout: timeout.map(TimeAmount.init) ?? requestTimeout)
    }

    /// Sends a request whose answer the broker does not send (Produce with acks 0).
    public func sendWithoutResponse(_ key: ApiKey, version: Int16, body: ByteBuffer) async throws {
        _ = try await Self.write(
            channel, address: address, key, version, body, timeout: requestTimeout, expectsResponse: false
        ).get()
    }

    public var isActive: Bool { channel.isActive }

    public func close() async {
        try? await channel.close()
    }
}

/// Frames requests, assigns correlation ids, and completes each request's promise with its response body. Lives on
/// the channel's event loop; a closed channel or a timed-out request fails every pending request (a timeout closes
/// the connection, as Kafka's clients do: the stream's state is unknown after it).
final class KafkaRequestHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    struct Request: Sendable {
        var key: ApiKey
        var version: Int16
        var body: ByteBuffer
        var promise: EventLoopPromise<ByteBuffer>
        var timeout: TimeAmount
        var expectsResponse = true
    }

    private struct Pending {
        var key: ApiKey
        var version: Int16
        var promise: EventLoopPromise<ByteBuffer>
        var deadline: Scheduled<Void>?
    }

    private let clientID: String
    private let address: String
    private var pending: [Int32: Pending] = [:]
    private var nextCorrelation: Int32 = 1
    private var closedReason: String?

    init(clientID: String, address: String) {
        self.clientID = clientID
        self.address = address
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let closedReason {
            request.promise.fail(KafkaError("\(address): \(closedReason)", retriable: true))
            promise?.succeed()
            return
        }
        let correlation = nextCorrelation
        nextCorrelation = nextCorrelation == Int32.max ? 1 : nextCorrelation + 1
        // The length and header in a buffer of their own, the body as it is: the socket takes both in one gathered
        // write, so a produce request's megabyte is not copied into a frame first.
        var header = context.channel.allocator.buffer(capacity: 64)
        header.writeInteger(Int32(0), endianness: .big)
        RequestHeader(
            apiKey: request.key, apiVersion: request.version, correlationID: correlation, clientID: clientID
        ).write(to: &header)
        header.setInteger(Int32(header.readableBytes - 4 + request.body.readableBytes), at: 0, endianness: .big)
        context.write(wrapOutboundOut(header), promise: nil)
        let frame = request.body
        if request.expectsResponse {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let deadline = context.eventLoop.scheduleTask(in: request.timeout) {
                let (handler, context) = loopBound.value
                handler.timedOut(correlation, context: context)
            }
            pending[correlation] = Pending(
                key: request.key, version: request.version, promise: request.promise, deadline: deadline)
            context.writeAndFlush(wrapOutboundOut(frame), promise: promise)
        } else {
            promise?.succeed()
            let done = context.eventLoop.makePromise(of: Void.self)
            done.futureResult.whenComplete { result in
                switch result {
                case .success: request.promise.succeed(ByteBuffer())
                case .failure(let e):
                    request.promise.fail(KafkaError("\(self.address): write failed: \(e)", retriable: true))
                }
            }
            context.writeAndFlush(wrapOutboundOut(frame), promise: done)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        guard let correlation = frame.getInteger(at: frame.readerIndex, endianness: .big, as: Int32.self),
            let p = pending.removeValue(forKey: correlation)
        else { return }  // an answer to a request that timed out
        p.deadline?.cancel()
        do {
            _ = try ResponseHeader.read(from: &frame, apiKey: p.key, version: p.version)
            p.promise.succeed(frame)
        } catch {
            p.promise.fail(error)
        }
    }

    private func timedOut(_ correlation: Int32, context: ChannelHandlerContext) {
        guard let p = pending[correlation] else { return }
        failAll("\(p.key) v\(p.version) got no answer in time; the connection was closed")
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll("the broker closed the connection")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll("the connection failed: \(error)")
        context.close(promise: nil)
    }

    private func failAll(_ reason: String) {
        closedReason = closedReason ?? reason
        let all = pending
        pending.removeAll()
        for (_, p) in all {
            p.deadline?.cancel()
            p.promise.fail(KafkaError("\(address): \(reason)", retriable: true))
        }
    }
}
