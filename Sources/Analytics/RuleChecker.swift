import Foundation

/// The Western Electric rules (1-4) and the Nelson rules (1-8), checked point by point as values arrive.
public struct RuleChecker: Sendable, Codable {
    public enum Rule: String, Sendable, CaseIterable, Codable {
        /// One point beyond 3 sigma.
        case beyond3Sigma = "beyond_3_sigma"
        /// Two of three consecutive points beyond 2 sigma on the same side (WE 2, Nelson 5).
        case twoOfThreeBeyond2Sigma = "2_of_3_beyond_2_sigma"
        /// Four of five consecutive points beyond 1 sigma on the same side (WE 3, Nelson 6).
        case fourOfFiveBeyond1Sigma = "4_of_5_beyond_1_sigma"
        /// Eight consecutive points on the same side of the centre (WE 4).
        case eightOnOneSide = "8_on_one_side"
        /// Nine consecutive points on the same side of the centre (Nelson 2).
        case nineOnOneSide = "9_on_one_side"
        /// Six points in a row steadily increasing or decreasing (Nelson 3).
        case sixTrending = "6_trending"
        /// Fourteen points in a row alternating up and down (Nelson 4).
        case fourteenAlternating = "14_alternating"
        /// Fifteen points in a row within 1 sigma of the centre (Nelson 7).
        case fifteenWithin1Sigma = "15_within_1_sigma"
        /// Eight points in a row with none within 1 sigma (Nelson 8).
        case eightBeyond1Sigma = "8_beyond_1_sigma"

        public var description: String {
            switch self {
            case .beyond3Sigma: "a point beyond the 3-sigma control limits"
            case .twoOfThreeBeyond2Sigma: "2 of 3 points beyond 2 sigma on one side"
            case .fourOfFiveBeyond1Sigma: "4 of 5 points beyond 1 sigma on one side"
            case .eightOnOneSide: "8 points in a row on one side of the centre"
            case .nineOnOneSide: "9 points in a row on one side of the centre"
            case .sixTrending: "6 points in a row steadily rising or falling"
            case .fourteenAlternating: "14 points in a row alternating up and down"
            case .fifteenWithin1Sigma: "15 points in a row within 1 sigma (stratification)"
            case .eightBeyond1Sigma: "8 points in a row beyond 1 sigma on either side (mixture)"
            }
        }
    }

    public enum RuleSet: String, Sendable, Codable { case westernElectric = "western_electric", nelson }

    public let limits: ControlLimits
    public let rules: [Rule]
    /// The last values (at most 15), oldest first.
    private(set) var recent: [Double] = []

    public init(limits: ControlLimits, ruleSet: RuleSet = .westernElectric) {
        self.limits = limits
        rules =
            ruleSet == .westernElectric
            ? [.beyond3Sigma, .twoOfThreeBeyond2Sigma, .fourOfFiveBeyond1Sigma, .eightOnOneSide]
            : [
                .beyond3Sigma, .nineOnOneSide, .sixTrending, .fourteenAlternating, .twoOfThreeBeyond2Sigma,
                .fourOfFiveBeyond1Sigma, .fifteenWithin1Sigma, .eightBeyond1Sigma,
            ]
    }

    /// Adds a value; returns the rules the newest point completes.
    public mutating func add(_ value: Double) -> [Rule] {
        recent.append(value)
        if recent.count > 15 { recent.removeFirst() }
        let sigma = limits.sigma
        guard sigma > 0 else { return [] }
        // The z-scores in a buffer on the stack, and the tests read slices of it: an array per point and per test
        // (map, suffix, filter) were allocations on every charted reading of the pipeline.
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: recent.count) { buffer in
            for (i, x) in recent.enumerated() { buffer.initializeElement(at: i, to: (x - limits.center) / sigma) }
            let z = UnsafeBufferPointer(buffer)
            var hits: [Rule] = []
            for rule in rules {
                let hit: Bool
                switch rule {
                case .beyond3Sigma: hit = abs(z.last!) > 3
                case .twoOfThreeBeyond2Sigma: hit = Self.mOfN(z, m: 2, n: 3, beyond: 2)
                case .fourOfFiveBeyond1Sigma: hit = Self.mOfN(z, m: 4, n: 5, beyond: 1)
                case .eightOnOneSide: hit = Self.sameSide(z, 8)
                case .nineOnOneSide: hit = Self.sameSide(z, 9)
                case .sixTrending: hit = Self.trending(z, 6)
                case .fourteenAlternating: hit = Self.alternating(z, 14)
                case .fifteenWithin1Sigma: hit = z.count >= 15 && z.suffix(15).allSatisfy { abs($0) < 1 }
                case .eightBeyond1Sigma:
                    let w = z.suffix(8)
                    hit =
                        z.count >= 8 && w.allSatisfy { abs($0) > 1 } && w.contains { $0 > 0 } && w.contains { $0 < 0 }
                }
                if hit { hits.append(rule) }
            }
            return hits
        }
    }
}

