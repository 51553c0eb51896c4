import Bus
import Buses
import Connectors
import Foundation
import MQTT
import MQTTWire
import Plant
import TestSupport

/// Millstream's MQTT client against paho-mqtt 2 (Benchmarks/mqtt/paho_side.py) and, for ingest, Debian's
/// mosquitto_sub (libmosquitto, in C) on one Mosquitto 2.0 (Debian) on loopback, MQTT 5, QoS 1, the same messages:
/// readings in the wire format's JSON.
/// - ingest: `count` messages queued for each client's persistent session while it is away, then drained; the rate
///   from the first message to the last, every message acknowledged. Also the connector (`millstream connect`'s
///   MQTT source) draining the same messages into the embedded bus (mapped, encoded, written, then acknowledged).
/// - latency: both clients subscribed at once while Millstream's client publishes `rate` messages a second for
///   `seconds`; each message carries its send time (CLOCK_MONOTONIC).
enum MQTTBench {
    static func run(count: Int, rate: Int, seconds: Int) async throws {
        let broker = try Mosquitto(extra: ["max_queued_messages 0", "max_inflight_messages 0"])
        defer { broker.remove() }
        try await broker.ready()
        let host = "127.0.0.1"
        let reading = ReadingEncoder.encode(
            Reading(
                machine: "plant1/line1/m01", timestamp: 1_796_479_200_000, sequence: 1,
                values: [
                    Measurement("air_temp_k", 300.1), Measurement("process_temp_k", 310.2), Measurement("rpm", 1510),
                    Measurement("torque_nm", 40.5), Measurement("tool_wear_min", 12),
                ], product: "L", good: 1, setpoints: [Measurement("rpm", 1500), Measurement("torque_nm", 40)]))
        print(
            "mqtt: \(count) messages of \(reading.count) bytes (a reading), MQTT 5, QoS 1, Mosquitto 2.0 on loopback;"
                + " latency at \(rate)/s for \(seconds) s")

        func options(_ id: String) -> MQTTClientOptions {
            MQTTClientOptions(
                host: host, port: broker.port, clientID: id, cleanStart: false, sessionExpirySeconds: 3600,
                receiveMaximum: 65535)
        }
        // The sessions, so that the messages queue for each.
        let ours = try await MQTTConnection.connect(options("ms-drain"))
        try await ours.subscribe([.init("bench/#", qos: .atLeastOnce)])
        await ours.disconnect()
        _ = try peer(["session", host, "\(broker.port)", "paho-drain"])
        _ = try mosquittoSub(port: broker.port, ["-E"])
        let settings = MQTTSourceSettings(
            client: options("ms-connector"),
            mappings: [
                .readingFormat(
                    topic: try TopicPattern("bench/{machine}"), machine: NameTemplate("plant1/line1/{machine}"),
                    process: .milling())
            ])
        let sessionOnly = try await MQTTConnection.connect(settings.client)
        try await sessionOnly.subscribe([.init("bench/#", qos: .atLeastOnce)])
        await sessionOnly.disconnect()

        let publisher = try await MQTTConnection.connect(
            MQTTClientOptions(host: host, port: broker.port, clientID: "bench-publisher", receiveMaximum: 65535))
        for start in stride(from: 0, to: count, by: 10_000) {
            try await publisher.publish(
                (start..<min(count, start + 10_000)).map { _ in ("bench/m01", reading) }, qos: .atLeastOnce)
        }

        let drained = try await drain(options("ms-drain"), count: count)
        let paho = try peer(["drain", host, "\(broker.port)", "paho-drain", "\(count)"])["rate"]!
        let mosquitto = Double(count) / (try mosquittoSub(port: broker.port, ["-C", "\(count)"]))
        let connector = try await connectorDrain(settings, count: count)
        row("ingest (drain a queued session)", ours: drained, peer: paho, peerName: "paho-mqtt", unit: "msg/s")
        row("ingest (drain a queued session)", ours: drained, peer: mosquitto, peerName: "mosquitto_sub", unit: "msg/s")
        row("connector into the embedded bus", ours: connector, peer: paho, peerName: "paho-mqtt", unit: "msg/s")
        row(
            "connector into the embedded bus", ours: connector, peer: mosquitto, peerName: "mosquitto_sub",
            unit: "msg/s")

        let (oursLatency, pahoLatency) = try await latency(
            broker: broker, publisher: publisher, rate: rate, seconds: seconds)
        for (name, key) in [("p50", "p50_ms"), ("p99", "p99_ms"), ("max", "max_ms")] {
            let o = oursLatency[key]!
            let p = pahoLatency[key]!
            print(
                "latency \(name) at \(rate)/s".padding(toLength: 34, withPad: " ", startingAt: 0)
                    + String(format: "%9.3f ms   paho-mqtt %9.3f ms   ratio (peer/ours) %.2f", o, p, p / o))
        }
        await publisher.disconnect()
    }

