import Foundation
import OPCUA
import OPCUAWire
import TestSupport

/// Millstream's OPC UA client against asyncua's client (Benchmarks/opcua/asyncua_side.py) on the same asyncua server (Tests/ConnectorsTests/Peer/opcua_server.py), SecurityPolicy None, on loopback. The server
/// writes bench nodes whose values are the time they were written; each client subscribes to them (sampling 0, queue
/// 100), skips the first second and counts for `seconds`.
/// - latency: one node written `rate` times a second, publishing interval 1 ms: arrival minus the value's time.
/// - rate: `nodes` nodes written as fast as the server can, both clients subscribed at once, publishing interval
///   10 ms: values received a second, and the client's CPU time per value (the server, in Python, bounds the rate;
///   the CPU time is the client's own cost).
enum OPCUABench {
    static func run(rate: Int, nodes: Int, seconds: Int) async throws {
        print(
            "opcua: asyncua 2.1.0's server on loopback, SecurityPolicy None; latency at \(rate) values/s, rate with "
                + "\(nodes) nodes written as fast as the server can; \(seconds) s each, after 1 s of warm-up")
        for (name, serverRate, count, publishMs) in [("latency", rate, 1, 1.0), ("rate", 0, nodes, 10.0)] {
            let server = try await OPCUAServerPeer(rate: serverRate, benchNodes: count)
            defer { server.stop() }
            let arguments = [server.endpoint, "\(count)", "\(seconds)", "\(publishMs)"]
            let failure = "the asyncua client failed (is asyncua in .venv?)"
            let ours: [String: Double]
            let peer: [String: Double]
            if name == "rate" {
                // Both subscribed at once: the same values are on offer to each (the server's pace is shared).
                async let theirs = blocking {
                    try pythonPeer("Benchmarks/opcua/asyncua_side.py", arguments, failure: failure)
                }
                try await Task.sleep(for: .seconds(1))  // Python's start-up, so that the windows overlap
                ours = try await measure(server.endpoint, nodes: count, seconds: seconds, publishMs: publishMs)
                peer = try await theirs
            } else {
                ours = try await measure(server.endpoint, nodes: count, seconds: seconds, publishMs: publishMs)
                peer = try pythonPeer("Benchmarks/opcua/asyncua_side.py", arguments, failure: failure)
            }
            if name == "latency" {
                for (label, key) in [("p50", "p50_ms"), ("p99", "p99_ms")] {
                    row(
                        "latency \(label) at \(rate)/s (ms)", ours[key]!, peer[key] ?? .nan,
                        lowerIsBetter: true)
                }
                row("values received/s at \(rate)/s", ours["rate"]!, peer["rate"] ?? .nan, lowerIsBetter: false)
            } else {
                row(
                    "values received/s, \(nodes) nodes flooded", ours["rate"]!, peer["rate"] ?? .nan,
                    lowerIsBetter: false)
                row(
                    "client CPU per value (µs)", ours["cpu_us_per_value"]!, peer["cpu_us_per_value"] ?? .nan,
                    lowerIsBetter: true)
            }
        }
    }

    static func row(_ what: String, _ ours: Double, _ peer: Double, lowerIsBetter: Bool) {
        let ratio = lowerIsBetter ? peer / ours : ours / peer
        print(
            what.padding(toLength: 40, withPad: " ", startingAt: 0)
                + "Millstream \(String(format: "%10.3f", ours))   asyncua \(String(format: "%10.3f", peer))   "
                + "\(String(format: "%.2f", ratio))× (higher is better for Millstream)")
    }

    /// Our client: subscribe, skip a second, count `seconds`.
    static func measure(_ endpoint: String, nodes: Int, seconds: Int, publishMs: Double) async throws -> [String:
        Double]
    {
        let c = try await OPCUAConnection.connect(try OPCUAClientOptions(endpointURL: endpoint))
        let sub = try await c.createSubscription(publishingInterval: .microseconds(Int64(publishMs * 1000)))
        _ = try await c.monitor(
            subscription: sub.subscriptionID,
            (0..<nodes).map { (OPCUANodeID.string("bench/v\($0)", ns: 2), UInt32($0)) }, samplingInterval: .zero)
        var latencies: [Double] = []
        latencies.reserveCapacity(200_000)
        let clock = ContinuousClock()
        let warm = clock.now + .seconds(1)
        let end = warm + .seconds(seconds)
        var cpuStart = 0.0
        var counting = false
        try await withThrowingTaskGroup(of: OPCUAPublishResponse.self) { group in
            for _ in 0..<2 { group.addTask { try await c.publish(acknowledging: [], wait: .seconds(10)) } }
            while let r = try await group.next() {
                let now = Date().timeIntervalSince1970
                if !counting && clock.now >= warm {
                    counting = true
                    cpuStart = ProcessCPU.now().total
                }
                if counting {
                    for n in try r.dataChanges() {
                        if case .double(let t)? = n.value.value { latencies.append((now - t) * 1000) }
                    }
                }
                if clock.now >= end { break }
                let acks =
                    r.notifications.isEmpty
                    ? []
                    : [
                        OPCUASubscriptionAcknowledgement(
                            subscriptionID: r.subscriptionID, sequenceNumber: r.sequenceNumber)
                    ]
                group.addTask { try await c.publish(acknowledging: acks, wait: .seconds(10)) }
            }
            group.cancelAll()
        }
        let cpu = ProcessCPU.now().total - cpuStart
        await c.close()
        latencies.sort()
        let n = latencies.count
        return [
            "rate": Double(n) / Double(seconds), "p50_ms": n > 0 ? latencies[n / 2] : -1,
            "p99_ms": n > 0 ? latencies[Int(Double(n) * 0.99)] : -1,
            "cpu_us_per_value": n > 0 ? cpu * 1e6 / Double(n) : -1,
        ]
    }
}
