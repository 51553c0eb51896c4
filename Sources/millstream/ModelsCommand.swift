import ArgumentParser
import Foundation
import Learn
import Registry

extension Millstream {
    struct Models: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, show, promote, alias and roll back registered models.",
            subcommands: [List.self, Show.self, Promote.self, Alias.self, Rollback.self, Import.self, Export.self])
    }
}

extension Millstream.Models {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every model and its versions with stage and headline metric.")
        @Option(help: "Registry directory.") var registry: String = "./models"
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let r = try ModelRegistry(root: registry)
            var rows: [[String: Any]] = []
            for name in try r.names() {
                let aliases = try r.aliases(of: name)
                for v in try r.versions(of: name) {
                    let (file, _) = try r.load(ModelReference("\(name)@v\(v.version)"))
                    rows.append([
                        "name": name, "version": v.version, "stage": v.stage.rawValue,
                        "aliases": aliases.filter { $0.value == v.version }.keys.sorted(),
                        "task": file.description.task.rawValue,
                        "created": file.description.metadata.created, "metrics": file.description.metadata.metrics,
                    ])
                }
            }
            if output.json {
                print(Terminal.jsonLine(["models": rows]))
                return
            }
            if rows.isEmpty { print("no models in \(registry)") }
            for row in rows {
                let metrics = (row["metrics"] as! [String: Double])
                let headline =
                    ["f1", "accuracy", "mse"].first { metrics[$0] != nil }.map {
                        "\($0) \(String(format: "%.4f", metrics[$0]!))"
                    } ?? ""
                let aliases = (row["aliases"] as! [String]).map { "@" + $0 }.joined(separator: " ")
                print(
                    "\(row["name"]!)@v\(row["version"]!)\t\(row["stage"]!)\t\(row["task"]!)\t\(row["created"]!)\t\(headline)"
                        + (aliases.isEmpty ? "" : "\t\(aliases)"))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A model version's description (model.json) and history.")
        @Argument(help: "NAME, NAME@vN, NAME@production, NAME@staging or NAME@ALIAS.") var model: String
        @Option(help: "Registry directory.") var registry: String = "./models"

        func run() async throws {
            let r = try ModelRegistry(root: registry)
            let v = try r.resolve(try ModelReference(model))
            let aliases = try r.aliases(of: v.name).filter { $0.value == v.version }.keys.sorted()
            print(
                "\(v.name) v\(v.version) (\(v.stage.rawValue)\(aliases.map { ", @" + $0 }.joined())) at \(v.path)")
            print(String(decoding: try r.modelJSON(v), as: UTF8.self))
            if let (file, _) = try? r.load(ModelReference("\(v.name)@v\(v.version)")) {
                let m = file.description.metadata
                print("lineage:")
                if let d = m.dataset {
                    print(
                        "  dataset   \(d.name) (sha256 \(d.sha256.prefix(12)), \(d.rows) rows, \(d.failures.map(String.init) ?? "?") failures)"
                    )
                    if let from = d.from, let to = d.to { print("  readings  \(from) to \(to)") }
                    if let source = d.source { print("  source    \(source)") }
                    if let validated = d.validated {
                        print("  validated \(validated ? "yes" : "no (written with --force)")")
                    }
                } else if let sha = m.datasetSHA256 {
                    print(
                        "  data      \(m.hyperparameters["data"] ?? "?") (sha256 \(sha.prefix(12)); no snapshot manifest)"
                    )
                }
                print("  trained   \(m.created) by \(m.source ?? "?") \(m.codeVersion)")
                if let run = m.trackingRun { print("  run       \(run)") }
            }
            print("history:")
            for h in try r.history(of: v.name) {
                let what =
                    h.action == "alias" || h.action == "unalias"
                    ? "@\(h.alias ?? "?") -> v\(h.version)" + (h.replaced.map { " (was v\($0))" } ?? "")
                    : "v\(h.version) -> \(h.stage.rawValue)\(h.replaced.map { " (replacing v\($0))" } ?? "")"
                print("  \(h.time) \(h.action) \(what) by \(h.user)" + (h.note.map { ": \($0)" } ?? ""))
            }
        }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a version to a stage; promoting to production archives the one that was there.")
        @Argument(help: "NAME@vN") var model: String
        @Option(help: "staging, production, archived or none.") var stage: String = "production"
        @Option(help: "Registry directory.") var registry: String = "./models"

        func run() async throws {
            guard let target = Stage(rawValue: stage) else {
                throw ValidationError("--stage takes staging, production, archived or none")
            }
            let r = try ModelRegistry(root: registry)
            let v = try r.resolve(try ModelReference(model))
            try r.promote(v.name, version: v.version, to: target)
            print("\(v.name) v\(v.version) is now \(target.rawValue)")
        }
    }

