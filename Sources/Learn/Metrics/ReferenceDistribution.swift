import Foundation

/// A training column's distribution, kept in the model file, so live data can be checked for drift against it:
/// the population stability index over its deciles and the two-sample Kolmogorov-Smirnov statistic over a sample.
public struct ReferenceDistribution: Sendable, Codable, Equatable {
    /// Inner bin edges (deciles of the training values; fewer when values repeat).
    public var edges: [Double]
    /// Share of training values in each bin (edges.count + 1 bins).
    public var proportions: [Double]
    /// Evenly spaced quantiles of the training values (at most 1,000), sorted: the reference side of the KS test.
    public var sample: [Double]
    /// How many values the reference was made from.
    public var count: Int

    /// Makes the reference of `values` (non-finite values are left out).
    public init(_ values: [Double]) {
        let sorted = values.filter(\.isFinite).sorted()
        count = sorted.count
        guard !sorted.isEmpty else {
            edges = []
            proportions = [1]
            sample = []
            return
        }
        func quantile(_ q: Double) -> Double {
            sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
        }
        var e: [Double] = []
        for k in 1..<10 {
            // The (k n / 10)-th smallest value: a tenth of distinct values lies below each edge.
            let v = sorted[min(sorted.count - 1, k * sorted.count / 10)]
            if e.last.map({ v > $0 }) ?? (v > sorted[0]) { e.append(v) }
        }
        edges = e
        proportions = Self.shares(sorted, edges: e)
        let n = min(1_000, sorted.count)
        sample = (0..<n).map { quantile(n == 1 ? 0.5 : Double($0) / Double(n - 1)) }
    }

    /// Share of `values` per bin: bin i holds values below edges[i] and at or above edges[i-1].
    static func shares(_ values: [Double], edges: [Double]) -> [Double] {
        var counts = [Int](repeating: 0, count: edges.count + 1)
        for v in values {
            var lo = 0, hi = edges.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if v < edges[mid] { hi = mid } else { lo = mid + 1 }
            }
            counts[lo] += 1
        }
        let total = Double(max(1, values.count))
        return counts.map { Double($0) / total }
    }

    /// Population stability index of `live` against the reference: sum over bins of (live - ref) x ln(live / ref),
    /// with empty bins floored at 0.0001. Rule of thumb: below 0.1 stable, 0.1 to 0.25 moderate, above 0.25 shifted.
    public func psi(_ live: [Double]) -> Double? {
        let values = live.filter(\.isFinite)
        guard !values.isEmpty, count > 0 else { return nil }
        let current = Self.shares(values, edges: edges)
        var sum = 0.0
        for (r, c) in zip(proportions, current) {
            let a = max(r, 1e-4), b = max(c, 1e-4)
            sum += (b - a) * log(b / a)
        }
        return sum
    }

    /// Two-sample Kolmogorov-Smirnov: the largest gap between the two empirical distribution functions, and its
    /// asymptotic p-value (with the reference's full size as its sample size).
    public func ks(_ live: [Double]) -> (statistic: Double, pValue: Double)? {
        let b = live.filter(\.isFinite).sorted()
        let a = sample
        guard !a.isEmpty, !b.isEmpty else { return nil }
        var i = 0, j = 0
        var d = 0.0
        while i < a.count && j < b.count {
            let x = min(a[i], b[j])
            while i < a.count && a[i] <= x { i += 1 }
            while j < b.count && b[j] <= x { j += 1 }
            d = max(d, abs(Double(i) / Double(a.count) - Double(j) / Double(b.count)))
        }
        let n = Double(count), m = Double(b.count)
        let en = (n * m / (n + m)).squareRoot()
        let lambda = (en + 0.12 + 0.11 / en) * d
        // Kolmogorov's distribution: Q(lambda) = 2 sum (-1)^(k-1) exp(-2 k^2 lambda^2).
        var p = 0.0
        for k in 1...100 {
            let term = 2 * (k % 2 == 1 ? 1.0 : -1.0) * exp(-2 * Double(k * k) * lambda * lambda)
            p += term
            if abs(term) < 1e-10 { break }
        }
        return (d, min(1, max(0, lambda < 1e-3 ? 1 : p)))
    }
}
