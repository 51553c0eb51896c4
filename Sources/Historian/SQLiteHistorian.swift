public import AtRest
import Bus
import Foundation
internal import GRDB
import Synchronization

/// The historian on one SQLite file (GRDB, WAL mode): the embedded default. The writer is one service; readers (the
/// server, `millstream export`) open the same file read-only from other processes.
///
/// Samples are kept raw, one row per value, in a table clustered by (series, time). Each write also folds them into
/// rollups of 1 minute and 1 hour (least, greatest, sum and count per bucket), so a trend over a year reads 8,760
/// rollup rows instead of half a million raw ones; min, max and mean compose exactly from them. The bus offsets are
/// written in the same transaction as the data: a restarted writer goes on exactly where the file ends, so every
/// record is stored once.
public final class SQLiteHistorian: HistorianStore {
    public let path: String
    public var location: String { path }
    private let pool: DatabasePool
    /// machine \u{1F} variable -> series id, of committed series only.
    private let seriesIDs = Mutex<[String: Int64]>([:])

    /// Opens (or creates) the historian at `path`. With a keyring (by default the environment's,
    /// `MILLSTREAM_DATA_KEYS_FILE` or `MILLSTREAM_DATA_KEYS`) a new file is encrypted at rest page by page
    /// (`SealedSQLite`), and an encrypted one is read with it.
    public init(path: String, readOnly: Bool = false, keyring: Keyring?? = nil) throws(HistorianError) {
        self.path = path
        let keys: Keyring?
        do { keys = try keyring ?? Keyring.process() } catch { throw HistorianError("\(path): \(error)") }
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(10)
        let exists = FileManager.default.fileExists(atPath: path)
        if readOnly && !exists {
            throw HistorianError(
                "no historian at \(path): start one with `millstream historian --bus URL --db \(path)`")
        }
        let plain = exists && SealedSQLite.isPlainSQLite(path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if keys == nil && exists && size > 0 && !plain {
            SealedSQLite.disable(path: SealedSQLite.canonical(path))
            throw HistorianError(
                "the historian at \(path) is encrypted (or not SQLite): \(Keyring.keysNeeded)")
        }
        if let keys {
            if plain {
                throw HistorianError(
                    "the historian at \(path) was written without encryption and a keyring is set: export it and "
                        + "import it into a new file, or unset MILLSTREAM_DATA_KEYS_FILE and MILLSTREAM_DATA_KEYS")
            }
            SealedSQLite.enable(keys, path: SealedSQLite.canonical(path))
            configuration.prepareDatabase { db in
                // A new file: 4096-byte pages with 32 bytes each for the key id, nonce and tag; no temporary files.
                try db.execute(sql: "PRAGMA page_size = 4096; PRAGMA temp_store = MEMORY")
                SealedSQLite.reserve(db.sqliteConnection)
            }
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            if !readOnly { try Self.migrator.migrate(pool) }
            // Read the schema now, so a wrong key is this error, not the first query's.
            _ = try pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master") }
        } catch {
            let sealed = keys == nil ? "" : SealedSQLite.lastError
            throw HistorianError(
                "cannot open the historian at \(path): \(error)\(sealed.isEmpty ? "" : " (\(sealed))")")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE series (
                        id INTEGER PRIMARY KEY, machine TEXT NOT NULL, variable TEXT NOT NULL,
                        UNIQUE (machine, variable));
                    CREATE TABLE samples (
                        series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
                        PRIMARY KEY (series, ts)) WITHOUT ROWID;
                    CREATE TABLE alerts (
                        topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
                        id TEXT NOT NULL, machine TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL,
                        priority TEXT, status TEXT NOT NULL, variable TEXT, message TEXT, record TEXT NOT NULL,
                        PRIMARY KEY (topic, partition, offset));
                    CREATE INDEX alerts_by_time ON alerts (ts);
                    CREATE INDEX alerts_by_machine ON alerts (machine, ts);
                    CREATE TABLE offsets (
                        topic TEXT NOT NULL, partition INTEGER NOT NULL, next INTEGER NOT NULL,
                        PRIMARY KEY (topic, partition)) WITHOUT ROWID;
                    """)
            for rollup in historianRollups {
                try db.execute(
                    sql: """
                        CREATE TABLE rollup_\(rollup.granularity) (
                            series INTEGER NOT NULL, bucket INTEGER NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,
                            total REAL NOT NULL, n INTEGER NOT NULL,
                            PRIMARY KEY (series, bucket)) WITHOUT ROWID
                        """)
            }
        }
        return migrator
    }

    // MARK: - writing

    /// The next offset to read of each partition the historian has stored from.
    public func offsets() throws(HistorianError) -> [TopicPartition: Int64] {
        try run("read the stored offsets") {
            try pool.read { db in
                var out: [TopicPartition: Int64] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT topic, partition, next FROM offsets") {
                    out[TopicPartition(topic: row[0], partition: row[1])] = row[2]
                }
                return out
            }
        }
    }

    /// Stores a batch and the offsets it ends at, in one transaction: all of it or none.
    public func write(_ batch: HistorianBatch) throws(HistorianError) {
        let known = seriesIDs.withLock { $0 }
        let created = try run("write \(batch.samples.count) samples and \(batch.alerts.count) alerts") {
            try pool.write { db in
                var created: [String: Int64] = [:]
                func id(_ machine: String, _ variable: String) throws -> Int64 {
                    let key = machine + "\u{1F}" + variable
                    if let id = known[key] ?? created[key] { return id }
                    try db.execute(
                        sql: "INSERT OR IGNORE INTO series (machine, variable) VALUES (?, ?)",
                        arguments: [machine, variable])
                    let id = try Int64.fetchOne(
                        db, sql: "SELECT id FROM series WHERE machine = ? AND variable = ?",
                        arguments: [machine, variable])!
                    created[key] = id
                    return id
                }
                let insert = try db.cachedStatement(
                    sql: "INSERT OR IGNORE INTO samples (series, ts, value) VALUES (?, ?, ?)")
                var buckets = RollupBuckets()
                for s in batch.samples where s.value.isFinite {
                    let series = try id(s.machine, s.variable)
                    try insert.execute(arguments: [series, s.millis, s.value])
                    // A second value of one series at one millisecond is not stored, nor rolled up.
                    guard db.changesCount > 0 else { continue }
                    buckets.add(series: series, millis: s.millis, value: s.value)
                }
                for (level, rollup) in historianRollups.enumerated() where !buckets.levels[level].isEmpty {
                    let upsert = try db.cachedStatement(
                        sql: """
                            INSERT INTO rollup_\(rollup.granularity) (series, bucket, lo, hi, total, n)
                            VALUES (?, ?, ?, ?, ?, ?)
                            ON CONFLICT (series, bucket) DO UPDATE SET
                                lo = min(lo, excluded.lo), hi = max(hi, excluded.hi),
                                total = total + excluded.total, n = n + excluded.n
                            """)
                    for (key, b) in buckets.levels[level] {
                        try upsert.execute(arguments: [key.series, key.start, b.lo, b.hi, b.total, b.n])
                    }
                }
                let alert = try db.cachedStatement(
                    sql: """
                        INSERT OR IGNORE INTO alerts
                            (topic, partition, offset, id, machine, ts, kind, priority, status, variable, message, record)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                for a in batch.alerts {
                    try alert.execute(arguments: [
                        a.position.topic, a.position.partition, a.offset, a.alert.id, a.alert.machine,
                        a.alert.millis, a.alert.kind, a.alert.priority, a.alert.status, a.alert.variable,
                        a.alert.message, a.alert.record,
                    ])
                }
                let offset = try db.cachedStatement(
                    sql: """
                        INSERT INTO offsets (topic, partition, next) VALUES (?, ?, ?)
                        ON CONFLICT (topic, partition) DO UPDATE SET next = max(next, excluded.next)
                        """)
                for (tp, next) in batch.offsets {
                    try offset.execute(arguments: [tp.topic, tp.partition, next])
                }
                return created
            }
        }
        if !created.isEmpty { seriesIDs.withLock { $0.merge(created) { a, _ in a } } }
    }

