import Foundation
import Learn
import Primitives
import Registry
import ServingProto
import Synchronization
import Testing

@testable import Server

/// The gRPC predict API against real clients: grpcio with TensorFlow Serving's messages, and Triton's Python client
/// (tritonclient.grpc) for the Open Inference Protocol, over a real HTTP/2 connection to the server's gRPC port.
@Suite struct GRPCPredictTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
        .standardized.path

    @Test func tensorFlowServingAndTritonClientsGetTensorFlowsNumbers() async throws {
        let t = try TestServer(grpcPort: 0)
        defer { t.remove() }
        // A Keras model converted by tf2onnx, with TensorFlow's own outputs for its inputs.
        let keras = try t.importKeras("binary", as: "keras", task: .binary)
        try t.registry.promote("keras", version: keras.version, to: .production)
        let (rows, tensorFlow) = try TestServer.tensorFlow("binary")
        let inputName = try ONNXModel(
            bytes: [UInt8](Data(contentsOf: TestServer.fixtures.appendingPathComponent("keras_binary.onnx"))),
            source: "keras_binary"
        ).inputName
        // A Millstream model on named raw columns, one of them categorical.
        let (tabular, x1, x2, kind) = try Self.tabular()
        try t.registry.register(tabular, as: "tabular")
        let pre = tabular.description.preprocessing!
        let expected = try tabular.makeModel().predict(try pre.transform(numeric: [x1, x2], categoricalValues: [kind]))

        let spec: [String: Any] = [
            "keras": ["name": "keras", "input": inputName, "rows": rows],
            "tabular": ["name": "tabular", "x1": x1, "x2": x2, "kind": kind],
        ]
        let specJSON = String(decoding: try JSONSerialization.data(withJSONObject: spec), as: UTF8.self)
        let ports = AsyncStream<Int>.makeStream()
        let grpc = try #require(t.server.grpc { ports.continuation.yield($0) })
        let answer = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                try await grpc.run()
                return nil
            }
            var iterator = ports.stream.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let output = try await Self.python(
                [
                    "Tests/ServerTests/Peer/grpc_client.py", "\(port)", t.token[.viewer]!,
                    specJSON,
                ])
            group.cancelAll()
            return output
        }
        let r = try #require(
            try JSONSerialization.jsonObject(with: Data(try #require(answer).utf8)) as? [String: Any])
        func values(_ key: String, index: Int = 1) -> [[Double]] { ((r[key] as? [Any])?[index] as? [[Double]]) ?? [] }
        func worst(_ got: [[Double]], _ want: [[Double]]) -> Double {
            guard got.count == want.count, !got.isEmpty else { return .infinity }
            return zip(got, want).map { g, w in zip(g, w).map { abs($0 - $1) }.max() ?? .infinity }.max()!
        }
        // TensorFlow Serving's Predict: float_val, tensor_content by label, named columns with strings.
        #expect(worst(values("tfs_float_val"), tensorFlow) < 1e-5, "\(r)")
        #expect(worst(values("tfs_tensor_content"), tensorFlow) < 1e-5)
        #expect((r["tfs_float_val"] as? [Any])?.first as? String != nil)
        let want = (0..<x1.count).map { [Double(expected[$0, 0])] }
        #expect(worst(values("tfs_named"), want) < 1e-6, "\(r["tfs_named"] ?? "none")")
        // Refusals as gRPC statuses with the REST API's messages.
        #expect(r["no_token"] as? String == "UNAUTHENTICATED")
        #expect(r["bad_token"] as? String == "UNAUTHENTICATED")
        #expect(r["unknown_model"] as? String == "NOT_FOUND")
        #expect((r["unknown_model_message"] as? String ?? "").contains("Servable not found"))
        #expect(r["wrong_width"] as? String == "INVALID_ARGUMENT")
        #expect(r["missing_input"] as? String == "INVALID_ARGUMENT")
        #expect((r["missing_input_message"] as? String ?? "").contains("missing input 'x2'"))
        // The Open Inference Protocol through Triton's client: contents and raw contents, the request id kept.
        #expect(r["oip_live"] as? Bool == true && r["oip_ready"] as? Bool == true)
        #expect(r["oip_model_ready"] as? Bool == true && r["oip_unknown_ready"] as? Bool == false)
        #expect(worst(values("oip_contents"), tensorFlow) < 1e-5, "\(r["oip_contents"] ?? "none")")
        #expect((r["oip_contents"] as? [Any])?.last as? String == "\(keras.version)")
        #expect(worst(values("oip_raw"), tensorFlow) < 1e-5, "\(r["oip_raw"] ?? "none")")
        #expect((r["oip_raw"] as? [Any])?.last as? String == "r1")
        #expect(r["oip_no_token"] as? String == "StatusCode.UNAUTHENTICATED")
        // The calls are counted with REST's.
        #expect(String(decoding: t.metrics.text(), as: UTF8.self).contains("scoring_latency"))
    }

    /// A network without preprocessing takes the tensor's rows as its input matrix, scored as one batch: the same
    /// numbers as the network row by row, from float_val and from tensor_content.
    @Test func aTensorOfRowsIsScoredAsOneBatch() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-batch-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let network = try Sequential(
            [Dense(8, activation: .relu), Dense(8, activation: .tanh), Dense(2, activation: .softmax)], inputSize: 3,
            seed: 4)
        let file = ModelFile(
            description: .init(
                task: .multiclass, inputSize: 3, outputSize: 2, layers: network.configurations, preprocessing: nil,
                target: "y", classes: ["a", "b"], threshold: 0.5,
                metadata: .init(created: "x", datasetSHA256: nil, hyperparameters: [:], codeVersion: "test")),
            model: network)
        let registry = try ModelRegistry(root: root.path)
        let served = try ServedModel(version: try registry.register(file, as: "plain"), file: file)
        var rng = RandomSource(seed: 9)
        let rows = (0..<5).map { _ in (0..<3).map { _ in Float(rng.normal()) } }
        var proto = Tensorflow_Serving_TensorProto()
        proto.dtype = .dtFloat
        proto.tensorShape.dim = [5, 3].map { n in
            var d = Tensorflow_Serving_TensorShapeProto.Dim()
            d.size = Int64(n)
            return d
        }
        proto.floatVal = rows.flatMap { $0 }
        var packed = proto
        packed.floatVal = []
        packed.tensorContent = Data(
            rows.flatMap { $0 }.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        let single = InferenceModel(network)
        for tensor in [proto, packed] {
            let (n, outputs) = try served.predict(named: ["input": try GRPCPredictService.Tensor(tensorflow: tensor)])
            #expect(n == 5 && outputs.count == 10)
            for (r, row) in rows.enumerated() {
                let want = single.predict(row)
                for c in 0..<2 { #expect(abs(outputs[r * 2 + c] - want[c]) < 1e-6) }
            }
        }
    }

    /// A small model on x1, x2 (numbers) and kind (a category), and the columns of four instances.
    static func tabular() throws -> (ModelFile, [Double], [Double], [String]) {
        var rng = RandomSource(seed: 5)
        let n = 300
        let x1 = (0..<n).map { _ in rng.normal() * 2 + 10 }
        let x2 = (0..<n).map { _ in rng.normal() }
        let kind = (0..<n).map { $0 % 2 == 0 ? "A" : "B" }
        let target = (0..<n).map { (x1[$0] > 10) != (kind[$0] == "B") ? "1" : "0" }
        var spec = TrainingSpec()
        spec.epochs = 3
        let trained = try Trainer.train(
            TabularData(
                numericNames: ["x1", "x2"], numeric: [x1, x2], categoricalNames: ["kind"], categorical: [kind],
                targetName: "y", target: target), spec: spec,
            metadata: .init(created: "x", datasetSHA256: nil, hyperparameters: [:], codeVersion: "test"))
        return (trained.model, [11.5, 8, 9.2, 12], [0.3, -1, 0, 2], ["B", "A", "A", "B"])
    }

    /// Runs a script with the project venv's Python from the repository root; its stdout's last line (JSON).
    static func python(_ arguments: [String]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: repository + "/.venv/bin/python")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: repository)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let (stdout, stderr) = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let o = out.fileHandleForReading.readDataToEndOfFile()
                let e = err.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: (o, e))
            }
        }
        let last = String(decoding: stdout, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard process.terminationStatus == 0, last.hasPrefix("{") else {
            throw TestFailure(
                "the gRPC client failed (\(process.terminationStatus)): \(String(decoding: stderr, as: UTF8.self).suffix(3000))"
            )
        }
        return last
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
