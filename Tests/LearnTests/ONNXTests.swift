import Foundation
import ONNXProto
import Primitives
import Testing

@testable import Learn

@Suite struct ONNXTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
        .standardized

    func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent(name)))
    }

    /// Keras models converted by tf2onnx (made by Fixtures/make_onnx_fixtures.py) give TensorFlow's numbers: two
    /// MLPs, and Conv1D (same and valid) under two LSTMs on (batch, 10 steps, 3 channels) inputs.
    @Test(arguments: ["softmax", "binary", "conv_lstm"])
    func kerasModelsMatchTensorFlow(_ name: String) throws {
        let expected =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: Self.fixtures.appendingPathComponent("keras_outputs.json"))) as! [String: Any]
        let case_ = expected[name] as! [String: Any]
        let inputs = (case_["inputs"] as! [[Double]]).map { $0.map(Float.init) }
        let outputs = (case_["outputs"] as! [[Double]]).map { $0.map(Float.init) }
        let model = try ONNXModel(bytes: try bytes("keras_\(name).onnx"), source: name)
        #expect(model.inputSize == inputs[0].count)
        let got = try model.predict(Tensor(inputs))
        var worst: Float = 0
        for r in outputs.indices { for c in outputs[r].indices { worst = max(worst, abs(got[r, c] - outputs[r][c])) } }
        #expect(worst < 1e-5, "max abs difference \(worst)")
    }

    /// ONNX's GRU without `linear_before_reset` and an LSTM with peepholes and initial states (no converter writes
    /// them from Keras; Fixtures/make_recurrent_fixture.py builds the graph) give onnxruntime's numbers.
    @Test func recurrentOperatorsMatchOnnxruntime() throws {
        let expected =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: Self.fixtures.appendingPathComponent("onnx_recurrent.json"))) as! [String: Any]
        let inputs = (expected["inputs"] as! [[Double]]).map { $0.map(Float.init) }
        let outputs = (expected["outputs"] as! [[Double]]).map { $0.map(Float.init) }
        let model = try ONNXModel(bytes: try bytes("onnx_recurrent.onnx"), source: "recurrent")
        #expect(model.inputSize == 18)
        let got = try model.predict(Tensor(inputs))
        var worst: Float = 0
        for r in outputs.indices { for c in outputs[r].indices { worst = max(worst, abs(got[r, c] - outputs[r][c])) } }
        #expect(got.rows == outputs.count && worst < 1e-5, "max abs difference \(worst)")
    }

    @Test func unsupportedOperatorsAndGarbageAreNamed() throws {
        var model = Onnx_ModelProto()
        var node = Onnx_NodeProto()
        node.opType = "Loop"
        node.name = "gru/while"
        node.input = ["input"]
        node.output = ["y"]
        model.graph.node = [node]
        #expect { try ONNXModel(bytes: try model.serializedBytes(), source: "gru.onnx") } throws: {
            "\($0)".hasPrefix(
                "gru.onnx: operator 'Loop' (node 'gru/while') is not supported (the graph has a Loop, as tf2onnx writes a Keras GRU"
            )
        }
        #expect { try ONNXModel(bytes: [0xFF, 0x00, 0x13], source: "junk.onnx") } throws: {
            "\($0)".hasPrefix("junk.onnx is not an ONNX model")
        }
    }

    func trainedModel() throws -> (Sequential, Tensor) {
        var rng = RandomSource(seed: 2)
        let x = Tensor(rows: 64, columns: 5, scalars: (0..<320).map { _ in Float(rng.normal()) })
        let y = Tensor(rows: 64, columns: 1, scalars: (0..<64).map { Float($0 % 3) })
        let model = try Sequential(
            [
                Dense(8, activation: .gelu), BatchNormalization(), Dense(6, activation: .leakyRelu), Dropout(0.1),
                Dense(3, activation: .softmax),
            ], inputSize: 5, seed: 1)
        try model.fit(
            x: x, y: y, loss: SparseCategoricalCrossEntropy(), optimizer: Adam(), options: FitOptions(epochs: 3))
        return (model, x)
    }

    /// Millstream's own files come back through its interpreter: an MLP, and Conv1D-GRU (ONNX's Conv and GRU with
    /// `linear_before_reset`).
    @Test(arguments: ["dense", "sequence"])
    func exportRoundTripsThroughTheInterpreter(_ kind: String) throws {
        let (model, x) = kind == "dense" ? try trainedModel() : try sequenceModel()
        let back = try ONNXModel(bytes: try model.onnx(), source: "export")
        let a = model.predict(x), b = try back.predict(x)
        #expect(zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    /// The exported file runs in onnxruntime (the project venv's, installed by scripts/bootstrap) with the same
    /// outputs as Millstream's.
    @Test(arguments: ["dense", "sequence"])
    func exportRunsInOnnxruntime(_ kind: String) throws {
        let (model, x) = kind == "dense" ? try trainedModel() : try sequenceModel()
        let dir = NSTemporaryDirectory() + "onnx-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(try model.onnx()).write(to: URL(fileURLWithPath: dir + "/m.onnx"))
        try JSONSerialization.data(withJSONObject: (0..<x.rows).map { x.row($0).map(Double.init) }).write(
            to: URL(fileURLWithPath: dir + "/x.json"))
        let script = """
            import json, sys, numpy as np, onnxruntime as ort
            s = ort.InferenceSession(sys.argv[1] + "/m.onnx", providers=["CPUExecutionProvider"])
            x = np.array(json.load(open(sys.argv[1] + "/x.json")), dtype=np.float32)
            print(json.dumps(s.run(["output"], {"input": x})[0].tolist()))
            """
        let python = Self.repository.appendingPathComponent(".venv/bin/python").path
        #expect(
            FileManager.default.isExecutableFile(atPath: python),
            "run scripts/bootstrap: it creates .venv with onnxruntime")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, dir]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let rows = try JSONSerialization.jsonObject(with: output) as! [[Double]]
        let ours = model.predict(x)
        var worst: Float = 0
        for r in rows.indices { for c in rows[r].indices { worst = max(worst, abs(Float(rows[r][c]) - ours[r, c])) } }
        #expect(rows.count == x.rows && worst < 1e-5, "max abs difference \(worst)")
    }

    /// Convolutions (both paddings) under a GRU returning its sequence and one returning its state.
    func sequenceModel() throws -> (Sequential, Tensor) {
        var rng = RandomSource(seed: 5)
        let x = Tensor(rows: 32, columns: 24, scalars: (0..<32 * 24).map { _ in Float(rng.normal()) })
        let y = Tensor(rows: 32, columns: 1, scalars: (0..<32).map { Float($0 % 2) })
        let model = try Sequential(
            [
                Conv1D(filters: 4, kernelSize: 3, channels: 3, padding: .same, activation: .relu),
                Conv1D(filters: 3, kernelSize: 2, channels: 4, activation: .gelu),
                GRU(units: 5, channels: 3, returnSequences: true), GRU(units: 4, channels: 5),
                Dense(1, activation: .sigmoid),
            ], inputSize: 24, seed: 3)
        try model.fit(x: x, y: y, loss: BinaryCrossEntropy(), optimizer: Adam(), options: FitOptions(epochs: 2))
        return (model, x)
    }
}