    // MARK: - reading

    /// The query's variables: raw (`points` 0), or in buckets from the coarsest rollup finer than a bucket (the
    /// bucket width then rounded up to whole rollup buckets), else from the raw values.
    public func series(_ query: HistoryQuery) throws(HistorianError) -> [HistorySeries] {
        try run("read the history of \(query.machine)") {
            try pool.read { db in
                try query.variables.map { variable in
                    guard
                        let id = try Int64.fetchOne(
                            db, sql: "SELECT id FROM series WHERE machine = ? AND variable = ?",
                            arguments: [query.machine, variable])
                    else { return HistorySeries(variable: variable, resolution: 0, source: "none") }
                    return try Self.read(db, series: id, variable: variable, query)
                }
            }
        }
    }

    static func read(_ db: Database, series id: Int64, variable: String, _ query: HistoryQuery) throws -> HistorySeries
    {
        if query.points == 0 {
            var out = HistorySeries(variable: variable, resolution: 0, source: "raw")
            let rows = try Row.fetchCursor(
                db, sql: "SELECT ts, value FROM samples WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts",
                arguments: [id, query.from, query.to])
            while let row = try rows.next() { out.append(raw: row[1], at: row[0]) }
            return out
        }
        let (rollup, width) = query.plan()
        var out = HistorySeries(variable: variable, resolution: width, source: rollup?.name ?? "raw")
        let sql =
            if let rollup {
                // Rollup buckets that start in the range (its ends are whole rollup buckets).
                """
                SELECT (bucket / \(width)) * \(width) AS b, min(lo), max(hi), sum(total), sum(n)
                FROM rollup_\(rollup.granularity) WHERE series = ? AND bucket >= ? AND bucket < ?
                GROUP BY b ORDER BY b
                """
            } else {
                """
                SELECT (ts / \(width)) * \(width) AS b, min(value), max(value), sum(value), count(*)
                FROM samples WHERE series = ? AND ts >= ? AND ts < ? GROUP BY b ORDER BY b
                """
            }
        let rows = try Row.fetchCursor(db, sql: sql, arguments: [id, query.from, query.to])
        while let row = try rows.next() {
            out.append(bucket: row[0], lo: row[1], hi: row[2], total: row[3], n: row[4])
        }
        return out
    }

