import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Central logging as it runs: `millstream serve` with the standard OTel environment exports its request spans and
/// its logs over OTLP/HTTP (swift-otel) to a receiver that decodes them with OpenTelemetry's own protobuf messages;
/// a caller's W3C traceparent is continued; and the JSON log line on stderr of the same request carries the same
/// trace id with the field names ELK and Splunk read (`@timestamp` first, `log.level`, `trace.id`, ...).
@Suite(.serialized) struct CentralLoggingTests {
    @Test func requestSpansAndLogsGoByOTLPWithOneTraceID() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tokens = dir + "/tokens.json"
        let created = try await CLI.run(["tokens", "create", "--role", "admin", "--name", "ops", "--tokens", tokens])
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let port = TansuBroker.freePort()
        let received = dir + "/otlp.jsonl"
        FileManager.default.createFile(atPath: received, contents: nil)
        let receiver = try Child(
            LiveDemo.repository + "/.venv/bin/python",
            [LiveDemo.repository + "/Tests/CLITests/Peer/otlp.py", "\(port)", received])
        defer { receiver.stop(SIGKILL) }
        let stderr = dir + "/serve.log"
        FileManager.default.createFile(atPath: stderr, contents: nil)
        let serve = try Child(
            "/usr/bin/env",
            [
                "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:\(port)", "OTEL_BSP_SCHEDULE_DELAY=200",
                "OTEL_BLRP_SCHEDULE_DELAY=200", CLI.binary, "serve", "--bus", "embedded://\(dir)/bus", "--tokens",
                tokens, "--registry", dir + "/models", "--port", "0", "--audit-log", dir + "/audit.log",
            ], stderr: stderr)
        defer { serve.stop(SIGKILL) }
        func lines() -> [String] {
            String(decoding: FileManager.default.contents(atPath: stderr) ?? Data(), as: UTF8.self)
                .split(separator: "\n").map(String.init)
        }
        var base: String?
        let started = ContinuousClock.now
        while base == nil && ContinuousClock.now - started < .seconds(60) {
            base = lines().first { $0.hasPrefix("millstream serve: http://") }
                .map { String($0.dropFirst("millstream serve: ".count).prefix { $0 != " " }) }
            if base == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let url = try #require(base, "serve did not start: \(lines().suffix(5))")
        // A state-changing request (audited) inside the caller's trace.
        let trace = "0af7651916cd43dd8448eb211c80319c"
        let parent = "b7ad6b7169203331"
        var request = URLRequest(url: URL(string: url + "api/optimizer/closed-loop")!)
        request.httpMethod = "POST"
        request.httpBody = Data(#"{"enabled":false}"#.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("00-\(trace)-\(parent)-01", forHTTPHeaderField: "traceparent")
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        var exported: [[String: Any]] = []
        let waited = ContinuousClock.now
        while ContinuousClock.now - waited < .seconds(30) {
            exported = String(decoding: FileManager.default.contents(atPath: received) ?? Data(), as: UTF8.self)
                .split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
            let inTrace = exported.filter { $0["trace_id"] as? String == trace }
            if inTrace.contains(where: { $0["signal"] as? String == "span" })
                && inTrace.contains(where: { $0["signal"] as? String == "log" })
            {
                break
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        // The request's span continues the caller's trace, under its span, from this service.
        let span = exported.first { $0["signal"] as? String == "span" && $0["trace_id"] as? String == trace }
        #expect(span?["parent_span_id"] as? String == parent, "\(exported)")
        #expect(span?["service"] as? String == "millstream-serve")
        #expect((span?["name"] as? String)?.contains("/api/optimizer/closed-loop") == true, "\(span ?? [:])")
        // The audit log record of that request went by OTLP too, in the same trace and span.
        let log = exported.first { $0["signal"] as? String == "log" && $0["body"] as? String == "audit" }
        #expect(log?["trace_id"] as? String == trace && log?["span_id"] as? String == span?["span_id"] as? String)
        // And on stderr: one JSON line with the same ids, the time first, ECS names.
        let audit = lines().first { $0.contains(#""message":"audit""#) }
        #expect(audit?.hasPrefix(#"{"@timestamp":""#) == true, "\(audit ?? "no audit line")")
        let entry = try JSONSerialization.jsonObject(with: Data((audit ?? "{}").utf8)) as? [String: Any] ?? [:]
        #expect(entry["trace.id"] as? String == trace && entry["span.id"] as? String == span?["span_id"] as? String)
        #expect(entry["log.level"] as? String == "notice" && entry["service.name"] as? String == "millstream-serve")
        #expect(
            entry["log.logger"] as? String == "millstream.server" && (entry["request_id"] as? String)?.isEmpty == false,
            "\(entry)")
        // Every line on stderr is JSON (what a collector's JSON parser takes), but the two for people at start.
        let notJSON = lines().filter { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) == nil }
        #expect(notJSON.allSatisfy { $0.hasPrefix("millstream serve: ") || $0.hasPrefix("warning") }, "\(notJSON)")
    }
}
