import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceLifecycle

/// The gRPC listener (TensorFlow Serving's port is 8500, its REST port 8501): HTTP/2 on SwiftNIO (grpc-swift 2), with
/// the REST server's TLS certificate and key when it has them. A Service: it stops gracefully with the others.
public struct GRPCServing: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let transport: HTTP2ServerTransport.Posix
    let bound: @Sendable (Int) -> Void

    init(
        host: String, port: Int, tls: (certificate: String, key: String)?, service: GRPCPredictService,
        bound: @escaping @Sendable (Int) -> Void
    ) {
        let security: HTTP2ServerTransport.Posix.TransportSecurity =
            tls.map {
                .tls(
                    certificateChain: [.file(path: $0.certificate, format: .pem)],
                    privateKey: .file(path: $0.key, format: .pem))
            } ?? .plaintext
        transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: host, port: port), transportSecurity: security, config: .defaults)
        server = GRPCServer(transport: transport, services: [service])
        self.bound = bound
    }

    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                try await withGracefulShutdownHandler {
                    try await server.serve()
                } onGracefulShutdown: {
                    server.beginGracefulShutdown()
                }
            }
            if let port = try? await transport.listeningAddress.ipv4?.port { bound(port) }
        }
    }
}

extension MillstreamServer {
    /// The gRPC predict service on `options.grpcPort` (nil when that is not set); `bound` receives the bound port.
    public func grpc(bound: @escaping @Sendable (Int) -> Void = { _ in }) -> GRPCServing? {
        guard let port = options.grpcPort else { return nil }
        let tls = options.tlsCertificate.flatMap { c in options.tlsKey.map { (c, $0) } }
        return GRPCServing(
            host: options.host, port: port, tls: tls,
            service: GRPCPredictService(models: models, tokens: tokens, metrics: metrics), bound: bound)
    }
}
