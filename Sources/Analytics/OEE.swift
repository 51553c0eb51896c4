/// Overall equipment effectiveness from machine states, cycle counts and quality, over a span of time.
///
/// Time between two readings of a machine counts for the state of the earlier one. Availability = running time /
/// observed time; performance = ideal cycle time x units / running time (capped at 1); quality = good / units.
public struct OEEAccumulator: Sendable, Codable, Equatable {
    public var runningMilliseconds: Int64 = 0
    public var observedMilliseconds: Int64 = 0
    /// Time by non-running state, in the order the states first came: a machine has a handful, and a list searched
    /// by name costs less than a dictionary's hashing and its storage made for each new bucket (two rolling windows
    /// per reading made that 3 % of the pipeline worker in a profile).
    private var downtime: [Downtime] = []
    public var good = 0
    public var scrap = 0

    private struct Downtime: Sendable, Equatable {
        var reason: String
        var milliseconds: Int64
    }

    public init() {}

    /// Time by non-running state (the downtime reasons).
    public var downtimeMilliseconds: [String: Int64] {
        Dictionary(downtime.map { ($0.reason, $0.milliseconds) }, uniquingKeysWith: +)
    }

    /// No time and no units, with the storage of the downtime list kept for the next figures: a rolling window's
    /// slot starts a new bucket with it (its list made anew was an allocation on most readings of the pipeline).
    mutating func clear() {
        var kept = downtime
        self = OEEAccumulator()  // (every figure back to its start, whatever figures come to be added)
        kept.removeAll(keepingCapacity: true)  // its only reference now: emptied in place
        downtime = kept
    }

    /// Counts `duration` of time in `state` (running or a downtime reason) and the units reported.
    public mutating func add(state: String, duration: Int64, good: Int, scrap: Int) {
        let d = max(0, duration)
        observedMilliseconds += d
        if state == "running" { runningMilliseconds += d } else { addDowntime(state, d) }
        self.good += good
        self.scrap += scrap
    }

    private mutating func addDowntime(_ reason: String, _ milliseconds: Int64) {
        if let i = downtime.firstIndex(where: { $0.reason == reason }) {
            downtime[i].milliseconds += milliseconds
        } else {
            downtime.append(Downtime(reason: reason, milliseconds: milliseconds))
        }
    }

    public mutating func merge(_ other: OEEAccumulator) {
        runningMilliseconds += other.runningMilliseconds
        observedMilliseconds += other.observedMilliseconds
        for d in other.downtime { addDowntime(d.reason, d.milliseconds) }
        good += other.good
        scrap += other.scrap
    }

    /// Equal figures: the downtime by reason, whatever order the reasons came in.
    public static func == (a: OEEAccumulator, b: OEEAccumulator) -> Bool {
        a.runningMilliseconds == b.runningMilliseconds && a.observedMilliseconds == b.observedMilliseconds
            && a.good == b.good && a.scrap == b.scrap && a.downtimeMilliseconds == b.downtimeMilliseconds
    }

