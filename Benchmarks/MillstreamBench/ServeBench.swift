import Bus
import BusEmbedded
import Foundation
import Hummingbird
import Learn
import Observability
import Plant
import Primitives
import Registry
import Server
import Synchronization
import TestSupport

/// Predict over HTTP: Millstream's server against the same model (16-64-64-1) in onnxruntime behind FastAPI on
/// uvicorn with a worker per core (Benchmarks/serve/ort_server.py), both loaded by wrk on loopback in one run, for 1 and 64
/// instances per request; then Millstream paced at half its peak rate for the latency there.
enum ServeBench {
    static let repository = FileManager.default.currentDirectoryPath

    static func run(seconds: Int) async throws {
        // The server's logging as `millstream serve` sets it up without an OTLP endpoint (JSON lines, no spans):
        // swift-log's default handler, which the benchmark had before, re-renders its metadata on every change, once
        // per request here.
        _ = try Observability.bootstrap(service: "millstream-bench", level: .info, environment: [:])
        let dir = NSTemporaryDirectory() + "millstream-bench-serve-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") else {
            print("serve benchmark: wrk is missing (apt-get install wrk; scripts/bench installs it)")
            exit(2)
        }
        let model = try Sequential(
            [Dense(64, activation: .relu), Dense(64, activation: .relu), Dense(1, activation: .sigmoid)], inputSize: 16,
            seed: 7)
        let description = ModelFile.Description(
            task: .binary, inputSize: 16, outputSize: 1, layers: model.configurations, preprocessing: nil, target: "y",
            classes: ["0", "1"], threshold: 0.5,
            metadata: .init(
                created: "2026-12-01T00:00:00Z", datasetSHA256: nil, hyperparameters: [:], codeVersion: "bench",
                source: "bench"))
        let registry = try ModelRegistry(root: dir + "/models")
        let version = try registry.register(ModelFile(description: description, model: model), as: "bench")
        try registry.promote("bench", version: version.version, to: .production)
        try Data(try model.onnx()).write(to: URL(fileURLWithPath: dir + "/bench.onnx"))

        let bus = try EmbeddedBus(url: BusURL("embedded://\(dir)/data"))
        let tokens = try TokenStore(path: dir + "/tokens.json")
        let token = try tokens.create(name: "bench", role: .viewer)
        let metrics = ServerMetrics(version: "bench")
        var options = ServerOptions()
        options.port = TestSupport.TansuBroker.freePort()
        options.grpcPort = TestSupport.TansuBroker.freePort()
        let server = MillstreamServer(
            options: options, bus: bus, registry: registry, tokens: tokens, audit: try AuditLog(path: nil),
            view: PlantView(process: .milling()), metrics: metrics, ready: ReadyFlag())
        let app = try server.application()
        let grpc = server.grpc()!
        let peerPort = TestSupport.TansuBroker.freePort()
        let peerGRPCPort = TestSupport.TansuBroker.freePort()

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            group.addTask { try await grpc.run() }
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let python = Process()
            python.executableURL = URL(fileURLWithPath: repository + "/.venv/bin/python")
            python.arguments = [
                repository + "/Benchmarks/serve/ort_server.py", dir + "/bench.onnx", "\(peerPort)", "\(cores)",
            ]
            try python.run()
            defer {
                // uvicorn's supervisor stops its workers on SIGTERM.
                kill(python.processIdentifier, SIGTERM)
                python.waitUntilExit()
            }
            try await waitForPort(peerPort)
            try await Task.sleep(for: .seconds(1))  // the other workers
            try await waitForPort(options.port)

