import ArgumentParser
import Bus
import Buses
import Crypto
import Foundation
import Learn
import Plant
import Primitives
import Tabular
import Topics

extension Millstream {
    struct Dataset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Datasets from the stream: the plant's history as a file to train on.",
            subcommands: [Snapshot.self])
    }
}

extension Millstream.Dataset {
    struct Snapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the readings on the bus, with their failures, to a CSV file and a manifest.",
            discussion: """
                Reads the readings topic from its first record to its end when the command starts (records that \
                arrive later are left for the next snapshot), checks each reading as the pipeline does (bad ones \
                are counted and left out, as they go to dead letters there), and writes one row per running \
                reading: machine, minutes (the timestamp in minutes since the epoch), product, the process \
                config's variables, and failure (1 when the part failed). Failures come from the labels topic with \
                --labels, else from the machine states: a running reading after which the machine goes down \
                failed. The manifest (NAME.manifest.json) records the schema, rows, machines, time range, the \
                source offsets read and the file's sha256. Train a lead-time model on it with \
                `millstream train --task failure_within --data NAME.csv --unit machine --time minutes \
                --event failure --horizon 30` (docs/learn.md).
                """)
        @Option(help: "Directory to write NAME.csv and NAME.manifest.json to.") var out: String = "."
        @Option(help: "File name without extension; default: readings-<first 12 hex digits of the sha256>.")
        var name: String?
        @Option(help: "Topic of the readings.") var topic = "readings"
        @Option(help: "Take failures from this topic (the simulator's `labels`) instead of the machine states.")
        var labels: String?
        @Option(help: "Only readings at or after this time (ISO 8601).") var since: String?
        @Option(help: "Only readings before this time (ISO 8601).") var until: String?
        @Option(help: "Process configuration (YAML); default: the built-in milling process.") var config: String?
        @Option(help: "Refuse a snapshot of fewer running readings.") var minRows = SnapshotPolicy().minRows
        @Option(help: "Refuse a snapshot with fewer failures (a model cannot learn them from a handful).")
        var minFailures = SnapshotPolicy().minFailures
        @Option(help: "Refuse a snapshot in which more than this fraction of the rows failed (labels gone wrong).")
        var maxFailureFraction = SnapshotPolicy().maxFailureFraction
        @Option(help: "Refuse a snapshot when more than this fraction of the readings broke the process config.")
        var maxBadFraction = SnapshotPolicy().maxBadFraction
        @Option(help: "With --labels: refuse when more than this fraction of running readings has no label.")
        var maxUnlabelledFraction = SnapshotPolicy().maxUnlabelledFraction
        @Option(help: "Refuse when a machine's readings stop for longer than this (e.g. 60m, 2h) inside the range.")
        var maxGap = "60m"
        @Flag(help: "Write the snapshot even when a check fails (its manifest says which).") var force = false
        @OptionGroup var busOptions: BusOptions
        @OptionGroup var output: OutputOptions

        var policy: SnapshotPolicy {
            get throws {
                let gap = try parseDuration(maxGap, option: "--max-gap")
                return SnapshotPolicy(
                    minRows: minRows, minFailures: minFailures, maxFailureFraction: maxFailureFraction,
                    maxBadFraction: maxBadFraction, maxUnlabelledFraction: maxUnlabelledFraction,
                    maxGapMilliseconds: gap.components.seconds * 1000
                        + gap.components.attoseconds / 1_000_000_000_000_000)
            }
        }

        func run() async throws {
            let (manifest, lines) = try await take()
            if output.json {
                print(Terminal.jsonLine(manifest))
            } else {
                for line in lines { print(line) }
            }
        }

        /// Writes the snapshot and its manifest; returns the manifest (with `path`) and the lines that report it.
        func take() async throws -> (manifest: [String: Any], report: [String]) {
            let process = try loadProcessConfig(config)
            let from = try since.map { try Self.time($0, "--since") }
            let to = try until.map { try Self.time($0, "--until") }
            if let from, let to, from >= to { throw ValidationError("--since must be before --until") }
            let bus = try openBus(busOptions.bus, readOnly: true)
            var failures: LabelJoin?
            if let labels { failures = try await Self.failures(bus, topic: labels, busText: busOptions.bus) }
            var collector = SnapshotCollector(
                validator: ReadingValidator(config: process), since: from, until: to, failures: failures)
            let offsets = try await Self.readAll(bus, topic: topic, busText: busOptions.bus) {
                collector.add($0.value)
            }
            collector.dropAwaitingLabels()
            let policy = try policy
            let checks = collector.checks(policy, labelled: labels != nil)
            let failed = checks.filter { !$0.passed }
            if !failed.isEmpty && !force && collector.rows > 0 {
                throw CommandError(
                    "the snapshot of \(topic) on \(busOptions.bus) fails its checks, nothing written (--force writes it anyway):\n"
                        + failed.map { "  \($0.name): \($0.detail)" }.joined(separator: "\n"))
            }
            let csv = collector.csv(variables: process.variables.map(\.name))
            let sha = SHA256.hash(data: csv).hexString
            let fileName = name ?? "readings-\(sha.prefix(12))"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let csvPath = (out as NSString).appendingPathComponent(fileName + ".csv")
            let manifestPath = (out as NSString).appendingPathComponent(fileName + ".manifest.json")
            guard collector.rows > 0 else {
                throw CommandError(
                    "\(topic) on \(busOptions.bus) holds no valid running readings\(from != nil || to != nil ? " in the time range" : "") (\(collector.read) records read, \(collector.invalid) bad)"
                )
            }
            do {
                try Data(csv).write(to: URL(fileURLWithPath: csvPath), options: Data.WritingOptions.atomic)
            } catch {
                throw CommandError("cannot write \(csvPath): \(error.localizedDescription)")
            }
            var manifest = collector.manifest(process: process)
            manifest["file"] = fileName + ".csv"
            manifest["sha256"] = sha
            manifest["bytes"] = csv.count
            let partitions: [[String: Any]] = offsets.sorted { $0.key < $1.key }.map {
                ["partition": $0.key, "end": $0.value]
            }
            let source: [String: Any] = [
                "bus": busOptions.bus, "topic": topic, "labels": labels ?? "machine states", "offsets": partitions,
            ]
            manifest["source"] = source
            manifest["created"] = Timestamp.format(Int64(Date().timeIntervalSince1970 * 1000))
            manifest["validation"] =
                [
                    "passed": failed.isEmpty,
                    "checks": checks.map {
                        [
                            "check": $0.name, "value": $0.value, "limit": $0.limit, "passed": $0.passed,
                            "detail": $0.detail,
                        ]
                    },
                ] as [String: Any]
            let data = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
            do {
                try data.write(to: URL(fileURLWithPath: manifestPath), options: Data.WritingOptions.atomic)
            } catch {
                throw CommandError("cannot write \(manifestPath): \(error.localizedDescription)")
            }
            manifest["path"] = csvPath
            let report =
                [
                    "\(csvPath): \(collector.rows) running readings of \(collector.machines.count) machines, \(collector.failureCount) failures; \(collector.invalid) bad readings left out"
                        + (collector.awaitingLabels > 0
                            ? "; \(collector.awaitingLabels) newest readings left out until their labels arrive" : ""),
                    "manifest: \(manifestPath) (sha256 \(sha.prefix(12)))",
                ] + checks.map { "  \($0.passed ? "ok  " : "FAIL") \($0.name): \($0.detail)" }
            return (manifest, report)
        }

        static func time(_ text: String, _ option: String) throws -> Int64 {
            guard let t = Timestamp.parse(text) else {
                throw ValidationError("\(option) '\(text)' is not an ISO 8601 time like 2026-01-01T00:00:00Z")
            }
            return t
        }

        /// Reads every partition of `topic` from its first record up to its end when called; returns the end offsets.
        static func readAll(
            _ bus: any MessageBus, topic: String, busText: String, _ body: (ConsumedRecord) throws -> Void
        ) async throws -> [Int: Int64] {
            guard try await bus.topicNames().contains(topic) else {
                throw CommandError("topic \(topic) does not exist on \(busText)")
            }
            do {
                return try await bus.readToEnd(topic, body)
            } catch let error as BusError where error.kind == .unavailable {
                throw CommandError(error.message)
            }
        }

        /// The labels of a labels topic, to join with the readings.
        static func failures(_ bus: any MessageBus, topic: String, busText: String) async throws -> LabelJoin {
            var out = LabelJoin()
            var bad = 0
            _ = try await readAll(bus, topic: topic, busText: busText) { r in
                guard let label = try? Topics.labels.decode(r.value) else {
                    bad += 1
                    return
                }
                out.add(label)
            }
            if out.count == 0 {
                throw CommandError(
                    "\(topic) on \(busText) holds no labels like {\"machine\":\"M-01\",\"seq\":1,\"failure\":0} (\(bad) records could not be read)"
                )
            }
            return out
        }
    }
}

