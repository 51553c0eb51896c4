/// Where the bus is: `embedded://PATH[?fsync=batch|100ms|never&partitions=N]` or `kafka://HOST:PORT[,HOST:PORT...]`.
public struct BusURL: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case embedded(path: String)
        case kafka(bootstrap: [String])
    }

    public var kind: Kind
    public var options: [String: String]
    public let text: String

    public var description: String { text }

    public init(_ text: String) throws {
        self.text = text
        guard let separator = text.firstRange(of: "://") else {
            throw BusError(
                "bus URL '\(text)' has no scheme: use embedded://PATH or kafka://HOST:PORT[,HOST:PORT]",
                kind: .invalidURL)
        }
        let scheme = text[..<separator.lowerBound].lowercased()
        var rest = String(text[separator.upperBound...])
        var options: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw BusError("bus URL '\(text)': option '\(pair)' is not name=value", kind: .invalidURL)
                }
                options[String(parts[0])] = String(parts[1])
            }
            rest = String(rest[..<q])
        }
        self.options = options
        switch scheme {
        case "embedded":
            guard !rest.isEmpty else {
                throw BusError("bus URL '\(text)' names no directory: embedded://PATH", kind: .invalidURL)
            }
            kind = .embedded(path: rest)
        case "kafka":
            let hosts = rest.split(separator: ",").map(String.init)
            guard !hosts.isEmpty else {
                throw BusError("bus URL '\(text)' names no broker: kafka://HOST:PORT", kind: .invalidURL)
            }
            for host in hosts {
                guard let colon = host.lastIndex(of: ":"), let port = Int(host[host.index(after: colon)...]),
                    (1...65535).contains(port), colon != host.startIndex
                else {
                    throw BusError(
                        "bus URL '\(text)': '\(host)' is not HOST:PORT with a port from 1 to 65535", kind: .invalidURL)
                }
            }
            kind = .kafka(bootstrap: hosts)
        default:
            throw BusError(
                "unknown bus scheme '\(scheme)' in '\(text)': use embedded://PATH or kafka://HOST:PORT[,HOST:PORT]",
                kind: .unavailable)
        }
    }
}
