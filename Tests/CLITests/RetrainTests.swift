import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `millstream retrain` on a simulated plant, through the real pipeline and server: the first run puts the first
/// version in production; the second, started step by step, stops when the server is away and resumes where it was;
/// the challenger it registers is scored in shadow by the pipeline, and the run promotes or rejects it on the server's
/// verdict, audited there; `retrain --watch` starts a run on a request made through the API.
@Suite(.serialized) struct RetrainTests {
    static let example = LiveDemo.repository + "/examples/retrain/retrain.yaml"

    @Test func retrainRunsStepsResumesAndDecidesOnTheShadowVerdict() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = "embedded://\(dir)/bus"
        let port = TansuBroker.freePort()
        // The example config, on this plant, with a short training and a small shadow policy.
        let config = try String(contentsOfFile: Self.example, encoding: .utf8)
            .replacingOccurrences(of: "embedded://./millstream-data", with: bus)
            .replacingOccurrences(of: "./models", with: dir + "/models")
            .replacingOccurrences(of: "./retrain", with: dir + "/retrain")
            .replacingOccurrences(of: "http://127.0.0.1:8080", with: "http://127.0.0.1:\(port)")
            .replacingOccurrences(of: "--epochs, \"30\"", with: "--epochs, \"3\"")
            .replacingOccurrences(of: "poll: 60s", with: "poll: 1s")
            .replacingOccurrences(of: "timeout: 24h", with: "timeout: 60s")
            .replacingOccurrences(of: "check: 30s", with: "check: 1s")
            // The watcher starts on the API's request alone here: no schedule, no drift trigger.
            .replacingOccurrences(of: "  every: 24h\n", with: "")
            .replacingOccurrences(of: "  drift: true", with: "  drift: false")
        #expect(config.contains(bus) && config.contains("\"3\"") && !config.contains("every:"))
        try config.write(toFile: dir + "/retrain.yaml", atomically: true, encoding: .utf8)
        func simulate(seed: Int, start: String, duration: String) async throws {
            let sim = try await CLI.run([
                "simulate", "--machines", "20", "--duration", duration, "--fast", "--seed", "\(seed)", "--labels",
                "--start", start, "--bus", bus,
            ])
            #expect(sim.status == 0, "\(sim.stderr)")
        }
        func state(_ run: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/retrain/\(run)/state.json"))) as! [String: Any]
        }

        // Run 1: no champion yet, so the first version goes to production.
        try await simulate(seed: 1, start: "2026-05-01T00:00:00Z", duration: "2d")
        let first = try await CLI.run(["retrain", "--config", dir + "/retrain.yaml", "--run", "first", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try state("first")["outcome"] as? String == "promoted: lead@v1 is the first in production")

        // Run 2, step by step: a step whose predecessors are not done is refused.
        try await simulate(seed: 2, start: "2026-05-03T00:00:00Z", duration: "2d")
        let retrain = ["retrain", "--config", dir + "/retrain.yaml", "--run", "second"]
        #expect(try await CLI.run(retrain + ["--step", "snapshot"]).status == 0)
        let early = try await CLI.run(retrain + ["--step", "train"])
        #expect(early.status != 0 && early.stderr.contains("step train needs step validate first"), "\(early.stderr)")
        // The server is not up yet: the run stops at the shadow step, with the challenger registered.
        let away = try await CLI.run(retrain)
        #expect(away.status != 0)
        #expect(away.stderr.contains("step shadow") && away.stderr.contains("cannot be reached"), "\(away.stderr)")
        #expect(away.stderr.contains("resume with --run second"))
        let done = try state("second")["done"] as? [String] ?? []
        #expect(done == ["snapshot", "validate", "split", "train", "evaluate", "register"], "\(done)")
        let evaluate = (try state("second")["steps"] as? [String: [String: String]])?["evaluate"]
        #expect(
            evaluate?["champion"] == "lead@v1" && evaluate?["challenger_pr_auc"] != nil,
            "\(String(describing: evaluate))")
        let show = try await CLI.run(["models", "list", "--registry", dir + "/models"])
        #expect(show.stdout.contains("@challenger"), "\(show.stdout)")
        // The log has a line per event.
        let log = try String(contentsOfFile: "\(dir)/retrain/second/log.jsonl", encoding: .utf8)
        #expect(log.contains(#""step":"train""#) && log.contains(#""event":"failed""#))

