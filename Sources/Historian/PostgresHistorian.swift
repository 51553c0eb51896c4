import Bus
import Foundation
import Logging
internal import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The historian on PostgreSQL (postgres-nio): the same tables, rollups and exactly-once offsets as the SQLite file,
/// for a plant whose history outgrows one machine or that several servers read. It is a Service: its connection
/// pool runs while the service group does (`run()`), and `withStore` runs one for a command's lifetime.
///
/// Writes go in one transaction per batch: samples by `unnest` of arrays (one statement for the whole batch), the
/// rows actually inserted (`RETURNING`) folded into the rollups, then the alerts and the offsets.
public final class PostgresHistorian: HistorianStore, Service {
    public let location: String
    private let client: PostgresClient
    private let logger: Logger
    /// Created by `run()` once the pool is up; queries before it wait for it.
    private let migrated = AsyncGate()
    private let connectTimeout: Duration

    /// `url`: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (`?sslmode=require` for TLS, `?password_file=PATH`).
    /// `connectTimeout`: how long the first connection may take before the store gives up with an error that names
    /// the server (a wrong address, a server down).
    public init(
        url: String, connectTimeout: Duration = .seconds(30), logger: Logger = Logger(label: "millstream.historian")
    ) throws(HistorianError) {
        guard let c = URLComponents(string: url), c.scheme == "postgres" || c.scheme == "postgresql",
            let host = c.host, let user = c.user, c.path.count > 1
        else {
            throw HistorianError(
                "'\(url)' is not a PostgreSQL URL like postgres://millstream:secret@db.plant:5432/history")
        }
        let tls = c.queryItems?.first { $0.name == "sslmode" }?.value == "require"
        // The password: in the URL, in a file (`?password_file=/run/secrets/db`, for container secrets), or libpq's
        // PGPASSWORD.
        var password = c.password ?? ProcessInfo.processInfo.environment["PGPASSWORD"]
        if let file = c.queryItems?.first(where: { $0.name == "password_file" })?.value {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw HistorianError("cannot read the PostgreSQL password file \(file)")
            }
            password = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: c.port ?? 5432, username: user, password: password,
            database: String(c.path.dropFirst()), tls: tls ? .require(.makeClientConfiguration()) : .disable)
        configuration.options.maximumConnections = 8
        configuration.options.connectTimeout = connectTimeout
        self.connectTimeout = connectTimeout
        client = PostgresClient(configuration: configuration)
        self.logger = logger
        var shown = c
        shown.password = c.password == nil ? nil : "***"
        location = shown.string ?? url
    }

    /// Runs the connection pool (and creates the tables) until cancelled.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            do {
                try await migrate()
                migrated.open()
            } catch {
                migrated.fail(error)
                throw error
            }
            try await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Runs `body` with the store's pool running, for a command's lifetime.
    public static func withStore<T: Sendable>(
        url: String, connectTimeout: Duration = .seconds(30), _ body: @Sendable (PostgresHistorian) async throws -> T
    ) async throws -> T {
        let store = try PostgresHistorian(url: url, connectTimeout: connectTimeout)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await store.client.run()
                return nil
            }
            try await store.migrate()
            store.migrated.open()
            let result = try await body(store)
            group.cancelAll()
            return result
        }
    }

    /// Creates the tables, or fails once the first connection has not come within the connect timeout (the pool
    /// would otherwise go on trying).
    private func migrate() async throws {
        let location = self.location
        let timeout = connectTimeout
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await self.createTables()
                return true
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return false
            }
            let created = try await group.next()!
            group.cancelAll()
            guard created else {
                throw HistorianError("cannot reach the PostgreSQL server of \(location) within \(timeout)")
            }
        }
    }

    private func createTables() async throws {
        do {
            try await client.withConnection { db in
                try await db.query("SELECT pg_advisory_lock(727170)", logger: logger)
                let statements: [PostgresQuery] = [
                    """
                    CREATE TABLE IF NOT EXISTS series (
                        id BIGSERIAL PRIMARY KEY, machine TEXT NOT NULL, variable TEXT NOT NULL,
                        UNIQUE (machine, variable))
                    """,
                    """
                    CREATE TABLE IF NOT EXISTS samples (
                        series BIGINT NOT NULL, ts BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL,
                        PRIMARY KEY (series, ts))
                    """,
                    """
                    CREATE TABLE IF NOT EXISTS alerts (
                        topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" BIGINT NOT NULL,
                        id TEXT NOT NULL, machine TEXT NOT NULL, ts BIGINT NOT NULL, kind TEXT NOT NULL,
                        priority TEXT, status TEXT NOT NULL, variable TEXT, message TEXT, record TEXT NOT NULL,
                        PRIMARY KEY (topic, partition, "offset"))
                    """,
                    "CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (ts)",
                    "CREATE INDEX IF NOT EXISTS alerts_by_machine ON alerts (machine, ts)",
                    """
                    CREATE TABLE IF NOT EXISTS offsets (
                        topic TEXT NOT NULL, partition INTEGER NOT NULL, next BIGINT NOT NULL,
                        PRIMARY KEY (topic, partition))
                    """,
                ]
                for statement in statements { try await db.query(statement, logger: logger) }
                for rollup in historianRollups {
                    try await db.query(
                        PostgresQuery(
                            unsafeSQL: """
                                CREATE TABLE IF NOT EXISTS rollup_\(rollup.granularity) (
                                    series BIGINT NOT NULL, bucket BIGINT NOT NULL, lo DOUBLE PRECISION NOT NULL,
                                    hi DOUBLE PRECISION NOT NULL, total DOUBLE PRECISION NOT NULL, n BIGINT NOT NULL,
                                    PRIMARY KEY (series, bucket))
                                """), logger: logger)
                }
                try await db.query("SELECT pg_advisory_unlock(727170)", logger: logger)
            }
        } catch {
            throw HistorianError("historian \(location): cannot create its tables: \(Self.describe(error))")
        }
    }

    // MARK: - writing

    public func offsets() async throws(HistorianError) -> [TopicPartition: Int64] {
        try await run("read the stored offsets") {
            var out: [TopicPartition: Int64] = [:]
            for try await (topic, partition, next) in try await client.query(
                "SELECT topic, partition, next FROM offsets", logger: logger
            ).decode((String, Int32, Int64).self) {
                out[TopicPartition(topic: topic, partition: Int(partition))] = next
            }
            return out
        }
    }

    public func write(_ batch: HistorianBatch) async throws(HistorianError) {
        try await run("write \(batch.samples.count) samples and \(batch.alerts.count) alerts") {
            try await client.withTransaction(logger: logger) { db in
                let ids = try await seriesIDs(batch.samples, db)
                let buckets = try await insertSamples(batch.samples, ids: ids, db)
                try await upsertRollups(buckets, db)
                for a in batch.alerts {
                    try await db.query(
                        """
                        INSERT INTO alerts (topic, partition, "offset", id, machine, ts, kind, priority, status,
                            variable, message, record)
                        VALUES (\(a.position.topic), \(Int32(a.position.partition)), \(a.offset), \(a.alert.id),
                            \(a.alert.machine), \(a.alert.millis), \(a.alert.kind), \(a.alert.priority),
                            \(a.alert.status), \(a.alert.variable), \(a.alert.message), \(a.alert.record))
                        ON CONFLICT DO NOTHING
                        """, logger: logger)
                }
                for (tp, next) in batch.offsets {
                    try await db.query(
                        """
                        INSERT INTO offsets (topic, partition, next) VALUES (\(tp.topic), \(Int32(tp.partition)), \(next))
                        ON CONFLICT (topic, partition) DO UPDATE SET next = greatest(offsets.next, excluded.next)
                        """, logger: logger)
                }
            }
        }
    }

    /// The samples' series ids: the new series created, all read back in one query.
    private func seriesIDs(_ samples: [HistorySample], _ db: PostgresConnection) async throws -> [SeriesKey: Int64] {
        let pairs = Set(samples.map { SeriesKey(machine: $0.machine, variable: $0.variable) })
        let machines = pairs.map(\.machine)
        let variables = pairs.map(\.variable)
        try await db.query(
            """
            INSERT INTO series (machine, variable) SELECT * FROM unnest(\(machines)::text[], \(variables)::text[])
            ON CONFLICT DO NOTHING
            """, logger: logger)
        var ids: [SeriesKey: Int64] = [:]
        for try await (id, machine, variable) in try await db.query(
            """
            SELECT s.id, s.machine, s.variable FROM series s
            JOIN unnest(\(machines)::text[], \(variables)::text[]) AS k(machine, variable)
            ON s.machine = k.machine AND s.variable = k.variable
            """, logger: logger
        ).decode((Int64, String, String).self) {
            ids[SeriesKey(machine: machine, variable: variable)] = id
        }
        return ids
    }

    /// Inserts the samples in one statement; returns the rollup buckets of the rows actually inserted (a second value
    /// of a series at one millisecond is not stored, nor rolled up).
    private func insertSamples(_ samples: [HistorySample], ids: [SeriesKey: Int64], _ db: PostgresConnection)
        async throws -> RollupBuckets
    {
        var series: [Int64] = []
        var times: [Int64] = []
        var values: [Double] = []
        for s in samples where s.value.isFinite {
            series.append(ids[SeriesKey(machine: s.machine, variable: s.variable)]!)
            times.append(s.millis)
            values.append(s.value)
        }
        var buckets = RollupBuckets()
        guard !series.isEmpty else { return buckets }
        for try await (id, ts, value) in try await db.query(
            """
            INSERT INTO samples (series, ts, value)
            SELECT * FROM unnest(\(series)::bigint[], \(times)::bigint[], \(values)::float8[])
            ON CONFLICT DO NOTHING RETURNING series, ts, value
            """, logger: logger
        ).decode((Int64, Int64, Double).self) {
            buckets.add(series: id, millis: ts, value: value)
        }
        return buckets
    }

    /// Folds the buckets into each rollup table, one statement per rollup.
    private func upsertRollups(_ buckets: RollupBuckets, _ db: PostgresConnection) async throws {
        for (level, rollup) in historianRollups.enumerated() where !buckets.levels[level].isEmpty {
            let entries = Array(buckets.levels[level])
            var query = PostgresQuery(
                unsafeSQL: """
                    INSERT INTO rollup_\(rollup.granularity) AS r (series, bucket, lo, hi, total, n)
                    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[],
                        $6::bigint[])
                    ON CONFLICT (series, bucket) DO UPDATE SET
                        lo = least(r.lo, excluded.lo), hi = greatest(r.hi, excluded.hi),
                        total = r.total + excluded.total, n = r.n + excluded.n
                    """)
            try query.binds.append(entries.map(\.key.series), context: .default)
            try query.binds.append(entries.map(\.key.start), context: .default)
            try query.binds.append(entries.map(\.value.lo), context: .default)
            try query.binds.append(entries.map(\.value.hi), context: .default)
            try query.binds.append(entries.map(\.value.total), context: .default)
            try query.binds.append(entries.map { Int64($0.value.n) }, context: .default)
            try await db.query(query, logger: logger)
        }
    }

    struct SeriesKey: Hashable {
        var machine: String
        var variable: String
    }

    // MARK: - reading

    public func series(_ query: HistoryQuery) async throws(HistorianError) -> [HistorySeries] {
        try await run("read the history of \(query.machine)") {
            var out: [HistorySeries] = []
            for variable in query.variables {
                var id: Int64?
                for try await found in try await client.query(
                    "SELECT id FROM series WHERE machine = \(query.machine) AND variable = \(variable)", logger: logger
                ).decode(Int64.self) {
                    id = found
                }
                guard let id else {
                    out.append(HistorySeries(variable: variable, resolution: 0, source: "none"))
                    continue
                }
                out.append(try await read(series: id, variable: variable, query))
            }
            return out
        }
    }

    private func read(series id: Int64, variable: String, _ query: HistoryQuery) async throws -> HistorySeries {
        if query.points == 0 {
            var out = HistorySeries(variable: variable, resolution: 0, source: "raw")
            for try await (ts, v) in try await client.query(
                """
                SELECT ts, value FROM samples WHERE series = \(id) AND ts >= \(query.from) AND ts < \(query.to)
                ORDER BY ts
                """, logger: logger
            ).decode((Int64, Double).self) {
                out.append(raw: v, at: ts)
            }
            return out
        }
        let (rollup, width) = query.plan()
        var out = HistorySeries(variable: variable, resolution: width, source: rollup?.name ?? "raw")
        var sql = PostgresQuery(
            unsafeSQL: rollup.map {
                """
                SELECT (bucket / $1) * $1 AS b, min(lo), max(hi), sum(total), sum(n)::bigint
                FROM rollup_\($0.granularity) WHERE series = $2 AND bucket >= $3 AND bucket < $4
                GROUP BY b ORDER BY b
                """
            }
                ?? """
                SELECT (ts / $1) * $1 AS b, min(value), max(value), sum(value), count(*)
                FROM samples WHERE series = $2 AND ts >= $3 AND ts < $4 GROUP BY b ORDER BY b
                """)
        try sql.binds.append(width, context: .default)
        try sql.binds.append(id, context: .default)
        try sql.binds.append(query.from, context: .default)
        try sql.binds.append(query.to, context: .default)
        for try await (b, lo, hi, total, n) in try await client.query(sql, logger: logger).decode(
            (Int64, Double, Double, Double, Int64).self)
        {
            out.append(bucket: b, lo: lo, hi: hi, total: total, n: Int(n))
        }
        return out
    }

    public func alerts(machine: String?, from: Int64, to: Int64, limit: Int) async throws(HistorianError)
        -> [HistoryAlert]
    {
        try await run("read the alert history") {
            var out: [HistoryAlert] = []
            let rows = try await client.query(
                """
                SELECT id, machine, ts, kind, priority, status, variable, message, record FROM alerts
                WHERE ts >= \(from) AND ts < \(to) AND (\(machine)::text IS NULL OR machine = \(machine))
                ORDER BY ts DESC LIMIT \(Int64(min(limit, Int(Int64.max))))
                """, logger: logger)
            for try await (id, m, ts, kind, priority, status, variable, message, record) in rows.decode(
                (String, String, Int64, String, String?, String, String?, String?, String).self)
            {
                out.append(
                    HistoryAlert(
                        id: id, machine: m, millis: ts, kind: kind, priority: priority, status: status,
                        variable: variable, message: message, record: record))
            }
            return out
        }
    }

    public func catalog() async throws(HistorianError) -> [String: [String]] {
        try await run("read the historian's series") {
            var out: [String: [String]] = [:]
            for try await (machine, variable) in try await client.query(
                "SELECT machine, variable FROM series ORDER BY machine, variable", logger: logger
            ).decode((String, String).self) {
                out[machine, default: []].append(variable)
            }
            return out
        }
    }

    /// Waits for the tables, runs a database step; a failure says what was being done and where.
    private func run<T>(_ what: String, _ body: () async throws -> T) async throws(HistorianError) -> T {
        do {
            try await migrated.wait()
            return try await body()
        } catch let error as HistorianError {
            throw error
        } catch {
            throw HistorianError("historian \(location): cannot \(what): \(Self.describe(error))")
        }
    }

    /// PostgreSQL's own message where there is one (PSQLError hides it from `description`).
    static func describe(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] { return message }
            return "\(e.code)" + (e.underlying.map { ": \($0)" } ?? "")
        }
        if let e = error as? PostgresTransactionError {
            return [e.beginError, e.closureError, e.commitError, e.rollbackError].compactMap { $0 }.map(describe)
                .joined(separator: "; ")
        }
        return "\(error)"
    }
}

/// Opens once; waiters before that wait, and all of them fail if it fails.
final class AsyncGate: Sendable {
    private enum State {
        case closed([CheckedContinuation<Void, any Error>])
        case open
        case failed(any Error)
    }
    private let state = Mutex<State>(.closed([]))

    func open() { finish(nil) }
    func fail(_ error: any Error) { finish(error) }

    private func finish(_ error: (any Error)?) {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            guard case .closed(let waiting) = s else { return [] }
            s = error.map { .failed($0) } ?? .open
            return waiting
        }
        for w in waiting {
            if let error { w.resume(throwing: error) } else { w.resume() }
        }
    }

    func wait() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let result = state.withLock { s -> Result<Bool, any Error> in
                switch s {
                case .open: return .success(true)
                case .failed(let e): return .failure(e)
                case .closed(var waiting):
                    waiting.append(c)
                    s = .closed(waiting)
                    return .success(false)
                }
            }
            switch result {
            case .success(true): c.resume()
            case .success(false): break
            case .failure(let e): c.resume(throwing: e)
            }
        }
    }
}
