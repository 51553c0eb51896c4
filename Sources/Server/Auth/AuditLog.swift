import Foundation
import Logging
import Synchronization

/// Every state-changing action (who, what, when), as JSON lines in a file and in the log.
public final class AuditLog: Sendable {
    public let path: String?
    private let logger: Logger
    private let recent = Mutex<[[String: String]]>([])

    /// `path` nil keeps the entries in memory and the log only.
    public init(path: String?, logger: Logger = Logger(label: "millstream.audit")) throws {
        self.path = path
        self.logger = logger
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

    /// The newest entries, newest last.
    public var entries: [[String: String]] { recent.withLock { $0 } }
}
