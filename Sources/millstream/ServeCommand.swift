import ArgumentParser
import AtRest
import Bus
import Buses
import EventLog
import Foundation
import Historian
import Logging
import Notifications
import Observability
import Plant
import Registry
import Server
import ServiceLifecycle

/// Options every command that runs the HTTP server takes.
struct ServerArguments: ParsableArguments {
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port, printed at start).") var port = 8080
    @Option(
        help:
            "Also serve predict over gRPC on this port (TensorFlow Serving's PredictionService and the Open Inference Protocol; TF Serving uses 8500), with --tls-cert/--tls-key when given."
    ) var grpcPort: Int?
    @Option(help: "Tokens file (hashed API tokens with roles); `millstream tokens create` writes it.")
    var tokens = "./millstream-tokens.json"
    @Option(help: "TLS certificate chain (PEM); with --tls-key the server speaks HTTPS only.") var tlsCert: String?
    @Option(help: "TLS private key (PEM).") var tlsKey: String?
    @Option(help: "Audit log of every state-changing request (JSON lines).") var auditLog = "./millstream-audit.log"
    @Option(help: "Largest request body in bytes; larger ones get 413.") var maxBodyBytes = ServerOptions
        .defaultMaxBodyBytes
    @Option(help: "A challenger in shadow is promoted only after this many labelled readings both models scored.")
    var promoteMinOutcomes = PromotionPolicy().minOutcomes
    @Option(help: "... with at least this many failures among them.") var promoteMinFailures = PromotionPolicy()
        .minFailures
    @Option(help: "... and a live F1 at least this much above the champion's on them.") var promoteMargin =
        PromotionPolicy().margin
    @Option(
        help:
            "Keep the plant's history in this SQLite file or PostgreSQL database (postgres://...): the historian, written from the bus by a service of the server, serves trends and exports."
    )
    var historian: String?
    @Flag(help: "With --historian: only read it; a `millstream historian` process writes it.")
    var historianReadOnly = false
    @Option(
        help:
            "Notify webhooks (JSON, Slack, Teams) of alerts by the routes of this YAML file, with retries and escalation (docs/notifications.md)."
    )
    var notifications: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) must be from 0 to 65535") }
        if let grpcPort {
            guard (0...65535).contains(grpcPort) else {
                throw ValidationError("--grpc-port \(grpcPort) must be from 0 to 65535")
            }
            guard grpcPort != port || port == 0 else {
                throw ValidationError("--grpc-port and --port are both \(port): give gRPC a port of its own")
            }
        }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard maxBodyBytes >= 1024 && maxBodyBytes <= 1 << 30 else {
            throw ValidationError("--max-body-bytes must be from 1024 to 1073741824")
        }
        guard promoteMinOutcomes >= 1, promoteMinFailures >= 0, (0...1).contains(promoteMargin) else {
            throw ValidationError(
                "--promote-min-outcomes must be at least 1, --promote-min-failures at least 0 and --promote-margin from 0 to 1"
            )
        }
    }

    var options: ServerOptions {
        var o = ServerOptions()
        o.host = host
        o.port = port
        o.grpcPort = grpcPort
        o.tlsCertificate = tlsCert
        o.tlsKey = tlsKey
        o.maxBodyBytes = maxBodyBytes
        o.version = Millstream.configuration.version
        o.promotion = PromotionPolicy(
            minOutcomes: promoteMinOutcomes, minFailures: promoteMinFailures, margin: promoteMargin)
        return o
    }

    var scheme: String { tlsCert == nil ? "http" : "https" }
}

/// The server's pieces, built once for `serve` and `demo`.
struct ServerStack {
    let services: [any Service]
    let metrics: ServerMetrics
    let endpoints: [Endpoint]

