import Bus
import ServiceLifecycle

/// Where the history is kept: a SQLite file on the machine (`SQLiteHistorian`, the embedded default) or a PostgreSQL
/// database at scale (`PostgresHistorian`). Both keep raw samples, minute and hour rollups, alerts and the bus offsets,
/// and answer the same queries with the same figures.
public protocol HistorianStore: Sendable {
    /// Where it is, for messages (a file path, or a PostgreSQL URL without its password).
    var location: String { get }
    /// The next offset to read of each partition stored from.
    func offsets() async throws(HistorianError) -> [TopicPartition: Int64]
    /// Stores a batch and the offsets it ends at, in one transaction: all of it or none.
    func write(_ batch: HistorianBatch) async throws(HistorianError)
    /// The query's variables, raw or in buckets (from the coarsest rollup finer than a bucket).
    func series(_ query: HistoryQuery) async throws(HistorianError) -> [HistorySeries]
    /// Alert records in [from, to), newest first, of one machine or all.
    func alerts(machine: String?, from: Int64, to: Int64, limit: Int) async throws(HistorianError) -> [HistoryAlert]
    /// Every machine and its variables.
    func catalog() async throws(HistorianError) -> [String: [String]]
}

/// The rollups, finest first (granularity in ms, and the name a query result gives as its source). Minute and hour: a year's trend reads 8,760 hourly rows, a day's 1,440 minute rows.
let historianRollups: [(granularity: Int64, name: String)] = [(60_000, "1m"), (3_600_000, "1h")]

extension HistoryQuery {
    /// The rollup a bucketed query reads (nil: the raw samples) and its bucket width.
    func plan() -> (rollup: (granularity: Int64, name: String)?, width: Int64) {
        let finest = bucketWidth(granularity: 1)
        let rollup = historianRollups.last { $0.granularity <= finest }
        return (rollup, bucketWidth(granularity: rollup?.granularity ?? 1))
    }
}

/// The rollup buckets of new samples, folded in memory before one upsert per bucket.
struct RollupBuckets {
    struct Key: Hashable {
        var series: Int64
        var start: Int64
    }

    struct Bucket {
        var lo = Double.infinity
        var hi = -Double.infinity
        var total = 0.0
        var n = 0

        mutating func add(_ v: Double) {
            lo = Swift.min(lo, v)
            hi = Swift.max(hi, v)
            total += v
            n += 1
        }
    }

    /// One map per rollup, in `historianRollups` order.
    var levels = [[Key: Bucket]](repeating: [:], count: historianRollups.count)

    mutating func add(series: Int64, millis: Int64, value: Double) {
        for (level, rollup) in historianRollups.enumerated() {
            let g = rollup.granularity
            let start = millis - ((millis % g) + g) % g
            levels[level][Key(series: series, start: start), default: Bucket()].add(value)
        }
    }
}

/// Opens the historian a location names: a PostgreSQL URL (postgres://...) or a SQLite file path.
public enum Historians {
    public static func isPostgres(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    /// The store, and the services that must run for it to answer (PostgreSQL's connection pool; none for SQLite).
    /// `readOnly` opens a SQLite file that must exist and that another process writes.
    public static func open(_ location: String, readOnly: Bool = false) throws(HistorianError) -> (
        store: any HistorianStore, services: [any Service]
    ) {
        if isPostgres(location) {
            let store = try PostgresHistorian(url: location)
            return (store, [store])
        }
        return (try SQLiteHistorian(path: location, readOnly: readOnly), [])
    }
}