/// The rows of a snapshot, per machine in arrival order (the order the pipeline windows them in).
struct SnapshotCollector {
    struct Row {
        var reading: Reading
        var failure: Bool
        /// False for a running reading with no label (yet).
        var labelled = true
    }
    let validator: ReadingValidator
    let since: Int64?
    let until: Int64?
    let failures: LabelJoin?
    var machines: [String: [Row]] = [:]
    var order: [String] = []
    var read = 0
    var invalid = 0
    var outsideRange = 0
    var unlabelled = 0
    /// Running readings newer than the newest labelled one of their machine: their labels are still to come (labels
    /// arrive later than readings), so they are left out, not counted as unlabelled.
    var awaitingLabels = 0
    var states: [String: Int] = [:]

    init(validator: ReadingValidator, since: Int64?, until: Int64?, failures: LabelJoin?) {
        self.validator = validator
        self.since = since
        self.until = until
        self.failures = failures
    }

    /// Bad readings by reason (schema, range, unknown machine...).
    var badReasons: [String: Int] = [:]
    /// Each machine's longest silence between two readings (ms), and where it began.
    var longestGap: [String: (millis: Int64, after: Int64)] = [:]

    mutating func add(_ value: [UInt8]) {
        read += 1
        let reading: Reading
        do {
            reading = try ReadingDecoder.decode(value)
            try validator.validate(reading)
        } catch {
            invalid += 1
            badReasons[error.reason.rawValue, default: 0] += 1
            return
        }
        if let since, reading.timestamp < since { outsideRange += 1; return }
        if let until, reading.timestamp >= until { outsideRange += 1; return }
        if let previous = machines[reading.machine]?.last?.reading.timestamp {
            let gap = reading.timestamp - previous
            if gap > (longestGap[reading.machine]?.millis ?? 0) { longestGap[reading.machine] = (gap, previous) }
        }
        states[reading.state.rawValue, default: 0] += 1
        if machines[reading.machine] == nil { order.append(reading.machine) }
        // Without labels, a running reading failed when the machine's next reading finds it down.
        if failures == nil, reading.state == .down, let last = machines[reading.machine]?.indices.last,
            machines[reading.machine]![last].reading.state == .running
        {
            machines[reading.machine]![last].failure = true
        }
        var row = Row(reading: reading, failure: false)
        if let failures, reading.state == .running {
            if let label = failures.label(
                machine: reading.machine, seq: reading.sequence ?? -1, millis: reading.timestamp)
            {
                row.failure = label.failure == 1
            } else {
                row.labelled = false
                unlabelled += 1
            }
        }
        machines[reading.machine, default: []].append(row)
    }

