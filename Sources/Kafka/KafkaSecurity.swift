import KafkaWire
public import NIOCore

/// How a connection authenticates: plaintext, or SASL on top.
public struct KafkaSecurity: Sendable {
    public enum SASL: Sendable {
        /// RFC 4616: user name and password in the clear (use it over TLS only).
        case plain(user: String, password: String)
    }

    public var sasl: SASL?

    public static let plaintext = KafkaSecurity(sasl: nil)

    public init(sasl: SASL?) {
        self.sasl = sasl
    }

    /// Adds what the security settings need in front of Kafka's framing.
    func configure(_ channel: any Channel, host: String) throws {}
}

extension KafkaConnection {
    /// SaslHandshake, then SaslAuthenticate rounds until the mechanism is done.
    func authenticate(_ sasl: KafkaSecurity.SASL) async throws {
        let mechanism: String
        switch sasl {
        case .plain: mechanism = "PLAIN"
        }
        var body = ByteBuffer()
        SaslHandshake.write(mechanism: mechanism, to: &body)
        var answer = try await send(
            .saslHandshake, version: try version(of: .saslHandshake, supported: SaslHandshake.versions), body: body)
        let handshake = try SaslHandshake.read(from: &answer)
        guard handshake.errorCode == 0 else {
            throw KafkaError.broker(
                handshake.errorCode,
                "broker \(address) does not offer SASL \(mechanism) (it offers \(handshake.mechanisms.joined(separator: ", ")))"
            )
        }
        switch sasl {
        case .plain(let user, let password):
            _ = try await saslRound(Array(("\0" + user + "\0" + password).utf8))
        }
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
