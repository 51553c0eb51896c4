import ArgumentParser
import AtRest
import Crypto
import Foundation
import Server

extension Millstream {
    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keys of encryption at rest: make or rotate a keyring, read an encrypted audit log.",
            discussion: """
                With MILLSTREAM_DATA_KEYS_FILE (or MILLSTREAM_DATA_KEYS) set, the embedded log's segments, the \
                registry's model files and the audit log are written encrypted (AES-256-GCM) with the keyring's last \
                key; every key in it decrypts. Rotate by adding a key (`keys new`) and restarting: new data uses it, \
                old data stays readable as long as its key stays in the file.
                """,
            subcommands: [New.self, Audit.self])
    }
}

extension Millstream.Keys {
    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new random AES-256 key to a keyring file (made with mode 0600 if missing); it becomes the "
                + "key new data is encrypted with.")
        @Option(help: "The keyring file (the one MILLSTREAM_DATA_KEYS_FILE names).") var file: String

        func run() async throws {
            var text = ""
            var next: UInt32 = 1
            if FileManager.default.fileExists(atPath: file) {
                guard let existing = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ValidationError("cannot read the keyring \(file)")
                }
                let ring = try Keyring.parse(existing, source: file)
                next = (ring.keys.keys.max() ?? 0) + 1
                text = existing.hasSuffix("\n") || existing.isEmpty ? existing : existing + "\n"
            } else {
                text = "# Millstream keyring: ID BASE64 a line; the last encrypts, all decrypt. Keep it secret.\n"
            }
            let key = Keyring.newKey().withUnsafeBytes { Data($0).base64EncodedString() }
            text += "\(next) \(key)   # added \(ISO8601DateFormatter().string(from: Date()))\n"
            let temporary = file + ".tmp-\(getpid())"
            guard
                FileManager.default.createFile(
                    atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            else { throw ValidationError("cannot write \(temporary)") }
            guard rename(temporary, file) == 0 else {
                throw ValidationError("cannot replace \(file): \(String(cString: strerror(errno)))")
            }
            Terminal.error("key \(next) added to \(file); new data is encrypted with it once processes restart")
        }
    }

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an audit log as JSON lines, encrypted entries decrypted with the environment's keyring.")
        @Argument(help: "The audit log (serve --audit-log).") var file: String

        func run() async throws {
            for entry in try AuditLog.read(file, keyring: try Keyring.process()) {
                let data = try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
        }
    }
}