    /// Leaves out each machine's readings after its newest labelled running reading (with labels only).
    mutating func dropAwaitingLabels() {
        guard failures != nil else { return }
        for (machine, rows) in machines {
            let keep = (rows.lastIndex { $0.reading.state == .running && $0.labelled } ?? -1) + 1
            guard keep < rows.count else { continue }
            let waiting = rows[keep...].count { $0.reading.state == .running && !$0.labelled }
            awaitingLabels += waiting
            unlabelled -= waiting
            machines[machine] = Array(rows[..<keep])
        }
    }

    var rows: Int { machines.values.reduce(0) { $0 + $1.count { $0.reading.state == .running } } }
    var failureCount: Int { machines.values.reduce(0) { $0 + $1.count(where: \.failure) } }

    func csv(variables: [String]) -> [UInt8] {
        var out = Array((["machine", "minutes", "product"] + variables + ["failure"]).joined(separator: ",").utf8)
        out.append(10)
        for machine in order {
            for row in machines[machine]! where row.reading.state == .running {
                let r = row.reading
                var fields = [
                    CSVField.escape(r.machine), "\(Double(r.timestamp) / 60_000)", CSVField.escape(r.product ?? ""),
                ]
                for v in variables { fields.append(r[v].map { "\($0)" } ?? "") }
                fields.append(row.failure ? "1" : "0")
                out.append(contentsOf: fields.joined(separator: ",").utf8)
                out.append(10)
            }
        }
        return out
    }