    struct Alias: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Point an alias (champion, challenger, any name) at a version, or remove it.",
            discussion: """
                An alias names a version beside its stage: NAME@champion resolves wherever a model reference is \
                taken (run --model, serve, models show). Moving an alias is audited in the model's history.

                Examples:
                  millstream models alias failure@v3 champion
                  millstream models alias failure@v5 challenger
                  millstream models alias failure challenger --remove
                """)
        @Argument(help: "NAME@vN (or any reference) to point the alias at; NAME with --remove.") var model: String
        @Argument(help: "The alias.") var alias: String
        @Flag(help: "Remove the alias.") var remove = false
        @Option(help: "Registry directory.") var registry: String = "./models"

        func run() async throws {
            let r = try ModelRegistry(root: registry)
            if remove {
                let name = try ModelReference(model).name
                try r.removeAlias(alias, of: name)
                print("\(name)@\(alias) removed")
                return
            }
            let v = try r.resolve(try ModelReference(model))
            try r.setAlias(alias, of: v.name, to: v.version)
            print("\(v.name)@\(alias) is now v\(v.version)")
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put the previous production version back in production (the current one is archived).")
        @Argument(help: "Model name.") var name: String
        @Option(help: "Registry directory.") var registry: String = "./models"

        func run() async throws {
            let version = try ModelRegistry(root: registry).rollback(name)
            print("\(name) v\(version) is back in production")
        }
    }
}

extension Millstream.Models {
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an ONNX model (for instance a Keras model converted with tf2onnx) as a new version.",
            discussion: """
                Millstream runs it with its own ONNX interpreter (Gemm, MatMul, Add, Sub, Mul, Div, Relu, LeakyRelu, \
                Sigmoid, Tanh, Softmax, Erf, BatchNormalization, Flatten, Reshape, Identity, Cast, Dropout); any other \
                operator is refused by name. For predict and evaluate, the CSV's numeric columns in order (or the ones \
                named with --columns) form the input.
                """)
        @Argument(help: "The .onnx file.") var file: String
        @Option(help: "Model name in the registry.") var name: String
        @Option(help: "binary (one probability), multiclass (one per class) or regression.") var task: String = "binary"
        @Option(
            help: "Class labels, comma separated (default 0,1 or 0..k-1).",
            transform: { $0.split(separator: ",").map(String.init) })
        var classes: [String]?
        @Option(
            help: "Input columns of CSV files, in order, comma separated.",
            transform: { $0.split(separator: ",").map(String.init) })
        var columns: [String]?
        @Option(help: "The target column, for evaluate.") var target: String = ""
        @Option(help: "Decision threshold for binary models.") var threshold: Double = 0.5
        @Option(help: "Registry directory.") var registry: String = "./models"

        func run() async throws {
            guard let kind = ModelFile.Task(rawValue: task) else {
                throw ValidationError("--task takes binary, multiclass or regression")
            }
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw CommandError("cannot read \(file): no such file or no permission")
            }
            let bytes = [UInt8](contents)
            let graph = try ONNXModel(bytes: bytes, source: file)
            let inputs = graph.inputSize ?? columns?.count
            guard let inputs else {
                throw CommandError("\(file) leaves its input width open; give the input columns with --columns")
            }
            let outputs = try graph.predict(Tensor(rows: 1, columns: inputs)).columns
            let labels =
                classes ?? (kind == .binary ? ["0", "1"] : kind == .multiclass ? (0..<outputs).map(String.init) : [])
            if kind == .multiclass && labels.count != outputs {
                throw ValidationError("--classes has \(labels.count) labels; the model has \(outputs) outputs")
            }
            var description = ModelFile.Description(
                task: kind, inputSize: inputs, outputSize: outputs, layers: [], preprocessing: nil, target: target,
                classes: labels, threshold: threshold,
                metadata: .init(
                    created: ISO8601DateFormatter().string(from: Date()), datasetSHA256: nil,
                    hyperparameters: ["imported_from": file, "producer": graph.producer, "opset": "\(graph.opset)"],
                    codeVersion: Millstream.configuration.version, source: "onnx import"))
            description.inputColumns = columns
            let version = try ModelRegistry(root: registry).register(
                ModelFile(description: description, onnx: bytes), as: name)
            print(
                "imported \(file) (\(graph.producer), opset \(graph.opset), \(inputs) inputs, \(outputs) outputs) as \(name) v\(version.version)"
            )
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a trained model as an ONNX file (opset 13) that onnxruntime and other runtimes run.",
            discussion:
                "The file takes the model's feature vector (after preprocessing); `models show` lists the features.")
        @Argument(help: "NAME, NAME@vN, NAME@production, NAME@staging or NAME@ALIAS.") var model: String
        @Option(help: "Output .onnx file.") var out: String
        @Option(help: "Registry directory.") var registry: String = "./models"

        func run() async throws {
            let (file, version) = try ModelRegistry(root: registry).load(try ModelReference(model))
            let bytes: [UInt8]
            if let onnx = file.onnx {
                bytes = onnx
            } else {
                bytes = try file.makeModel().onnx(producerVersion: Millstream.configuration.version)
            }
            do {
                try Data(bytes).write(to: URL(fileURLWithPath: out))
            } catch {
                throw CommandError("cannot write \(out): \(error.localizedDescription)")
            }
            print("wrote \(version.name) v\(version.version) to \(out) (\(bytes.count) bytes)")
        }
    }
}
