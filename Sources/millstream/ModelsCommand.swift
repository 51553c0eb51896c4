import ArgumentParser
import Foundation
import Learn
import Registry

extension Millstream {
    struct Models: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, show, promote and roll back registered models.",
            subcommands: [List.self, Show.self, Promote.self, Rollback.self])
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
                for v in try r.versions(of: name) {
                    let (file, _) = try r.load(ModelReference("\(name)@v\(v.version)"))
                    rows.append([
                        "name": name, "version": v.version, "stage": v.stage.rawValue,
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
                print(
                    "\(row["name"]!)@v\(row["version"]!)\t\(row["stage"]!)\t\(row["task"]!)\t\(row["created"]!)\t\(headline)"
                )
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A model version's description (model.json) and history.")
        @Argument(help: "NAME, NAME@vN, NAME@production or NAME@staging.") var model: String
        @Option(help: "Registry directory.") var registry: String = "./models"

        func run() async throws {
            let r = try ModelRegistry(root: registry)
            let v = try r.resolve(try ModelReference(model))
            print("\(v.name) v\(v.version) (\(v.stage.rawValue)) at \(v.path)")
            print(
                String(decoding: FileManager.default.contents(atPath: v.path + "/model.json") ?? Data(), as: UTF8.self))
            print("history:")
            for h in try r.history(of: v.name) {
                print(
                    "  \(h.time) \(h.action) v\(h.version) -> \(h.stage.rawValue)\(h.replaced.map { " (replacing v\($0))" } ?? "") by \(h.user)"
                )
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