    /// The snapshot against its policy: enough rows and failures, a sane failure share, few bad or unlabelled
    /// readings, no machine silent too long.
    func checks(_ policy: SnapshotPolicy, labelled: Bool) -> [SnapshotCheck] {
        let rows = rows
        let failures = failureCount
        let failureFraction = rows > 0 ? Double(failures) / Double(rows) : 0
        let badFraction = read > 0 ? Double(invalid) / Double(read) : 0
        let reasons = badReasons.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        var out = [
            SnapshotCheck(
                name: "rows", value: Double(rows), limit: Double(policy.minRows), passed: rows >= policy.minRows,
                detail: "\(rows) running readings (at least \(policy.minRows))"),
            SnapshotCheck(
                name: "failures", value: Double(failures), limit: Double(policy.minFailures),
                passed: failures >= policy.minFailures, detail: "\(failures) failures (at least \(policy.minFailures))"),
            SnapshotCheck(
                name: "failure_fraction", value: failureFraction, limit: policy.maxFailureFraction,
                passed: failureFraction <= policy.maxFailureFraction,
                detail:
                    "\(Self.percent(failureFraction)) of rows failed (at most \(Self.percent(policy.maxFailureFraction)))"
            ),
            SnapshotCheck(
                name: "bad_readings", value: badFraction, limit: policy.maxBadFraction,
                passed: badFraction <= policy.maxBadFraction,
                detail:
                    "\(invalid) of \(read) readings break the process config (\(Self.percent(badFraction)), at most \(Self.percent(policy.maxBadFraction)))"
                    + (reasons.isEmpty ? "" : ": \(reasons)")),
        ]
        if labelled {
            let fraction = rows > 0 ? Double(unlabelled) / Double(rows) : 0
            out.append(
                SnapshotCheck(
                    name: "unlabelled", value: fraction, limit: policy.maxUnlabelledFraction,
                    passed: fraction <= policy.maxUnlabelledFraction,
                    detail:
                        "\(unlabelled) running readings without a label (\(Self.percent(fraction)), at most \(Self.percent(policy.maxUnlabelledFraction)))"
                ))
        }
        let worst = longestGap.max { $0.value.millis < $1.value.millis }
        let gap = worst?.value.millis ?? 0
        out.append(
            SnapshotCheck(
                name: "gaps", value: Double(gap) / 60_000, limit: Double(policy.maxGapMilliseconds) / 60_000,
                passed: gap <= policy.maxGapMilliseconds,
                detail: worst.map {
                    "longest silence \(Self.minutes($0.value.millis)) on \($0.key) after \(Timestamp.format($0.value.after)) (at most \(Self.minutes(policy.maxGapMilliseconds)))"
                } ?? "no machine with two readings"))
        return out
    }

