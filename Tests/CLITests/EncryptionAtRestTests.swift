import AtRest
import Foundation
import Testing

@testable import Server

/// Encryption at rest as a user runs it: `keys new` makes a keyring, `train` writes the registry's model files
/// encrypted, `models show` and `evaluate` read them with the keys and refuse without; after `keys new` again the next
/// version uses the new key and the old one still reads. The audit log's lines are encrypted one by one and `keys
/// audit` prints them.
@Suite(.serialized) struct EncryptionAtRestTests {
    @Test func registryAndAuditLogAreEncryptedAndRotate() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keys = dir + "/data-keys"
        let registry = dir + "/models"
        let withKeys = "export MILLSTREAM_DATA_KEYS_FILE='\(keys)'"
        #expect(try await CLI.run(["keys", "new", "--file", keys]).status == 0)
        let mode = try FileManager.default.attributesOfItem(atPath: keys)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        func train() async throws {
            let r = try await CLI.run(
                [
                    "train", "--config", TrainTests.recipe, "--data", TrainTests.ai4i, "--target", "Machine failure",
                    "--epochs", "2", "--name", "failure", "--registry", registry, "--quiet",
                ], shell: withKeys)
            #expect(r.status == 0, "\(r.stderr)")
        }
        try await train()
        // On disk: sealed (MSEF, key 1), nothing of the model description in clear.
        for file in ["model.json", "weights.safetensors"] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: registry + "/failure/v1/" + file)))
            #expect(SealedFile.isSealed(bytes) && bytes[4] == 1, "\(file) is not sealed with key 1")
            #expect(!String(decoding: bytes, as: UTF8.self).contains("millstream-model"))
        }
        let shown = try await CLI.run(["models", "show", "failure@v1", "--registry", registry], shell: withKeys)
        #expect(shown.status == 0 && shown.stdout.contains("millstream-model"), "\(shown.stderr)")
        let refused = try await CLI.run(["models", "show", "failure@v1", "--registry", registry])
        #expect(refused.status != 0 && refused.stderr.contains("model.json is encrypted"), "\(refused.stderr)")
        // Rotation: key 2 encrypts v2; v1 still reads with the keyring that holds both.
        #expect(try await CLI.run(["keys", "new", "--file", keys]).status == 0)
        try await train()
        let v2 = [UInt8](try Data(contentsOf: URL(fileURLWithPath: registry + "/failure/v2/model.json")))
        #expect(SealedFile.isSealed(v2) && v2[4] == 2)
        for version in ["v1", "v2"] {
            let r = try await CLI.run(
                [
                    "evaluate", "--model", "failure@\(version)", "--registry", registry, "--data", TrainTests.ai4i,
                    "--json",
                ], shell: withKeys)
            #expect(r.status == 0, "\(version): \(r.stderr)")
        }
        // A keyring without key 1 names it.
        let key2 = try String(contentsOfFile: keys, encoding: .utf8).split(separator: "\n").last { $0.hasPrefix("2 ") }!
        try String(key2).write(toFile: dir + "/only-2", atomically: true, encoding: .utf8)
        let partial = try await CLI.run(
            ["models", "show", "failure@v1", "--registry", registry],
            shell: "export MILLSTREAM_DATA_KEYS_FILE='\(dir)/only-2'")
        #expect(partial.stderr.contains("was encrypted with key 1"), "\(partial.stderr)")

        // The audit log: one sealed line per entry; `keys audit` decrypts them.
        let ring = try #require(try Keyring.fromEnvironment(["MILLSTREAM_DATA_KEYS_FILE": keys]))
        let path = dir + "/audit.log"
        let audit = try AuditLog(path: path, keyring: ring)
        audit.record(who: nil, action: "promote", target: "failure@v2", requestID: "r1", detail: "shadow F1 0.73")
        audit.record(who: nil, action: "acknowledge", target: "plant1/line1/m07/failure_risk/1", requestID: "r2")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 2 && !text.contains("promote") && text.contains("\"sealed\""))
        let printed = try await CLI.run(["keys", "audit", path], shell: withKeys)
        #expect(printed.status == 0, "\(printed.stderr)")
        let lines = printed.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]
        }
        #expect(lines.map { $0["action"] } == ["promote", "acknowledge"] && lines.first?["detail"] == "shadow F1 0.73")
        let locked = try await CLI.run(["keys", "audit", path])
        #expect(locked.status != 0 && locked.stderr.contains("line 1 is encrypted"), "\(locked.stderr)")
    }
}