        // A day more, scored by the pipeline with the challenger in shadow.
        try await simulate(seed: 3, start: "2026-05-05T00:00:00Z", duration: "1d")
        let worker = try await CLI.run([
            "run", "--bus", bus, "--registry", dir + "/models", "--model", "lead", "--exit-when-idle", "1s", "--json",
        ])
        #expect(worker.status == 0, "\(worker.stderr)")
        let scored = try JSONSerialization.jsonObject(with: Data(worker.stdout.utf8)) as? [String: Any]
        #expect(scored?["shadow"] as? String == "lead@v2" && (scored?["shadow_predictions"] as? Int ?? 0) > 10_000)

        // The server, with a policy this plant's day can meet.
        let tokens = dir + "/tokens.json"
        let token = try await CLI.run([
            "tokens", "create", "--role", "engineer", "--name", "test-engineer", "--tokens", tokens,
        ])
        .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let err = dir + "/serve.err"
        FileManager.default.createFile(atPath: err, contents: nil)
        let serve = try Child(
            CLI.binary,
            [
                "serve", "--port", "\(port)", "--tokens", tokens, "--bus", bus, "--registry", dir + "/models",
                "--audit-log", dir + "/audit.log", "--promote-min-outcomes", "2000", "--promote-min-failures", "10",
            ], stderr: err)
        defer { serve.stop() }
        let base = "http://127.0.0.1:\(port)"
        let started = ContinuousClock.now
        while (try? await HTTP.get(base + "/readyz", token: nil).0) != 200, ContinuousClock.now - started < .seconds(60)
        {
            try await Task.sleep(for: .milliseconds(200))
        }
        let (status, body) = try await HTTP.get(base + "/api/models/lead/challenger", token: token)
        let evidence = try JSONSerialization.jsonObject(with: body) as? [String: Any]
        #expect(
            status == 200 && (evidence?["labelled"] as? Int ?? 0) >= 2000, "\(String(decoding: body, as: UTF8.self))")
        let verdict = evidence?["decision"] as? String
        #expect(verdict == "promote" || verdict == "reject", "\(String(describing: evidence))")

        // Resumed: the steps done are skipped; the shadow step reads the verdict and the run carries it out.
        let resumed = try await CLI.run(retrain + ["--json"], shell: "export MILLSTREAM_TOKEN=\(token)")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains(#""event":"resumed""#) && !resumed.stderr.contains(#""step":"train""#))
        let outcome = try state("second")["outcome"] as? String ?? ""
        let versions = try await CLI.run(["models", "list", "--registry", dir + "/models"]).stdout
        if verdict == "promote" {
            #expect(outcome.hasPrefix("promoted: lead@v2"), "\(outcome)")
            #expect(versions.contains("lead@v2\tproduction"), "\(versions)")
        } else {
            #expect(outcome.hasPrefix("rejected in shadow"), "\(outcome)")
        }
        #expect(!versions.contains("@challenger"), "the challenger alias is gone: \(versions)")
        let audit = try String(contentsOfFile: dir + "/audit.log", encoding: .utf8)
        #expect(audit.contains("challenger\\/\(verdict ?? "?")") || audit.contains("challenger/\(verdict ?? "?")"))

        // A request through the API starts a run of the watcher.
        let watchErr = dir + "/watch.err"
        FileManager.default.createFile(atPath: watchErr, contents: nil)
        let watcher = try Child(
            CLI.binary, ["retrain", "--config", dir + "/retrain.yaml", "--watch"], stderr: watchErr)
        defer { watcher.stop() }
        var request = URLRequest(url: URL(string: base + "/api/models/lead/retrain")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(#"{"reason":"new tooling"}"#.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 202)
        let waiting = ContinuousClock.now
        var watched = ""
        while ContinuousClock.now - waiting < .seconds(90) {
            watched = String(decoding: FileManager.default.contents(atPath: watchErr) ?? Data(), as: UTF8.self)
            if watched.contains(#""step":"snapshot""#) && watched.contains("requested by test-engineer") { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(watched.contains("requested by") && watched.contains("new tooling"), "\(watched.suffix(2000))")
    }

    /// A trigger setting that is not a duration is refused before anything runs, naming the setting and the file.
    @Test func aBadDriftForIsRefused() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try String(contentsOfFile: Self.example, encoding: .utf8)
            .replacingOccurrences(of: "./retrain", with: dir + "/retrain")
            .replacingOccurrences(of: "drift_for: 24h", with: "drift_for: a day")
        try config.write(toFile: dir + "/retrain.yaml", atomically: true, encoding: .utf8)
        let bad = try await CLI.run(["retrain", "--config", dir + "/retrain.yaml", "--watch"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("triggers.drift_for a day is not a duration"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/retrain"), "nothing ran")
    }
}
