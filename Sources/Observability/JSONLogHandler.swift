import Foundation
import Logging

/// swift-log handler writing one JSON object per line to standard error, with the field names that Elasticsearch's
/// ECS and Splunk's JSON extraction read without mapping: `@timestamp` (ISO 8601, first on the line), `log.level`,
/// `log.logger`, `message`, `service.name`, then the metadata. `trace.id` and `span.id` come from the active span
/// (swift-distributed-tracing, when tracing is on) and `http.request.id` from the server's request.
///
/// - Important: Never log secrets: tokens are hashed at rest and the auth middleware logs only the token's name.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let service: String

    public init(
        label: String, level: Logger.Level = .info, service: String = "millstream",
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.logLevel = level
        self.service = service
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        FileHandle.standardError.write(Data(Self.line(level, "\(message)", label, service, merged(extra))))
    }

    func merged(_ extra: Logger.Metadata?) -> Logger.Metadata {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra { all.merge(extra) { $1 } }
        return all
    }

    /// One log line: the fixed fields in a fixed order (the time first, where Splunk looks for it), then the
    /// metadata sorted by name.
    static func line(
        _ level: Logger.Level, _ message: String, _ label: String, _ service: String, _ metadata: Logger.Metadata,
        at date: Date = Date()
    ) -> [UInt8] {
        var fields: [(String, Any)] = [
            ("@timestamp", Self.timestamp(date)), ("log.level", level.rawValue), ("log.logger", label),
            ("service.name", service), ("message", message),
        ]
        for (k, v) in metadata.sorted(by: { $0.key < $1.key }) {
            // Hummingbird names its request id hb.request.id; ECS calls it http.request.id.
            fields.append((k == "hb.request.id" ? "http.request.id" : k, plain(v)))
        }
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (i, (k, v)) in fields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += json(k)
            out.append(UInt8(ascii: ":"))
            out += json(v)
        }
        out += [UInt8(ascii: "}"), UInt8(ascii: "\n")]
        return out
    }

    static func json(_ value: Any) -> [UInt8] {
        let data = try? JSONSerialization.data(
            withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
        return data.map { [UInt8]($0) } ?? Array("null".utf8)
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    static func plain(_ v: Logger.Metadata.Value) -> Any {
        switch v {
        case .string(let s): s
        case .stringConvertible(let c): c.description
        case .array(let a): a.map(plain)
        case .dictionary(let d): d.mapValues(plain)
        }
    }
}
