import AtRest
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The embedded durable log: topics of partitioned, append-only record logs in one directory, plus the committed
/// offsets of consumer groups. The default bus on one machine.
///
/// ```
/// DIR/millstream-log.json          format marker
/// DIR/.lock                        held (flock) by the one process that opened the log for writing
/// DIR/topics/NAME/topic.json       topic configuration
/// DIR/topics/NAME/P/<base>.log     segment files of partition P; <base>.index beside each
/// DIR/groups/GROUP.offsets         committed offsets of a consumer group
/// ```
/// One process writes; any number may open it read-only at the same time (`tail`, `topics describe`).
public final class EventLog: Sendable {
    public struct Configuration: Sendable {
        public var fsync: FsyncPolicy
        /// Settings for topics created without explicit ones (including auto-created topics).
        public var defaultTopic: TopicConfiguration
        /// Create a topic with `defaultTopic` settings on first use.
        public var autoCreateTopics: Bool
        /// Open without taking the writer's lock: reads only, follows what the writer appends.
        public var readOnly: Bool
        /// Encryption at rest: what is appended is encrypted with the current key, encrypted batches decrypted with
        /// theirs. A log once written encrypted refuses to open without a keyring.
        public var keyring: Keyring?

        public init(
            fsync: FsyncPolicy = .interval(.milliseconds(100)), defaultTopic: TopicConfiguration = .init(partitions: 8),
            autoCreateTopics: Bool = true, readOnly: Bool = false, keyring: Keyring? = nil
        ) {
            self.keyring = keyring
            self.fsync = fsync
            self.defaultTopic = defaultTopic
            self.autoCreateTopics = autoCreateTopics
            self.readOnly = readOnly
        }
    }

    public let directory: String
    public let configuration: Configuration
    private let lockFile: FileRef?
    private let topics = Mutex<[String: TopicLog]>([:])
    private let groups = Mutex<[String: GroupOffsetStore]>([:])
    private let notes = Mutex<[String]>([])
    static let markerName = "millstream-log.json"

    /// Marks the log encrypted at its first encrypted append (a process with keys that only reads leaves it plain).
    let sealedMarker: SealedMarker

    private init(directory: String, configuration: Configuration, lockFile: FileRef?) {
        self.sealedMarker = SealedMarker(path: directory + "/" + Self.markerName)
        self.directory = directory
        self.configuration = configuration
        self.lockFile = lockFile
    }

