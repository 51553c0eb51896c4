/// Overall equipment effectiveness from machine states, cycle counts and quality, over a span of time.
///
/// Time between two readings of a machine counts for the state of the earlier one. Availability = running time /
/// observed time; performance = ideal cycle time x units / running time (capped at 1); quality = good / units.
public struct OEEAccumulator: Sendable, Codable, Equatable {
    public var runningMilliseconds: Int64 = 0
    public var observedMilliseconds: Int64 = 0
    /// Time by non-running state (the downtime reasons).
    public var downtimeMilliseconds: [String: Int64] = [:]
    public var good = 0
    public var scrap = 0

    public init() {}

    /// Counts `duration` of time in `state` (running or a downtime reason) and the units reported.
    public mutating func add(state: String, duration: Int64, good: Int, scrap: Int) {
        let d = max(0, duration)
        observedMilliseconds += d
        if state == "running" { runningMilliseconds += d } else { downtimeMilliseconds[state, default: 0] += d }
        self.good += good
        self.scrap += scrap
    }

    public mutating func merge(_ other: OEEAccumulator) {
        runningMilliseconds += other.runningMilliseconds
        observedMilliseconds += other.observedMilliseconds
        downtimeMilliseconds.merge(other.downtimeMilliseconds, uniquingKeysWith: +)
        good += other.good
        scrap += other.scrap
    }

    public func figures(idealCycleSeconds: Double) -> OEEFigures {
        let units = good + scrap
        let availability = observedMilliseconds > 0 ? Double(runningMilliseconds) / Double(observedMilliseconds) : 0
        let performance =
            runningMilliseconds > 0 ? min(1, idealCycleSeconds * 1000 * Double(units) / Double(runningMilliseconds)) : 0
        let quality = units > 0 ? Double(good) / Double(units) : 0
        return OEEFigures(
            availability: availability, performance: performance, quality: quality,
            oee: availability * performance * quality,
            goodUnits: good, scrapUnits: scrap,
            downtime: downtimeMilliseconds.sorted { $0.value > $1.value }.map {
                DowntimeReason(reason: $0.key, seconds: Double($0.value) / 1000)
            })
    }
}

public struct OEEFigures: Sendable, Codable, Equatable {
    public var availability: Double
    public var performance: Double
    public var quality: Double
    public var oee: Double
    public var goodUnits: Int
    public var scrapUnits: Int
    /// Downtime by reason, longest first (a Pareto).
    public var downtime: [DowntimeReason]
}

public struct DowntimeReason: Sendable, Codable, Equatable {
    public var reason: String
    public var seconds: Double
}

/// OEE over a rolling window of time buckets (e.g. the last hour in minutes, the last shift in 10-minute buckets).
public struct RollingOEE: Sendable, Codable {
    public let minutes: Int
    /// Bucket width in minutes; the window slides by one bucket.
    public let bucketMinutes: Int
    private var buckets: [Int64: OEEAccumulator] = [:]

    public init(minutes: Int, bucketMinutes: Int = 1) {
        precondition(bucketMinutes >= 1 && minutes % bucketMinutes == 0, "the window must be whole buckets")
        self.minutes = minutes
        self.bucketMinutes = bucketMinutes
    }

    private var count: Int64 { Int64(minutes / bucketMinutes) }
    private func bucket(_ time: Int64) -> Int64 { time / (60_000 * Int64(bucketMinutes)) }

    public mutating func add(at time: Int64, state: String, duration: Int64, good: Int, scrap: Int) {
        let b = bucket(time)
        if buckets[b] == nil {
            // Only a new bucket can push an old one out: expired ones are removed in place then (rebuilding the
            // dictionary on every call was 6 % of the pipeline's time in a profile).
            // (The expired keys are listed first: removing while iterating the keys would copy the dictionary.)
            for old in buckets.keys.filter({ $0 <= b - count }) { buckets[old] = nil }
        }
        buckets[b, default: OEEAccumulator()].add(state: state, duration: duration, good: good, scrap: scrap)
    }

    /// The accumulated figures of the window ending at `now`.
    public func total(now: Int64) -> OEEAccumulator {
        let oldest = bucket(now) - count + 1
        var sum = OEEAccumulator()
        for (b, acc) in buckets where b >= oldest { sum.merge(acc) }
        return sum
    }
}
