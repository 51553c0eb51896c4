import Bus
import Buses
import Foundation
import LocalPeers
import Notifications
import Plant
import Testing
import Topics

/// Routes, shifts and escalation as rules; then the notifier against a real webhook receiver (Python's HTTP server):
/// generic JSON and Slack bodies, retries of a receiver that fails twice, escalation of the unacknowledged alert only,
/// and a dead letter for a receiver that is not there.
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
        // Configs that name what is not there are refused by name.
        #expect(throws: NotificationError.self) {
            try NotificationConfig.parse("channels: {}\nroutes: [{name: r, notify: [pager]}]", source: "x.yaml")
        }
        #expect(throws: NotificationError.self) {
            try NotificationConfig.parse("channels: {a: {type: webhook, url: 'ftp://x'}}", source: "x.yaml")
        }
    }

    @Test func notifierDeliversRetriesEscalatesAndDeadLetters() async throws {
        let dir = NSTemporaryDirectory() + "millstream-notify-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = freeLoopbackPort()
        let log = dir + "/received.jsonl"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let receiver = Process()
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        receiver.executableURL = here.appendingPathComponent("../../.venv/bin/python").standardized
        receiver.arguments = [here.appendingPathComponent("Peer/webhook.py").path, "\(port)", log]
        let ready = Pipe()
        receiver.standardOutput = ready
        try receiver.run()
        defer {
            // SIGKILL: a child of the test runner inherits its blocked SIGTERM.
            kill(receiver.processIdentifier, SIGKILL)
            receiver.waitUntilExit()
        }
        _ = ready.fileHandleForReading.availableData
        let config = try NotificationConfig.parse(
            Self.yaml.replacingOccurrences(of: "PORT", with: "\(port)").replacingOccurrences(
                of: "DEAD", with: "\(freeLoopbackPort())"), source: "test")
        let bus = try openBus("embedded://\(dir)/bus?partitions=2&fsync=never")
        let producer = try await bus.producer()
        func received() -> [(path: String, body: String)] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                guard let o = try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] else {
                    return nil
                }
                return (o["path"] ?? "", o["body"] ?? "")
            }
        }
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
                records.map { BusRecord(key: Array($0.machine.utf8), value: $0.encoded(), timestamp: 0) },
                to: Topics.alerts.name)
            // The second is acknowledged (whether the notifier reads that before or after the alert); the first is
            // not, and escalates.
            let ack = AlertActionRecord(
                id: "a1", alert: "plant1/line1/m02/failure_risk/1", action: "acknowledge", by: "op", ts: now)
            _ = try await producer.send(
                [BusRecord(key: Array(ack.alert.utf8), value: ack.encoded(), timestamp: 0)],
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
}