    /// Opens the log in `directory`, creating it (and its parents) if it does not exist and the log is writable.
    public static func open(directory: String, configuration: Configuration = .init()) throws -> EventLog {
        try configuration.defaultTopic.validate()
        let dir = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let marker = dir + "/" + markerName
        if FileSystem.exists(dir) && !FileSystem.isDirectory(dir) {
            throw EventLogError(.invalidArgument, "\(dir) exists and is not a directory")
        }
        if configuration.readOnly {
            guard FileSystem.exists(marker) else {
                throw EventLogError(.unknownTopic, "no Millstream log at \(dir) (\(markerName) not found)")
            }
            try checkKeys(marker, dir, configuration)
            return EventLog(directory: dir, configuration: configuration, lockFile: nil)
        }
        if !FileSystem.exists(dir) {
            try FileSystem.makeDirectory(dir)
        } else if !FileSystem.exists(marker) {
            let entries = try FileSystem.list(dir).filter { !$0.hasPrefix(".") }
            guard entries.isEmpty else {
                throw EventLogError(
                    .invalidArgument,
                    "\(dir) is not empty and holds no Millstream log (\(markerName) missing); "
                        + "choose an empty or new directory")
            }
        }
        guard access(dir, W_OK) == 0 else {
            throw EventLogError.posix("open log directory for writing", path: dir, errno: errno)
        }
        let lock = try FileRef.open(dir + "/.lock", writable: true, create: true)
        if flock(lock.fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? FileSystem.readAll(dir + "/.lock")).map { String(decoding: $0, as: UTF8.self) } ?? "?"
            throw EventLogError(
                .inUse,
                "log directory \(dir) is in use by another Millstream process (pid \(holder.trimmingCharacters(in: .whitespacesAndNewlines))); "
                    + "open it read-only or stop that process")
        }
        try lock.truncate(to: 0)
        try Array("\(getpid())\n".utf8).withUnsafeBytes { try lock.write($0, at: 0) }
        if FileSystem.exists(marker) { try checkKeys(marker, dir, configuration) }
        if !FileSystem.exists(marker) {
            try FileSystem.writeAtomically(Array(#"{"format":1}"#.utf8) + [10], to: marker)
        }
        try FileSystem.makeDirectory(dir + "/topics")
        try FileSystem.makeDirectory(dir + "/groups")
        let log = EventLog(directory: dir, configuration: configuration, lockFile: lock)
        for name in try log.topicNames() { _ = try log.topic(name) }  // recover every partition now
        return log
    }

    static func isEncrypted(_ marker: String) -> Bool {
        ((try? FileSystem.readAll(marker)).map { String(decoding: $0, as: UTF8.self) } ?? "").contains(
            "\"encrypted\":true")
    }

    /// An encrypted log needs keys: refused when none are given, before any topic is read.
    private static func checkKeys(_ marker: String, _ dir: String, _ configuration: Configuration) throws {
        if configuration.keyring == nil && isEncrypted(marker) {
            throw EventLogError(
                .encrypted,
                "the log at \(dir) is encrypted: \(Keyring.keysNeeded)")
        }
    }

    private var topicsDirectory: String { directory + "/topics" }

    /// Lines describing what recovery cut off when the log was opened (empty after a clean shutdown).
    public var recoveryNotes: [String] { notes.withLock { $0 } }

    /// Names of all topics, sorted.
    public func topicNames() throws -> [String] {
        guard FileSystem.isDirectory(topicsDirectory) else { return [] }
        return try FileSystem.list(topicsDirectory).filter {
            FileSystem.exists(topicsDirectory + "/" + $0 + "/topic.json")
        }
    }

    /// Creates a topic. Fails if it exists.
    @discardableResult
    public func createTopic(_ name: String, configuration topicConfiguration: TopicConfiguration? = nil) throws
        -> TopicLog
    {
        try TopicLog.validate(name: name)
        guard !configuration.readOnly else {
            throw EventLogError(.readOnly, "the log at \(directory) is open read-only")
        }
        let settings = topicConfiguration ?? configuration.defaultTopic
        try settings.validate()
        return try topics.withLock { topics in
            let path = topicsDirectory + "/" + name
            if topics[name] != nil || FileSystem.exists(path + "/topic.json") {
                throw EventLogError(.topicExists, "topic \(name) already exists")
            }
            try FileSystem.makeDirectory(path)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try FileSystem.writeAtomically(Array(try encoder.encode(settings)) + [10], to: path + "/topic.json")
            let topic = try openTopic(name, settings)
            topics[name] = topic
            return topic
        }
    }

    /// The topic called `name`; created with default settings if missing and auto-creation is on (`create`).
    public func topic(_ name: String, create: Bool = false) throws -> TopicLog {
        if let topic = topics.withLock({ $0[name] }) { return topic }
        try TopicLog.validate(name: name)
        let path = topicsDirectory + "/" + name + "/topic.json"
        if !FileSystem.exists(path) {
            guard create, configuration.autoCreateTopics, !configuration.readOnly else {
                throw EventLogError(.unknownTopic, "topic \(name) does not exist in \(directory)")
            }
            do {
                return try createTopic(name)
            } catch let error as EventLogError where error.kind == .topicExists {
                return try topic(name)
            }
        }
        let settings: TopicConfiguration
        do {
            settings = try JSONDecoder().decode(TopicConfiguration.self, from: Data(try FileSystem.readAll(path)))
        } catch let error as EventLogError {
            throw error
        } catch {
            throw EventLogError(.corrupt, "\(path) is not a valid topic configuration: \(error)")
        }
        return try topics.withLock { topics in
            if let topic = topics[name] { return topic }
            let topic = try openTopic(name, settings)
            topics[name] = topic
            return topic
        }
    }

    private func openTopic(_ name: String, _ settings: TopicConfiguration) throws -> TopicLog {
        let notifier = AppendNotifier()
        let partitions = try (0..<settings.partitions).map { p in
            try PartitionLog(
                topic: name, partition: p, directory: topicsDirectory + "/" + name + "/" + String(p),
                configuration: settings, fsync: configuration.fsync, writable: !configuration.readOnly,
                notifier: notifier, keyring: configuration.keyring, sealedMarker: sealedMarker)
        }
        let cut = partitions.flatMap(\.recoveryNotes)
        if !cut.isEmpty { notes.withLock { $0.append(contentsOf: cut) } }
        return TopicLog(name: name, configuration: settings, partitions: partitions, notifier: notifier)
    }

    // MARK: - Consumer groups

    private func groupStore(_ group: String) throws -> GroupOffsetStore {
        try TopicLog.validate(name: group)
        return try groups.withLock { groups in
            if let store = groups[group] { return store }
            let store = try GroupOffsetStore(
                group: group, directory: directory + "/groups", syncEachCommit: configuration.fsync != .never)
            groups[group] = store
            return store
        }
    }

    /// Durably records `offsets` (the next offset to read, per partition) for `group`.
    public func commit(group: String, offsets: [LogTopicPartition: Int64]) throws {
        guard !configuration.readOnly else {
            throw EventLogError(.readOnly, "the log at \(directory) is open read-only")
        }
        try groupStore(group).commit(offsets)
    }

    /// The offsets last committed by `group`.
    public func committedOffsets(group: String) throws -> [LogTopicPartition: Int64] {
        if configuration.readOnly {
            let path = directory + "/groups/" + group + ".offsets"
            guard FileSystem.exists(path) else { return [:] }
            // Read-only: replay a private copy rather than take the writer's file.
            return try GroupOffsetStore.replay(path: path)
        }
        return try groupStore(group).offsets
    }

    /// Names of the groups that have committed offsets.
    public func groupNames() throws -> [String] {
        try FileSystem.list(directory + "/groups").filter { $0.hasSuffix(".offsets") }.map { String($0.dropLast(8)) }
    }

    // MARK: - Lifecycle

    /// fsyncs every partition that has unsynced appends, several at a time (the disk overlaps them).
    public func sync() throws {
        let partitions = topics.withLock { $0.values.flatMap(\.partitions) }
        let failures = Mutex<[any Error]>([])
        DispatchQueue.concurrentPerform(iterations: partitions.count) { i in
            do { try partitions[i].sync() } catch { failures.withLock { $0.append(error) } }
        }
        if let first = failures.withLock({ $0.first }) { throw first }
    }

    /// fsyncs partitions whose interval has passed; for a periodic flusher.
    public func syncIfDue() throws {
        for topic in topics.withLock({ Array($0.values) }) {
            for partition in topic.partitions { try partition.syncIfDue() }
        }
    }

    /// Flushes and closes every partition and releases the directory lock.
    public func close() throws {
        for topic in topics.withLock({ Array($0.values) }) {
            for partition in topic.partitions { try partition.close() }
        }
        if let lockFile { _ = flock(lockFile.fd, LOCK_UN) }
    }
}

/// Writes `"encrypted":true` into the log's marker once, before the first encrypted batch: from then on the log is
/// refused without keys, at open.
final class SealedMarker: Sendable {
    let path: String
    private let marked = Mutex<Bool?>(nil)

    init(path: String) { self.path = path }

    func mark() throws {
        try marked.withLock { done in
            if done == nil { done = EventLog.isEncrypted(path) }
            guard done == false else { return }
            try FileSystem.writeAtomically(Array(#"{"format":1,"encrypted":true}"#.utf8) + [10], to: path)
            done = true
        }
    }
}
