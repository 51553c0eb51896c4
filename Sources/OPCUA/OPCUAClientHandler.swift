import NIOCore
import OPCUAWire

/// What the connection asks of its handler.
enum OPCUACommand {
    case hello(OPCUAHello, EventLoopPromise<OPCUAAcknowledge>)
    /// An OPN request's body (encoding id onwards); the answer's body.
    case open(ByteBuffer, EventLoopPromise<ByteBuffer>, timeout: TimeAmount)
    /// The OPN's answer: the channel, the token, its keys.
    case established(channelID: UInt32, tokenID: UInt32, keys: SymmetricKeys?)
    /// A service request's body; the answer's body.
    case request(ByteBuffer, EventLoopPromise<ByteBuffer>, timeout: TimeAmount, what: String)
    /// CloseSecureChannel: no answer comes.
    case close(ByteBuffer)
}

/// The client's side of the connection and the secure channel on the event loop: Hello, chunks sealed and opened by
/// the channel's security, sequence numbers, request ids, answers reassembled from their chunks and matched to their
/// requests, timeouts. Any failure of the connection fails every request waiting.
final class OPCUAClientHandler: ChannelDuplexHandler {
    typealias InboundIn = OPCUAChunk
    typealias OutboundIn = OPCUACommand
    typealias OutboundOut = ByteBuffer

    struct Pending {
        var promise: EventLoopPromise<ByteBuffer>
        var parts: [ByteBuffer] = []
        var timeout: Scheduled<Void>?
        var what: String
    }

    let endpoint: String
    let security: any ChunkSecurity
    var hello: EventLoopPromise<OPCUAAcknowledge>?
    var pending: [UInt32: Pending] = [:]
    var channelID: UInt32 = 0
    var tokenID: UInt32 = 0
    /// Keys by token id: the previous token's stay until the server uses the new one.
    var keys: [UInt32: SymmetricKeys] = [:]
    var sendBufferSize = 8192
    var maxChunkCount = 0
    var sequenceNumber: UInt32 = 0
    var requestID: UInt32 = 0
    var failure: OPCUAError?

    init(endpoint: String, security: any ChunkSecurity) {
        self.endpoint = endpoint
        self.security = security
    }

