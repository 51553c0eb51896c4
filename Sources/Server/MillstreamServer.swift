import Bus
import Foundation
import HTTPTypes
import Historian
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Primitives
import Registry
import Tracing

/// Where and how the server listens.
public struct ServerOptions: Sendable {
    public static let defaultMaxBodyBytes = 4 << 20
    public var host = "127.0.0.1"
    public var port = 8080
    /// The gRPC predict API's port (TensorFlow Serving's PredictionService and the Open Inference Protocol); nil:
    /// no gRPC listener.
    public var grpcPort: Int?
    /// Larger request bodies are refused with 413.
    public var maxBodyBytes = ServerOptions.defaultMaxBodyBytes
    /// PEM files; both or neither.
    public var tlsCertificate: String?
    public var tlsKey: String?
    public var version = "0.1.0"
    /// When a challenger in shadow may replace the champion (POST /api/models/{name}/challenger/promote).
    public var promotion = PromotionPolicy()

    public init() {}
}

/// Millstream's HTTP server: the plant API, TensorFlow Serving's predict API, the dashboard, /metrics and the
/// probes, each route with the least role it needs.
public struct MillstreamServer {
    public let options: ServerOptions
    /// Every route and its role (the role matrix test and docs/api.md read this).
    public let endpoints: [Endpoint]
    let router: Router<ServerContext>
    let logger: Logger
    let models: ModelServer
    let tokens: TokenStore
    let metrics: ServerMetrics

    public init(
        options: ServerOptions, bus: any MessageBus, registry: ModelRegistry, tokens: TokenStore, audit: AuditLog,
        view: PlantView, metrics: ServerMetrics, ready: ReadyFlag, historian: (any HistorianStore)? = nil,
        logger: Logger = Logger(label: "millstream.server")
    ) {
        self.options = options
        self.logger = logger
        let router = Router(context: ServerContext.self)
        // A span per request (swift-distributed-tracing) when Observability set up OTLP export, continuing the
        // caller's W3C traceparent; the logs written while it runs carry its trace.id and span.id. Without a tracer
        // the middleware would still build every span's attributes for nothing (3 % of a predict request).
        if !(InstrumentationSystem.tracer is NoOpTracer) {
            router.add(middleware: TracingMiddleware())
        }
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(tokens: tokens))
        var routes = RouteTable(router: router)
        let limit = options.maxBodyBytes
        routes.add(.get, "/healthz", role: nil, "Liveness: the process answers") { _, _ in
            JSON.response(["status": "ok", "version": options.version])
        }
        routes.add(.get, "/readyz", role: nil, "Readiness: the plant view has caught up and the registry is readable") {
            _, _ in
            let registryOK =
                !FileManager.default.fileExists(atPath: registry.root)
                || FileManager.default.isReadableFile(atPath: registry.root)
            guard ready.isSet, registryOK else {
                return JSON.response(
                    [
                        "status": "starting", "plant_view": ready.isSet ? "ready" : "catching up",
                        "registry": registryOK ? "ok" : "unreadable",
                    ],
                    status: .serviceUnavailable)
            }
            return JSON.response(["status": "ready"])
        }
        routes.add(.get, "/metrics", role: .viewer, "Prometheus metrics (text exposition format)") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.text())))
        }
        routes.add(.get, "/openapi.yaml", role: .viewer, "This API's OpenAPI 3.1 document") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
        }
        let models = ModelServer(registry: registry)
        self.models = models
        self.tokens = tokens
        self.metrics = metrics
        models.register(on: &routes, maxBodyBytes: limit, metrics: metrics)
        RegistryRoutes(registry: registry, audit: audit, maxBodyBytes: limit).register(on: &routes)
        ChallengerRoutes(
            registry: registry, view: view, audit: audit, policy: options.promotion, bus: bus, maxBodyBytes: limit
        ).register(on: &routes)
        PlantRoutes(view: view, bus: bus, audit: audit, maxBodyBytes: limit).register(on: &routes)
        HistoryRoutes(historian: historian).register(on: &routes)
        AdminRoutes(tokens: tokens, audit: audit, maxBodyBytes: limit).register(on: &routes)
        DashboardRoutes(tokens: tokens, secureCookies: options.tlsCertificate != nil, maxBodyBytes: limit).register(
            on: &routes)
        self.endpoints = routes.endpoints
        self.router = router
    }

    /// The Hummingbird application (a Service); `onServerRunning` receives the bound channel (port 0 picks one).
    public func application(onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) throws
        -> some ApplicationProtocol
    {
        let configuration = ApplicationConfiguration(
            address: .hostname(options.host, port: options.port), serverName: "Millstream/\(options.version)")
        let server: HTTPServerBuilder
        switch (options.tlsCertificate, options.tlsKey) {
        case (nil, nil):
            server = .http1()
        case (let cert?, let key?):
            let certificates: [NIOSSLCertificate]
            let privateKey: NIOSSLPrivateKey
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(cert)
                privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            } catch {
                throw ServerError("cannot load the TLS certificate \(cert) or key \(key): \(error)")
            }
            guard !certificates.isEmpty else { throw ServerError("\(cert) holds no PEM certificate") }
            let tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(privateKey))
            server = try .tls(.http1(), tlsConfiguration: tls)
        default:
            throw ServerError("TLS needs both --tls-cert and --tls-key")
        }
        return Application(
            router: router, server: server, configuration: configuration, onServerRunning: onServerRunning,
            logger: logger)
    }
}

/// A server set-up problem (bad TLS files, say): what and where.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Puts the request id (Hummingbird's, also in every log line of the request) on the answer.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let id = context.id
        do {
            var response = try await next(request, context)
            response.headers[Self.header] = id
            return response
        } catch let error as APIError {
            var e = error
            e.headers[Self.header] = id
            throw e
        }
    }

    static let header = HTTPField.Name("X-Request-Id")!
}

/// Request durations by route pattern (bounded label values), method and status.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let started = ContinuousClock.now
        func seconds() -> Double { (ContinuousClock.now - started).seconds }
        do {
            let response = try await next(request, context)
            metrics.request(
                route: context.endpointPath ?? "unmatched", method: request.method.rawValue,
                status: Int(response.status.code), seconds: seconds())
            return response
        } catch let error as APIError {
            metrics.request(
                route: context.endpointPath ?? "unmatched", method: request.method.rawValue,
                status: Int(error.status.code),
                seconds: seconds())
            throw error
        }
    }
}
