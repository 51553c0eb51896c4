public import AtRest
import Foundation
import Learn

/// Where a model version stands.
public enum Stage: String, Sendable, Codable, CaseIterable {
    case none, staging, production, archived
}

/// One version of a named model.
public struct ModelVersion: Sendable, Equatable {
    public var name: String
    public var version: Int
    public var stage: Stage
    public var path: String
}

/// "NAME", "NAME@v3" (or "NAME@3"), "NAME@production", "NAME@staging", "NAME@latest", or an alias the registry keeps
/// beside the stages, "NAME@champion", "NAME@challenger" (any name of letters, digits, - and _).
public struct ModelReference: Sendable, Equatable, CustomStringConvertible {
    public enum Selector: Sendable, Equatable {
        case latest
        case version(Int)
        case stage(Stage)
        case alias(String)
    }

    public var name: String
    public var selector: Selector

    public init(_ text: String) throws {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        name = parts[0]
        try ModelRegistry.validate(name: name)
        guard parts.count == 2 else {
            selector = .latest
            return
        }
        let s = parts[1]
        if s == "latest" {
            selector = .latest
        } else if let stage = Stage(rawValue: s), stage != .none {
            selector = .stage(stage)
        } else if let n = Int(s.hasPrefix("v") ? String(s.dropFirst()) : s), n >= 1 {
            selector = .version(n)
        } else if ModelRegistry.isAlias(s) {
            selector = .alias(s)
        } else {
            throw LearnError("'\(text)': after @ give vN, latest, staging, production, archived or an alias")
        }
    }

    public var description: String {
        switch selector {
        case .latest: name
        case .version(let n): "\(name)@v\(n)"
        case .stage(let s): "\(name)@\(s.rawValue)"
        case .alias(let a): "\(name)@\(a)"
        }
    }
}

/// Model versions on disk: `ROOT/NAME/vN/{model.json,weights.safetensors}`, the stage of each version in
/// `ROOT/NAME/stages.json`, and every change appended to `ROOT/NAME/history.jsonl`.
///
/// Writes are atomic (a new version is written under a temporary name and renamed into place) and serialized across
/// processes by a lock file, so a failed or concurrent command never leaves a half-written version.
///
/// With a keyring (from the environment, `MILLSTREAM_DATA_KEYS_FILE` or `MILLSTREAM_DATA_KEYS`), a version's model
/// files are written encrypted (AES-256-GCM, `SealedFile`); plain ones written before still read.
public struct ModelRegistry: Sendable {
    public let root: String
    public let keyring: Keyring?

    public init(root: String) throws {
        do {
            try self.init(root: root, keyring: try Keyring.process())
        } catch let error as KeyringError {
            throw LearnError("registry \(root): \(error.description)")
        }
    }