    // Checkpoints keep the dictionary's form ("downtimeMilliseconds": {reason: milliseconds}), so checkpoints of
    // either form load in the other.
    enum CodingKeys: String, CodingKey {
        case runningMilliseconds, observedMilliseconds, downtimeMilliseconds, good, scrap
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runningMilliseconds = try c.decode(Int64.self, forKey: .runningMilliseconds)
        observedMilliseconds = try c.decode(Int64.self, forKey: .observedMilliseconds)
        downtime = try c.decode([String: Int64].self, forKey: .downtimeMilliseconds)
            .sorted { $0.key < $1.key }.map { Downtime(reason: $0.key, milliseconds: $0.value) }
        good = try c.decode(Int.self, forKey: .good)
        scrap = try c.decode(Int.self, forKey: .scrap)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(runningMilliseconds, forKey: .runningMilliseconds)
        try c.encode(observedMilliseconds, forKey: .observedMilliseconds)
        try c.encode(downtimeMilliseconds, forKey: .downtimeMilliseconds)
        try c.encode(good, forKey: .good)
        try c.encode(scrap, forKey: .scrap)
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
            downtime: downtime.sorted { $0.milliseconds > $1.milliseconds }.map {
                DowntimeReason(reason: $0.reason, seconds: Double($0.milliseconds) / 1000)
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
///
/// The window is a ring of one slot per bucket: bucket b lives in slot b mod (buckets in the window), so a new bucket
/// takes over the slot of the one that just left the window, with no search and no dictionary (the dictionary of
/// buckets, with its removal of expired ones, was 4.7 % of the pipeline worker in a profile). A reading older than
/// the window of the newest one is not counted: no window ending at or after the newest bucket would count it. (The
/// pipeline's allowed lateness, a minute by default, keeps readings well inside the hour.)
public struct RollingOEE: Sendable, Codable {
    public let minutes: Int
    /// Bucket width in minutes; the window slides by one bucket.
    public let bucketMinutes: Int
    private var slots: [Slot]
    /// The newest bucket counted (Int64.min before the first).
    private var newest = Int64.min

    private struct Slot: Sendable {
        /// Its bucket's number; Int64.min while the slot is empty.
        var bucket = Int64.min
        var figures = OEEAccumulator()
    }

    public init(minutes: Int, bucketMinutes: Int = 1) {
        precondition(bucketMinutes >= 1 && minutes % bucketMinutes == 0, "the window must be whole buckets")
        self.minutes = minutes
        self.bucketMinutes = bucketMinutes
        slots = Array(repeating: Slot(), count: minutes / bucketMinutes)
    }

    private var count: Int64 { Int64(slots.count) }
    private func bucket(_ time: Int64) -> Int64 { time / (60_000 * Int64(bucketMinutes)) }
    private func slot(_ bucket: Int64) -> Int { Int((bucket % count + count) % count) }

    public mutating func add(at time: Int64, state: String, duration: Int64, good: Int, scrap: Int) {
        let b = bucket(time)
        guard newest == .min || b > newest - count else { return }
        newest = max(newest, b)
        let i = slot(b)
        // The slot holds an older bucket (now out of the window) or none: this bucket starts there.
        if slots[i].bucket != b {
            slots[i].bucket = b
            slots[i].figures.clear()
        }
        slots[i].figures.add(state: state, duration: duration, good: good, scrap: scrap)
    }

    /// The accumulated figures of the window ending at `now`.
    public func total(now: Int64) -> OEEAccumulator {
        // A slot may still hold a bucket that left the window of the newest one; it is not counted.
        let oldest = max(bucket(now) - count + 1, newest == .min ? .min : newest - count + 1)
        var sum = OEEAccumulator()
        for s in slots where s.bucket != .min && s.bucket >= oldest { sum.merge(s.figures) }
        return sum
    }

    // Checkpoints keep the dictionary's form: "buckets" as bucket, figures, bucket, figures... (Swift's encoding of
    // a dictionary whose keys are Int64), so checkpoints of either form load in the other.
    enum CodingKeys: String, CodingKey { case minutes, bucketMinutes, buckets }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            minutes: try c.decode(Int.self, forKey: .minutes),
            bucketMinutes: try c.decode(Int.self, forKey: .bucketMinutes))
        var pairs = try c.nestedUnkeyedContainer(forKey: .buckets)
        var saved: [(Int64, OEEAccumulator)] = []
        while !pairs.isAtEnd {
            saved.append((try pairs.decode(Int64.self), try pairs.decode(OEEAccumulator.self)))
        }
        newest = saved.map(\.0).max() ?? .min
        for (b, figures) in saved where b > newest - count {
            slots[slot(b)] = Slot(bucket: b, figures: figures)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(minutes, forKey: .minutes)
        try c.encode(bucketMinutes, forKey: .bucketMinutes)
        var pairs = c.nestedUnkeyedContainer(forKey: .buckets)
        for s in slots.sorted(by: { $0.bucket < $1.bucket })
        where s.bucket != .min && s.bucket > newest - count {
            try pairs.encode(s.bucket)
            try pairs.encode(s.figures)
        }
    }
}