    /// Receives `count` messages of a session that has them queued; messages per second, first to last.
    static func drain(_ options: MQTTClientOptions, count: Int) async throws -> Double {
        let c = try await MQTTConnection.connect(options)
        var seen = 0
        var first: ContinuousClock.Instant?
        for try await batch in c.messages {
            if first == nil { first = .now }
            seen += batch.count
            c.acknowledge(batch)
            if seen >= count { break }
        }
        let rate = Double(count) / (ContinuousClock.now - first!).seconds
        await c.disconnect()
        return rate
    }

    /// The connector drains its session into an embedded bus (fsync every 100 ms, the default).
    static func connectorDrain(_ settings: MQTTSourceSettings, count: Int) async throws -> Double {
        let dir = NSTemporaryDirectory() + "millstream-bench-mqtt-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = try openBus("embedded://\(dir)")
        let source = MQTTSource(settings: settings, machines: [], bus: bus)
        let rate = try await withThrowingTaskGroup(of: Double?.self) { group in
            group.addTask {
                try await source.run()
                return nil
            }
            group.addTask {
                try await bus.run()  // the periodic fsync that acknowledges writes
                return nil
            }
            group.addTask {
                var first: ContinuousClock.Instant?
                while true {
                    let s = source.stats.snapshot
                    if first == nil && s.received > 0 { first = .now }
                    if s.readings + s.deadLetters.values.reduce(0, +) >= count {
                        return Double(count) / (ContinuousClock.now - first!).seconds
                    }
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            while let result = try await group.next() {
                if let rate = result {
                    group.cancelAll()
                    return rate
                }
            }
            return 0
        }
        precondition(source.stats.snapshot.readings == count, "the connector mapped \(source.stats.snapshot)")
        try await bus.close()
        return rate
    }

    static func monotonicNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// Both clients subscribed while the publisher sends `rate` messages a second; their latency percentiles.
    static func latency(broker: Mosquitto, publisher: MQTTConnection, rate: Int, seconds: Int) async throws
        -> ([String: Double], [String: Double])
    {
        let total = rate * seconds
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ".venv/bin/python")
        p.arguments = ["Benchmarks/mqtt/paho_side.py", "latency", "127.0.0.1", "\(broker.port)", "\(total)"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let reader = out.fileHandleForReading
        var line = [UInt8]()
        while let byte = try reader.read(upToCount: 1)?.first, byte != 10 { line.append(byte) }
        precondition(String(decoding: line, as: UTF8.self) == "ready", "the paho side did not start")

        let sub = try await MQTTConnection.connect(
            MQTTClientOptions(host: "127.0.0.1", port: broker.port, clientID: "ms-latency"))
        try await sub.subscribe([.init("bench/#", qos: .atLeastOnce)])
        let padding = [UInt8](repeating: 0x78, count: 180)
        return try await withThrowingTaskGroup(of: [String: Double]?.self) { group in
            group.addTask {
                var latencies: [Double] = []
                for try await batch in sub.messages {
                    let now = monotonicNanoseconds()
                    for m in batch {
                        let stamp = m.payload.prefix { $0 != 32 }
                        latencies.append(Double(now - UInt64(String(decoding: stamp, as: UTF8.self))!) / 1e6)
                    }
                    sub.acknowledge(batch)
                    if latencies.count >= total { break }
                }
                latencies.sort()
                return [
                    "p50_ms": latencies[latencies.count / 2], "p99_ms": latencies[Int(Double(latencies.count) * 0.99)],
                    "max_ms": latencies.last!,
                ]
            }
            let start = ContinuousClock.now
            for i in 0..<total {
                let due = start + .nanoseconds(Int64(i) * 1_000_000_000 / Int64(rate))
                if due > .now { try await Task.sleep(until: due) }
                try await publisher.publish(
                    "bench/m01", payload: Array("\(monotonicNanoseconds()) ".utf8) + padding, qos: .atLeastOnce)
            }
            let ours = try await group.next()!!
            let data = reader.readDataToEndOfFile()
            p.waitUntilExit()
            let peer = try JSONSerialization.jsonObject(with: data) as! [String: Double]
            await sub.disconnect()
            return (ours, peer)
        }
    }

    /// Debian's mosquitto_sub (libmosquitto, C) in the same persistent-session role, output to /dev/null; its wall
    /// time in seconds (connection and all).
    static func mosquittoSub(port: Int, _ arguments: [String]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        process.arguments =
            ["-h", "127.0.0.1", "-p", "\(port)", "-V", "5", "-q", "1", "-c", "-i", "mosq-drain", "-x", "3600"]
            + ["-t", "bench/#"] + arguments
        process.standardOutput = FileHandle.nullDevice
        let started = ContinuousClock.now
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            print("mosquitto_sub failed (scripts/bench mqtt installs Debian's mosquitto-clients)")
            exit(1)
        }
        return (ContinuousClock.now - started).seconds
    }

    static func peer(_ arguments: [String]) throws -> [String: Double] {
        try pythonPeer(
            "Benchmarks/mqtt/paho_side.py", arguments,
            failure: "the paho-mqtt side failed (is paho-mqtt in .venv? run scripts/bootstrap)")
    }
}
