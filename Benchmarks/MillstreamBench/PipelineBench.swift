import Allocator
import Bus
import Buses
import EventLog
import Foundation
import Learn
import Logging
import Pipeline
import Plant
import Primitives
import Registry
import ServiceLifecycle
import Synchronization
import Tabular
import TestSupport

/// End to end on the embedded bus: readings already in the log -> one pipeline worker -> predictions, alerts, KPIs;
/// then latency at a paced 10,000 readings/s. On Kafka the peer is Quix Streams on the same broker and readings, with
/// the same features and model (onnxruntime, micro-batched), in the same run.
enum PipelineBench {
    /// `kafka`: the same on Kafka (Tansu on loopback, started here), then Quix Streams over the same readings.
    static func run(count: Int, kafka: Bool = false) async throws {
        let root = NSTemporaryDirectory() + "millstream-pipeline-bench-\(getpid())"
        let broker = kafka ? try TansuBroker() : nil
        defer { broker?.stop() }
        try await broker?.ready()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let process = ProcessConfig.milling()
        let registryPath = root + "/models"
        try trainFailureModel(registry: registryPath)

        // Throughput: the log holds `count` readings; one worker processes them all.
        let url = broker.map { "kafka://127.0.0.1:\($0.port)" } ?? "embedded://\(root)/log"
        do {
            let bus = try openBus(url)
            try await fill(bus, count: count, process: process)
            var options = PipelineWorker.Options()
            options.registry = registryPath
            options.model = "failure"
            // On Kafka the group join comes first, with empty polls: a longer idle span before exiting.
            let idle: Duration = kafka ? .seconds(2) : .milliseconds(300)
            options.exitWhenIdle = idle
            var quiet = Logger(label: "millstream.pipeline")
            quiet.logLevel = .warning
            let worker = PipelineWorker(
                bus: bus, settings: PipelineSettings(process: process), options: options, logger: quiet)
            let started = ContinuousClock.now
            let cpuBefore = ProcessCPU.now()
            Profile.enable()
            try await worker.run()
            Profile.disable()
            let cpu = ProcessCPU.now() - cpuBefore
            let elapsed = ContinuousClock.now - started - idle
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            let processed = worker.stats.snapshot.processed
            precondition(processed == count, "processed \(processed) of \(count)")
            let checkpoint = kafka ? nil : try await lastCheckpoint(bus)
            try await bus.close()
            let ours = Double(count) / seconds
            // Steady state: from the first batch done to the last (the first batch's readings not counted).
            let snapshot = worker.stats.snapshot
            var steady = ours
            if let first = snapshot.firstBatchDone, let last = snapshot.lastBatchDone, last > first {
                steady = Double(count - options.batch) / (last - first).seconds
            }
            print(
                "pipeline end to end, \(kafka ? "Kafka (Tansu)" : "embedded bus"), one worker: \(count) readings (20 machines, failure model, SPC, OEE); \(Allocator.description)"
            )
            print(
                String(
                    format:
                        "  millstream %.0f readings/s with start-up, %.0f readings/s steady state (first batch to last)",
                    ours, steady))
            // The worker's CPU a reading, every thread of this process's (the log's reads and writes too; on Kafka
            // the broker is another process): the figure the per-core goal is about.
            print(
                String(
                    format: "  CPU %.2f us a reading (user %.2f, system %.2f): %.0f readings/s per core",
                    cpu.total * 1e6 / Double(count), cpu.user * 1e6 / Double(count), cpu.system * 1e6 / Double(count),
                    Double(count) / cpu.total))
            if let broker {
                let peer = try quix(
                    bootstrap: "127.0.0.1:\(broker.port)", count: count, registry: registryPath, dir: root)
                print(
                    String(
                        format:
                            "  quix streams 3.28 (onnxruntime, micro-batches of 500; session timeout 10 s, as ours) %.0f readings/s with start-up, %.0f steady   ratio %.1fx, %.1fx steady",
                        peer.total, peer.steady, ours / peer.total, steady / peer.steady))
            }
            if let checkpoint { try compareCheckpointEncoders(checkpoint) }
        }
        // Latency at a paced 10,000 readings/s for 10 s: reading stamped (wall clock) -> prediction readable on the bus.
        // A fresh broker for the latency run, as the embedded bus gets a fresh log.
        let second = kafka ? try TansuBroker() : nil
        defer { second?.stop() }
        try await second?.ready()
        try await latency(
            url: second.map { "kafka://127.0.0.1:\($0.port)" } ?? "embedded://\(root)/latency", registry: registryPath,
            label: kafka ? "fetch-wait 20 ms, the default" : nil)
    }

