public import ClientTLS
import Crypto
import KafkaWire
public import NIOCore

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

    /// TLS to the broker (the shared client TLS settings).
    public typealias TLS = ClientTLS

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
        do {
            try tls.configure(channel, host: host, handshake: handshake)
        } catch let error as ClientTLS.SetupError {
            throw KafkaError(error.description)
        }
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
