import Bus
import Buses
import Foundation
import LocalPeers
import Plant
import Primitives
import Testing
import Topics

@testable import Notifications

/// Routes, shifts and escalation as rules; then the notifier against a real webhook receiver (Python's HTTP server):
/// generic JSON and Slack bodies, retries of a receiver that fails twice, escalation of the unacknowledged alert only,
/// and a dead letter for a receiver that is not there; e-mail against a real SMTP server (aiosmtpd) with STARTTLS.
@Suite(.serialized) struct NotificationsTests {
    static let yaml = """
        shifts:
          day: "06:00-14:00"
          late: "14:00-22:00"
          night: "22:00-06:00"
        channels:
          ops: { type: webhook, url: "http://127.0.0.1:PORT/ops" }
          slack: { type: webhook, url: "http://127.0.0.1:PORT/slack", format: slack }
          teams: { type: webhook, url: "http://127.0.0.1:PORT/teams", format: teams }
          flaky: { type: webhook, url: "http://127.0.0.1:PORT/flaky" }
          nowhere: { type: webhook, url: "http://127.0.0.1:DEAD/none" }
        routes:
          - name: failures
            priority: [urgent, high]
            kind: [failure_risk]
            machine: "plant1/line1/*"
            notify: [ops, flaky]
            escalate: { after: 1s, notify: [slack] }
          - name: night-spc
            kind: [spc]
            shift: [night]
            notify: [teams, nowhere]
        retry: { attempts: 3, backoff: 100ms }
        """

    static func alert(
        _ id: String, machine: String, kind: String, priority: String, ts: String, status: String = "raised"
    )
        -> AlertRecord
    {
        AlertRecord(
            id: id, machine: machine, ts: ts, kind: kind, severity: "critical", priority: priority, status: status,
            message: "\(kind) on \(machine)")
    }

    /// A peer from Peer/ run by the venv's Python, once it printed "ready".
    static func peer(_ script: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        process.executableURL = here.appendingPathComponent("../../.venv/bin/python").standardized
        process.arguments = [here.appendingPathComponent("Peer/\(script)").path] + arguments
        let ready = Pipe()
        process.standardOutput = ready
        try process.run()
        _ = ready.fileHandleForReading.availableData
        return process
    }

    /// SIGKILL: a child of the test runner inherits its blocked SIGTERM.
    static func stop(_ process: Process) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// A temporary directory and a webhook receiver appending what it gets to `log` in it.
    struct WebhookScene {
        let dir = NSTemporaryDirectory() + "millstream-notify-" + UUID().uuidString
        let port = freeLoopbackPort()
        var log: String { dir + "/received.jsonl" }
        let receiver: Process

