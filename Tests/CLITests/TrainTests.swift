import Foundation
import Testing

@Suite(.serialized) struct TrainTests {
    static let ai4i = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../data/ai4i2020.csv"
    ).standardized.path
    static let recipe = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../examples/ai4i/process.yaml"
    ).standardized.path

    func write(_ text: String) throws -> String {
        let path = temporaryDirectory() + ".csv"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// train -> registry -> evaluate -> predict -> promote -> rollback, as a user runs them.
    @Test func trainEvaluatePredictAndManageVersions() async throws {
        let registry = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: registry) }
        let train = try await CLI.run([
            "train", "--config", Self.recipe, "--data", Self.ai4i, "--target", "Machine failure", "--scaling",
            "tree_steps",
            "--bins", "8", "--epochs", "20", "--name", "failure", "--registry", registry, "--json", "--quiet",
        ])
        #expect(train.status == 0, "\(train.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(train.stdout.utf8)) as! [String: Any]
        #expect(summary["version"] as? Int == 1)
        #expect((summary["features"] as? [String])?.contains { $0.hasPrefix("power_w#") } == true)
        #expect(((summary["metrics"] as? [String: Double])?["f1"] ?? 0) > 0.7)

        let evaluate = try await CLI.run([
            "evaluate", "--model", "failure@v1", "--data", Self.ai4i, "--registry", registry, "--json",
        ])
        #expect(evaluate.status == 0, "\(evaluate.stderr)")
        let out = temporaryDirectory() + ".csv"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let predict = try await CLI.run([
            "predict", "--model", "failure", "--data", Self.ai4i, "--out", out, "--registry", registry,
        ])
        #expect(predict.status == 0, "\(predict.stderr)")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 10_001)
        #expect(lines[0].hasSuffix(",probability,predicted"))

        #expect(
            try await CLI.run([
                "train", "--config", Self.recipe, "--data", Self.ai4i, "--target", "Machine failure", "--epochs", "2",
                "--name", "failure", "--registry", registry, "--quiet",
            ]).status == 0)
        #expect(try await CLI.run(["models", "promote", "failure@v1", "--registry", registry]).status == 0)
        #expect(try await CLI.run(["models", "promote", "failure@v2", "--registry", registry]).status == 0)
        let rollback = try await CLI.run(["models", "rollback", "failure", "--registry", registry])
        #expect(rollback.stdout.contains("failure v1 is back in production"))
        // An alias beside the stages: set, shown, resolved, removed.
        let alias = try await CLI.run(["models", "alias", "failure@v2", "challenger", "--registry", registry])
        #expect(alias.stdout.contains("failure@challenger is now v2"), "\(alias.stderr)")
        let show = try await CLI.run(["models", "show", "failure@challenger", "--registry", registry])
        #expect(show.stdout.hasPrefix("failure v2 (archived, @challenger)"))
        #expect(show.stdout.contains("alias @challenger -> v2"))
        let list = try await CLI.run(["models", "list", "--registry", registry])
        #expect(list.stdout.contains("failure@v1\tproduction") && list.stdout.contains("failure@v2\tarchived"))
        #expect(list.stdout.contains("\t@challenger"))
        let removed = try await CLI.run([
            "models", "alias", "failure", "challenger", "--remove", "--registry", registry,
        ])
        #expect(removed.stdout.contains("failure@challenger removed"))
        let gone = try await CLI.run(["models", "show", "failure@challenger", "--registry", registry])
        #expect(gone.status == 1 && gone.stderr.contains("failure has no alias challenger"))
    }

    /// Several 0/1 targets make one multi-label model: overall failure and each failure mode.
    @Test func multiLabelFailureModes() async throws {
        let registry = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: registry) }
        let r = try await CLI.run([
            "train", "--config", Self.recipe, "--data", Self.ai4i, "--target", "Machine failure,HDF,PWF,OSF",
            "--scaling",
            "tree_steps", "--bins", "8", "--epochs", "30", "--name", "modes", "--registry", registry, "--json",
            "--quiet",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let metrics =
            (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["metrics"]
            as! [String: Double]
        // The deterministic modes are learned almost perfectly; the overall F1 stays as with one target.
        #expect(metrics["f1_HDF"]! > 0.85 && metrics["f1_PWF"]! > 0.85 && metrics["f1_OSF"]! > 0.85, "\(metrics)")
        #expect(metrics["f1"]! > 0.8)
        let out = registry + "/out.csv"
        #expect(
            try await CLI.run([
                "predict", "--model", "modes", "--data", Self.ai4i, "--out", out, "--registry", registry,
            ])
            .status == 0)
        let header = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")[0]
        #expect(
            header.hasSuffix(
                "probability_Machine failure,predicted_Machine failure,probability_HDF,predicted_HDF,probability_PWF,predicted_PWF,probability_OSF,predicted_OSF"
            ))
    }

    /// Bad data gets a clear error and leaves the registry as it was.
    @Test func badTrainingInputs() async throws {
        let registry = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: registry) }
        func train(_ file: String, _ extra: [String] = []) async throws -> CLI.Result {
            try await CLI.run(
                ["train", "--data", file, "--target", "y", "--name", "m", "--registry", registry, "--quiet"] + extra)
        }
        let rows = (0..<40).map { "\($0),\($0 % 7),\($0 % 2)" }.joined(separator: "\n")
        let missing = try write("a,b,label\n" + rows + "\n")
        let text = try write("a,b,y\n" + rows.replacingOccurrences(of: "\n3,3,1\n", with: "\n3,three,1\n") + "\n")
        let empty = try write("")
        let oneClass = try write("a,b,y\n" + (0..<40).map { "\($0),\($0 % 7),0" }.joined(separator: "\n") + "\n")
        defer { for f in [missing, text, empty, oneClass] { try? FileManager.default.removeItem(atPath: f) } }
        var r = try await train(missing)
        #expect(
            r.status == 1 && r.stderr.contains("no column named 'y'; the columns are: 'a', 'b', 'label'"), "\(r.stderr)"
        )
        r = try await train(text, ["--config", Self.recipe])
        #expect(r.status == 1 && r.stderr.contains("no column named 'Air temperature [K]'"), "\(r.stderr)")
        r = try await train(empty)
        #expect(r.status == 1 && r.stderr.contains("the file is empty"), "\(r.stderr)")
        r = try await train(oneClass)
        #expect(r.status == 1 && r.stderr.contains("target 'y' has a single class (0)"), "\(r.stderr)")
        // None of it reached the registry.
        #expect(!FileManager.default.fileExists(atPath: registry + "/m"))
        let numericText = try write("a,y\n" + (0..<60).map { "v\($0),\($0 % 2)" }.joined(separator: "\n") + "\n")
        defer { try? FileManager.default.removeItem(atPath: numericText) }
        r = try await train(numericText)
        #expect(r.status == 1 && r.stderr.contains("column 'a' holds text with 60 different values"), "\(r.stderr)")
    }
}

