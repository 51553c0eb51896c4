/// A value of one variable of one machine at one time: a reading's measurement, a prediction's risk, an hour's OEE.
public struct HistorySample: Sendable, Equatable {
    public var machine: String
    public var variable: String
    /// Milliseconds since the epoch.
    public var millis: Int64
    public var value: Double

    public init(machine: String, variable: String, millis: Int64, value: Double) {
        self.machine = machine
        self.variable = variable
        self.millis = millis
        self.value = value
    }
}

/// One alert record as it was on the bus (raised, cleared, suppressed), kept for audits and root-cause work.
public struct HistoryAlert: Sendable, Equatable {
    public var id: String
    public var machine: String
    public var millis: Int64
    public var kind: String
    public var priority: String?
    public var status: String
    public var variable: String?
    public var message: String?
    /// The record's JSON, whole.
    public var record: String

    public init(
        id: String, machine: String, millis: Int64, kind: String, priority: String?, status: String,
        variable: String?, message: String?, record: String
    ) {
        self.id = id
        self.machine = machine
        self.millis = millis
        self.kind = kind
        self.priority = priority
        self.status = status
        self.variable = variable
        self.message = message
        self.record = record
    }
}

/// What to read: variables of one machine over [from, to), raw or in at most `points` buckets.
public struct HistoryQuery: Sendable, Equatable {
    public var machine: String
    public var variables: [String]
    public var from: Int64
    public var to: Int64
    /// At most this many buckets per variable (min, max and mean in each); 0 for the raw values.
    public var points: Int

    public init(machine: String, variables: [String], from: Int64, to: Int64, points: Int) throws(HistorianError) {
        guard to > from else {
            throw HistorianError("the time range is empty: 'to' must come after 'from'")
        }
        guard !variables.isEmpty else { throw HistorianError("name at least one variable") }
        guard points >= 0 && points <= 100_000 else {
            throw HistorianError("points must be 0 (raw values) to 100000, got \(points)")
        }
        self.machine = machine
        self.variables = variables
        self.from = from
        self.to = to
        self.points = points
    }

    /// The bucket width for `points` over the range, rounded up to a whole multiple of `granularity` (so buckets of
    /// a rollup compose exactly) and at least 1 ms.
    func bucketWidth(granularity: Int64) -> Int64 {
        let span = to - from
        let wanted = max(1, (span + Int64(points) - 1) / Int64(points))
        guard granularity > 1 else { return wanted }
        return (wanted + granularity - 1) / granularity * granularity
    }
}

/// A variable's history over a query's range: raw values (`resolution` 0), or buckets of `resolution` ms aligned to
/// the epoch, each with the least, the greatest and the mean value in it and their count. Columns, not rows: a chart
/// reads them as they are.
public struct HistorySeries: Sendable, Equatable {
    public var variable: String
    public var resolution: Int64
    /// Where the buckets came from: "raw", or the rollup's granularity ("1m", "1h").
    public var source: String
    public var times: [Int64] = []
    public var min: [Double] = []
    public var max: [Double] = []
    public var mean: [Double] = []
    public var count: [Int] = []

    public init(variable: String, resolution: Int64, source: String) {
        self.variable = variable
        self.resolution = resolution
        self.source = source
    }

    /// A raw value: a bucket of one.
    mutating func append(raw value: Double, at millis: Int64) {
        append(bucket: millis, lo: value, hi: value, total: value, n: 1)
    }

    mutating func append(bucket start: Int64, lo: Double, hi: Double, total: Double, n: Int) {
        times.append(start)
        min.append(lo)
        max.append(hi)
        mean.append(total / Double(n))
        count.append(n)
    }
}

public struct HistorianError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
