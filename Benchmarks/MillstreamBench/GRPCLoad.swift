import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import ServingProto

/// Predict over gRPC for the serving benchmark: the request, one call through grpc-swift 2 (to check the answers),
/// and the load through h2load, which loads both servers (and the REST port, for gRPC against REST) alike.
enum GRPCLoad {
    static let predict = MethodDescriptor(
        fullyQualifiedService: "tensorflow.serving.PredictionService", method: "Predict")

    /// TensorFlow Serving's Predict request for `rows` instances of `width` floats (tensor_content).
    static func request(model: String, input: String, rows: [[Float]]) -> Tensorflow_Serving_PredictRequest {
        .with {
            $0.modelSpec.name = model
            $0.inputs[input] = .with {
                $0.dtype = .dtFloat
                $0.tensorShape.dim = [rows.count, rows.first?.count ?? 0].map { n in .with { $0.size = Int64(n) } }
                $0.tensorContent = rows.flatMap { $0 }.withUnsafeBytes { Data($0) }
            }
        }
    }

    /// One call's outputs (the floats of the single output tensor).
    static func once(port: Int, token: String?, _ request: Tensorflow_Serving_PredictRequest) async throws -> [Double] {
        try await withGRPCClient(
            transport: try .http2NIOPosix(
                target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        ) { client in
            try await call(client, token: token, request).outputs.values.first.map { $0.floatVal.map(Double.init) }
                ?? []
        }
    }

    static func call(
        _ client: GRPCClient<HTTP2ClientTransport.Posix>, token: String?, _ request: Tensorflow_Serving_PredictRequest
    ) async throws -> Tensorflow_Serving_PredictResponse {
        var metadata: Metadata = [:]
        if let token { metadata.addString("Bearer \(token)", forKey: "authorization") }
        return try await client.unary(
            request: ClientRequest(message: request, metadata: metadata), descriptor: predict,
            serializer: ProtobufSerializer<Tensorflow_Serving_PredictRequest>(),
            deserializer: ProtobufDeserializer<Tensorflow_Serving_PredictResponse>(), options: .defaults
        ) { try $0.message }
    }

    /// h2load (nghttp2's HTTP/2 load generator, in C) for `seconds` on `connections` connections with `streams`
    /// requests in flight on each: gRPC calls (HTTP/2 POST, `application/grpc`, a length-prefixed message) or, with
    /// `h1`, HTTP/1.1 requests. Requests/s from its count, percentiles from its per-request log.
    static func h2load(
        url: String, body: [UInt8], headers: [String], h1: Bool = false, seconds: Int, connections: Int = 4,
        streams: Int = 4
    ) throws -> ServeBench.Load {
        let dir = NSTemporaryDirectory() + "h2load-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(body).write(to: URL(fileURLWithPath: dir + "/body"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/h2load")
        process.arguments =
            [
                "-t2", "-c\(connections)", "-m\(h1 ? 1 : streams)", "-D\(seconds)", "--warm-up-time=1",
                "-d", dir + "/body", "--log-file", dir + "/log",
            ] + headers.flatMap { ["-H", $0] } + (h1 ? ["--h1"] : []) + [url]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // Lines of the log: start time, HTTP status, latency in microseconds.
        let log = (try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? ""
        var failed = 0
        let latencies = log.split(separator: "\n").compactMap { line -> Double? in
            let fields = line.split(separator: "\t")
            guard fields.count >= 3, let us = Double(fields[2]), let status = Int(fields[1]) else { return nil }
            // A request cut off when the time is up has no HTTP status: not an answer, not a failure.
            guard (100...599).contains(status) else { return nil }
            if status != 200 { failed += 1 }
            return us / 1000
        }.sorted()
        guard !latencies.isEmpty, failed == 0, process.terminationStatus == 0 else {
            throw BenchError("h2load on \(url): \(failed) failed of \(latencies.count)\n\(output.suffix(1500))")
        }
        return ServeBench.Load(
            rate: Double(latencies.count) / Double(seconds), p50: latencies[latencies.count / 2],
            p99: latencies[min(latencies.count - 1, latencies.count * 99 / 100)])
    }

    /// A gRPC message on the wire: not compressed, its length (big-endian), the message.
    static func frame(_ request: Tensorflow_Serving_PredictRequest) throws -> [UInt8] {
        let message: [UInt8] = try request.serializedBytes()
        let n = UInt32(message.count)
        return [0, UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + message
    }
}