            say(
                "predict over HTTP, 16-64-64-1, wrk -t2 -c16 on loopback, \(seconds) s each (\(cores) cores shared by all);"
                    + " peer: onnxruntime in FastAPI on uvicorn (uvloop, httptools, orjson), \(cores) workers")
            var peak1 = 0.0
            var rng = RandomSource(seed: 3)
            for n in [1, 64] {
                let instances = (0..<n).map { _ in (0..<16).map { _ in Double(Float(rng.normal())) } }
                let body = try JSONSerialization.data(withJSONObject: ["instances": instances])
                let bodyFile = dir + "/body-\(n).json"
                try body.write(to: URL(fileURLWithPath: bodyFile))
                // Both answer the same numbers first.
                let a = try predictions(try await post(options.port, body, token: token))
                let b = try predictions(try await post(peerPort, body, token: nil))
                let difference = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
                // PROFILE_INSTANCES=N: the profile holds Millstream's wrk run with N instances a request.
                let profiled = ProcessInfo.processInfo.environment["PROFILE_INSTANCES"] == "\(n)"
                if profiled { Profile.enable() }
                let ours = try await wrk(port: options.port, bodyFile: bodyFile, token: token, seconds: seconds)
                if profiled { Profile.disable() }
                let peer = try await wrk(port: peerPort, bodyFile: bodyFile, token: nil, seconds: seconds)
                if n == 1 { peak1 = ours.rate }
                say(
                    String(
                        format:
                            "%2d instance%@  millstream %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms   onnxruntime+uvicorn %7.0f req/s  p50 %6.3f ms  p99 %6.3f ms   ratio %.1fx   (answers differ by %.1e)",
                        n, n == 1 ? " " : "s", ours.rate, ours.p50, ours.p99, peer.rate, peer.p50, peer.p99,
                        ours.rate / peer.rate, difference))
            }
            try await compareGRPC(
                ourPort: options.grpcPort!, restPort: options.port, peerPort: peerGRPCPort, token: token,
                model: dir + "/bench.onnx", cores: cores, seconds: seconds)
            let rate = peak1 / 2
            let paced = try await pacedLatency(
                port: options.port, body: try Data(contentsOf: URL(fileURLWithPath: dir + "/body-1.json")),
                token: token,
                rate: rate, seconds: seconds)
            print(
                String(
                    format:
                        "paced at half the 1-instance peak (%.0f req/s, 16 connections): %d requests  p50 %.3f ms  p99 %.3f ms  max %.3f ms",
                    rate, paced.count, paced.p50, paced.p99, paced.max))
            group.cancelAll()
        }
    }

    /// Predict over gRPC (TensorFlow Serving's PredictionService, tensor_content): Millstream's gRPC port against
    /// the same model in onnxruntime behind grpcio (a process per core), both loaded by the same grpc-swift client.
    static func compareGRPC(
        ourPort: Int, restPort: Int, peerPort: Int, token: String, model: String, cores: Int, seconds: Int
    ) async throws {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: repository + "/.venv/bin/python")
        python.arguments = [repository + "/Benchmarks/serve/ort_grpc_server.py", model, "\(peerPort)", "\(cores)"]
        let pipe = Pipe()
        python.standardOutput = pipe
        try python.run()
        defer {
            kill(python.processIdentifier, SIGKILL)
            python.waitUntilExit()
        }
        _ = pipe.fileHandleForReading.availableData  // "ready"
        try await Task.sleep(for: .seconds(1))
        say(
            "predict over gRPC (TensorFlow Serving's Predict, tensor_content), h2load -t2: 4 connections x 4 calls in flight, \(seconds) s each;"
                + " peer: onnxruntime in grpcio, \(cores) processes (SO_REUSEPORT)")
        var rng = RandomSource(seed: 5)
        for n in [1, 64] {
            let rows = (0..<n).map { _ in (0..<16).map { _ in Float(rng.normal()) } }
            let request = GRPCLoad.request(model: "bench", input: "input", rows: rows)
            let a = try await GRPCLoad.once(port: ourPort, token: token, request)
            let b = try await GRPCLoad.once(port: peerPort, token: nil, request)
            guard a.count == n, b.count == n else {
                throw BenchError("gRPC answers have \(a.count) and \(b.count) values")
            }
            let difference = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
            let path = "/tensorflow.serving.PredictionService/Predict"
            let grpcHeaders = ["content-type: application/grpc", "te: trailers"]
            let frame = try GRPCLoad.frame(request)
            // PROFILE_GRPC_INSTANCES=N: the profile holds Millstream's gRPC run with N instances a call.
            let profiled = ProcessInfo.processInfo.environment["PROFILE_GRPC_INSTANCES"] == "\(n)"
            if profiled { Profile.enable() }
            let ours = try GRPCLoad.h2load(
                url: "http://127.0.0.1:\(ourPort)\(path)", body: frame,
                headers: grpcHeaders + ["authorization: Bearer \(token)"], seconds: seconds)
            if profiled { Profile.disable() }
            let peer = try GRPCLoad.h2load(
                url: "http://127.0.0.1:\(peerPort)\(path)", body: frame, headers: grpcHeaders, seconds: seconds)
            // Our REST port with the same load generator, as many requests in flight (16 HTTP/1.1 connections).
            let body = try JSONSerialization.data(withJSONObject: ["instances": rows.map { $0.map(Double.init) }])
            let rest = try GRPCLoad.h2load(
                url: "http://127.0.0.1:\(restPort)/v1/models/bench:predict", body: [UInt8](body),
                headers: ["content-type: application/json", "authorization: Bearer \(token)"], h1: true,
                seconds: seconds, connections: 16)
            say(
                String(
                    format:
                        "%2d instance%@  millstream %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms   onnxruntime+grpcio %7.0f req/s  p50 %6.3f ms  p99 %6.3f ms   ratio %.1fx   (answers differ by %.1e)",
                    n, n == 1 ? " " : "s", ours.rate, ours.p50, ours.p99, peer.rate, peer.p50, peer.p99,
                    ours.rate / peer.rate, difference))
            say(
                String(
                    format:
                        "%2d instance%@  millstream REST through h2load (16 HTTP/1.1 connections) %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms   gRPC/REST %.2f",
                    n, n == 1 ? " " : "s", rest.rate, rest.p50, rest.p99, ours.rate / rest.rate))
        }
    }

    static func predictions(_ data: Data) throws -> [Double] {
        guard let o = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let rows = o["predictions"] as? [[Double]]
        else { throw BenchError("not a predict answer: \(String(decoding: data, as: UTF8.self).prefix(200))") }
        return rows.flatMap { $0 }
    }

    struct Load {
        var rate: Double
        var p50: Double
        var p99: Double
    }

    /// wrk's requests/s and latency percentiles (ms).
    static func wrk(port: Int, bodyFile: String, token: String?, seconds: Int) async throws -> Load {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
        process.arguments = [
            "-t2", "-c16", "-d\(seconds)s", "--latency", "-s", repository + "/Benchmarks/serve/post.lua",
            "http://127.0.0.1:\(port)/v1/models/bench:predict",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["BODY_FILE"] = bodyFile
        environment["TOKEN"] = token ?? ""
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = try await blocking { () -> String in
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        func value(_ prefix: String) -> Double? {
            guard
                let line = output.split(separator: "\n").first(where: {
                    $0.trimmingCharacters(in: .whitespaces).hasPrefix(prefix)
                })
            else { return nil }
            let text = line.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) ?? ""
            for (unit, scale) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where text.hasSuffix(unit) {
                return Double(text.dropLast(unit.count)).map { $0 * scale }
            }
            return Double(text)
        }
        guard let rate = value("Requests/sec:"), let p50 = value("50%"), let p99 = value("99%") else {
            throw BenchError("cannot read wrk's output:\n\(output)")
        }
        if output.contains("Non-2xx") { throw BenchError("wrk saw errors:\n\(output)") }
        return Load(rate: rate, p50: p50, p99: p99)
    }

    static func waitForPort(_ port: Int) async throws {
        for _ in 0..<100 {
            if (try? await post(port, Data(), token: nil, path: "/healthz", method: "GET")) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("the server did not start on port \(port)")
    }

    /// One request on a new connection; the body of the answer.
    static func post(
        _ port: Int, _ body: Data, token: String?, path: String = "/v1/models/bench:predict", method: String = "POST"
    )
        async throws -> Data
    {
        try await blocking {
            let c = try Connection(port: port)
            defer { c.close() }
            return try c.request(method: method, path: path, body: [UInt8](body), token: token)
        }
    }

    /// Requests at a fixed rate over 16 keep-alive connections; latency from each request's scheduled time (so a
    /// slow answer delays the next send and counts against it, no coordinated omission).
    static func pacedLatency(port: Int, body: Data, token: String?, rate: Double, seconds: Int) async throws
        -> (count: Int, p50: Double, p99: Double, max: Double)
    {
        let connections = 16
        let perConnection = rate / Double(connections)
        let bytes = [UInt8](body)
        let all = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<connections {
                group.addTask {
                    try await onThread { () -> [Double] in
                        let c = try Connection(port: port)
                        defer { c.close() }
                        var out: [Double] = []
                        let start = DispatchTime.now().uptimeNanoseconds
                        let interval = 1e9 / perConnection
                        var k = 0.0
                        while true {
                            let scheduled = start + UInt64(k * interval)
                            if scheduled - start > UInt64(seconds) * 1_000_000_000 { break }
                            let now = DispatchTime.now().uptimeNanoseconds
                            if now < scheduled { usleep(UInt32((scheduled - now) / 1000)) }
                            _ = try c.request(
                                method: "POST", path: "/v1/models/bench:predict", body: bytes, token: token)
                            out.append(Double(DispatchTime.now().uptimeNanoseconds - scheduled) / 1e6)
                            k += 1
                        }
                        return out
                    }
                }
            }
            var merged: [Double] = []
            for try await part in group { merged += part }
            return merged
        }
        let sorted = all.sorted()
        guard !sorted.isEmpty else { throw BenchError("no paced requests completed") }
        return (
            sorted.count, sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)], sorted.last!
        )
    }
}