        init() throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: dir + "/received.jsonl", contents: nil)
            receiver = try NotificationsTests.peer("webhook.py", ["\(port)", dir + "/received.jsonl"])
        }

        func end() {
            NotificationsTests.stop(receiver)
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// The webhook receiver's log: path and body of each POST.
    static func posts(_ log: String) -> [(path: String, body: String)] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            guard let o = try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] else {
                return nil
            }
            return (o["path"] ?? "", o["body"] ?? "")
        }
    }

    /// The message text: a line break in an alert cannot start a header; UTF-8 goes as an encoded word and base64; a
    /// line of one dot does not end the DATA.
    @Test func messagesAreMailSafe() throws {
        let m = SMTPSender.Message(
            subject: "Drehmoment \u{201C}hoch\u{201D}\r\nBcc: x@y", body: "Über\n.\nEnde", alert: "a")
        let text = SMTPSender.render(m, from: "m@p", to: ["l@p"])
        let head = text.components(separatedBy: "\r\n\r\n")[0]
        #expect(!head.contains("\r\nBcc:"))
        #expect(head.contains("Subject: =?utf-8?B?") && head.contains("Content-Transfer-Encoding: base64"))
        let ascii = SMTPSender.render(.init(subject: "s", body: "a\n.\nb", alert: "a"), from: "m@p", to: ["l@p"])
        #expect(SMTPSender.dotStuffed(ascii).hasSuffix("\r\n\r\na\r\n..\r\nb\r\n"), "\(ascii)")
    }

    @Test func routesPickAlertsByPriorityKindMachineAndShift() throws {
        let config = try NotificationConfig.parse(
            Self.yaml.replacingOccurrences(of: "PORT", with: "9").replacingOccurrences(of: "DEAD", with: "9"),
            source: "test")
        var router = AlertRouter(config: config)
        func channels(_ a: AlertRecord) -> [String] {
            router.alert(a, record: a.encoded(), now: 0).map(\.channel)
        }
        #expect(
            channels(
                Self.alert(
                    "a", machine: "plant1/line1/m01", kind: "failure_risk", priority: "high", ts: "2026-05-01T10:00:00Z"
                ))
                == ["ops", "flaky"])
        // Another line, a low priority, or the night route by day: nothing.
        #expect(
            channels(
                Self.alert(
                    "b", machine: "plant1/line2/m01", kind: "failure_risk", priority: "high", ts: "2026-05-01T10:00:00Z"
                )
            ).isEmpty)
        #expect(
            channels(
                Self.alert(
                    "c", machine: "plant1/line1/m01", kind: "failure_risk", priority: "low", ts: "2026-05-01T10:00:00Z")
            ).isEmpty)
        #expect(
            channels(Self.alert("d", machine: "m9", kind: "spc", priority: "low", ts: "2026-05-01T10:00:00Z")).isEmpty)
        #expect(
            channels(Self.alert("e", machine: "m9", kind: "spc", priority: "low", ts: "2026-05-01T23:30:00Z")) == [
                "teams", "nowhere",
            ])
        #expect(
            channels(Self.alert("f", machine: "m9", kind: "spc", priority: "low", ts: "2026-05-02T05:59:00Z")) == [
                "teams", "nowhere",
            ])
        // "a" escalates after a second unless acknowledged; a cleared record stops it too.
        #expect(router.due(now: 999).isEmpty)
        let due = router.due(now: 1_000)
        #expect(due.map(\.channel) == ["slack"] && due.first?.escalation == true && due.first?.alert.id == "a")
        _ = channels(
            Self.alert(
                "g", machine: "plant1/line1/m02", kind: "failure_risk", priority: "urgent", ts: "2026-05-01T10:00:00Z"))
        router.action(
            AlertActionRecord(id: "x", alert: "g", action: "acknowledge", by: "op", ts: "2026-05-01T10:00:00Z"))
        #expect(router.due(now: 10_000).isEmpty)
        // An acknowledgement read before its alert (the topics are read at their own pace): no escalation either.
        router.action(
            AlertActionRecord(id: "y", alert: "h", action: "acknowledge", by: "op", ts: "2026-05-01T10:00:00Z"))
        _ = channels(
            Self.alert(
                "h", machine: "plant1/line1/m03", kind: "failure_risk", priority: "high", ts: "2026-05-01T10:00:00Z"))
        #expect(router.due(now: 20_000).isEmpty)
        // The shipped example loads.
        let example = try NotificationConfig.load(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../examples/notifications/notifications.yaml").standardized.path)
        #expect(example.channels.count == 4 && example.routes.count == 2)
        // Configs that name what is not there are refused by name.
        #expect(throws: NotificationError.self) {
            try NotificationConfig.parse("channels: {}\nroutes: [{name: r, notify: [pager]}]", source: "x.yaml")
        }
        #expect(throws: NotificationError.self) {
            try NotificationConfig.parse("channels: {a: {type: webhook, url: 'ftp://x'}}", source: "x.yaml")
        }
        // An address with a line break in it would add a header (Bcc) of its own.
        do {
            _ = try NotificationConfig.parse(
                "channels: {m: {type: email, smtp: 'mail:587', from: a@b, to: [\"x@y\\r\\nBcc: z@w\"]}}",
                source: "x.yaml")
            Issue.record("an address with a line break was accepted")
        } catch {
            #expect("\(error)".contains("'to' must list one or more addresses"), "\(error)")
        }
    }

    @Test func notifierDeliversRetriesEscalatesAndDeadLetters() async throws {
        let scene = try WebhookScene()
        defer { scene.end() }
        let (dir, port, log) = (scene.dir, scene.port, scene.log)
        let config = try NotificationConfig.parse(
            Self.yaml.replacingOccurrences(of: "PORT", with: "\(port)").replacingOccurrences(
                of: "DEAD", with: "\(freeLoopbackPort())"), source: "test")
        let bus = try openBus("embedded://\(dir)/bus?partitions=2&fsync=never")
        let producer = try await bus.producer()
        func received() -> [(path: String, body: String)] { Self.posts(log) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // From the start of the topics (a new group starts at their end by default), so what the test sends is
            // read whenever the notifier subscribes.
            group.addTask { try await NotifierService(bus: bus, config: config, start: .earliest).run() }
            let now = Timestamp.format(Timestamp.now())
            let night = "2026-05-01T23:30:00.000Z"
            let records = [
                Self.alert(
                    "plant1/line1/m01/failure_risk/1", machine: "plant1/line1/m01", kind: "failure_risk",
                    priority: "high", ts: now),
                Self.alert(
                    "plant1/line1/m02/failure_risk/1", machine: "plant1/line1/m02", kind: "failure_risk",
                    priority: "urgent", ts: now),
                Self.alert("m9/spc/torque_nm/1", machine: "m9", kind: "spc", priority: "low", ts: night),
            ]
            _ = try await producer.send(
                records.map { Record(key: Array($0.machine.utf8), value: $0.encoded(), timestamp: 0) },
                to: Topics.alerts.name)
            // The second is acknowledged (whether the notifier reads that before or after the alert); the first is
            // not, and escalates.
            let ack = AlertActionRecord(
                id: "a1", alert: "plant1/line1/m02/failure_risk/1", action: "acknowledge", by: "op", ts: now)
            _ = try await producer.send(
                [Record(key: Array(ack.alert.utf8), value: ack.encoded(), timestamp: 0)],
                to: Topics.alertActions.name)
            let waited = ContinuousClock.now
            while ContinuousClock.now - waited < .seconds(60) {
                if received().contains(where: { $0.path == "/slack" }),
                    received().filter({ $0.path == "/flaky" }).count >= 4
                {
                    break
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            try await Task.sleep(for: .seconds(1.5))
            group.cancelAll()
        }
        let got = received()
        // Generic JSON: the route and the alert record as it was on the bus.
        let ops = got.filter { $0.path == "/ops" }
        #expect(ops.count == 2, "\(got.map(\.path))")
        let first = try JSONSerialization.jsonObject(with: Data((ops.first?.body ?? "{}").utf8)) as? [String: Any]
        #expect(first?["route"] as? String == "failures" && first?["escalation"] as? Bool == false)
        #expect(((first?["alert"] as? [String: Any])?["kind"] as? String) == "failure_risk")
        // The flaky receiver answered 500 twice: both alerts still arrived (4 posts in all).
        #expect(got.filter { $0.path == "/flaky" }.count == 4)
        // Only the unacknowledged alert escalated, to Slack's format.
        let slack = got.filter { $0.path == "/slack" }
        let text =
            (try? JSONSerialization.jsonObject(with: Data((slack.first?.body ?? "{}").utf8)) as? [String: String])?[
                "text"] ?? ""
        #expect(slack.count == 1 && text.hasPrefix("[HIGH] plant1/line1/m01: "), "\(slack)")
        #expect(text.hasSuffix("(not acknowledged in time: escalated by route failures)"), "\(text)")
        // The night SPC alert went to Teams as a MessageCard; its other channel is not there: a dead letter.
        #expect(got.filter { $0.path == "/teams" }.first?.body.contains("MessageCard") == true)
        let consumer = try await bus.consumer(
            ConsumerOptions(topics: [Topics.notifications.name, Topics.deadLetters.name]))
        var notes: [NotificationRecord] = []
        var letters: [DeadLetterRecord] = []
        let reading = ContinuousClock.now
        while ContinuousClock.now - reading < .seconds(5) {
            for r in try await consumer.poll(maxRecords: 100, timeout: .milliseconds(300)) {
                if r.topic == Topics.notifications.name {
                    notes.append(try Topics.notifications.decode(r.value))
                } else {
                    letters.append(try Topics.deadLetters.decode(r.value))
                }
            }
        }
        // ops 2, flaky 2, teams 1, the escalation to Slack 1.
        let sent = notes.filter { $0.status == "sent" }.map { "\($0.channel)" }.sorted()
        #expect(sent == ["flaky", "flaky", "ops", "ops", "slack", "teams"], "\(sent)")
        // The flaky receiver's two 500s cost the two deliveries two retries between them (which ones depends on the
        // order the posts arrive): four attempts, both sent.
        let flaky = notes.filter { $0.channel == "flaky" }
        #expect(flaky.map(\.attempts).reduce(0, +) == 4 && flaky.allSatisfy { $0.status == "sent" }, "\(flaky)")
        #expect(notes.contains { $0.channel == "slack" && $0.escalation })
        let failed = notes.filter { $0.status == "failed" }
        #expect(failed.count == 1 && failed.first?.channel == "nowhere" && failed.first?.attempts == 3)
        #expect(letters.count == 1 && letters.first?.reason == "notification_undeliverable")
        try await bus.close()
    }

    /// E-mail against a real SMTP server (aiosmtpd): STARTTLS with a certificate checked against the channel's CA,
    /// AUTH PLAIN inside TLS, the message as a mail client reads it; a server whose certificate does not chain, one
    /// that offers no STARTTLS and a wrong password are refused with errors that say so, and end as dead letters.
    @Test func emailGoesByStartTLSAndAuthenticates() async throws {
        let dir = NSTemporaryDirectory() + "millstream-smtp-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestCertificates.make(in: dir)
        try "s3cret\n".write(toFile: dir + "/smtp-password", atomically: true, encoding: .utf8)
        try "wrong\n".write(toFile: dir + "/wrong-password", atomically: true, encoding: .utf8)
        let (tlsPort, plainPort) = (freeLoopbackPort(), freeLoopbackPort())
        let log = dir + "/mail.jsonl"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let server = try Self.peer(
            "smtp.py",
            ["\(tlsPort)", "\(plainPort)", dir + "/server.pem", dir + "/server.key", log, "millstream", "s3cret"])
        defer { Self.stop(server) }
        let mail = { (port: Int, ca: String, password: String) in
            """
            { type: email, smtp: "127.0.0.1:\(port)", from: "millstream@plant.example",
              to: ["shift-lead@plant.example", "maintenance@plant.example"], ca_file: "\(dir)/\(ca)",
              username: millstream, password_file: "\(dir)/\(password)", timeout: 10s }
            """
        }
        let config = try NotificationConfig.parse(
            """
            channels:
              lead: \(mail(tlsPort, "ca.pem", "smtp-password"))
              untrusted: \(mail(tlsPort, "other.pem", "smtp-password"))
              cleartext: \(mail(plainPort, "ca.pem", "smtp-password"))
              wrong-password: \(mail(tlsPort, "ca.pem", "wrong-password"))
            routes:
              - { name: failures, kind: [failure_risk], notify: [lead, untrusted, cleartext, wrong-password] }
            retry: { attempts: 1, backoff: 100ms }
            """, source: "test")
        let bus = try openBus("embedded://\(dir)/bus?partitions=2&fsync=never")
        let alert = Self.alert(
            "plant1/line1/m07/failure_risk/3", machine: "plant1/line1/m07", kind: "failure_risk", priority: "urgent",
            ts: Timestamp.format(Timestamp.now()))
        _ = try await bus.producer().send(
            [Record(key: Array(alert.machine.utf8), value: alert.encoded(), timestamp: 0)], to: Topics.alerts.name)
        var notes: [NotificationRecord] = []
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await NotifierService(bus: bus, config: config, start: .earliest).run() }
            let consumer = try await bus.consumer(ConsumerOptions(topics: [Topics.notifications.name]))
            let waited = ContinuousClock.now
            while notes.count < 4 && ContinuousClock.now - waited < .seconds(60) {
                for r in try await consumer.poll(maxRecords: 10, timeout: .milliseconds(300)) {
                    notes.append(try Topics.notifications.decode(r.value))
                }
            }
            group.cancelAll()
        }
        let byChannel = Dictionary(notes.map { ($0.channel, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byChannel["lead"]?.status == "sent", "\(byChannel["lead"].map { "\($0)" } ?? "no record")")
        #expect(byChannel["untrusted"]?.status == "failed")
        #expect(byChannel["untrusted"]?.error?.contains("TLS after STARTTLS failed") == true, "\(notes)")
        #expect(byChannel["cleartext"]?.error?.contains("does not offer STARTTLS") == true, "\(notes)")
        #expect(byChannel["wrong-password"]?.error?.contains("answered AUTH PLAIN with 535") == true, "\(notes)")
        // One message arrived, inside TLS, authenticated, to both recipients, and reads as mail.
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(lines.count == 1, "\(lines)")
        let got = try JSONSerialization.jsonObject(with: Data((lines.first ?? "{}").utf8)) as? [String: Any] ?? [:]
        #expect(got["tls"] as? Bool == true && got["auth"] as? Bool == true && got["port"] as? Int == tlsPort)
        #expect(got["to"] as? [String] == ["shift-lead@plant.example", "maintenance@plant.example"])
        let data = got["data"] as? String ?? ""
        #expect(data.contains("Subject: [URGENT] plant1/line1/m07: failure_risk on plant1/line1/m07"), "\(data)")
        #expect(data.contains("X-Millstream-Alert: plant1/line1/m07/failure_risk/3"))
        #expect(data.contains("Priority: urgent") && data.contains("Route: failures"))
        try await bus.close()
    }

    /// A notifier that stops with an escalation pending, while an operator acknowledges another alert: the next one
    /// reads the pending escalations back and sends the unacknowledged one when due, and only that one, once.
    @Test func escalationsSurviveARestart() async throws {
        let scene = try WebhookScene()
        defer { scene.end() }
        let (dir, port, log) = (scene.dir, scene.port, scene.log)
        let config = try NotificationConfig.parse(
            """
            channels:
              ops: { type: webhook, url: "http://127.0.0.1:\(port)/ops" }
              lead: { type: webhook, url: "http://127.0.0.1:\(port)/lead", format: slack }
            routes:
              - { name: failures, kind: [failure_risk], notify: [ops], escalate: { after: 3s, notify: [lead] } }
            """, source: "test")
        let bus = try openBus("embedded://\(dir)/bus?partitions=2&fsync=never")
        let producer = try await bus.producer()
        let now = Timestamp.format(Timestamp.now())
        let alerts = ["m1", "m2"].map {
            Self.alert("\($0)/failure_risk/1", machine: $0, kind: "failure_risk", priority: "high", ts: now)
        }
        _ = try await producer.send(
            alerts.map { Record(key: Array($0.machine.utf8), value: $0.encoded(), timestamp: 0) },
            to: Topics.alerts.name)
        func run(until done: @escaping @Sendable () -> Bool) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await NotifierService(bus: bus, config: config, start: .earliest).run() }
                let waited = ContinuousClock.now
                while !done() && ContinuousClock.now - waited < .seconds(30) {
                    try await Task.sleep(for: .milliseconds(100))
                }
                group.cancelAll()
            }
        }
        // The first notifier sends both alerts and stops well before they are due to escalate.
        try await run { Self.posts(log).filter { $0.path == "/ops" }.count == 2 }
        #expect(Self.posts(log).map(\.path) == ["/ops", "/ops"])
        let ack = AlertActionRecord(id: "a1", alert: "m2/failure_risk/1", action: "acknowledge", by: "op", ts: now)
        _ = try await producer.send(
            [Record(key: Array(ack.alert.utf8), value: ack.encoded(), timestamp: 0)], to: Topics.alertActions.name)
        // The next reads them back: m1 escalates when due; m2 was acknowledged in between.
        try await run { Self.posts(log).contains { $0.path == "/lead" } }
        try await Task.sleep(for: .seconds(1))
        let posts = Self.posts(log)
        #expect(posts.filter { $0.path == "/ops" }.count == 2, "the alerts were not sent again: \(posts.map(\.path))")
        let lead = posts.filter { $0.path == "/lead" }
        #expect(lead.count == 1 && lead.first?.body.contains("m1: failure_risk") == true, "\(lead)")
        var states: [String: String] = [:]
        _ = try await bus.readToEnd(Topics.escalations.name) { r in
            let e = try Topics.escalations.decode(r.value)
            states[e.alert.id] = e.state
        }
        #expect(states == ["m1/failure_risk/1": "done", "m2/failure_risk/1": "done"])
        try await bus.close()
    }
}
