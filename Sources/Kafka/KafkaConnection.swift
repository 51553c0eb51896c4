import KafkaWire
public import NIOCore
import NIOPosix

/// A problem talking to a Kafka broker, with the broker's address.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let code: KafkaErrorCode?
    public init(_ message: String, code: KafkaErrorCode? = nil) {
        self.message = message
        self.code = code
    }
    public var description: String { message }
}

/// One TCP connection to one broker: requests are framed and matched to their responses by correlation id, so
/// several may be in flight at once.
public actor KafkaConnection {
    public nonisolated let address: String
    private let channel: any Channel
    private var pending: [Int32: (ApiKey, Int16, CheckedContinuation<ByteBuffer, any Error>)] = [:]
    private var nextCorrelation: Int32 = 1
    private var closedReason: String?
    /// The broker's supported versions, from the ApiVersions handshake.
    public private(set) var versions = ApiVersionsResponse(apiKeys: [])
    let clientID: String

    private init(address: String, channel: any Channel, clientID: String) {
        self.address = address
        self.channel = channel
        self.clientID = clientID
    }

    /// Connects, performs the ApiVersions handshake (v3, falling back to v0), runs `body`, then closes.
    public static func withConnection<T: Sendable>(
        host: String, port: Int, clientID: String = "millstream", timeout: Duration = .seconds(10),
        _ body: @Sendable (KafkaConnection) async throws -> T
    ) async throws -> T {
        let address = "\(host):\(port)"
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(Int64(timeout.components.seconds * 1000)))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw KafkaError("cannot connect to Kafka broker \(address): \(error)")
        }
        let raw = channel.channel
        return try await channel.executeThenClose { inbound, _ in
            let connection = KafkaConnection(address: address, channel: raw, clientID: clientID)
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    do {
                        for try await frame in inbound { await connection.deliver(frame) }
                        await connection.fail("the broker closed the connection")
                    } catch {
                        await connection.fail("the connection failed: \(error)")
                    }
                    return nil
                }
                // Closing the channel ends the reader's loop, so the group can finish (also on errors).
                do {
                    try await connection.handshake()
                    let result = try await body(connection)
                    raw.close(promise: nil)
                    return result
                } catch {
                    raw.close(promise: nil)
                    throw error
                }
            }
        }
    }

    private func handshake() async throws {
        do {
            versions = try await apiVersions(version: 3)
        } catch let error as KafkaError where error.code?.code == 35 {
            versions = try await apiVersions(version: 0)  // UNSUPPORTED_VERSION: an old broker
        }
    }

    private func apiVersions(version: Int16) async throws -> ApiVersionsResponse {
        var body = ByteBuffer()
        ApiVersionsRequest().write(to: &body, version: version)
        var response = try await send(.apiVersions, version: version, body: body)
        let decoded = try ApiVersionsResponse.read(from: &response, version: version)
        guard decoded.errorCode == 0 else {
            throw KafkaError(
                "broker \(address) refused ApiVersions v\(version): \(KafkaErrorCode.named(decoded.errorCode))",
                code: .named(decoded.errorCode))
        }
        return decoded
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
    public func send(_ key: ApiKey, version: Int16, body: ByteBuffer) async throws -> ByteBuffer {
        if let closedReason { throw KafkaError("\(address): \(closedReason)") }
        let correlation = nextCorrelation
        nextCorrelation = nextCorrelation == Int32.max ? 1 : nextCorrelation + 1
        var frame = ByteBuffer()
        frame.writeInteger(Int32(0), endianness: .big)
        RequestHeader(apiKey: key, apiVersion: version, correlationID: correlation, clientID: clientID).write(
            to: &frame)
        var b = body
        frame.writeBuffer(&b)
        frame.setInteger(Int32(frame.readableBytes - 4), at: 0, endianness: .big)
        return try await withCheckedThrowingContinuation { continuation in
            pending[correlation] = (key, version, continuation)
            // A failed write closes the channel, and the reader then fails every pending request.
            channel.writeAndFlush(frame, promise: nil)
        }
    }

    private func deliver(_ frame: ByteBuffer) {
        var f = frame
        guard let correlation = f.getInteger(at: f.readerIndex, endianness: .big, as: Int32.self),
            let (key, version, continuation) = pending.removeValue(forKey: correlation)
        else { return }
        do {
            _ = try ResponseHeader.read(from: &f, apiKey: key, version: version)
            continuation.resume(returning: f)
        } catch {
            continuation.resume(throwing: error)
        }
    }

    private func fail(_ reason: String) {
        closedReason = closedReason ?? reason
        for (_, (_, _, c)) in pending { c.resume(throwing: KafkaError("\(address): \(reason)")) }
        pending.removeAll()
    }
}