    public init(root: String, keyring: Keyring?) throws {
        self.keyring = keyring
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: self.root, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw LearnError("registry \(self.root) exists and is not a directory")
        }
    }

    static func validate(name: String) throws {
        let ok =
            !name.isEmpty && name.count <= 100
            && name.unicodeScalars.allSatisfy { c in
                ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "-" || c == "_"
                    || c == "."
            } && !name.hasPrefix(".")
        guard ok else { throw LearnError("model name '\(name)' is invalid: use letters, digits, - _ . (up to 100)") }
    }

    // MARK: - Reading

    public func names() throws -> [String] {
        guard FileManager.default.fileExists(atPath: root) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: root).filter {
            !$0.hasPrefix(".") && FileManager.default.fileExists(atPath: "\(root)/\($0)/stages.json")
        }.sorted()
    }

    public func versions(of name: String) throws -> [ModelVersion] {
        try Self.validate(name: name)
        let stages = try readStages(name)
        let dir = "\(root)/\(name)"
        guard FileManager.default.fileExists(atPath: dir) else {
            throw LearnError("no model named '\(name)' in registry \(root)")
        }
        return try FileManager.default.contentsOfDirectory(atPath: dir).compactMap { entry -> ModelVersion? in
            guard entry.hasPrefix("v"), let n = Int(entry.dropFirst()) else { return nil }
            return ModelVersion(name: name, version: n, stage: stages[n] ?? Stage.none, path: "\(dir)/\(entry)")
        }.sorted { $0.version < $1.version }
    }

    /// The version a reference names.
    public func resolve(_ reference: ModelReference) throws -> ModelVersion {
        let all = try versions(of: reference.name)
        let found: ModelVersion?
        switch reference.selector {
        case .latest: found = all.last
        case .version(let n): found = all.first { $0.version == n }
        case .stage(let s): found = all.last { $0.stage == s }
        case .alias(let a):
            let aliases = try aliases(of: reference.name)
            guard let n = aliases[a] else {
                throw LearnError(
                    "\(reference.name) has no alias \(a) in registry \(root) (aliases: "
                        + (aliases.isEmpty
                            ? "none"
                            : aliases.sorted { $0.key < $1.key }.map { "\($0.key) v\($0.value)" }
                                .joined(separator: ", ")) + ")")
            }
            found = all.first { $0.version == n }
        }
        guard let found else {
            throw LearnError(
                "\(reference) is not in registry \(root) (versions: \(all.map { "v\($0.version) \($0.stage.rawValue)" }.joined(separator: ", ")))"
            )
        }
        return found
    }

    public func load(_ reference: ModelReference) throws -> (ModelFile, ModelVersion) {
        let version = try resolve(reference)
        let json = Data(try modelJSON(version))
        if let onnx = try file(version, "model.onnx") {
            return (try ModelFile.decode(json: json, onnx: onnx, source: version.path), version)
        }
        guard let weights = try file(version, "weights.safetensors") else {
            throw LearnError("\(version.path) lacks weights.safetensors")
        }
        return (try ModelFile.decode(json: json, weights: weights, source: version.path), version)
    }

    /// A version's model.json, decrypted if it is encrypted.
    public func modelJSON(_ version: ModelVersion) throws -> [UInt8] {
        guard let json = try file(version, "model.json") else { throw LearnError("\(version.path) lacks model.json") }
        return json
    }

    /// One of a version's files, decrypted if it is encrypted; nil if it is not there.
    private func file(_ version: ModelVersion, _ name: String) throws -> [UInt8]? {
        let path = version.path + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try SealedFile.open([UInt8](data), keyring: keyring, context: name, path: path)
        } catch {
            throw LearnError(error.description)
        }
    }

    /// Every change to the model's versions and stages, oldest first.
    public func history(of name: String) throws -> [HistoryEntry] {
        try Self.validate(name: name)
        guard let data = FileManager.default.contents(atPath: "\(root)/\(name)/history.jsonl") else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONDecoder().decode(HistoryEntry.self, from: Data($0.utf8))
        }
    }

    // MARK: - Changing

    /// Stores a model as the next version of `name` (stage none).
    @discardableResult
    public func register(_ model: ModelFile, as name: String) throws -> ModelVersion {
        try Self.validate(name: name)
        return try withLock {
            let dir = "\(root)/\(name)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let existing = try FileManager.default.contentsOfDirectory(atPath: dir).compactMap {
                $0.hasPrefix("v") ? Int($0.dropFirst()) : nil
            }
            let n = (existing.max() ?? 0) + 1
            let tmp = "\(dir)/.incoming-v\(n)-\(getpid())"
            try? FileManager.default.removeItem(atPath: tmp)
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            let (json, weights) = try model.encoded()
            let weightsName = model.onnx == nil ? "weights.safetensors" : "model.onnx"
            for (name, bytes) in [("model.json", [UInt8](json)), (weightsName, weights)] {
                try Data(SealedFile.seal(bytes, keyring: keyring, context: name)).write(
                    to: URL(fileURLWithPath: tmp + "/" + name))
            }
            try FileManager.default.moveItem(atPath: tmp, toPath: "\(dir)/v\(n)")
            var stages = try readStages(name)
            stages[n] = Stage.none
            try writeStages(name, stages)
            try appendHistory(name, HistoryEntry(action: "register", version: n, stage: .none))
            return ModelVersion(name: name, version: n, stage: .none, path: "\(dir)/v\(n)")
        }
    }

    /// Moves a version to a stage. Promoting to production archives the version that was in production.
    /// `by`: who asked (a server's user; else the process's); `note`: why (the evidence of a shadow promotion).
    public func promote(_ name: String, version: Int, to stage: Stage, by: String? = nil, note: String? = nil) throws {
        try withLock {
            guard try versions(of: name).contains(where: { $0.version == version }) else {
                throw LearnError("\(name) has no version v\(version)")
            }
            var stages = try readStages(name)
            let from = stages[version] ?? Stage.none
            if stage == .production {
                for (v, s) in stages where s == .production && v != version {
                    stages[v] = .archived
                    try appendHistory(
                        name, HistoryEntry(action: "archive", version: v, stage: .archived, from: .production))
                }
            }
            stages[version] = stage
            try writeStages(name, stages)
            try appendHistory(
                name, HistoryEntry(action: "promote", version: version, stage: stage, from: from, note: note, by: by))
        }
    }

    /// An alias's name: letters, digits, - and _, up to 50, not a stage, `latest` or a version (`v3`, `3`).
    public static func isAlias(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 50, Stage(rawValue: s) == nil, s != "latest",
            s.unicodeScalars.allSatisfy({ c in
                ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "-" || c == "_"
            })
        else { return false }
        let digits = s.hasPrefix("v") ? s.dropFirst() : Substring(s)
        return digits.isEmpty || !digits.allSatisfy(\.isNumber)
    }

    /// The model's aliases and the versions they name (`ROOT/NAME/aliases.json`).
    public func aliases(of name: String) throws -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: "\(root)/\(name)/aliases.json") else { return [:] }
        return try JSONDecoder().decode([String: Int].self, from: data)
    }

    /// Points an alias (champion, challenger, any name) at a version, moving it if it named another; audited in the
    /// history. Stages are untouched: an alias is a name, not a place in the lifecycle.
    public func setAlias(_ alias: String, of name: String, to version: Int) throws {
        guard Self.isAlias(alias) else {
            throw LearnError(
                "alias '\(alias)' is invalid: letters, digits, - and _, not a stage, latest or a version number")
        }
        try withLock {
            guard try versions(of: name).contains(where: { $0.version == version }) else {
                throw LearnError("\(name) has no version v\(version) in registry \(root)")
            }
            var aliases = try aliases(of: name)
            let before = aliases[alias]
            aliases[alias] = version
            try writeAliases(name, aliases)
            let stage = try readStages(name)[version] ?? Stage.none
            try appendHistory(
                name, HistoryEntry(action: "alias", version: version, stage: stage, replaced: before, alias: alias))
        }
    }

    /// Removes an alias; an error when the model has no such alias.
    public func removeAlias(_ alias: String, of name: String, by: String? = nil, note: String? = nil) throws {
        try withLock {
            var aliases = try aliases(of: name)
            guard let version = aliases.removeValue(forKey: alias) else {
                throw LearnError("\(name) has no alias \(alias)")
            }
            try writeAliases(name, aliases)
            let stage = try readStages(name)[version] ?? Stage.none
            try appendHistory(
                name, HistoryEntry(action: "unalias", version: version, stage: stage, alias: alias, note: note, by: by))
        }
    }

    /// Settles the version the `challenger` alias names after its shadow run: promoted to production (the version in
    /// production is archived, a `champion` alias follows) or rejected (archived); either way the alias is removed so
    /// the pipeline stops scoring it. `note` is the evidence, kept in the history with who decided. Returns the version.
    @discardableResult
    public func settleChallenger(_ name: String, promote: Bool, by: String? = nil, note: String) throws -> Int {
        try withLock {
            var aliases = try aliases(of: name)
            guard let version = aliases.removeValue(forKey: "challenger") else {
                throw LearnError(
                    "\(name) has no challenger: point the alias at a version first (models alias \(name)@vN challenger)"
                )
            }
            var stages = try readStages(name)
            let from = stages[version] ?? Stage.none
            if promote {
                for (v, s) in stages where s == .production && v != version {
                    stages[v] = .archived
                    try appendHistory(
                        name, HistoryEntry(action: "archive", version: v, stage: .archived, from: .production, by: by))
                }
                stages[version] = .production
                if let previous = aliases["champion"], previous != version {
                    aliases["champion"] = version
                    try appendHistory(
                        name,
                        HistoryEntry(
                            action: "alias", version: version, stage: .production, replaced: previous,
                            alias: "champion", by: by))
                }
            } else {
                stages[version] = .archived
            }
            try writeStages(name, stages)
            try writeAliases(name, aliases)
            try appendHistory(
                name,
                HistoryEntry(
                    action: promote ? "promote" : "reject", version: version, stage: stages[version]!, from: from,
                    alias: "challenger", note: note, by: by))
            return version
        }
    }

    private func writeAliases(_ name: String, _ aliases: [String: Int]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(aliases).write(to: URL(fileURLWithPath: "\(root)/\(name)/aliases.json"), options: .atomic)
    }

    /// Puts back in production the version that was there before the current one; the current one is archived.
    @discardableResult
    public func rollback(_ name: String) throws -> Int {
        try withLock {
            let stages = try readStages(name)
            guard let current = stages.first(where: { $0.value == .production })?.key else {
                throw LearnError("\(name) has no version in production to roll back")
            }
            let promotions = try history(of: name).filter { $0.action == "promote" && $0.stage == .production }.map(
                \.version)
            guard let previous = promotions.last(where: { $0 != current && stages[$0] != nil }) else {
                throw LearnError(
                    "\(name) v\(current) is the first version in production; there is nothing to roll back to")
            }
            var updated = stages
            updated[current] = .archived
            updated[previous] = .production
            try writeStages(name, updated)
            try appendHistory(
                name,
                HistoryEntry(
                    action: "rollback", version: previous, stage: .production, from: stages[previous], replaced: current
                ))
            return previous
        }
    }

    // MARK: - Files

    private func readStages(_ name: String) throws -> [Int: Stage] {
        guard let data = FileManager.default.contents(atPath: "\(root)/\(name)/stages.json") else { return [:] }
        let raw = try JSONDecoder().decode([String: Stage].self, from: data)
        return Dictionary(uniqueKeysWithValues: raw.compactMap { k, v in Int(k.dropFirst()).map { ($0, v) } })
    }

    private func writeStages(_ name: String, _ stages: [Int: Stage]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(Dictionary(uniqueKeysWithValues: stages.map { ("v\($0.key)", $0.value) }))
        try data.write(to: URL(fileURLWithPath: "\(root)/\(name)/stages.json"), options: .atomic)
    }

    private func appendHistory(_ name: String, _ entry: HistoryEntry) throws {
        let path = "\(root)/\(name)/history.jsonl"
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let handle = FileHandle(forWritingAtPath: path) else { throw LearnError("cannot write \(path)") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: try encoder.encode(entry) + Data("\n".utf8))
        try handle.synchronize()
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let fd = open(root + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LearnError("cannot open \(root)/.lock: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw LearnError("cannot lock \(root)/.lock") }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}

/// One line of a model's history.
public struct HistoryEntry: Sendable, Codable, Equatable {
    public var time: String
    public var action: String
    public var version: Int
    public var stage: Stage
    public var from: Stage?
    public var replaced: Int?
    /// The alias an `alias` or `unalias` entry set or removed.
    public var alias: String?
    /// Why: the live evidence a promotion or rejection rested on.
    public var note: String?
    public var user: String

    init(
        action: String, version: Int, stage: Stage, from: Stage? = nil, replaced: Int? = nil, alias: String? = nil,
        note: String? = nil, by: String? = nil
    ) {
        self.time = ISO8601DateFormatter().string(from: Date())
        self.action = action
        self.version = version
        self.stage = stage
        self.from = from
        self.replaced = replaced
        self.alias = alias
        self.note = note
        self.user = by ?? ProcessInfo.processInfo.environment["USER"] ?? "unknown"
    }
}