    /// A failure model, trained as the demo does, registered as `failure` in production.
    static func trainFailureModel(registry path: String) throws {
        let registry = try ModelRegistry(root: path)
        let csv = try CSVTableReader.readAI4I()
        var spec = TrainingSpec()
        spec.scaling = .treeSteps
        spec.bins = 8
        spec.patience = 30
        var result = try Trainer.train(csv, spec: spec, metadata: .init(created: "bench", codeVersion: "bench"))
        result.model.description.columns = nil
        let v = try registry.register(result.model, as: "failure")
        try registry.promote("failure", version: v.version, to: .production)
    }

    /// Writes `count` simulated readings of 20 machines to `readings`.
    /// The worker's last checkpoint on the bus.
    static func lastCheckpoint(_ bus: any MessageBus) async throws -> PipelineCheckpoint {
        let topic = PipelineSettings(process: .milling()).checkpointsTopic
        let end = try await bus.describeTopic(topic).partitions[0].latestOffset
        let consumer = try await bus.consumer(ConsumerOptions(topics: [topic], start: .earliest))
        try await consumer.seek(TopicPartition(topic: topic, partition: 0), to: end - 1)
        let records = try await consumer.poll(maxRecords: 1, timeout: .seconds(5))
        try await consumer.close()
        guard let record = records.first else { throw BenchError("no checkpoint on \(topic)") }
        return try PipelineCheckpoint(decoding: record.value)
    }

    /// The checkpoint written by ours (`RecordEncoder`) and by Foundation's `JSONEncoder`, which the worker used
    /// before: both must read back to the same state.
    static func compareCheckpointEncoders(_ checkpoint: PipelineCheckpoint) throws {
        let ours = try checkpoint.encoded()
        let theirs = try JSONEncoder().encode(checkpoint)
        let sorted = JSONEncoder()
        sorted.outputFormatting = .sortedKeys
        let same =
            try sorted.encode(PipelineCheckpoint(decoding: ours))
            == sorted.encode(PipelineCheckpoint(decoding: [UInt8](theirs)))
        precondition(same, "the two encoders' checkpoints read back differently")
        let rounds = 20
        var sink = 0
        let oursSeconds = try seconds { for _ in 0..<rounds { sink &+= try checkpoint.encoded().count } }
        let theirsSeconds = try seconds { for _ in 0..<rounds { sink &+= try JSONEncoder().encode(checkpoint).count } }
        precondition(sink > 0)
        print(
            String(
                format:
                    "  checkpoint of %d machines (%.0f KB, %.0f KB by JSONEncoder): RecordEncoder %.1f ms, Foundation JSONEncoder %.1f ms   ratio %.1fx",
                checkpoint.machineCount, Double(ours.count) / 1000, Double(theirs.count) / 1000,
                oursSeconds / Double(rounds) * 1000, theirsSeconds / Double(rounds) * 1000, theirsSeconds / oursSeconds)
        )
    }

    static func fill(_ bus: any MessageBus, count: Int, process: ProcessConfig) async throws {
        var sim = try PlantSimulator(
            config: process, machines: 20, seed: 3,
            start: Int64(Date().timeIntervalSince1970 * 1000) - Int64(count) * 3000)
        let producer = try await bus.producer()
        for start in stride(from: 0, to: count, by: 5000) {
            let batch = (start..<min(count, start + 5000)).map { _ in sim.next().reading }
            _ = try await producer.send(
                batch.map {
                    Record(key: Array($0.machine.utf8), value: ReadingEncoder.encode($0), timestamp: $0.timestamp)
                }, to: "readings")
        }
        try await producer.flush()
    }