    static func percent(_ x: Double) -> String { String(format: "%.2f %%", x * 100) }
    static func minutes(_ ms: Int64) -> String { String(format: "%.1f min", Double(ms) / 60_000) }

    func manifest(process: ProcessConfig) -> [String: Any] {
        let times = machines.values.flatMap { $0.lazy.filter { $0.reading.state == .running }.map(\.reading.timestamp) }
        var schema: [String: String] = ["machine": "text", "minutes": "number", "product": "text", "failure": "0 or 1"]
        for v in process.variables { schema[v.name] = "number" }
        var m: [String: Any] = [
            "schema": schema,
            "process": process.process,
            "columns": ["machine", "minutes", "product"] + process.variables.map(\.name) + ["failure"],
            "rows": rows, "failures": failureCount, "machines": order,
            "records_read": read, "bad_readings": invalid, "outside_range": outsideRange, "states": states,
        ]
        if failures != nil {
            m["unlabelled_readings"] = unlabelled
            m["awaiting_labels"] = awaitingLabels
        }
        if let first = times.min(), let last = times.max() {
            m["time_range"] = ["from": Timestamp.format(first), "to": Timestamp.format(last)]
        }
        return m
    }
}

/// What a snapshot must satisfy to be written (`dataset snapshot`'s options).
struct SnapshotPolicy {
    var minRows = 500
    var minFailures = 5
    var maxFailureFraction = 0.5
    var maxBadFraction = 0.05
    var maxUnlabelledFraction = 0.01
    var maxGapMilliseconds: Int64 = 3_600_000
}

/// One check of a snapshot against its policy.
struct SnapshotCheck {
    var name: String
    var value: Double
    var limit: Double
    var passed: Bool
    var detail: String
}

/// A training file's lineage: the manifest `dataset snapshot` wrote beside it (NAME.manifest.json for NAME.csv),
/// when it describes exactly these bytes.
enum DatasetLineage {
    static func reference(for path: String, sha256: String) -> DatasetReference? {
        let manifestPath = (path as NSString).deletingPathExtension + ".manifest.json"
        guard let data = FileManager.default.contents(atPath: manifestPath) else { return nil }
        guard let m = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let sha = m["sha256"] as? String, let rows = m["rows"] as? Int
        else {
            Terminal.error("warning: \(manifestPath) is not a snapshot manifest; no lineage recorded")
            return nil
        }
        guard sha == sha256 else {
            Terminal.error(
                "warning: \(manifestPath) describes a file with sha256 \(sha.prefix(12)), not \(path) (\(sha256.prefix(12))): the file changed after its snapshot; no lineage recorded"
            )
            return nil
        }
        let range = m["time_range"] as? [String: Any]
        var source: String?
        if let s = m["source"] as? [String: Any], let bus = s["bus"] as? String, let topic = s["topic"] as? String {
            let offsets = (s["offsets"] as? [[String: Any]] ?? []).compactMap { o -> String? in
                guard let p = o["partition"] as? Int, let end = o["end"] else { return nil }
                return "\(p):\(end)"
            }
            source = "\(topic) on \(bus)" + (offsets.isEmpty ? "" : " up to offsets \(offsets.joined(separator: " "))")
        }
        return DatasetReference(
            name: (m["file"] as? String) ?? (path as NSString).lastPathComponent, sha256: sha, rows: rows,
            failures: m["failures"] as? Int, from: range?["from"] as? String, to: range?["to"] as? String,
            source: source, validated: (m["validation"] as? [String: Any])?["passed"] as? Bool)
    }
}
