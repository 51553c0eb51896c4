import Bus
import Buses
import Foundation
import Plant
import Registry
import ServiceLifecycle
import Topics

/// `retrain --watch`: checks the triggers every `triggers.check` and starts a run when one fires, one run at a time,
/// no sooner than the cooldown after the last: a schedule, a drift alert on the production version, a drop of its
/// live F1, or a request on `retrain-requests`. What it has seen (the last start, the requests read) is kept in
/// WORK/watch.json, so a restarted watcher neither repeats nor misses a request.
struct RetrainWatcher: Service {
    let config: RetrainConfig

    struct Memory: Codable {
        var lastStarted: Double?
        /// The next offset of `retrain-requests` per partition.
        var requests: [String: Int64] = [:]
        var runs: [String] = []
        /// With `triggers.drift_for`: when (plant time) the current drift of the production version was first seen.
        var driftSighted: DriftSighting?
    }

    struct DriftSighting: Codable {
        /// The production version it was seen on ("lead@v1"); a new version starts the wait again.
        var model: String
        /// The newest reading in the server's drift window at the first sighting (ms).
        var at: Int64
    }

    var memoryPath: String { (config.work as NSString).appendingPathComponent("watch.json") }

    func run() async throws {
        try FileManager.default.createDirectory(atPath: config.work, withIntermediateDirectories: true)
        var memory =
            (FileManager.default.contents(atPath: memoryPath)).flatMap {
                try? JSONDecoder().decode(Memory.self, from: $0)
            }
            ?? Memory()
        let check = try parseDuration(config.triggers.check, option: "triggers.check")
        let cooldown = Double(
            try parseDuration(config.triggers.cooldown, option: "triggers.cooldown").components.seconds)
        let every = try config.triggers.every.map {
            Double(try parseDuration($0, option: "triggers.every").components.seconds)
        }
        let driftFor = try config.triggers.driftFor.map { try parseDuration($0, option: "triggers.drift_for") }
        Terminal.error(
            "retrain --watch: \(config.model); triggers: \(describeTriggers()); state in \(memoryPath)")
        // Read-only: on an embedded log the server is its writer; the watcher only reads the requests.
        let bus = try openBus(config.bus, readOnly: true)
        var serverProblem: String?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var reasons = try await requests(bus, &memory)
            let now = Date().timeIntervalSince1970
            if let every, now - (memory.lastStarted ?? 0) >= every {
                reasons.append("schedule: every \(config.triggers.every!)")
            }
            if config.server != nil { reasons += await serverTriggers(&serverProblem, &memory, driftFor: driftFor) }
            try save(memory)
            if let reason = reasons.first,
                now - (memory.lastStarted ?? 0) >= cooldown || reasons.contains(where: { $0.hasPrefix("requested") })
            {
                memory.lastStarted = now
                // A drift that outlives this run waits `drift_for` again: the next run then has more of it.
                memory.driftSighted = nil
                let id = RetrainRun.newID()
                memory.runs.append(id)
                try save(memory)
                var run = try RetrainRun(config: config, id: id, reason: reasons.joined(separator: "; "))
                do {
                    try await run.perform()
                    Terminal.error("retrain \(id) (\(reason)): \(run.state.outcome ?? "done")")
                } catch {
                    // A failed run is logged in its directory; the watcher goes on (resume it with --run).
                    Terminal.error("retrain \(id) failed: \(error)")
                }
            }
            try? await Task.sleep(for: check)
        }
        try await bus.close()
    }

    func describeTriggers() -> String {
        var t: [String] = []
        if let every = config.triggers.every, every.isEmpty == false { t.append("every \(every)") }
        if config.triggers.requests { t.append("requests on \(Topics.retrainRequests.name)") }
        if config.server != nil && config.triggers.drift {
            t.append("drift" + (config.triggers.driftFor.map { " lasting \($0) of readings" } ?? ""))
        }
        if let drop = config.triggers.f1Drop, config.server != nil { t.append("live F1 \(drop) below test") }
        return t.isEmpty ? "none" : t.joined(separator: ", ")
    }

    private func save(_ memory: Memory) throws {
        try JSONEncoder().encode(memory).write(to: URL(fileURLWithPath: memoryPath), options: .atomic)
    }

    /// New requests for this model on `retrain-requests`, read from where the watcher left off.
    private func requests(_ bus: any MessageBus, _ memory: inout Memory) async throws -> [String] {
        guard config.triggers.requests else { return [] }
        guard try await bus.topicNames().contains(Topics.retrainRequests.name) else { return [] }
        let description = try await bus.describeTopic(Topics.retrainRequests.name)
        var reasons: [String] = []
        let consumer = try await bus.consumer(ConsumerOptions(topics: [Topics.retrainRequests.name], start: .earliest))
        var open: [Int: Int64] = [:]
        for p in description.partitions {
            let next = max(memory.requests["\(p.partition)"] ?? p.earliestOffset, p.earliestOffset)
            let tp = TopicPartition(topic: Topics.retrainRequests.name, partition: p.partition)
            try await consumer.seek(tp, to: next)
            if next < p.latestOffset { open[p.partition] = p.latestOffset }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while !open.isEmpty && ContinuousClock.now < deadline {
            for r in try await consumer.poll(maxRecords: 1000, timeout: .milliseconds(200)) {
                memory.requests["\(r.partition)"] = r.offset + 1
                if let end = open[r.partition], r.offset + 1 >= end { open[r.partition] = nil }
                guard let request = try? Topics.retrainRequests.decode(r.value), request.model == config.model else {
                    continue
                }
                reasons.append("requested by \(request.by) at \(request.ts)" + (request.reason.map { ": \($0)" } ?? ""))
            }
        }
        try await consumer.close()
        return reasons
    }

    /// A drift report's reason to retrain, if any. With `drift_for`, only once the drift has lasted that long in
    /// plant time since it was first seen; the sighting is forgotten when every feature's PSI falls below half the
    /// limit (as the drift alert clears), so a PSI hovering at the limit does not start the wait again and again.
    private func drift(_ report: [String: Any], of label: String, _ memory: inout Memory, lasting wait: Duration?)
        -> String?
    {
        let features = report["features"] as? [[String: Any]] ?? []
        let psi = { (f: [String: Any]) in f["psi"] as? Double ?? 0 }
        let drifted = features.filter { f in
            if let limit = config.triggers.driftPSI { return psi(f) > limit }
            return f["drifted"] as? Bool == true
        }
        let what = drifted.map { "\($0["feature"] as? String ?? "?") (PSI \(String(format: "%.2f", psi($0))))" }
        guard let wait, let span = config.triggers.driftFor else {
            return what.isEmpty ? nil : "drift of \(label): \(what.joined(separator: ", "))"
        }
        guard !what.isEmpty else {
            let half = (config.triggers.driftPSI ?? 0.25) / 2
            if memory.driftSighted?.model == label && !features.contains(where: { psi($0) > half }) {
                Terminal.error("retrain --watch: the drift of \(label) is gone before it lasted \(span)")
                memory.driftSighted = nil
            }
            return nil
        }
        // A server without the window's plant time (older than drift_for) cannot say how long: start at once.
        guard let newest = (report["window_to"] as? String).flatMap(Timestamp.parse) else {
            return "drift of \(label): \(what.joined(separator: ", "))"
        }
        if memory.driftSighted?.model != label {
            memory.driftSighted = DriftSighting(model: label, at: newest)
            Terminal.error(
                "retrain --watch: drift of \(label) seen at \(Timestamp.format(newest)): "
                    + "\(what.joined(separator: ", ")); a run starts once it has lasted \(span) of readings (drift_for)"
            )
        }
        let since = memory.driftSighted!.at
        guard Duration.milliseconds(newest - since) >= wait else { return nil }
        return "drift of \(label): \(what.joined(separator: ", ")), lasting \(span) of readings since "
            + Timestamp.format(since)
    }

    /// Drift on the production version's features, and its live F1 against its test F1 (from the server).
    private func serverTriggers(_ problem: inout String?, _ memory: inout Memory, driftFor: Duration?) async
        -> [String]
    {
        guard let server = config.server else { return [] }
        let monitoring: [String: Any]
        do {
            monitoring = try await RetrainRun.call(server, "GET", "/api/monitoring")
            problem = nil
        } catch {
            // Said once, not every check: the drift and F1 triggers are blind until the server answers.
            if problem != "\(error)" {
                Terminal.error("retrain --watch: no drift or live-F1 triggers for now: \(error)")
                problem = "\(error)"
            }
            return []
        }
        guard let registry = try? ModelRegistry(root: config.registry),
            let production = try? registry.load(ModelReference("\(config.model)@production"))
        else { return [] }
        let label = "\(production.1.name)@v\(production.1.version)"
        var reasons: [String] = []
        if config.triggers.drift {
            for report in monitoring["drift"] as? [[String: Any]] ?? [] where report["model"] as? String == label {
                if let reason = drift(report, of: label, &memory, lasting: driftFor) { reasons.append(reason) }
            }
        }
        if let drop = config.triggers.f1Drop, let test = production.0.description.metadata.metrics["f1"] {
            for row in monitoring["models"] as? [[String: Any]] ?? [] where row["model"] as? String == label {
                let rolling = row["rolling"] as? [String: Any]
                if let f1 = rolling?["f1"] as? Double, (rolling?["window"] as? Int ?? 0) >= 200, f1 < test - drop {
                    reasons.append(
                        "live F1 of \(label) \(String(format: "%.3f", f1)) is more than \(drop) below its test F1 \(String(format: "%.3f", test))"
                    )
                }
            }
        }
        return reasons
    }
}