    /// The cost of scoring a challenger in shadow: the same readings through one worker with the champion alone and
    /// with a challenger beside it (the same architecture, a second version), alternated `rounds` times.
    static func shadow(count: Int, rounds: Int) async throws {
        let root = NSTemporaryDirectory() + "millstream-shadow-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let process = ProcessConfig.milling()
        let registryPath = root + "/models"
        try trainFailureModel(registry: registryPath)
        try trainFailureModel(registry: registryPath)
        let registry = try ModelRegistry(root: registryPath)
        try registry.promote("failure", version: 1, to: .production)
        try registry.setAlias("challenger", of: "failure", to: 2)
        var rates: [Bool: [Double]] = [false: [], true: []]
        for round in 0..<rounds {
            for withShadow in round % 2 == 0 ? [false, true] : [true, false] {
                let bus = try openBus("embedded://\(root)/log-\(round)-\(withShadow)")
                try await fill(bus, count: count, process: process)
                var options = PipelineWorker.Options()
                options.registry = registryPath
                options.model = "failure"
                options.shadow = withShadow ? "failure@challenger" : nil
                options.exitWhenIdle = .milliseconds(300)
                var quiet = Logger(label: "millstream.pipeline")
                quiet.logLevel = .warning
                let worker = PipelineWorker(
                    bus: bus, settings: PipelineSettings(process: process), options: options, logger: quiet)
                try await worker.run()
                try await bus.close()
                let s = worker.stats.snapshot
                precondition(s.processed == count, "processed \(s.processed) of \(count)")
                guard withShadow == (s.events.shadowPredictions > 0) else {
                    throw BenchError(
                        "shadow \(withShadow): \(s.events.shadowPredictions) shadow records, \(s.events.predictions) predictions, model \(s.model ?? "none"), shadow \(s.shadow ?? "none")"
                    )
                }
                guard let first = s.firstBatchDone, let last = s.lastBatchDone, last > first else { continue }
                rates[withShadow]!.append(Double(count - options.batch) / (last - first).seconds)
                try? FileManager.default.removeItem(atPath: root + "/log-\(round)-\(withShadow)")
            }
        }
        let (alone, beside) = (median(rates[false]!), median(rates[true]!))
        print(
            "shadow scoring, embedded bus, one worker: \(count) readings (20 machines), steady state, median of \(rounds) alternated runs"
        )
        print(
            String(
                format:
                    "  champion alone %.0f readings/s   champion + challenger in shadow %.0f readings/s   ratio %.2f",
                alone, beside, beside / alone))
    }

