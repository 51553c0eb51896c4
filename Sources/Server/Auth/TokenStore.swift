import Crypto
import Foundation
import Primitives
import Synchronization

/// API tokens, kept in a JSON file as SHA-256 hashes (the token itself is shown once, when created).
///
/// A token reads `ms_<id>_<secret>`: the id finds the entry, the hash of the whole token proves it. The file is read
/// again when it changes on disk, so `millstream tokens create` and `revoke` take effect in a running server.
public final class TokenStore: Sendable {
    public struct Entry: Sendable, Codable, Equatable {
        public var id: String
        public var name: String
        public var role: Role
        public var sha256: String
        public var created: String
        /// Seconds since 1970 after which the token is refused; nil: never.
        public var expires: Double?
    }

    private struct File: Codable {
        var format = "millstream-tokens"
        var version = 1
        var tokens: [Entry]
    }

    public let path: String
    private let state: Mutex<(entries: [String: Entry], modified: Date?)>
    /// Tokens verified since the file was last read (token -> entry id), and when the file was last looked at: a
    /// request costs a dictionary look-up, not a hash and a stat.
    private let verified = Mutex<(tokens: [String: String], checked: ContinuousClock.Instant?)>(([:], nil))

    /// Opens the tokens file; a missing file is an empty store (created by the first `create`).
    public init(path: String) throws {
        self.path = path
        let loaded = try Self.read(path)
        state = Mutex((Dictionary(uniqueKeysWithValues: loaded.entries.map { ($0.id, $0) }), loaded.modified))
    }

    public var entries: [Entry] {
        reloadIfChanged()
        return state.withLock {
            $0.entries.values.sorted { $0.created < $1.created || ($0.created == $1.created && $0.id < $1.id) }
        }
    }

    /// Makes a new token, stores its hash and returns the token text (the only time it is seen).
    public func create(name: String, role: Role, validFor: Duration? = nil, now: Date = Date()) throws -> String {
        guard !name.isEmpty, name.count <= 100, !name.contains(where: { $0.isNewline }) else {
            throw TokenError(
                "a token name must be 1 to 100 characters on one line, got '\(name)'", kind: .invalidRequest)
        }
        var rng = SystemRandomNumberGenerator()
        let id = Self.hex((0..<4).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let secret = Self.hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let token = "ms_\(id)_\(secret)"
        let expires = validFor.map { now.timeIntervalSince1970 + Double($0.components.seconds) }
        let entry = Entry(
            id: id, name: name, role: role, sha256: SHA256.hash(data: Array(token.utf8)).hexString,
            created: ISO8601DateFormatter().string(from: now), expires: expires)
        try update { $0[id] = entry }
        return token
    }

    /// Removes a token by id; returns false if there was none.
    @discardableResult
    public func revoke(id: String) throws -> Bool {
        var found = false
        try update { found = $0.removeValue(forKey: id) != nil }
        return found
    }

    public enum Verdict: Sendable, Equatable {
        case valid(Identity)
        case unknown
        case expired(Identity)
    }

    /// Checks a presented token against the stored hashes (in constant time for the hash).
    public func verify(_ token: String, now: Date = Date()) -> Verdict {
        let due = verified.withLock { v -> Bool in
            let clock = ContinuousClock.now
            guard let checked = v.checked, clock - checked < .seconds(1) else {
                v.checked = clock
                return true
            }
            return false
        }
        if due { reloadIfChanged() }
        if let id = verified.withLock({ $0.tokens[token] }), let entry = state.withLock({ $0.entries[id] }) {
            let identity = Identity(tokenID: entry.id, name: entry.name, role: entry.role)
            if let expires = entry.expires, now.timeIntervalSince1970 >= expires { return .expired(identity) }
            return .valid(identity)
        }
        let parts = token.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "ms", parts[1].count == 8, parts[2].count == 64 else { return .unknown }
        guard let entry = state.withLock({ $0.entries[String(parts[1])] }) else { return .unknown }
        let presented = Array(SHA256.hash(data: Array(token.utf8)).hexString.utf8)
        let stored = Array(entry.sha256.utf8)
        guard presented.count == stored.count else { return .unknown }
        var difference: UInt8 = 0
        for i in presented.indices { difference |= presented[i] ^ stored[i] }
        guard difference == 0 else { return .unknown }
        verified.withLock {
            if $0.tokens.count > 10_000 { $0.tokens.removeAll() }
            $0.tokens[token] = entry.id
        }
        let identity = Identity(tokenID: entry.id, name: entry.name, role: entry.role)
        if let expires = entry.expires, now.timeIntervalSince1970 >= expires { return .expired(identity) }
        return .valid(identity)
    }

    private func update(_ change: (inout [String: Entry]) -> Void) throws {
        try state.withLock { s in
            var entries = try Self.read(path).entries.reduce(into: [String: Entry]()) { $0[$1.id] = $1 }
            change(&entries)
            let file = File(tokens: entries.values.sorted { $0.id < $1.id })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(file)
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            let temporary = path + ".tmp"
            guard
                FileManager.default.createFile(
                    atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
            else { throw TokenError("cannot write \(temporary): no permission or no space", kind: .storage) }
            guard rename(temporary, path) == 0 else {
                throw TokenError("cannot replace \(path): \(String(cString: strerror(errno)))", kind: .storage)
            }
            s = (entries, Self.modificationDate(path))
        }
        verified.withLock { $0.tokens.removeAll() }
    }

    private func reloadIfChanged() {
        let modified = Self.modificationDate(path)
        guard state.withLock({ $0.modified != modified }) else { return }
        // A file that cannot be read now keeps the tokens last read (a half-written edit must not lock everyone out).
        guard let loaded = try? Self.read(path) else { return }
        state.withLock { $0 = (Dictionary(uniqueKeysWithValues: loaded.entries.map { ($0.id, $0) }), loaded.modified) }
        verified.withLock { $0.tokens.removeAll() }
    }

    private static func read(_ path: String) throws -> (entries: [Entry], modified: Date?) {
        guard FileManager.default.fileExists(atPath: path) else { return ([], nil) }
        let modified = modificationDate(path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenError("cannot read the tokens file \(path): no permission", kind: .storage)
        }
        do {
            let file = try JSONDecoder().decode(File.self, from: data)
            guard file.format == "millstream-tokens" else {
                throw TokenError("\(path) is not a Millstream tokens file (format '\(file.format)')", kind: .storage)
            }
            var seen = Set<String>()
            for e in file.tokens where !seen.insert(e.id).inserted {
                throw TokenError("\(path): token id \(e.id) appears twice", kind: .storage)
            }
            return (file.tokens, modified)
        } catch let error as TokenError {
            throw error
        } catch {
            throw TokenError("\(path) is not a valid tokens file: \(error)", kind: .storage)
        }
    }

    private static func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
