public import NIOCore
import NIOSSL
import NIOTLS

/// TLS from a client (the Kafka and MQTT clients share it): the server's certificate must chain to `caFile` (PEM) or,
/// without one, to the system's trust store, and name the host connected to (or `serverName`). With `certificateFile`
/// and `keyFile` the client presents its own certificate (mutual TLS).
public struct ClientTLS: Sendable, Equatable {
    public var caFile: String?
    public var serverName: String?
    public var certificateFile: String?
    public var keyFile: String?

    public init(
        caFile: String? = nil, serverName: String? = nil, certificateFile: String? = nil, keyFile: String? = nil
    ) {
        self.caFile = caFile
        self.serverName = serverName
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// A TLS problem before any byte reached the server: a file that cannot be read, a configuration NIOSSL refuses.
    public struct SetupError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Adds the TLS handler (and a watcher completing `handshake` when the handshake is done, failing it otherwise) to
    /// a new channel's pipeline; call it from the channel initializer. `upgrade` puts them at the front of a pipeline
    /// that already carries a plain-text conversation (STARTTLS); call it on the channel's event loop.
    public func configure(
        _ channel: any Channel, host: String, handshake: EventLoopPromise<Void>, upgrade: Bool = false
    ) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw SetupError(description: "cannot read the CA certificates in \(caFile): \(error)")
            }
        }
        if let certificateFile, let keyFile {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map {
                    .certificate($0)
                }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw SetupError(
                    description: "cannot read the client certificate \(certificateFile) or its key \(keyFile): \(error)"
                )
            }
        }
        let context = try NIOSSLContext(configuration: configuration)
        let name = serverName ?? host
        // An IP address is checked against the certificate's IP entries; SNI carries host names only.
        let isAddress = name.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
        let handler = try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : name)
        if upgrade {
            try channel.pipeline.syncOperations.addHandler(TLSHandshakeWatcher(handshake), position: .first)
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        } else {
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.pipeline.syncOperations.addHandler(TLSHandshakeWatcher(handshake))
        }
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
        promise.fail(ClientTLS.SetupError(description: "the connection closed during the TLS handshake"))
        context.fireChannelInactive()
    }
}
