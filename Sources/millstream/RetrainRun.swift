import Crypto
import Foundation
import Learn
import Plant
import Primitives
import Registry

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What a run has done so far (WORK/RUN/state.json): each step done, with what it produced, and the outcome.
struct RetrainState: Codable {
    var steps: [String: [String: String]] = [:]
    var done: [String] = []
    var outcome: String?
    var reason: String?

    func json(id: String, directory: String) -> [String: Any] {
        [
            "run": id, "directory": directory, "done": done, "steps": steps, "outcome": outcome ?? NSNull(),
            "reason": reason ?? NSNull(),
        ]
    }
}

/// One retraining run: snapshot -> validate -> split -> train -> evaluate -> register -> shadow -> decide. Each step
/// records its results in the run's state before the next starts, so a run that stopped (killed, a server away, an
/// Airflow task retried) resumes where it was; each event is a line of the run's log.
struct RetrainRun {
    let config: RetrainConfig
    let id: String
    let directory: String
    private(set) var state: RetrainState

    static func newID() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: Date())
    }

    init(config: RetrainConfig, id: String, reason: String?) throws {
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.+".contains($0) }) else {
            throw CommandError("run '\(id)' must be letters, digits, - _ . +")
        }
        self.config = config
        self.id = id
        self.directory = (config.work as NSString).appendingPathComponent(id)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let data = FileManager.default.contents(atPath: directory + "/state.json") {
            do {
                state = try JSONDecoder().decode(RetrainState.self, from: data)
            } catch {
                throw CommandError("\(directory)/state.json cannot be read (\(error)); remove the run or fix the file")
            }
        } else {
            state = RetrainState(reason: reason)
        }
    }

    /// Every step not done yet, in order; stops at an outcome (a rejection ends the run early).
    mutating func perform() async throws {
        if state.done.isEmpty {
            log("run", "started", ["reason": state.reason ?? "by hand", "model": config.model])
        } else {
            log("run", "resumed", ["done": state.done.joined(separator: ",")])
        }
        for step in RetrainStep.allCases where !state.done.contains(step.rawValue) {
            guard state.outcome == nil else { break }
            try await perform(step)
        }
    }

    /// One step; the steps before it must be done.
    mutating func perform(_ step: RetrainStep) async throws {
        if state.done.contains(step.rawValue) {
            log(step.rawValue, "skipped", ["why": "done before"])
            return
        }
        if let outcome = state.outcome {
            log(step.rawValue, "skipped", ["why": "the run ended: \(outcome)"])
            return
        }
        let index = RetrainStep.allCases.firstIndex(of: step)!
        if let missing = RetrainStep.allCases[..<index].first(where: { !state.done.contains($0.rawValue) }) {
            throw CommandError("run \(id): step \(step.rawValue) needs step \(missing.rawValue) first")
        }
        log(step.rawValue, "started", [:])
        let results: [String: String]
        do {
            switch step {
            case .snapshot: results = try await snapshot()
            case .validate: results = try validate()
            case .split: results = try split()
            case .train: results = try await train()
            case .evaluate: results = try evaluate()
            case .register: results = try register()
            case .shadow: results = try await shadow()
            case .decide: results = try await decide()
            }
        } catch {
            log(step.rawValue, "failed", ["error": "\(error)"])
            throw CommandError("run \(id), step \(step.rawValue): \(error) (resume with --run \(id))")
        }
        state.steps[step.rawValue] = results
        state.done.append(step.rawValue)
        try save()
        log(step.rawValue, "done", results)
    }

    // MARK: - Steps

    private var snapshotCSV: String { directory + "/snapshot.csv" }

    private func snapshot() async throws -> [String: String] {
        var args = ["--bus", config.bus, "--out", directory, "--name", "snapshot"]
        if let process = config.process { args += ["--config", process] }
        if let labels = config.snapshot.labels { args += ["--labels", labels] }
        if let since = config.snapshot.since { args += ["--since", since] }
        if let until = config.snapshot.until { args += ["--until", until] }
        if let n = config.snapshot.minRows { args += ["--min-rows", "\(n)"] }
        if let n = config.snapshot.minFailures { args += ["--min-failures", "\(n)"] }
        if let gap = config.snapshot.maxGap { args += ["--max-gap", gap] }
        let (manifest, _) = try await Millstream.Dataset.Snapshot.parse(args).take()
        return [
            "file": snapshotCSV, "sha256": manifest["sha256"] as? String ?? "", "rows": "\(manifest["rows"] ?? 0)",
            "failures": "\(manifest["failures"] ?? 0)",
        ]
    }

    /// The snapshot's checks (a snapshot that failed one was refused by the snapshot step already).
    private func validate() throws -> [String: String] {
        let manifest = try Self.readJSON(directory + "/snapshot.manifest.json")
        let validation = manifest["validation"] as? [String: Any]
        let checks = validation?["checks"] as? [[String: Any]] ?? []
        var out: [String: String] = ["passed": "\(validation?["passed"] as? Bool ?? false)"]
        for c in checks { out[c["check"] as? String ?? "?"] = c["detail"] as? String ?? "" }
        guard validation?["passed"] as? Bool == true else {
            throw CommandError("the snapshot failed its checks: \(out)")
        }
        return out
    }

    /// The newest `holdout` of the snapshot's time range is the fresh hold-out; the rest is trained on. The training
    /// part gets a manifest of its own (the snapshot's, for its rows), so the model's lineage names it.
    private func split() throws -> [String: String] {
        let text = try String(contentsOfFile: snapshotCSV, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count > 1 else { throw CommandError("\(snapshotCSV) has no rows") }
        let header = lines.removeFirst()
        guard let minutesColumn = header.split(separator: ",").firstIndex(of: "minutes") else {
            throw CommandError("\(snapshotCSV) has no minutes column")
        }
        // The time column of each row (the snapshot writes machine, minutes, product first: no quoted commas before it).
        let times = lines.map { line -> Double in
            Double(
                line.split(separator: ",", maxSplits: minutesColumn + 1, omittingEmptySubsequences: false)[
                    minutesColumn]) ?? 0
        }
        let (first, last) = (times.min()!, times.max()!)
        let cut = last - (last - first) * config.holdout
        var train = [String(header)]
        var holdout = [String(header)]
        for (line, t) in zip(lines, times) {
            if t < cut { train.append(String(line)) } else { holdout.append(String(line)) }
        }
        guard train.count > 1, holdout.count > 1 else {
            throw CommandError("the snapshot's time range is too short to hold out its newest \(config.holdout)")
        }
        let trainText = train.joined(separator: "\n") + "\n"
        try trainText.write(toFile: directory + "/train.csv", atomically: true, encoding: .utf8)
        try (holdout.joined(separator: "\n") + "\n").write(
            toFile: directory + "/holdout.csv", atomically: true, encoding: .utf8)
        var manifest = try Self.readJSON(directory + "/snapshot.manifest.json")
        manifest["derived_from"] = [
            "file": "snapshot.csv", "sha256": manifest["sha256"] ?? "", "holdout": config.holdout,
        ]
        manifest["file"] = "train.csv"
        manifest["sha256"] = SHA256.hash(data: Data(trainText.utf8)).hexString
        manifest["rows"] = train.count - 1
        manifest["time_range"] = [
            "from": Timestamp.format(Int64(first * 60_000)), "to": Timestamp.format(Int64(cut * 60_000)),
        ]
        let data = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: directory + "/train.manifest.json"), options: .atomic)
        return [
            "train_rows": "\(train.count - 1)", "holdout_rows": "\(holdout.count - 1)",
            "holdout_from": Timestamp.format(Int64(cut * 60_000)),
        ]
    }

    private func train() async throws -> [String: String] {
        var args =
            config.train + [
                "--data", directory + "/train.csv", "--name", config.model, "--registry", config.registry, "--quiet",
            ]
        if let mlflow = config.mlflow { args += ["--mlflow", mlflow] }
        let command = try Millstream.Train.parse(args)
        guard let trained = try await command.trainAndTrack() else {
            throw CommandError(
                "retrain trains neural networks; train: \(config.train.joined(separator: " ")) made a detector")
        }
        var out = [
            "version": "\(trained.version.version)", "challenger": "\(config.model)@v\(trained.version.version)",
            "seconds": String(format: "%.1f", trained.seconds),
        ]
        for (k, v) in trained.result.testMetrics { out["test_" + k] = String(format: "%.4f", v) }
        if let run = trained.mlflowRun { out["mlflow_run"] = run }
        return out
    }

    /// The challenger and the champion (the production version) on the same hold-out; the offline gate.
    private mutating func evaluate() throws -> [String: String] {
        let registry = try ModelRegistry(root: config.registry)
        let challenger = Int(state.steps["train"]?["version"] ?? "") ?? 0
        let holdout = directory + "/holdout.csv"
        let (file, _) = try registry.load(ModelReference("\(config.model)@v\(challenger)"))
        let new = try Millstream.Evaluate.failureWithinMetrics(file, data: holdout, event: config.event)
        var out = Self.figures(new, prefix: "challenger_")
        // Against an alarm that is always on first: a challenger no better is refused whatever the champion does.
        let positives = new.confusion[1][0] + new.confusion[1][1]
        let total = new.confusion.joined().reduce(0, +)
        let alwaysOn = PromotionPolicy.alwaysOnF1(failures: positives, of: total)
        out["always_on_f1"] = String(format: "%.4f", alwaysOn)
        if new.f1 < alwaysOn * PromotionPolicy.overAlwaysOn {
            out["gate"] =
                "failed: hold-out F1 \(String(format: "%.4f", new.f1)) is not 5 % better than an alarm that is always on (\(String(format: "%.4f", alwaysOn)))"
            try registry.promote(
                config.model, version: challenger, to: .archived, note: "rejected offline: \(out["gate"]!)")
            state.outcome = "rejected offline: \(out["gate"]!)"
            return out
        }
        let champion = try? registry.resolve(ModelReference("\(config.model)@production"))
        guard let champion, champion.version != challenger else {
            out["champion"] = "none"
            out["gate"] = "passed: no champion to compare with"
            return out
        }
        let (championFile, _) = try registry.load(ModelReference("\(config.model)@v\(champion.version)"))
        let old = try Millstream.Evaluate.failureWithinMetrics(championFile, data: holdout, event: config.event)
        out.merge(Self.figures(old, prefix: "champion_")) { $1 }
        out["champion"] = "\(config.model)@v\(champion.version)"
        let metric = config.gate.metric
        let gain = Self.value(new, metric) - Self.value(old, metric)
        out["gain"] = String(format: "%.4f", gain)
        let passed = gain >= config.gate.minGain
        out["gate"] =
            "\(passed ? "passed" : "failed"): hold-out \(metric) \(String(format: "%.4f", Self.value(new, metric))) against the champion's \(String(format: "%.4f", Self.value(old, metric))) (at least \(config.gate.minGain) more needed)"
        if !passed {
            try registry.promote(
                config.model, version: challenger, to: .archived, note: "rejected offline: \(out["gate"]!)")
            state.outcome = "rejected offline: \(out["gate"]!)"
        }
        return out
    }

    /// The challenger alias points at the new version (the pipeline scores it in shadow within seconds); with no
    /// champion, the first version goes straight to production.
    private mutating func register() throws -> [String: String] {
        let registry = try ModelRegistry(root: config.registry)
        let version = Int(state.steps["train"]?["version"] ?? "") ?? 0
        if state.steps["evaluate"]?["champion"] == "none" {
            try registry.promote(
                config.model, version: version, to: .production, note: "the first version: no champion")
            state.outcome = "promoted: \(config.model)@v\(version) is the first in production"
            return ["stage": "production"]
        }
        try registry.setAlias("challenger", of: config.model, to: version)
        return ["alias": "challenger", "version": "\(version)"]
    }

    /// Waits for the server's verdict on the live evidence (GET /api/models/NAME/challenger) up to the timeout.
    private mutating func shadow() async throws -> [String: String] {
        guard let server = config.server else {
            state.outcome = "in shadow: no server in the config; promote or reject on the dashboard"
            return ["verdict": "none"]
        }
        let timeout = try parseDuration(config.shadow.timeout, option: "shadow.timeout")
        let poll = try parseDuration(config.shadow.poll, option: "shadow.poll")
        let started = Date(
            timeIntervalSince1970: Double(
                Int64(state.steps["shadow-started"]?["at"] ?? "") ?? Int64(Date().timeIntervalSince1970)))
        if state.steps["shadow-started"] == nil {
            state.steps["shadow-started"] = ["at": "\(Int64(started.timeIntervalSince1970))"]
            try save()
        }
        let deadline = started.addingTimeInterval(Double(timeout.components.seconds))
        var last: [String: Any] = [:]
        while true {
            last = try await Self.call(server, "GET", "/api/models/\(config.model)/challenger")
            let verdict = last["decision"] as? String ?? "wait"
            log("shadow", "evidence", ["verdict": verdict, "reason": last["reason"] as? String ?? ""])
            if verdict != "wait" {
                return [
                    "verdict": verdict, "reason": last["reason"] as? String ?? "",
                    "labelled": "\(last["labelled"] ?? 0)",
                ]
            }
            if Date() >= deadline {
                let reason = last["reason"] as? String ?? ""
                if config.shadow.onTimeout == "reject" {
                    return ["verdict": "reject", "reason": "no verdict within \(config.shadow.timeout): \(reason)"]
                }
                state.outcome =
                    "in shadow: no verdict within \(config.shadow.timeout) (\(reason)); the challenger keeps shadowing"
                return ["verdict": "timeout", "reason": reason]
            }
            try await Task.sleep(for: poll)
        }
    }

    /// Promotes or rejects through the server (audited there with the evidence).
    private mutating func decide() async throws -> [String: String] {
        guard let server = config.server, let verdict = state.steps["shadow"]?["verdict"],
            verdict == "promote" || verdict == "reject"
        else { return ["decision": "none"] }
        let answer = try await Self.call(server, "POST", "/api/models/\(config.model)/challenger/\(verdict)")
        state.outcome =
            verdict == "promote"
            ? "promoted: \(answer["challenger"] as? String ?? "?") (\(answer["reason"] as? String ?? ""))"
            : "rejected in shadow: \(answer["reason"] as? String ?? "")"
        return ["decision": verdict, "stage": answer["stage"] as? String ?? ""]
    }

    // MARK: - State, log, helpers

    private func save() throws {
        let data = try JSONEncoder().encode(state)
        try data.write(to: URL(fileURLWithPath: directory + "/state.json"), options: .atomic)
    }

    /// A line of the run's log (and of stderr).
    func log(_ step: String, _ event: String, _ fields: [String: String]) {
        var line: [String: Any] = [
            "ts": Timestamp.format(Int64(Date().timeIntervalSince1970 * 1000)), "run": id, "step": step, "event": event,
        ]
        for (k, v) in fields { line[k] = v }
        let text = Terminal.jsonLine(line)
        Terminal.error(text)
        if let handle = FileHandle(forWritingAtPath: directory + "/log.jsonl")
            ?? {
                FileManager.default.createFile(atPath: directory + "/log.jsonl", contents: nil)
                return FileHandle(forWritingAtPath: directory + "/log.jsonl")
            }()
        {
            handle.seekToEndOfFile()
            handle.write(Data((text + "\n").utf8))
            try? handle.close()
        }
    }

    static func figures(_ m: BinaryMetrics, prefix: String) -> [String: String] {
        [
            prefix + "f1": String(format: "%.4f", m.f1), prefix + "pr_auc": String(format: "%.4f", m.prAUC),
            prefix + "roc_auc": String(format: "%.4f", m.rocAUC),
            prefix + "precision": String(format: "%.4f", m.precision),
            prefix + "recall": String(format: "%.4f", m.recall),
        ]
    }

    static func value(_ m: BinaryMetrics, _ metric: String) -> Double {
        switch metric {
        case "f1": m.f1
        case "roc_auc": m.rocAUC
        case "precision": m.precision
        case "recall": m.recall
        default: m.prAUC
        }
    }

    static func readJSON(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path),
            let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw CommandError("cannot read \(path)") }
        return o
    }

    /// A call on the Millstream server with $MILLSTREAM_TOKEN.
    static func call(_ server: String, _ method: String, _ path: String) async throws -> [String: Any] {
        guard let url = URL(string: server + path) else { throw CommandError("server '\(server)' is not a URL") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        if method == "POST" {
            request.httpBody = Data("{}".utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let token = ProcessInfo.processInfo.environment["MILLSTREAM_TOKEN"] {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CommandError(
                "the server \(server) cannot be reached (\(method) \(path)): \(error.localizedDescription)")
        }
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw CommandError(
                "the server \(server) answered \(method) \(path) with \(status): \(json["error"] as? String ?? String(decoding: data.prefix(200), as: UTF8.self))"
            )
        }
        return json
    }
}