    /// Alert records in [from, to), newest first, of one machine or all.
    public func alerts(machine: String?, from: Int64, to: Int64, limit: Int) throws(HistorianError) -> [HistoryAlert] {
        try run("read the alert history") {
            try pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT id, machine, ts, kind, priority, status, variable, message, record FROM alerts
                        WHERE ts >= ? AND ts < ? AND (? IS NULL OR machine = ?) ORDER BY ts DESC LIMIT ?
                        """, arguments: [from, to, machine, machine, limit])
                return rows.map {
                    HistoryAlert(
                        id: $0[0], machine: $0[1], millis: $0[2], kind: $0[3], priority: $0[4], status: $0[5],
                        variable: $0[6], message: $0[7], record: $0[8])
                }
            }
        }
    }

    /// Every machine and its variables.
    public func catalog() throws(HistorianError) -> [String: [String]] {
        try run("read the historian's series") {
            try pool.read { db in
                var out: [String: [String]] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT machine, variable FROM series ORDER BY machine, variable")
                {
                    out[row[0], default: []].append(row[1])
                }
                return out
            }
        }
    }

    /// Runs a database step; a failure becomes an error that says what was being done and where.
    private func run<T>(_ what: String, _ body: () throws -> T) throws(HistorianError) -> T {
        do { return try body() } catch let error as HistorianError { throw error } catch {
            throw HistorianError("historian \(path): cannot \(what): \(error)")
        }
    }
}
