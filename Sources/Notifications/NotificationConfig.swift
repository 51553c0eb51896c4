import ClientTLS
import Foundation
import Yams

/// Where alerts go (`serve --notifications notifications.yaml`, docs/notifications.md): channels, and routes that
/// pick alerts by priority, kind, machine and shift, send them to channels, and escalate them when nobody acknowledges
/// them in time.
public struct NotificationConfig: Sendable, Equatable {
    public struct Channel: Sendable, Equatable {
        public enum Format: String, Sendable, Decodable {
            /// `{"alert": <the alert record>, "route": ..., "escalation": ...}`
            case json
            /// Slack's incoming webhooks: `{"text": ...}`.
            case slack
            /// Microsoft Teams' incoming webhooks: a MessageCard.
            case teams
        }
        public var name: String
        public var transport: Transport
    }

    /// How a channel delivers.
    public enum Transport: Sendable, Equatable {
        case webhook(Webhook)
        case email(Email)
    }

    /// An HTTP(S) POST of the delivery in a format.
    public struct Webhook: Sendable, Equatable {
        public var url: URL
        public var format: Channel.Format
        public var headers: [String: String]
    }

    /// A message by SMTP: STARTTLS unless `starttls` is false, AUTH PLAIN with `username` (inside TLS only).
    public struct Email: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var from: String
        public var to: [String]
        public var starttls: Bool
        public var tls: ClientTLS
        public var username: String?
        public var password: String?
        /// Seconds for the whole conversation with the server.
        public var timeout: Double
    }

    public struct Route: Sendable, Equatable {
        public var name: String
        /// Empty: any.
        public var priorities: [String]
        public var kinds: [String]
        /// A machine id, or a pattern with `*` for any run of characters (`plant1/line1/*`).
        public var machine: String?
        public var shifts: [String]
        public var channels: [String]
        /// Sent again to `escalateTo` when the alert is neither acknowledged nor cleared within this many seconds.
        public var escalateAfter: Double?
        public var escalateTo: [String]
    }

    /// A shift: its name and its span of the day in minutes since midnight (UTC), which may wrap past midnight.
    public struct Shift: Sendable, Equatable {
        public var name: String
        public var start: Int
        public var end: Int

        func contains(minute: Int) -> Bool {
            start <= end ? (minute >= start && minute < end) : (minute >= start || minute < end)
        }
    }

    public var channels: [String: Channel]
    public var routes: [Route]
    public var shifts: [Shift]
    /// Attempts per delivery (the first and its retries), and the wait before the first retry (doubled each time).
    public var attempts: Int
    public var backoff: Double

    /// The shift at `millis`, if the config names shifts.
    public func shift(at millis: Int64) -> String? {
        let minute = Int((millis / 60_000) % 1_440)
        return shifts.first { $0.contains(minute: minute) }?.name
    }

    public static func load(_ path: String) throws -> NotificationConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw NotificationError("cannot read the notification config \(path)")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws -> NotificationConfig {
        let file: File
        do {
            file = try YAMLDecoder().decode(File.self, from: text)
        } catch {
            throw NotificationError("\(source): \(error)")
        }
        var channels: [String: Channel] = [:]
        for (name, c) in file.channels ?? [:] {
            channels[name] = Channel(name: name, transport: try c.transport("\(source): channel \(name)"))
        }
        var shifts: [Shift] = []
        for (name, span) in (file.shifts ?? [:]).sorted(by: { $0.key < $1.key }) {
            let parts = span.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]) else {
                throw NotificationError("\(source): shift \(name): '\(span)' is not a span like 22:00-06:00")
            }
            shifts.append(Shift(name: name, start: start, end: end))
        }
        let routes = try (file.routes ?? []).enumerated().map { i, r -> Route in
            let name = r.name ?? "route \(i + 1)"
            for channel in (r.notify ?? []) + (r.escalate?.notify ?? []) where channels[channel] == nil {
                throw NotificationError("\(source): \(name) names the channel '\(channel)', which is not defined")
            }
            for shift in r.shift ?? [] where !shifts.contains(where: { $0.name == shift }) {
                throw NotificationError("\(source): \(name) names the shift '\(shift)', which is not defined")
            }
            guard !(r.notify ?? []).isEmpty else { throw NotificationError("\(source): \(name) notifies no channel") }
            let after = try r.escalate.map { e -> Double in
                guard let s = duration(e.after), s > 0 else {
                    throw NotificationError(
                        "\(source): \(name): escalate after '\(e.after)' is not a duration like 15m")
                }
                return s
            }
            return Route(
                name: name, priorities: r.priority ?? [], kinds: r.kind ?? [], machine: r.machine,
                shifts: r.shift ?? [],
                channels: r.notify ?? [], escalateAfter: after, escalateTo: r.escalate?.notify ?? [])
        }
        let attempts = file.retry?.attempts ?? 5
        guard attempts >= 1 && attempts <= 20 else {
            throw NotificationError("\(source): retry attempts must be from 1 to 20")
        }
        guard let backoff = duration(file.retry?.backoff ?? "2s") else {
            throw NotificationError("\(source): retry backoff '\(file.retry?.backoff ?? "")' is not a duration like 2s")
        }
        return NotificationConfig(
            channels: channels, routes: routes, shifts: shifts, attempts: attempts, backoff: backoff)
    }

    static func minutes(_ text: String) -> Int? {
        let p = text.split(separator: ":")
        guard p.count == 2, let h = Int(p[0]), let m = Int(p[1]), (0...24).contains(h), (0..<60).contains(m) else {
            return nil
        }
        return (h * 60 + m) % 1_440
    }

    /// "90s", "15m", "2h", "500ms" in seconds.
    static func duration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3_600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let v = Double(text.dropLast(suffix.count)), v >= 0 { return v * scale }
        }
        return nil
    }

    struct File: Decodable {
        struct ChannelFile: Decodable {
            var type: String
            var url: String?
            var format: Channel.Format?
            var headers: [String: String]?
            var smtp: String?
            var from: String?
            var to: [String]?
            var starttls: Bool?
            var caFile: String?
            var username: String?
            var passwordFile: String?
            var timeout: String?

            enum CodingKeys: String, CodingKey {
                case type, url, format, headers, smtp, from, to, starttls, username, timeout
                case caFile = "ca_file"
                case passwordFile = "password_file"
            }

            func transport(_ at: String) throws -> Transport {
                switch type {
                case "webhook":
                    guard let text = url, let url = URL(string: text), url.scheme == "http" || url.scheme == "https"
                    else {
                        throw NotificationError("\(at): '\(self.url ?? "")' is not an http(s) URL")
                    }
                    return .webhook(Webhook(url: url, format: format ?? .json, headers: headers ?? [:]))
                case "email":
                    return .email(try email(at))
                default:
                    throw NotificationError("\(at): type '\(type)' is not known (webhook, email)")
                }
            }

            func email(_ at: String) throws -> Email {
                let parts = (smtp ?? "").split(separator: ":")
                guard parts.count == 2, let port = Int(parts[1]), (1...65_535).contains(port) else {
                    throw NotificationError("\(at): smtp '\(smtp ?? "")' is not a host:port like mail.plant.local:587")
                }
                // An address with a line break would add headers of its own (by scalar: "\r\n" is one Character).
                func address(_ a: String) -> Bool {
                    a.contains("@")
                        && !a.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "<" || $0 == ">" })
                }
                guard let from, address(from) else { throw NotificationError("\(at): 'from' is not an address") }
                guard let to, !to.isEmpty, to.allSatisfy(address) else {
                    throw NotificationError("\(at): 'to' must list one or more addresses")
                }
                var password: String?
                if let passwordFile {
                    guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                        throw NotificationError("\(at): cannot read password_file \(passwordFile)")
                    }
                    password = text.trimmingCharacters(in: .newlines)
                }
                guard let seconds = NotificationConfig.duration(timeout ?? "30s"), seconds > 0 else {
                    throw NotificationError("\(at): timeout '\(timeout ?? "")' is not a duration like 30s")
                }
                return Email(
                    host: String(parts[0]), port: port, from: from, to: to, starttls: starttls ?? true,
                    tls: ClientTLS(caFile: caFile), username: username, password: password, timeout: seconds)
            }
        }
        struct RouteFile: Decodable {
            struct Escalate: Decodable {
                var after: String
                var notify: [String]
            }
            var name: String?
            var priority: [String]?
            var kind: [String]?
            var machine: String?
            var shift: [String]?
            var notify: [String]?
            var escalate: Escalate?
        }
        struct Retry: Decodable {
            var attempts: Int?
            var backoff: String?
        }
        var channels: [String: ChannelFile]?
        var routes: [RouteFile]?
        var shifts: [String: String]?
        var retry: Retry?
    }
}

public struct NotificationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
