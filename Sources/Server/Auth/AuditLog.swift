public import AtRest
import Foundation
import Logging
import Synchronization

/// Every state-changing action (who, what, when), as JSON lines in a file and in the log. With a keyring each line
/// of the file is encrypted on its own (`{"sealed": BASE64}`, AES-256-GCM), so an append never rewrites what is
/// there; `millstream audit FILE` prints them decrypted.
public final class AuditLog: Sendable {
    public let path: String?
    private let logger: Logger
    private let keyring: Keyring?
    private let recent = Mutex<[[String: String]]>([])

    /// `path` nil keeps the entries in memory and the log only.
    public init(path: String?, logger: Logger = Logger(label: "millstream.audit"), keyring: Keyring? = nil) throws {
        self.path = path
        self.logger = logger
        self.keyring = keyring
        if let path {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            if !FileManager.default.fileExists(atPath: path) {
                guard
                    FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
                else {
                    throw TokenError("cannot create the audit log \(path): no permission or no space", kind: .storage)
                }
            }
        }
    }

    func record(who: Identity?, action: String, target: String, requestID: String, detail: String? = nil) {
        var entry = [
            "time": ISO8601DateFormatter().string(from: Date()), "user": who?.name ?? "-",
            "role": who?.role.rawValue ?? "-", "token": who?.tokenID ?? "-", "action": action, "target": target,
            "request_id": requestID,
        ]
        if let detail { entry["detail"] = detail }
        logger.notice("audit", metadata: entry.mapValues { .string($0) })
        recent.withLock {
            $0.append(entry)
            if $0.count > 500 { $0.removeFirst($0.count - 500) }
        }
        guard let path else { return }
        var line = JSON.encode(entry)
        if let keyring {
            line = JSON.encode(["sealed": Data(keyring.seal(line, context: Array("audit".utf8))).base64EncodedString()])
        }
        line.append(UInt8(ascii: "\n"))
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o600)
        guard fd >= 0 else {
            logger.error("cannot append to the audit log", metadata: ["path": .string(path)])
            return
        }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written != line.count {
            logger.error("audit log write incomplete", metadata: ["path": .string(path), "errno": "\(errno)"])
        }
    }

    /// The entries of an audit log file, oldest first: sealed lines decrypted with `keyring`, plain ones as they are.
    public static func read(_ path: String, keyring: Keyring?) throws -> [[String: String]] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenError("cannot read the audit log \(path)", kind: .storage)
        }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated().map { n, text in
            let place = "\(path) line \(n + 1)"
            guard var entry = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String] else {
                throw TokenError("\(place) is not an audit entry", kind: .storage)
            }
            if let sealed = entry["sealed"] {
                guard let keyring else {
                    throw TokenError(
                        "\(place) is encrypted: \(Keyring.keysNeeded)", kind: .storage)
                }
                guard let bytes = Data(base64Encoded: sealed) else {
                    throw TokenError("\(place): the sealed entry is not base64", kind: .storage)
                }
                do {
                    let plain = try keyring.open(bytes, context: Array("audit".utf8), what: place)
                    entry = (try JSONSerialization.jsonObject(with: Data(plain)) as? [String: String]) ?? [:]
                } catch let error as KeyringError {
                    throw TokenError(error.description, kind: .storage)
                }
            }
            return entry
        }
    }

    /// The newest entries, newest last.
    public var entries: [[String: String]] { recent.withLock { $0 } }
}
