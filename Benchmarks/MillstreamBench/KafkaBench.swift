import Foundation
import Kafka
import Primitives
import TestSupport

/// Swift client vs confluent-kafka (librdkafka), one run, one broker (Tansu 0.6 on loopback, started here): `count`
/// records of `size` bytes produced with acks=all, idempotent and not (librdkafka's default is not), and consumed
/// from the start.
enum KafkaBench {
    /// Produce rounds: ours and kcat alternate, each on fresh topics, and the rows give each side's median (one
    /// run of a million records is a second or so, and this shared machine moves such runs by 20 to 40 %).
    static let rounds = 3

    static func run(count: Int, size: Int, partitions: Int32) async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await broker.ready()
        let bootstrap = "127.0.0.1:\(broker.port)"
        let client = try KafkaClient(KafkaClientConfiguration(bootstrap: [bootstrap]))
        var topics = ["swift-each-idempotent", "swift-each", "python-idempotent", "python"]
        for r in 0..<rounds { topics += ["swift-idempotent", "swift", "kcat-idempotent", "kcat"].map { "\($0)-\(r)" } }
        for t in topics { try await client.createTopic("bench-" + t, partitions: partitions) }
        print("kafka client: \(count) records of \(size) bytes, \(partitions) partitions, Tansu 0.6 on loopback")

        // PROFILE_KAFKA=send: the profile holds the batched produce (not idempotent); otherwise the per-message one.
        let profileSend = ProcessInfo.processInfo.environment["PROFILE_KAFKA"] == "send"
        var ours: [Bool: [Double]] = [:]
        var theirs: [Bool: [Double]] = [:]
        var kcatConsume: [Double] = []
        var kcatSettings = ""
        for r in 0..<rounds {
            for idempotent in [true, false] {
                let suffix = (idempotent ? "-idempotent-" : "-") + "\(r)"
                if profileSend && !idempotent { Profile.enable() }
                ours[idempotent, default: []].append(
                    try await produce(client, "bench-swift" + suffix, count: count, size: size, idempotent: idempotent))
                if profileSend && !idempotent { Profile.disable() }
                let k = try kcat(bootstrap, "bench-kcat" + suffix, count: count, size: size, idempotent: idempotent)
                theirs[idempotent, default: []].append(k.produce)
                if !idempotent { kcatConsume.append(k.consume) }
                kcatSettings =
                    "librdkafka \(k.version)): "
                    + k.settings.replacingOccurrences(
                        of: "enable.idempotence=\(idempotent)", with: "enable.idempotence=(as the row says)")
            }
        }
        let eachIdempotent = try await produceEach(
            client, "bench-swift-each-idempotent", count: count, size: size, idempotent: true)
        if !profileSend { Profile.enable() }
        let each = try await produceEach(client, "bench-swift-each", count: count, size: size, idempotent: false)
        if !profileSend { Profile.disable() }
        await client.close()
        let consumeRate = try await consume(bootstrap, "bench-swift-0", count: count)

