import Foundation
import Topics

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Posts deliveries to webhook channels: the alert record as it is (generic JSON), or Slack's and Microsoft Teams'
/// incoming-webhook formats; retried with a doubling wait on errors and non-2xx answers.
public struct WebhookSender: Sendable {
    let session: URLSession

    public init(timeout: TimeInterval = 10) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        session = URLSession(configuration: configuration)
    }

    /// The outcome of one delivery: delivered or not, after how many attempts, and the last error.
    public struct Outcome: Sendable {
        public var delivered: Bool
        public var attempts: Int
        public var error: String?
    }

    public func send(
        _ d: AlertRouter.Delivery, to channel: NotificationConfig.Channel, attempts: Int, backoff: Double
    ) async -> Outcome {
        var request = URLRequest(url: channel.url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in channel.headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = Self.body(d, format: channel.format)
        var problem = ""
        for attempt in 1...attempts {
            do {
                let (data, response) = try await session.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if (200..<300).contains(status) { return Outcome(delivered: true, attempts: attempt, error: nil) }
                problem = "HTTP \(status) from \(channel.url): \(String(decoding: data.prefix(200), as: UTF8.self))"
            } catch {
                problem = "\(channel.url): \(error.localizedDescription)"
            }
            if attempt < attempts {
                try? await Task.sleep(for: .seconds(backoff * Double(1 << (attempt - 1))))
            }
        }
        return Outcome(delivered: false, attempts: attempts, error: problem)
    }

    /// One line for people: priority, machine, what, and why it came again.
    static func text(_ d: AlertRouter.Delivery) -> String {
        let a = d.alert
        let priority = (a.priority ?? a.severity ?? "alert").uppercased()
        var line = "[\(priority)] \(a.machine): \(a.message ?? a.kind)"
        if d.escalation { line += " (not acknowledged in time: escalated by route \(d.route))" }
        return line
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
