public import NIOCore
import NIOPosix

/// Splits the byte stream into MBAP frames.
struct ModbusFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = (MBAPHeader, ByteBuffer)

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try MBAPHeader.read(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }
}

/// Matches responses to requests by transaction id on the connection's event loop; a closed connection or a timeout
/// fails the requests waiting.
final class ModbusClientHandler: ChannelDuplexHandler {
    typealias InboundIn = (MBAPHeader, ByteBuffer)
    typealias OutboundIn = Pending
    typealias OutboundOut = ByteBuffer

    struct Pending {
        let unit: UInt8
        let request: ModbusRequest
        let promise: EventLoopPromise<ModbusResponse>
        let timeout: TimeAmount
    }

    private let endpoint: String
    private var waiting: [UInt16: (Pending, Scheduled<Void>)] = [:]
    private var last: UInt16 = 0

    init(endpoint: String) { self.endpoint = endpoint }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let p = unwrapOutboundIn(data)
        repeat { last &+= 1 } while waiting[last] != nil
        let id = last
        var pdu = ByteBuffer()
        p.request.write(to: &pdu)
        var frame = context.channel.allocator.buffer(capacity: 7 + pdu.readableBytes)
        MBAPHeader(transaction: id, unit: p.unit, length: pdu.readableBytes).write(to: &frame)
        frame.writeBuffer(&pdu)
        let endpoint = endpoint
        let timer = context.eventLoop.scheduleTask(in: p.timeout) { [weak self] in
            guard let self, let (pending, _) = self.waiting.removeValue(forKey: id) else { return }
            pending.promise.fail(
                ModbusError("\(endpoint) unit \(pending.unit): no answer within \(p.timeout)", retriable: true))
        }
        waiting[id] = (p, timer)
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var (header, pdu) = unwrapInboundIn(data)
        guard let (pending, timer) = waiting.removeValue(forKey: header.transaction) else { return }
        timer.cancel()
        do {
            pending.promise.succeed(try ModbusResponse.read(&pdu, answering: pending.request))
        } catch {
            pending.promise.fail(ModbusError("\(endpoint) unit \(pending.unit) sent \(error.message)"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(ModbusError("\(endpoint): \(error)", retriable: true))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ModbusError("connection to Modbus device \(endpoint) closed", retriable: true))
        context.fireChannelInactive()
    }

    private func fail(_ error: ModbusError) {
        for (_, (p, timer)) in waiting {
            timer.cancel()
            p.promise.fail(error)
        }
        waiting = [:]
    }
}

/// One TCP connection to a Modbus device or gateway. Requests carry a transaction id and may overlap (a device that
/// takes one at a time answers them in turn).
public final class ModbusConnection: Sendable {
    public let host: String
    public let port: Int
    private let channel: any Channel
    /// How long a request waits for its answer.
    private let timeout: TimeAmount

    public var endpoint: String { "modbus://\(host):\(port)" }
    public var isActive: Bool { channel.isActive }

    private init(host: String, port: Int, channel: any Channel, timeout: TimeAmount) {
        self.host = host
        self.port = port
        self.channel = channel
        self.timeout = timeout
    }

    public static func connect(host: String, port: Int = 502, timeout: Duration = .seconds(3)) async throws
        -> ModbusConnection
    {
        let endpoint = "modbus://\(host):\(port)"
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(timeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ModbusFrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(ModbusClientHandler(endpoint: endpoint))
                    }
                }
                .connect(host: host, port: port).get()
            return ModbusConnection(host: host, port: port, channel: channel, timeout: TimeAmount(timeout))
        } catch {
            throw ModbusError("cannot connect to Modbus device \(endpoint): \(error)", retriable: true)
        }
    }

    /// Sends a request to `unit` and returns its answer; a Modbus exception is an error naming the function, the
    /// address and the exception.
    public func send(_ request: ModbusRequest, unit: UInt8 = 1) async throws -> ModbusResponse {
        let promise = channel.eventLoop.makePromise(of: ModbusResponse.self)
        do {
            try await channel.writeAndFlush(
                ModbusClientHandler.Pending(unit: unit, request: request, promise: promise, timeout: timeout))
        } catch {
            promise.fail(error)
            throw ModbusError("connection to Modbus device \(endpoint) is closed: \(error)", retriable: true)
        }
        let response = try await promise.futureResult.get()
        if case .exception(let function, let code) = response {
            throw ModbusError(
                "\(endpoint) unit \(unit) refused function \(function) at address \(request.address): "
                    + ModbusResponse.exceptionName(code))
        }
        return response
    }

    /// Reads `count` registers (or bits, as 0 and 1) of `table` from `address`.
    public func read(_ table: ModbusTable, address: UInt16, count: Int, unit: UInt8 = 1) async throws -> [UInt16] {
        switch try await send(.read(table, address: address, count: UInt16(count)), unit: unit) {
        case .registers(let r): return r
        case .bits(let b): return b.map { $0 ? 1 : 0 }
        default: throw ModbusError("\(endpoint) unit \(unit): an answer that is not the data read")
        }
    }

    /// Writes a point's value (scaled back to its type and order).
    public func write(_ value: Double, to point: ModbusPoint, unit: UInt8 = 1) async throws {
        switch point.table {
        case .coils: _ = try await send(.writeCoil(address: point.address, value: value != 0), unit: unit)
        case .holdingRegisters:
            let r = try point.registers(for: value)
            _ = try await send(
                r.count == 1
                    ? .writeRegister(address: point.address, value: r[0])
                    : .writeRegisters(address: point.address, values: r), unit: unit)
        case .inputRegisters, .discreteInputs:
            throw ModbusError("\(endpoint): \(point.table.rawValue) \(point.address) is read-only")
        }
    }

    public func close() async { try? await channel.close() }
}

extension ModbusRequest {
    var address: UInt16 {
        switch self {
        case .read(_, let a, _), .writeCoil(let a, _), .writeRegister(let a, _), .writeRegisters(let a, _): a
        }
    }
}