/// Runs blocking work on a thread of its own (the paced connections must not wait for a pool's free thread).
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

/// A blocking HTTP/1.1 keep-alive connection (the paced load generator's).
final class Connection {
    let fd: Int32
    var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw BenchError("cannot connect to 127.0.0.1:\(port)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    func close() { _ = Glibc.close(fd) }

    func request(method: String, path: String, body: [UInt8], token: String?) throws -> Data {
        var head =
            "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        head += "\r\n"
        let message = Array(head.utf8) + body
        var sent = 0
        while sent < message.count {
            let n = message[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw BenchError("send failed") }
            sent += n
        }
        // Header, then Content-Length bytes of body.
        var end: Int?
        while end == nil {
            end = headerEnd()
            if end == nil { try fill() }
        }
        let (ok, length) = parseHeader(end!)
        guard ok else { throw BenchError("answer: \(String(decoding: buffer[..<end!], as: UTF8.self).prefix(200))") }
        while buffer.count < end! + 4 + length { try fill() }
        let answer = Data(buffer[(end! + 4)..<(end! + 4 + length)])
        buffer.removeFirst(end! + 4 + length)
        return answer
    }

    /// The index of "\r\n\r\n" in the buffer, if there.
    private func headerEnd() -> Int? {
        buffer.withUnsafeBufferPointer { b in
            guard b.count >= 4 else { return nil }
            for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 {
                return i
            }
            return nil
        }
    }

    /// The Content-Length of the header in buffer[0..<end] (0 if none), and whether the status is 2xx.
    private func parseHeader(_ end: Int) -> (ok: Bool, length: Int) {
        buffer.withUnsafeBufferPointer { b in
            let ok = end > 9 && b[9] == UInt8(ascii: "2")
            let name = Array("content-length:".utf8)
            var i = 0
            while i + name.count < end {
                var match = true
                for k in 0..<name.count where (b[i + k] | 0x20) != name[k] {
                    match = false
                    break
                }
                if match {
                    var j = i + name.count
                    while b[j] == 32 { j += 1 }
                    var n = 0
                    while j < end, b[j] >= 48 && b[j] <= 57 {
                        n = n * 10 + Int(b[j] - 48)
                        j += 1
                    }
                    return (ok, n)
                }
                i += 1
            }
            return (ok, 0)
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw BenchError("connection closed") }
        buffer += chunk[0..<n]
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A line on stdout at once (print buffers when stdout is a pipe).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