@Suite struct ONNXCommandTests {
    /// A Keras model converted by tf2onnx: import, score a CSV, export it again unchanged; garbage is refused.
    @Test func importPredictExport() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../LearnTests/Fixtures/keras_binary.onnx"
        ).standardized.path
        let registry = dir + "/models"
        let imported = try await CLI.run([
            "models", "import", fixture, "--name", "keras", "--target", "y", "--registry", registry,
        ])
        #expect(
            imported.status == 0 && imported.stdout.contains("opset 13, 5 inputs, 1 outputs"),
            "\(imported.stdout) \(imported.stderr)")
        try ("a,b,c,d,e,y\n" + (0..<10).map { i in "\(i),0.5,-1,2,0.25,\(i % 2)" }.joined(separator: "\n") + "\n")
            .write(toFile: dir + "/in.csv", atomically: true, encoding: .utf8)
        let predicted = try await CLI.run([
            "predict", "--model", "keras", "--data", dir + "/in.csv", "--out", dir + "/out.csv", "--registry", registry,
        ])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        #expect(try String(contentsOfFile: dir + "/out.csv", encoding: .utf8).split(separator: "\n").count == 11)
        let exported = try await CLI.run([
            "models", "export", "keras", "--out", dir + "/again.onnx", "--registry", registry,
        ])
        #expect(exported.status == 0)
        #expect(
            FileManager.default.contents(atPath: dir + "/again.onnx") == FileManager.default.contents(atPath: fixture))
        // A sequence model (Conv1D and LSTMs on 10 steps of 3 channels) takes rows of 30 values, time-major, and
        // scores them as TensorFlow does.
        let fixtures = URL(fileURLWithPath: fixture).deletingLastPathComponent()
        let sequence = try await CLI.run([
            "models", "import", fixtures.appendingPathComponent("keras_conv_lstm.onnx").path, "--name", "seq", "--task",
            "regression", "--registry", registry,
        ])
        #expect(sequence.status == 0 && sequence.stdout.contains("30 inputs, 2 outputs"), "\(sequence.stderr)")
        let expected =
            (try JSONSerialization.jsonObject(
                with: Data(contentsOf: fixtures.appendingPathComponent("keras_outputs.json"))) as! [String: Any])[
                "conv_lstm"] as! [String: Any]
        let inputs = expected["inputs"] as! [[Double]]
        let names = (0..<30).map { "v\($0)" }
        try
            (names.joined(separator: ",") + "\n"
            + inputs.map { $0.map { "\($0)" }.joined(separator: ",") }
            .joined(separator: "\n") + "\n").write(toFile: dir + "/seq.csv", atomically: true, encoding: .utf8)
        let scored = try await CLI.run([
            "predict", "--model", "seq", "--data", dir + "/seq.csv", "--out", dir + "/seq-out.csv", "--registry",
            registry,
        ])
        #expect(scored.status == 0, "\(scored.stderr)")
        let lines = try String(contentsOfFile: dir + "/seq-out.csv", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == inputs.count + 1)

        let garbage = try await CLI.run(["models", "import", dir + "/in.csv", "--name", "bad", "--registry", registry])
        #expect(garbage.status == 1 && garbage.stderr.contains("is not an ONNX model"))
        #expect(!FileManager.default.fileExists(atPath: registry + "/bad"))
    }
}
