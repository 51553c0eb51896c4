import Foundation
import Logging
import Plant

/// swift-log handler writing one JSON object per line to standard error: time, level, label, message, metadata.
///
/// - Important: Never log secrets: tokens are hashed at rest and the auth middleware logs only the token's name.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    let label: String

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        var entry: [String: Any] = [
            "time": Timestamp.format(Int64((Date().timeIntervalSince1970 * 1000).rounded())), "level": level.rawValue,
            "label": label, "message": "\(message)",
        ]
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra { all.merge(extra) { $1 } }
        for (k, v) in all {
            // Hummingbird names its request id hb.request.id; keep it as request_id.
            entry[k == "hb.request.id" ? "request_id" : k] = Self.plain(v)
        }
        var line = JSON.encode(entry)
        line.append(UInt8(ascii: "\n"))
        FileHandle.standardError.write(Data(line))
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