    // MARK: - outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        if let failure {
            fail(command, failure)
            promise?.fail(failure)
            return
        }
        switch command {
        case .hello(let message, let answer):
            hello = answer
            var body = OPCUAWriter()
            body.write(message)
            let chunk = OPCUAChunk(type: .hello, body: body.buffer)
            var out = context.channel.allocator.buffer(capacity: 64)
            chunk.write(to: &out)
            context.writeAndFlush(wrapOutboundOut(out), promise: promise)
        case .open(let body, let answer, let timeout):
            send(.openSecureChannel, body, answer, timeout: timeout, what: "OpenSecureChannel", context: context)
            promise?.succeed()
        case .established(let channel, let token, let k):
            channelID = channel
            tokenID = token
            if let k { keys[token] = k }
            promise?.succeed()
        case .request(let body, let answer, let timeout, let what):
            send(.message, body, answer, timeout: timeout, what: what, context: context)
            promise?.succeed()
        case .close(let body):
            send(.closeSecureChannel, body, nil, timeout: .zero, what: "CloseSecureChannel", context: context)
            promise?.succeed()
        }
    }

    private func fail(_ command: OPCUACommand, _ error: OPCUAError) {
        switch command {
        case .hello(_, let p): p.fail(error)
        case .open(_, let p, _), .request(_, let p, _, _): p.fail(error)
        case .established, .close: break
        }
    }

    /// Seals the body into chunks (as many as the server's receive buffer needs) and writes them.
    private func send(
        _ type: OPCUAMessageType, _ body: ByteBuffer, _ answer: EventLoopPromise<ByteBuffer>?, timeout: TimeAmount,
        what: String, context: ChannelHandlerContext
    ) {
        requestID &+= 1
        let id = requestID
        var header = OPCUAWriter()
        header.buffer.writeString(type.rawValue)
        header.buffer.writeInteger(UInt8(ascii: "F"))
        header.write(UInt32(0))  // the size, set when sealed
        header.write(channelID)
        let asymmetric = type == .openSecureChannel
        if asymmetric { header.write(security.asymmetricHeader) } else { header.write(tokenID) }
        let headerBytes = Array(header.buffer.readableBytesView)
        let perChunk =
            security.maxPlaintext(asymmetric: asymmetric, headerSize: headerBytes.count, sendBufferSize: sendBufferSize)
            - 8
        let bytes = Array(body.readableBytesView)
        let count = max(1, (bytes.count + perChunk - 1) / perChunk)
        if maxChunkCount > 0 && count > maxChunkCount || perChunk <= 0 {
            answer?.fail(OPCUAError("\(what) of \(bytes.count) bytes is larger than \(endpoint) accepts"))
            return
        }
        var out = context.channel.allocator.buffer(capacity: bytes.count + count * (headerBytes.count + 64))
        do {
            for i in 0..<count {
                var h = headerBytes
                if i < count - 1 { h[3] = UInt8(ascii: "C") }
                sequenceNumber &+= 1
                var plain = OPCUAWriter()
                plain.write(sequenceNumber)
                plain.write(id)
                plain.buffer.writeBytes(bytes[(i * perChunk)..<min(bytes.count, (i + 1) * perChunk)])
                out.writeBytes(
                    try security.seal(
                        header: h, plaintext: Array(plain.buffer.readableBytesView), asymmetric: asymmetric,
                        keys: keys[tokenID]))
            }
        } catch {
            answer?.fail(OPCUAError("\(endpoint): cannot seal \(what): \(error)"))
            return
        }
        if let answer {
            var p = Pending(promise: answer, what: what)
            if timeout > .zero {
                let loop = NIOLoopBound((self, id), eventLoop: context.eventLoop)
                p.timeout = context.eventLoop.scheduleTask(in: timeout) {
                    let (handler, id) = loop.value
                    guard let timedOut = handler.pending.removeValue(forKey: id) else { return }
                    timedOut.promise.fail(
                        OPCUAError(
                            "no answer from \(handler.endpoint) to \(timedOut.what) within \(timeout)",
                            retriable: true))
                }
            }
            pending[id] = p
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    // MARK: - inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = unwrapInboundIn(data)
        do {
            try receive(chunk, context: context)
        } catch let error as OPCUAError {
            failAll(error, context: context)
        } catch {
            failAll(OPCUAError("\(endpoint): \(error)", retriable: true), context: context)
        }
    }

    private func receive(_ chunk: OPCUAChunk, context: ChannelHandlerContext) throws {
        var r = OPCUAReader(chunk.body)
        switch chunk.type {
        case .acknowledge:
            let ack = try OPCUAAcknowledge(from: &r)
            sendBufferSize = Int(min(ack.receiveBufferSize, 1 << 24))
            maxChunkCount = Int(ack.maxChunkCount)
            hello?.succeed(ack)
            hello = nil
        case .error:
            let e = try OPCUATransportError(from: &r)
            throw OPCUAError(
                "\(endpoint) ended the connection: \(e.status)" + (e.reason.map { ": \($0)" } ?? ""), status: e.status,
                retriable: ![0x8013_0000, 0x8012_0000, 0x801A_0000, 0x8055_0000].contains(
                    e.status.rawValue & 0xFFFF_0000))
        case .openSecureChannel, .message, .closeSecureChannel:
            try secured(chunk, context: context)
        case .hello, .reverseHello:
            throw OPCUAError("\(endpoint) sent a \(chunk.type.rawValue) message, which only clients send")
        }
    }

    private func secured(_ chunk: OPCUAChunk, context: ChannelHandlerContext) throws {
        var r = OPCUAReader(chunk.body)
        let channel = try r.read(UInt32.self)
        let asymmetric = chunk.type == .openSecureChannel
        var token: UInt32 = 0
        if asymmetric {
            _ = try OPCUAAsymmetricHeader(from: &r)
        } else {
            token = try r.read(UInt32.self)
            guard channel == channelID else {
                throw OPCUAError("\(endpoint) answered on secure channel \(channel), not \(channelID)")
            }
        }
        let headerSize = 8 + chunk.body.readableBytes - r.remaining
        let whole =
            (Array(chunk.type.rawValue.utf8) + [chunk.flag, 0, 0, 0, 0]).withSize(8 + chunk.body.readableBytes)
            + chunk.body.readableBytesView
        let plain = try security.open(
            chunk: whole, headerSize: headerSize, asymmetric: asymmetric, keys: asymmetric ? nil : keys[token])
        // The server uses the current token: the previous one's keys are done.
        if !asymmetric && token == tokenID && keys.count > 1 { keys = [token: keys[token]!] }
        var p = OPCUAReader(ByteBuffer(bytes: plain))
        _ = try p.read(UInt32.self)  // sequence number
        let id = try p.read(UInt32.self)
        guard var waiting = pending[id] else { return }  // timed out, or CLO's
        switch chunk.flag {
        case UInt8(ascii: "C"):
            waiting.parts.append(p.buffer)
            pending[id] = waiting
        case UInt8(ascii: "A"):
            pending[id] = nil
            waiting.timeout?.cancel()
            let status = (try? p.read(UInt32.self)).map(OPCUAStatusCode.init) ?? OPCUAStatusCode(0x8001_0000)
            waiting.promise.fail(
                OPCUAError("\(endpoint) aborted its answer to \(waiting.what): \(status)", status: status))
        default:
            pending[id] = nil
            waiting.timeout?.cancel()
            var body = p.buffer
            if !waiting.parts.isEmpty {
                var all = context.channel.allocator.buffer(
                    capacity: waiting.parts.reduce(body.readableBytes) {
                        $0 + $1.readableBytes
                    })
                for var part in waiting.parts { all.writeBuffer(&part) }
                all.writeBuffer(&body)
                body = all
            }
            waiting.promise.succeed(body)
        }
    }

    private func failAll(_ error: OPCUAError, context: ChannelHandlerContext) {
        if failure == nil { failure = error }
        hello?.fail(error)
        hello = nil
        let waiting = pending
        pending = [:]
        for (_, p) in waiting {
            p.timeout?.cancel()
            p.promise.fail(error)
        }
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(
            error as? OPCUAError ?? OPCUAError("connection to \(endpoint) failed: \(error)", retriable: true),
            context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(OPCUAError("\(endpoint) closed the connection", retriable: true), context: context)
        context.fireChannelInactive()
    }
}