        let peerIdempotent = try peer([
            bootstrap, "bench-python-idempotent", "\(count)", "\(size)", "1", "produce-only",
        ])
        let peerPlain = try peer([bootstrap, "bench-python", "\(count)", "\(size)", "0"])
        // One call per record on both sides: confluent-kafka's produce() with a delivery callback, ours produce()
        // with its delivery report awaited in a task of its own.
        row(
            "produce per message, idempotent", ours: eachIdempotent, peer: peerIdempotent["produce"]!,
            peerName: "confluent-kafka", unit: "msg/s")
        row(
            "produce per message, not idempotent", ours: each, peer: peerPlain["produce"]!,
            peerName: "confluent-kafka", unit: "msg/s")
        row(
            "consume (from the start)", ours: consumeRate, peer: peerPlain["consume"]!, peerName: "confluent-kafka",
            unit: "msg/s")
        // librdkafka at its own speed, without Python: kcat with the settings of our producer.
        print("  kcat (" + kcatSettings)
        for idempotent in [true, false] {
            let what = idempotent ? "idempotent" : "not idempotent"
            let rates = zip(ours[idempotent]!, theirs[idempotent]!).map { String(format: "%.0f/%.0f", $0, $1) }
            print("  produce, \(what), each round (ours/kcat): " + rates.joined(separator: ", "))
            row(
                "produce, \(what) (median of \(rounds))", ours: median(ours[idempotent]!),
                peer: median(theirs[idempotent]!), peerName: "kcat", unit: "msg/s")
        }
        row(
            "consume (from the start)", ours: consumeRate, peer: median(kcatConsume), peerName: "kcat", unit: "msg/s")
    }

    /// Our consumer reading `count` records of `topic` from the start; the rate from the first record.
    static func consume(_ bootstrap: String, _ topic: String, count: Int) async throws -> Double {
        let consumerClient = try KafkaClient(KafkaClientConfiguration(bootstrap: [bootstrap]))
        let consumer = KafkaConsumer(
            client: consumerClient, configuration: .init(group: "bench-swift", topics: [topic]))
        var seen = 0
        var first: ContinuousClock.Instant?
        while seen < count {
            let records = try await consumer.poll(maxRecords: 10_000, timeout: .seconds(5))
            if first == nil && !records.isEmpty { first = .now }
            seen += records.count
        }
        let rate = Double(count) / (ContinuousClock.now - first!).seconds
        try await consumer.close()
        await consumerClient.close()
        return rate
    }

    /// kcat (Debian's, librdkafka in C) producing `count` records of `size` bytes from a file, then consuming them to
    /// the end; each timed as the whole process (its start-up, about 10 ms, included), each checked for the count.
    /// The producer's settings are ours: acks=all, idempotence as asked, at most 4 requests in flight, batches of up
    /// to 10,000 records or 1 MB, linger 5 ms, no compression.
    static func kcat(_ bootstrap: String, _ topic: String, count: Int, size: Int, idempotent: Bool) throws -> (
        produce: Double, consume: Double, settings: String, version: String
    ) {
        let file = NSTemporaryDirectory() + "kcat-\(getpid()).txt"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let line = String(repeating: "x", count: size) + "\n"
        try String(repeating: line, count: count).write(toFile: file, atomically: false, encoding: .utf8)
        let settings = [
            "acks=all", "enable.idempotence=\(idempotent)", "max.in.flight.requests.per.connection=4",
            "batch.num.messages=10000", "batch.size=1000000", "linger.ms=5", "compression.codec=none",
            "queue.buffering.max.messages=1000000",
        ]
        let produce = try timed(
            ["-P", "-b", bootstrap, "-t", topic, "-l", file, "-q"] + settings.flatMap { ["-X", $0] }, output: nil)
        let out = file + ".out"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let consume = try timed(["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q"], output: out)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        precondition(bytes == count * (size + 1), "kcat consumed \(bytes) bytes, not \(count * (size + 1))")
        let version = try? kcatVersion()
        return (
            Double(count) / produce, Double(count) / consume, settings.joined(separator: " "),
            version ?? "?"
        )
    }

    /// The librdkafka version kcat was built with (`kcat -V`).
    static func kcatVersion() throws -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
        process.arguments = ["-V"]
        process.environment = ProcessInfo.processInfo.environment.merging(librdkafka) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.range(of: #"librdkafka [0-9.]+"#, options: .regularExpression).map {
            String(text[$0].dropFirst("librdkafka ".count))
        }
    }

    /// Debian's kcat links librdkafka 2.0.2, which misreads Tansu 0.6's ApiVersions v3 answer (its tagged fields:
    /// "Protocol read buffer underflow ... ApiVersion v3") and never connects. kcat runs on librdkafka 2.16 instead:
    /// the library confluent-kafka's wheel carries (the C API is the same, `librdkafka.so.1`).
    static let librdkafka: [String: String] = {
        let libs = ".venv/lib/python3.11/site-packages/confluent_kafka.libs"
        guard
            let lib = (try? FileManager.default.contentsOfDirectory(atPath: libs))?.first(where: {
                $0.hasPrefix("librdkafka")
            })
        else { return [:] }
        let dir = NSTemporaryDirectory() + "millstream-bench-librdkafka"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: dir + "/librdkafka.so.1")
        try? FileManager.default.createSymbolicLink(
            atPath: dir + "/librdkafka.so.1",
            withDestinationPath: FileManager.default.currentDirectoryPath + "/" + libs + "/" + lib)
        return ["LD_LIBRARY_PATH": dir]
    }()

    /// Runs kcat to its end; its wall time in seconds.
    static func timed(_ arguments: [String], output: String?) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(librdkafka) { $1 }
        if let output {
            FileManager.default.createFile(atPath: output, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: output)
        } else {
            process.standardOutput = FileHandle.nullDevice
        }
        let started = ContinuousClock.now
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("kcat \(arguments.prefix(1).joined()) failed with status \(process.terminationStatus)")
        }
        return (ContinuousClock.now - started).seconds
    }

    /// The records in sends of 10,000, four sends in flight (the producer pipelines them per broker).
    static func produce(_ client: KafkaClient, _ topic: String, count: Int, size: Int, idempotent: Bool) async throws
        -> Double
    {
        let value = [UInt8](repeating: 0x78, count: size)
        let chunk = 10_000
        let producer = KafkaProducer(client: client, configuration: .init(idempotent: idempotent))
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Int.self) { group in
            var next = 0
            func launch() {
                guard next < count else { return }
                let n = min(chunk, count - next)
                next += n
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let records = (0..<n).map { _ in KafkaProducerRecord(value: value, timestamp: now) }
                group.addTask { try await producer.send(records, to: topic).count }
            }
            for _ in 0..<4 { launch() }
            var acknowledged = 0
            while let n = try await group.next() {
                acknowledged += n
                launch()
            }
            precondition(acknowledged == count)
        }
        let rate = Double(count) / (ContinuousClock.now - started).seconds
        let note = idempotent ? "idempotent: \(await producer.idempotenceStatus ?? "on"), " : ""
        print(
            String(
                format: "  swift produce %.0f msg/s (%@retried batches %d, producer ids renewed %d)", rate, note,
                await producer.retries, await producer.producerIDResets))
        return rate
    }

    /// One `produce()` call per record, as an application that has one record at a time does: each awaits its
    /// delivery report in a task of its own, 100,000 in flight; the producer batches them by linger (5 ms)
    /// and size (1 MB), as librdkafka does. acks=all.
    static func produceEach(_ client: KafkaClient, _ topic: String, count: Int, size: Int, idempotent: Bool)
        async throws -> Double
    {
        let value = [UInt8](repeating: 0x78, count: size)
        let producer = KafkaProducer(client: client, configuration: .init(idempotent: idempotent))
        let started = ContinuousClock.now
        // 50 lanes of at most 2,000 calls in flight each: one task group of 100,000 children spends its time in the
        // runtime's removal of finished children (a list scan, 72 % of the time in a profile), not in the producer.
        let lanes = 50
        try await withThrowingTaskGroup(of: Void.self) { lanesGroup in
            for lane in 0..<lanes {
                lanesGroup.addTask {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for i in stride(from: lane, to: count, by: lanes) {
                            if i / lanes >= 2_000 { try await group.next() }
                            let now = Int64(Date().timeIntervalSince1970 * 1000)
                            group.addTask {
                                _ = try await producer.produce(
                                    KafkaProducerRecord(value: value, timestamp: now), to: topic)
                            }
                        }
                        try await group.waitForAll()
                    }
                }
            }
            try await lanesGroup.waitForAll()
        }
        let rate = Double(count) / (ContinuousClock.now - started).seconds
        print(
            String(format: "  swift produce per message %.0f msg/s (%@idempotent)", rate, idempotent ? "" : "not "))
        return rate
    }

    static func peer(_ arguments: [String]) throws -> [String: Double] {
        try pythonPeer(
            "Benchmarks/kafka/confluent_side.py", arguments,
            failure: "the confluent-kafka side failed (is confluent-kafka in .venv? run scripts/bootstrap)")
    }
}
