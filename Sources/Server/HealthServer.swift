import Foundation
import Hummingbird
import Logging
import NIOCore

/// The small HTTP face of a pipeline worker (`millstream run --health-port`): `/healthz` and `/readyz` for probes,
/// `/metrics` (viewer token) for Prometheus.
public struct HealthServer {
    let router: Router<ServerContext>
    let options: ServerOptions
    let logger: Logger
    public let endpoints: [Endpoint]

    public init(
        options: ServerOptions, tokens: TokenStore, metrics: ServerMetrics, ready: @escaping @Sendable () -> Bool,
        logger: Logger = Logger(label: "millstream.health")
    ) {
        let router = Router(context: ServerContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(tokens: tokens))
        var routes = RouteTable(router: router)
        routes.add(.get, "/healthz", role: nil, "Liveness: the worker answers") { _, _ in
            JSON.response(["status": "ok", "version": options.version])
        }
        routes.add(.get, "/readyz", role: nil, "Readiness: the worker has joined its group and read its partitions") {
            _, _ in
            ready()
                ? JSON.response(["status": "ready"])
                : JSON.response(["status": "starting"], status: .serviceUnavailable)
        }
        routes.add(.get, "/metrics", role: .viewer, "Prometheus metrics of the worker") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.text())))
        }
        self.router = router
        self.options = options
        self.logger = logger
        self.endpoints = routes.endpoints
    }

    public func application(onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(options.host, port: options.port), serverName: "Millstream/\(options.version)"),
            onServerRunning: onServerRunning, logger: logger)
    }
}
