import Foundation
import Learn
import Testing

@testable import Registry

@Suite struct ModelRegistryTests {
    func model(threshold: Double) throws -> ModelFile {
        let m = try Sequential([Dense(2, activation: .relu), Dense(1, activation: .sigmoid)], inputSize: 2, seed: 1)
        return ModelFile(
            description: .init(
                task: .binary, inputSize: 2, outputSize: 1, layers: m.configurations, preprocessing: nil, target: "y",
                classes: ["0", "1"], threshold: threshold, metadata: .init(created: "now", codeVersion: "test")),
            model: m)
    }

    func withRegistry(_ body: (ModelRegistry, String) throws -> Void) throws {
        let root = NSTemporaryDirectory() + "registry-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        try body(try ModelRegistry(root: root), root)
    }

    @Test func versionsStagesPromoteAndRollback() throws {
        try withRegistry { r, _ in
            for t in [0.1, 0.2, 0.3] { try r.register(try model(threshold: t), as: "failure") }
            #expect(try r.versions(of: "failure").map(\.version) == [1, 2, 3])
            #expect(try r.load(ModelReference("failure")).0.description.threshold == 0.3)
            #expect(try r.load(ModelReference("failure@v1")).0.description.threshold == 0.1)
            try r.promote("failure", version: 1, to: .production)
            try r.promote("failure", version: 2, to: .production)
            try r.promote("failure", version: 3, to: .staging)
            #expect(try r.resolve(ModelReference("failure@production")).version == 2)
            #expect(try r.versions(of: "failure").map(\.stage) == [.archived, .production, .staging])
            #expect(try r.rollback("failure") == 1)
            #expect(try r.resolve(ModelReference("failure@production")).version == 1)
            #expect(try r.versions(of: "failure")[1].stage == .archived)
            let actions = try r.history(of: "failure").map { "\($0.action) v\($0.version)" }
            #expect(
                actions == [
                    "register v1", "register v2", "register v3", "promote v1", "archive v1", "promote v2", "promote v3",
                    "rollback v1",
                ])
            #expect(try r.names() == ["failure"])
        }
    }

    @Test func badReferencesAndMissingThings() throws {
        try withRegistry { r, root in
            #expect { try ModelReference("bad name") } throws: { "\($0)".contains("is invalid") }
            #expect { try ModelReference("m@v0") } throws: { "\($0)".contains("after @ give vN") }
            #expect { try ModelReference("m@no such") } throws: { "\($0)".contains("or an alias") }
            #expect { try r.resolve(ModelReference("nope")) } throws: { "\($0)".contains("no model named 'nope'") }
            try r.register(try model(threshold: 0.5), as: "m")
            #expect { try r.resolve(ModelReference("m@production")) } throws: {
                "\($0)".contains("m@production is not in registry")
            }
            #expect { try r.rollback("m") } throws: { "\($0)".contains("no version in production") }
            try r.promote("m", version: 1, to: .production)
            #expect { try r.rollback("m") } throws: { "\($0)".contains("nothing to roll back to") }
            // A corrupt weights file is an error naming the file; the registry's other versions are untouched.
            try r.register(try model(threshold: 0.6), as: "m")
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: root + "/m/v2/weights.safetensors"))
            #expect { try r.load(ModelReference("m@v2")) } throws: {
                "\($0)".contains("m/v2/weights.safetensors is corrupt")
            }
            #expect(try r.load(ModelReference("m@production")).1.version == 1)
        }
    }

    @Test func aliasesNameVersionsBesideTheStages() throws {
        try withRegistry { r, _ in
            for t in [0.1, 0.2, 0.3] { try r.register(try model(threshold: t), as: "failure") }
            try r.promote("failure", version: 1, to: .production)
            try r.setAlias("champion", of: "failure", to: 1)
            try r.setAlias("challenger", of: "failure", to: 3)
            #expect(try r.resolve(ModelReference("failure@champion")).version == 1)
            #expect(try r.resolve(ModelReference("failure@challenger")).version == 3)
            #expect(try r.aliases(of: "failure") == ["champion": 1, "challenger": 3])
            // Moving an alias leaves the stages alone and is in the history with the version it left.
            try r.setAlias("champion", of: "failure", to: 3)
            #expect(try r.resolve(ModelReference("failure@champion")).version == 3)
            #expect(try r.resolve(ModelReference("failure@production")).version == 1)
            let moved = try #require(try r.history(of: "failure").last)
            #expect(moved.action == "alias" && moved.alias == "champion" && moved.version == 3 && moved.replaced == 1)
            try r.removeAlias("challenger", of: "failure")
            #expect { try r.resolve(ModelReference("failure@challenger")) } throws: {
                "\($0)".contains("failure has no alias challenger") && "\($0)".contains("aliases: champion v3")
            }
            #expect { try r.removeAlias("challenger", of: "failure") } throws: { "\($0)".contains("no alias") }
            for bad in ["production", "latest", "v7", "12", "a b", ""] {
                #expect(throws: (any Error).self) { try r.setAlias(bad, of: "failure", to: 1) }
            }
            #expect { try r.setAlias("shadow", of: "failure", to: 9) } throws: { "\($0)".contains("no version v9") }
        }
    }
}
