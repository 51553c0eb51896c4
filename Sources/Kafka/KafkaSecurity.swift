import Crypto
import KafkaWire
public import NIOCore
import NIOSSL
import NIOTLS

/// How a connection authenticates: plaintext, or SASL on top.
public struct KafkaSecurity: Sendable {
    public enum SASL: Sendable {
        /// RFC 4616: user name and password in the clear (use it over TLS only).
        case plain(user: String, password: String)
        /// RFC 5802 / 7677: a salted challenge-response; the password never crosses the wire.
        case scramSHA256(user: String, password: String)
        case scramSHA512(user: String, password: String)

        public var mechanism: String {
            switch self {
            case .plain: "PLAIN"
            case .scramSHA256: "SCRAM-SHA-256"
            case .scramSHA512: "SCRAM-SHA-512"
            }
        }
    }

    /// TLS to the broker: the certificate must chain to `caFile` (PEM) or, without one, to the system's trust store,
    /// and name the host connected to.
    public struct TLS: Sendable {
        public var caFile: String?
        public var serverName: String?
        public init(caFile: String? = nil, serverName: String? = nil) {
            self.caFile = caFile
            self.serverName = serverName
        }
    }

    public var tls: TLS?
    public var sasl: SASL?

    public static let plaintext = KafkaSecurity(tls: nil, sasl: nil)

    public init(tls: TLS? = nil, sasl: SASL? = nil) {
        self.tls = tls
        self.sasl = sasl
    }

    /// Adds what the security settings need in front of Kafka's framing.
    func configure(_ channel: any Channel, host: String, handshake: EventLoopPromise<Void>?) throws {
        guard let tls, let handshake else { return }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile = tls.caFile {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw KafkaError("cannot read the CA certificates in \(caFile): \(error)")
            }
        }
        let context = try NIOSSLContext(configuration: configuration)
        let name = tls.serverName ?? host
        // An IP address is checked against the certificate's IP entries; SNI carries host names only.
        let isAddress = name.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
        let handler = try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : name)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.pipeline.syncOperations.addHandler(TLSHandshakeWatcher(handshake))
    }
}

/// Completes `promise` when the TLS handshake finishes, fails it with the TLS error otherwise.
final class TLSHandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let promise: EventLoopPromise<Void>

    init(_ promise: EventLoopPromise<Void>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { promise.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(KafkaError("the connection closed during the TLS handshake"))
        context.fireChannelInactive()
    }
}

extension KafkaConnection {
    /// SaslHandshake, then SaslAuthenticate rounds until the mechanism is done.
    func authenticate(_ sasl: KafkaSecurity.SASL) async throws {
        let mechanism = sasl.mechanism
        var body = ByteBuffer()
        SaslHandshake.write(mechanism: mechanism, to: &body)
        var answer = try await send(
            .saslHandshake, version: try version(of: .saslHandshake, supported: SaslHandshake.versions), body: body)
        let handshake = try SaslHandshake.read(from: &answer)
        guard handshake.errorCode == 0 else {
            throw KafkaError.broker(
                handshake.errorCode,
                "broker \(address) refused SASL \(mechanism) (it lists \(handshake.mechanisms.joined(separator: ", ")))"
            )
        }
        switch sasl {
        case .plain(let user, let password):
            _ = try await saslRound(Array(("\0" + user + "\0" + password).utf8))
        case .scramSHA256(let user, let password):
            var scram = SCRAMClient<SHA256>(user: user, password: password)
            try await scramExchange(&scram)
        case .scramSHA512(let user, let password):
            var scram = SCRAMClient<SHA512>(user: user, password: password)
            try await scramExchange(&scram)
        }
    }

    private func scramExchange<H: SCRAMHash>(_ scram: inout SCRAMClient<H>) async throws {
        let serverFirst = String(decoding: try await saslRound(Array(scram.clientFirst().utf8)), as: UTF8.self)
        let final = try scram.clientFinal(serverFirst: serverFirst)
        let serverFinal = String(decoding: try await saslRound(Array(final.utf8)), as: UTF8.self)
        try scram.verify(serverFinal: serverFinal)
    }

    func saslRound(_ bytes: [UInt8]) async throws -> [UInt8] {
        var body = ByteBuffer()
        SaslAuthenticate.write(bytes, to: &body)
        let v = try version(of: .saslAuthenticate, supported: SaslAuthenticate.versions)
        var answer = try await send(.saslAuthenticate, version: v, body: body)
        let r = try SaslAuthenticate.read(from: &answer)
        guard r.errorCode == 0 else {
            throw KafkaError.broker(r.errorCode, "SASL authentication with \(address) failed", message: r.errorMessage)
        }
        return r.bytes
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }
}