    init(
        arguments: ServerArguments, tokens: TokenStore, process: ProcessConfig, bus: any MessageBus, registry: String,
        logger: Logger, clockScale: Double = 1, bound: @escaping @Sendable (Int) -> Void
    ) throws {
        try ensureListenable(host: arguments.host, port: arguments.port)
        let audit = try AuditLog(path: arguments.auditLog, logger: logger, keyring: try Keyring.process())
        let metrics = ServerMetrics(version: Millstream.configuration.version)
        let view = PlantView(process: process, metrics: metrics, clockScale: clockScale)
        let ready = ReadyFlag()
        let models = try ModelRegistry(root: registry)
        var historian: (store: any HistorianStore, services: [any Service])?
        do {
            historian = try arguments.historian.map {
                try Historians.open($0, readOnly: arguments.historianReadOnly)
            }
        } catch {
            throw CommandError("\(error)")
        }
        let server = MillstreamServer(
            options: arguments.options, bus: bus, registry: models, tokens: tokens, audit: audit, view: view,
            metrics: metrics, ready: ready, historian: historian?.store, logger: logger)
        let app = try server.application { channel in
            bound(channel.localAddress?.port ?? arguments.port)
        }
        var services: [any Service] = [
            PlantViewService(bus: bus, view: view, metrics: metrics, ready: ready, registry: models, logger: logger)
        ]
        if let historian {
            services += historian.services
            if !arguments.historianReadOnly {
                services.append(HistorianService(bus: bus, store: historian.store, logger: logger))
            }
        }
        if let file = arguments.notifications {
            let config: NotificationConfig
            do { config = try NotificationConfig.load(file) } catch { throw CommandError("\(error)") }
            services.append(NotifierService(bus: bus, config: config, logger: logger))
        }
        services.append(app)
        if let grpcPort = arguments.grpcPort { try ensureListenable(host: arguments.host, port: grpcPort) }
        let host = arguments.host
        if let grpc = server.grpc(bound: { port in
            logger.notice("listening for gRPC", metadata: ["address": "\(host):\(port)"])
            Terminal.error("millstream serve: gRPC predict on \(host):\(port)")
        }) {
            services.append(grpc)
        }
        self.services = services
        self.metrics = metrics
        endpoints = server.endpoints
    }
}

extension Millstream {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the plant API, TensorFlow Serving's predict API, the live dashboard and /metrics.",
            discussion: """
                Follows the pipeline's topics (predictions, alerts, kpis, dead-letters, readings, labels) on the bus, \
                serves the models of the registry, and records operators' actions on alert-actions. Every route but \
                /healthz and /readyz needs a bearer token with a role (viewer, operator, engineer, admin): create \
                one with `millstream tokens create --role admin`. Logs are JSON lines on stderr.
                """)
        @Option(help: "Process configuration (YAML); default: the built-in milling process.") var config: String?
        @Option(help: "Model registry directory.") var registry: String = "./models"
        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
        @OptionGroup var server: ServerArguments
        @OptionGroup var busOptions: BusOptions

        func validate() throws {
            guard Logger.Level(rawValue: logLevel) != nil else {
                throw ValidationError("--log-level takes trace, debug, info, notice, warning, error or critical")
            }
        }

        func run() async throws {
            let level = Logger.Level(rawValue: logLevel) ?? .info
            let telemetry = try Observability.bootstrap(service: "millstream-serve", level: level)
            let logger = Logger(label: "millstream.server")
            let process = try loadProcessConfig(config)
            let tokens = try TokenStore(path: server.tokens)
            if tokens.entries.isEmpty {
                throw CommandError(
                    "no tokens in \(server.tokens): every route needs one; create an admin token with `millstream tokens create --role admin --name NAME --tokens \(server.tokens)`"
                )
            }
            let bus = try openServerBus(busOptions.bus, logger: logger)
            let scheme = server.scheme
            let host = server.host
            let stack = try ServerStack(
                arguments: server, tokens: tokens, process: process, bus: bus, registry: registry, logger: logger
            ) { port in
                logger.notice("listening", metadata: ["url": "\(scheme)://\(host):\(port)/"])
                Terminal.error("millstream serve: \(scheme)://\(host):\(port)/ (bus \(bus.url), registry \(registry))")
            }
            try await runServices([BusService(bus: bus)] + stack.services, main: 2, telemetry: telemetry)
            try await bus.close()
        }
    }
}

/// The server writes operators' actions to the bus; on an embedded log another process writes, it reads only.
func openServerBus(_ url: String, logger: Logger) throws -> any MessageBus {
    do {
        return try openBus(url)
    } catch let error as EventLogError where error.kind == .inUse {
        logger.warning(
            "the embedded log is written by another process: serving read-only (acknowledging alerts needs the bus writable)",
            metadata: ["bus": "\(url)"])
        return try openBus(url, readOnly: true)
    }
}

/// Fails with a clear message when `host:port` cannot be listened on (in use, or not an address of this machine),
/// before anything starts.
func ensureListenable(host: String, port: Int) throws {
    guard port != 0 else { return }
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_PASSIVE
    var result: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, "\(port)", &hints, &result) == 0, let info = result else {
        throw CommandError("--host \(host) is not an address of this machine")
    }
    defer { freeaddrinfo(result) }
    let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    if bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
        let reason = errno == EADDRINUSE ? "is in use by another program" : String(cString: strerror(errno))
        throw CommandError("port \(port) on \(host) \(reason): pass --port N (or --port 0 for any free port)")
    }
}
