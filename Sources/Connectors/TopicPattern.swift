/// An MQTT topic with named levels, `factory/{line}/{machine}/telemetry`: the subscription filter it stands for
/// (`factory/+/+/telemetry`) and the names' values in a topic that matches.
public struct TopicPattern: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    /// Per level: a literal, or the name of a captured level.
    let levels: [Level]

    enum Level: Sendable, Equatable {
        case literal(String)
        case capture(String)
    }

    public init(_ text: String) throws(MappingError) {
        self.text = text
        var levels: [Level] = []
        for level in text.split(separator: "/", omittingEmptySubsequences: false) {
            if level.hasPrefix("{") && level.hasSuffix("}") && level.count > 2 {
                levels.append(.capture(String(level.dropFirst().dropLast())))
            } else if level.contains("+") || level.contains("#") || level.contains("{") || level.contains("}") {
                throw MappingError(
                    "topic \(text): level \"\(level)\" must be a name or {a capture}, not a wildcard (write {name})")
            } else {
                levels.append(.literal(String(level)))
            }
        }
        self.levels = levels
    }

    /// The subscription filter: each capture a single-level wildcard.
    public var filter: String {
        levels.map {
            switch $0 {
            case .literal(let s): s
            case .capture: "+"
            }
        }.joined(separator: "/")
    }

    public var names: [String] {
        levels.compactMap {
            if case .capture(let name) = $0 { name } else { nil }
        }
    }

    /// The captured levels of `topic`, or nil when it does not match.
    public func match(_ topic: String) -> [String: String]? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == levels.count else { return nil }
        var captured: [String: String] = [:]
        for (part, level) in zip(parts, levels) {
            switch level {
            case .literal(let s): if part != s { return nil }
            case .capture(let name): captured[name] = String(part)
            }
        }
        return captured
    }

    public var description: String { text }
}

/// A text with `{name}` placeholders filled from a topic's captured levels: `plant1/{line}/{machine}`.
public struct NameTemplate: Sendable, Equatable {
    public let text: String
    let parts: [Part]

    enum Part: Sendable, Equatable {
        case literal(String)
        case name(String)
    }

    public init(_ text: String) {
        self.text = text
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            if open > rest.startIndex { parts.append(.literal(String(rest[..<open]))) }
            parts.append(.name(String(rest[rest.index(after: open)..<close])))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.parts = parts
    }

    public var names: [String] {
        parts.compactMap {
            if case .name(let n) = $0 { n } else { nil }
        }
    }

    public func fill(_ values: [String: String]) -> String {
        parts.map {
            switch $0 {
            case .literal(let s): s
            case .name(let n): values[n] ?? ""
            }
        }.joined()
    }
}

/// A message, register or node value that cannot become a reading: what is wrong and where.
public struct MappingError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