extension RuleChecker {
    /// The newest point and at least m-1 others of the last n are beyond `beyond` sigma on the newest point's side.
    static func mOfN(_ z: UnsafeBufferPointer<Double>, m: Int, n: Int, beyond: Double) -> Bool {
        guard z.count >= n, let newest = z.last, abs(newest) > beyond else { return false }
        let side: Double = newest > 0 ? 1 : -1
        var beyondCount = 0
        for x in z.suffix(n) where x * side > beyond { beyondCount += 1 }
        return beyondCount >= m
    }

    static func sameSide(_ z: UnsafeBufferPointer<Double>, _ n: Int) -> Bool {
        guard z.count >= n else { return false }
        let w = z.suffix(n)
        return w.allSatisfy { $0 > 0 } || w.allSatisfy { $0 < 0 }
    }

    static func trending(_ z: UnsafeBufferPointer<Double>, _ n: Int) -> Bool {
        guard z.count >= n else { return false }
        let a = UnsafeBufferPointer(rebasing: z.suffix(n))
        var up = true
        var down = true
        for i in 1..<n {
            if a[i] <= a[i - 1] { up = false }
            if a[i] >= a[i - 1] { down = false }
        }
        return up || down
    }

    static func alternating(_ z: UnsafeBufferPointer<Double>, _ n: Int) -> Bool {
        guard z.count >= n else { return false }
        let a = UnsafeBufferPointer(rebasing: z.suffix(n))
        for i in 2..<n where (a[i] - a[i - 1]) * (a[i - 1] - a[i - 2]) >= 0 { return false }
        return true
    }
}

/// EWMA chart: z = lambda x + (1 - lambda) z, limits centre +- L sigma sqrt(lambda / (2 - lambda) (1 - (1 - lambda)^2t)).
public struct EWMAChart: Sendable, Codable {
    public let limits: ControlLimits
    public let lambda: Double
    public let width: Double
    public private(set) var value: Double
    public private(set) var count = 0

    public init(limits: ControlLimits, lambda: Double = 0.2, width: Double = 3) {
        precondition(lambda > 0 && lambda <= 1)
        self.limits = limits
        self.lambda = lambda
        self.width = width
        self.value = limits.center
    }

    /// Adds a value; true when the EWMA leaves its limits.
    public mutating func add(_ x: Double) -> Bool {
        count += 1
        value = lambda * x + (1 - lambda) * value
        return abs(value - limits.center) > halfWidth
    }

    public var halfWidth: Double {
        let decay = count >= 200 ? 0 : pow((1 - lambda) * (1 - lambda), Double(count))
        return width * limits.sigma * (lambda / (2 - lambda) * (1 - decay)).squareRoot()
    }
}

/// Tabular CUSUM with reference value k sigma and decision interval h sigma (defaults 0.5 and 5).
public struct CUSUMChart: Sendable, Codable {
    public let limits: ControlLimits
    public let k: Double
    public let h: Double
    public private(set) var upper = 0.0
    public private(set) var lower = 0.0

    public init(limits: ControlLimits, k: Double = 0.5, h: Double = 5) {
        self.limits = limits
        self.k = k
        self.h = h
    }

    /// Adds a value; true when either sum exceeds h sigma (the sums then restart).
    public mutating func add(_ x: Double) -> Bool {
        let s = limits.sigma
        upper = max(0, upper + x - (limits.center + k * s))
        lower = max(0, lower + (limits.center - k * s) - x)
        if upper > h * s || lower > h * s {
            upper = 0
            lower = 0
            return true
        }
        return false
    }
}
