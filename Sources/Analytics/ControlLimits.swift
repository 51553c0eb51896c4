/// Centre line and spread of a process variable, estimated from a baseline, and the charts built on them.
public struct ControlLimits: Sendable, Equatable, Codable {
    public var center: Double
    /// The process standard deviation the limits use (short-term, from moving ranges or ranges).
    public var sigma: Double

    public init(center: Double, sigma: Double) {
        self.center = center
        self.sigma = sigma
    }

    public var upper: Double { center + 3 * sigma }
    public var lower: Double { center - 3 * sigma }

    /// Individuals chart (I-MR): centre = mean, sigma = average moving range / d2 (1.128).
    public static func individuals(_ values: [Double]) -> ControlLimits? {
        guard values.count >= 2 else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        var movingRange = 0.0
        for i in 1..<values.count { movingRange += abs(values[i] - values[i - 1]) }
        movingRange /= Double(values.count - 1)
        return ControlLimits(center: mean, sigma: movingRange / 1.128)
    }

    /// Upper limit of the moving-range chart: D4(2) x average moving range.
    public static func movingRangeUpper(_ values: [Double]) -> Double? {
        guard values.count >= 2 else { return nil }
        var mr = 0.0
        for i in 1..<values.count { mr += abs(values[i] - values[i - 1]) }
        return 3.267 * mr / Double(values.count - 1)
    }
}

/// X-bar and R charts for subgroups of equal size (2 to 10), with the standard constants.
public struct XBarRChart: Sendable, Equatable {
    public var grandMean: Double
    public var averageRange: Double
    public var subgroupSize: Int

    /// n: (d2, A2, D3, D4)
    static let constants: [Int: (d2: Double, a2: Double, d3: Double, d4: Double)] = [
        2: (1.128, 1.880, 0, 3.267), 3: (1.693, 1.023, 0, 2.574), 4: (2.059, 0.729, 0, 2.282),
        5: (2.326, 0.577, 0, 2.114),
        6: (2.534, 0.483, 0, 2.004), 7: (2.704, 0.419, 0.076, 1.924), 8: (2.847, 0.373, 0.136, 1.864),
        9: (2.970, 0.337, 0.184, 1.816), 10: (3.078, 0.308, 0.223, 1.777),
    ]

    public init?(subgroups: [[Double]]) {
        guard let n = subgroups.first?.count, (2...10).contains(n), subgroups.allSatisfy({ $0.count == n }) else {
            return nil
        }
        subgroupSize = n
        grandMean = subgroups.map { $0.reduce(0, +) / Double(n) }.reduce(0, +) / Double(subgroups.count)
        averageRange = subgroups.map { $0.max()! - $0.min()! }.reduce(0, +) / Double(subgroups.count)
    }

    var c: (d2: Double, a2: Double, d3: Double, d4: Double) { Self.constants[subgroupSize]! }
    public var xBarUpper: Double { grandMean + c.a2 * averageRange }
    public var xBarLower: Double { grandMean - c.a2 * averageRange }
    public var rangeUpper: Double { c.d4 * averageRange }
    public var rangeLower: Double { c.d3 * averageRange }
    /// sigma estimated as R-bar / d2.
    public var sigma: Double { averageRange / c.d2 }
}

/// Process capability against specification limits (either may be absent).
public struct Capability: Sendable, Equatable, Codable {
    public var cp: Double?
    public var cpk: Double?

    /// - Parameters: sigma: the short-term (within) standard deviation, e.g. from `ControlLimits`.
    public init(mean: Double, sigma: Double, lsl: Double?, usl: Double?) {
        guard sigma > 0 else {
            cp = nil
            cpk = nil
            return
        }
        if let lsl, let usl { cp = (usl - lsl) / (6 * sigma) } else { cp = nil }
        let upper = usl.map { ($0 - mean) / (3 * sigma) }
        let lower = lsl.map { (mean - $0) / (3 * sigma) }
        switch (upper, lower) {
        case let (u?, l?): cpk = min(u, l)
        case let (u?, nil): cpk = u
        case let (nil, l?): cpk = l
        default: cpk = nil
        }
    }
}