    /// Quix Streams on the same broker and readings (Benchmarks/pipeline/quix_side.py, in .venv-quix): the same
    /// features, the model's own preprocessing and the same model (exported to ONNX), one prediction per reading.
    static func quix(bootstrap: String, count: Int, registry: String, dir: String) throws -> (
        total: Double, steady: Double
    ) {
        let (file, version) = try ModelRegistry(root: registry).load(try ModelReference("failure@production"))
        try Data(try file.makeModel().onnx()).write(to: URL(fileURLWithPath: dir + "/failure.onnx"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ".venv-quix/bin/python")
        process.arguments = [
            "Benchmarks/pipeline/quix_side.py", bootstrap, String(count), version.path + "/model.json",
            dir + "/failure.onnx",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let total = object["readings_per_second"] as? Double,
            let steady = object["steady_readings_per_second"] as? Double, object["readings"] as? Int == count
        else {
            throw BenchError(
                "the Quix Streams peer failed (scripts/bench installs it into .venv-quix): \(String(decoding: data, as: UTF8.self))"
            )
        }
        return (total, steady)
    }

    static func latency(url: String, registry: String, label: String? = nil) async throws {
        let bus = try openBus(url)
        let process = ProcessConfig.milling()
        var options = PipelineWorker.Options()
        options.registry = registry
        options.model = "failure"
        let worker = PipelineWorker(bus: bus, settings: PipelineSettings(process: process), options: options)
        let consumer = try await bus.consumer(ConsumerOptions(topics: ["predictions"], start: .earliest))
        var latencies: [Double] = []
        let skip = Shared(0)  // the worker's batches before the paced readings start
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await worker.run() }
            group.addTask {
                // Paced producer: 10,000 readings/s for 10 s, each stamped with the wall clock when sent; it starts
                // once the worker is up (on Kafka, joining the group takes seconds: start-up is not latency).
                while !worker.stats.snapshot.caughtUp { try await Task.sleep(for: .milliseconds(50)) }
                skip.value.withLock { $0 = worker.stats.snapshot.recentBatches.count }
                var sim = try PlantSimulator(config: process, machines: 20, seed: 4, start: 0)
                let producer = try await bus.producer()
                let begin = ContinuousClock.now
                var sent = 0
                while sent < 100_000 {
                    let elapsed = ContinuousClock.now - begin
                    let due =
                        Int(
                            (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
                                * 10_000) - sent
                    // Sends of at least 5 ms of readings (50), as a plant gateway batches: thousands of sends of a
                    // few readings a second would measure the broker's request rate, not the pipeline.
                    if due < 50 {
                        try await Task.sleep(for: .microseconds(500))
                        continue
                    }
                    let now = Int64(Date().timeIntervalSince1970 * 1000)
                    let batch = (0..<min(due, 1000)).map { _ -> Record in
                        var r = sim.next().reading
                        r.timestamp = now
                        return Record(key: Array(r.machine.utf8), value: ReadingEncoder.encode(r), timestamp: now)
                    }
                    _ = try await producer.send(batch, to: "readings")
                    sent += batch.count
                }
            }
            // Until the 100,000 readings' predictions are read (start-up waits included), at most 60 s.
            let end = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < end && latencies.count < 100_000 {
                for r in try await consumer.poll(maxRecords: 10_000, timeout: .milliseconds(100)) {
                    latencies.append(Date().timeIntervalSince1970 * 1000 - Double(r.timestamp))
                }
            }
            group.cancelAll()
        }
        latencies.sort()
        guard !latencies.isEmpty else { return }
        print(
            String(
                format:
                    "latency at 10,000 readings/s (reading stamped -> prediction readable%@), %d readings: p50 %.2f ms  p99 %.2f ms  max %.2f ms",
                label.map { ", " + $0 } ?? "", latencies.count, latencies[latencies.count / 2],
                latencies[latencies.count * 99 / 100], latencies.last!)
        )
        // The worker's own share: from the poll that returned a reading to its outputs acknowledged, per reading.
        let batches = worker.stats.snapshot.recentBatches.dropFirst(skip.value.withLock { $0 }).sorted {
            $0.seconds < $1.seconds
        }
        let total = batches.reduce(0) { $0 + $1.readings }
        func percentile(_ p: Double) -> Double {
            var seen = 0
            for b in batches {
                seen += b.readings
                if Double(seen) >= p * Double(total) { return b.seconds * 1000 }
            }
            return batches.last.map { $0.seconds * 1000 } ?? .nan
        }
        print(
            String(
                format:
                    "  the worker's share (poll returned -> outputs acknowledged), %d readings in %d batches: p50 %.2f ms  p99 %.2f ms  max %.2f ms",
                total, batches.count, percentile(0.5), percentile(0.99), percentile(1)))
    }
}

enum CSVTableReader {
    /// The AI4I file as training columns with the demo's features.
    static func readAI4I() throws -> TabularData {
        let table = try CSVParser.parse(
            [UInt8](try Data(contentsOf: URL(fileURLWithPath: "data/ai4i2020.csv"))), source: "data/ai4i2020.csv")
        let config = ProcessConfig.milling()
        let numeric = try config.variables.map { v in
            let c = try table.column(v.column)
            return try table.rows.indices.map { try table.number(row: $0, column: c) }
        }
        let target = try table.column("Machine failure")
        return TabularData(
            numericNames: config.variables.map(\.name), numeric: numeric, categoricalNames: ["product"],
            categorical: [table.rows.map { $0[2] }], categories: ["product": ["L", "M", "H"]],
            derived: config.features.derived.map { ($0.name, $0.expression) }, targetName: "Machine failure",
            target: table.rows.map { $0[target] })
    }
}

/// A value shared between tasks.
final class Shared<T: Sendable>: Sendable {
    let value: Mutex<T>
    init(_ value: T) { self.value = Mutex(value) }
}
