import Foundation
import Topics

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Posts deliveries to webhook channels: the alert record as it is (generic JSON), or Slack's and Microsoft Teams'
/// incoming-webhook formats. The notifier retries what fails.
public struct WebhookSender: Sendable {
    let session: URLSession

    public init(timeout: TimeInterval = 10) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        session = URLSession(configuration: configuration)
    }

    /// Posts one delivery; throws for a connection error or an answer other than 2xx.
    public func post(_ d: AlertRouter.Delivery, to hook: NotificationConfig.Webhook) async throws {
        var request = URLRequest(url: hook.url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in hook.headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = Self.body(d, format: hook.format)
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw NotificationError("\(hook.url): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw NotificationError(
                "HTTP \(status) from \(hook.url): \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
    }

    /// One line for people: priority, machine, what, and why it came again.
    static func text(_ d: AlertRouter.Delivery) -> String {
        let a = d.alert
        let priority = (a.priority ?? a.severity ?? "alert").uppercased()
        var line = "[\(priority)] \(a.machine): \(a.message ?? a.kind)"
        if d.escalation { line += " (not acknowledged in time: escalated by route \(d.route))" }
        return line
    }

    /// The e-mail of a delivery: the line for people as its subject; the alert's facts, one a line, as its body.
    static func message(_ d: AlertRouter.Delivery) -> SMTPSender.Message {
        let a = d.alert
        var lines = [text(d), ""]
        let facts: [(String, String?)] = [
            ("Machine", a.machine), ("Kind", a.kind), ("Priority", a.priority), ("Severity", a.severity),
            ("Raised", a.ts), ("Status", a.status), ("Alert", a.id), ("Route", d.route),
        ]
        for (name, value) in facts { if let value { lines.append("\(name): \(value)") } }
        lines += ["", "Acknowledge it on the Millstream dashboard to stop its escalation."]
        return SMTPSender.Message(subject: text(d), body: lines.joined(separator: "\n"), alert: a.id)
    }

    static func body(_ d: AlertRouter.Delivery, format: NotificationConfig.Channel.Format) -> Data {
        switch format {
        case .json:
            let head =
                #"{"route":"# + quoted(d.route) + #","channel":"# + quoted(d.channel) + #","escalation":"#
                + (d.escalation ? "true" : "false") + #","alert":"#
            return Data(head.utf8) + Data(d.record) + Data("}".utf8)
        case .slack:
            return json(["text": text(d)])
        case .teams:
            let color = ["urgent": "D13438", "high": "FF8C00", "medium": "FFD700"][d.alert.priority ?? ""] ?? "0078D7"
            return json([
                "@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": text(d),
                "themeColor": color, "title": "\(d.alert.machine): \(d.alert.kind)",
                "sections": [
                    [
                        "text": text(d),
                        "facts": [
                            ["name": "priority", "value": d.alert.priority ?? "-"],
                            ["name": "raised", "value": d.alert.ts], ["name": "alert", "value": d.alert.id],
                        ],
                    ]
                ],
            ])
        }
    }

    /// A JSON string literal.
    static func quoted(_ s: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed])) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func json(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
