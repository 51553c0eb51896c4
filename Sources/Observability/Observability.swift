import Foundation
public import Logging
import OTel
public import ServiceLifecycle
import Tracing

/// Logging and tracing for a long-running command, set up once at its start.
///
/// - Logs are JSON lines on standard error (`JSONLogHandler`), which a collector (Fluent Bit, Vector, the
///   OpenTelemetry collector's filelog receiver, Filebeat, Splunk's forwarder) reads as they are.
/// - When the environment names an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, or `..._TRACES_ENDPOINT`), the
///   same logs and the spans of swift-distributed-tracing (one per HTTP request in the server) are also exported
///   over OTLP/HTTP by swift-otel, and every log line carries the active span's `trace.id` and `span.id`. The
///   standard `OTEL_*` variables apply (service name, headers, TLS, batch delays, `OTEL_SDK_DISABLED`).
public enum Observability {
    /// Bootstraps logging (and tracing with an endpoint); returns the exporters' services, for the command's service
    /// group (empty without an endpoint). Call once, before any logger is made.
    public static func bootstrap(
        service: String, level: Logger.Level,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> [any Service] {
        let endpoint = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].contains {
            !(environment[$0] ?? "").isEmpty
        }
        guard endpoint, environment["OTEL_SDK_DISABLED"] != "true" else {
            LoggingSystem.bootstrap { JSONLogHandler(label: $0, level: level, service: service) }
            return []
        }
        var configuration = OTel.Configuration.default
        configuration.serviceName = service
        configuration.metrics.enabled = false  // metrics are Prometheus' (/metrics)
        configuration.logs.level = .init(level)
        configuration.diagnosticLogLevel = .warning
        let (tracer, tracing) = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(tracer)
        let (exported, logs) = try OTel.makeLoggingBackend(configuration: configuration)
        var keys = OTel.Configuration.LoggingMetadataProviderConfiguration.default
        (keys.traceIDKey, keys.spanIDKey, keys.traceFlagsKey) = ("trace.id", "span.id", "trace.flags")
        let ids = OTel.makeLoggingMetadataProvider(configuration: keys)
        LoggingSystem.bootstrap(
            { label, provider in
                MultiplexLogHandler([
                    JSONLogHandler(label: label, level: level, service: service, metadataProvider: provider),
                    exported(label),
                ])
            }, metadataProvider: ids)
        return [tracing, logs]
    }
}

extension OTel.Configuration.LogLevel {
    init(_ level: Logger.Level) {
        switch level {
        case .trace: self = .trace
        case .debug: self = .debug
        case .info, .notice: self = .info
        case .warning: self = .warning
        case .error, .critical: self = .error
        }
    }
}
