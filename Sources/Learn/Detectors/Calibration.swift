import Foundation

/// How a detector's alarm limit was set, and how sure it is: kept in the model file and printed by
/// `millstream train --detector`.
///
/// Process data are autocorrelated: neighbouring rows are nearly the same sample, so rows held out at random (every
/// fourth) look like the rows the model was fitted on, and a limit set on them is far too tight for a new run (asked
/// for 1 %, 17-70 % on new normal data). The limit is therefore set on time-ordered folds: the rows are cut into
/// `folds` contiguous blocks, a model is fitted without each block and scores it, and the held-out statistics
/// are what a new stretch of operation looks like to a model that has not seen it. Where the held-out rows are too few
/// for a quantile of the asked rate (fewer than 20 expected exceedances), the limit is the quantile of a scaled
/// chi-square fitted to the held-out statistics by their mean and variance (Box, 1954), which extrapolates into the
/// tail instead of picking one of a handful of extreme rows.
public struct DetectorCalibration: Sendable, Codable, Equatable {
    public var rows: Int
    public var folds: Int
    /// Lag-1 autocorrelation of the held-out score, and the rows it is worth as independent samples:
    /// rows * (1 - r) / (1 + r).
    public var autocorrelation: Double
    public var effectiveRows: Double
    /// "quantile" (of the held-out statistics) or "box" (scaled chi-square fitted to them).
    public var method: String
    public var askedRate: Double
    /// The share of held-out rows above the final limit, overall and per fold (oldest first).
    public var heldOutRate: Double
    public var foldRates: [Double]
    /// A 95 % interval for the false-alarm rate on new normal data, from the spread of the folds' rates.
    public var interval: ClosedRange<Double>
    /// The smallest rate the held-out rows can calibrate by themselves (20 expected exceedances among the
    /// effective rows); below it the limit rests on the fitted distribution.
    public var smallestEmpiricalRate: Double

    /// The report `train --detector` prints.
    public func report(detector: String) -> String {
        func pct(_ x: Double) -> String { String(format: x < 0.1 ? "%.2f %%" : "%.1f %%", x * 100) }
        var lines = [
            "\(detector) calibration: \(rows) rows of normal operation, \(folds) time-ordered folds (each held out of the fit that scores it)",
            String(
                format: "  serial correlation of the score %.2f: the rows are worth about %.0f independent samples",
                autocorrelation, effectiveRows),
            "  smallest rate the held-out rows calibrate by themselves: \(pct(min(smallestEmpiricalRate, 1)))"
                + (method == "box"
                    ? "; below it (as now) the limit is a scaled chi-square fitted to the held-out statistics (Box)"
                    : "; the limit is the held-out statistics' quantile"),
            "  asked \(pct(askedRate)); held-out rows above the limit \(pct(heldOutRate)) (folds \(foldRates.map(pct).joined(separator: ", ")))",
            "  expected false-alarm rate on new normal data: \(pct(askedRate)), 95 % interval \(pct(interval.lowerBound))-\(pct(interval.upperBound))",
        ]
        if interval.upperBound > 3 * askedRate {
            lines.append(
                "  warning: the interval is wide; more normal operation (longer, from more than one run) would narrow it"
            )
        }
        return lines.joined(separator: "\n")
    }
}

/// Limits of one monitoring statistic from its held-out values.
enum HeldOutLimit {
    /// The value a new normal sample exceeds with probability `rate`: the held-out quantile where there are at least
    /// 20 expected exceedances among `effectiveRows`, else Box's scaled chi-square.
    static func limit(_ values: [Double], rate: Double, effectiveRows: Double) -> (value: Double, method: String) {
        if effectiveRows * rate >= 20 { return (quantile(values, 1 - rate), "quantile") }
        return (ScaledChiSquare(fittedTo: values).quantile(1 - rate), "box")
    }

    /// The value below which a share `p` of `values` lies (the next one up: conservative).
    static func quantile(_ values: [Double], _ p: Double) -> Double {
        let s = values.sorted()
        return s[min(s.count - 1, Int((p * Double(s.count - 1)).rounded(.up)))]
    }

    /// Lag-1 autocorrelation of a series (0 for a constant one).
    static func autocorrelation(_ x: [Double]) -> Double {
        guard x.count > 2 else { return 0 }
        let mean = x.reduce(0, +) / Double(x.count)
        var num = 0.0
        var den = 0.0
        for i in x.indices {
            let d = x[i] - mean
            den += d * d
            if i > 0 { num += d * (x[i - 1] - mean) }
        }
        return den > 0 ? min(max(num / den, -0.99), 0.999) : 0
    }

    /// Independent samples a series of `count` with lag-1 autocorrelation `r` is worth: count * (1 - r) / (1 + r).
    static func effectiveRows(_ count: Int, autocorrelation r: Double) -> Double {
        Double(count) * (1 - r) / (1 + r)
    }

    /// The calibration record for `rows` training rows: the folds' exceedance rates at the final limit and a t
    /// interval over them.
    static func calibration(
        rows: Int, folds: [[Double]], limit: Double, rate: Double, method: String, autocorrelation r: Double
    ) -> DetectorCalibration {
        let scored = folds.reduce(0) { $0 + $1.count }
        let effective = effectiveRows(scored, autocorrelation: r)
        let rates = folds.map { f in Double(f.filter { $0 > limit }.count) / Double(max(f.count, 1)) }
        let held = Double(folds.reduce(0) { $0 + $1.filter { $0 > limit }.count }) / Double(max(scored, 1))
        let k = Double(rates.count)
        let mean = rates.reduce(0, +) / k
        let sd = k > 1 ? (rates.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (k - 1)).squareRoot() : mean
        // Student's t at 97.5 % for k - 1 degrees of freedom (k = 2...10 folds).
        let t = [12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26][min(max(rates.count - 2, 0), 8)]
        let half = t * sd / k.squareRoot()
        return DetectorCalibration(
            rows: rows, folds: rates.count, autocorrelation: r, effectiveRows: effective, method: method,
            askedRate: rate, heldOutRate: held, foldRates: rates,
            interval: max(0, min(rate, mean) - half)...min(1, max(rate, mean) + half),
            smallestEmpiricalRate: 20 / max(effective, 1))
    }
}

/// g * chi-square(h) with the mean and variance of a sample (Box's approximation, as used for the Q statistic by
/// Nomikos and MacGregor): g = variance / (2 mean), h = 2 mean² / variance.
struct ScaledChiSquare {
    var g: Double
    var h: Double

    init(fittedTo values: [Double]) {
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(n - 1, 1)
        guard mean > 0, variance > 0 else {
            g = max(mean, 1e-12)
            h = 1
            return
        }
        g = variance / (2 * mean)
        h = 2 * mean * mean / variance
    }

    func quantile(_ p: Double) -> Double { g * Distributions.chiSquareQuantile(p, degreesOfFreedom: h) }
}

/// Quantiles of the normal and chi-square distributions (the detectors' limits, the optimizer's scenarios).
public enum Distributions {
    /// The standard normal quantile, by bisection on Foundation's erfc (to 1e-12; called a few times per fit).
    public static func normalQuantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "a quantile needs 0 < p < 1")
        var lo = -40.0
        var hi = 40.0
        for _ in 0..<100 {
            let mid = (lo + hi) / 2
            if 0.5 * erfc(-mid / 2.0.squareRoot()) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// The chi-square quantile for any positive degrees of freedom, by Wilson and Hilferty's cube-root normal
    /// approximation (relative error under 1 % above 2 degrees of freedom at the rates detectors use).
    public static func chiSquareQuantile(_ p: Double, degreesOfFreedom h: Double) -> Double {
        let z = normalQuantile(p)
        let c = 2 / (9 * h)
        return h * pow(max(1 - c + z * c.squareRoot(), 0), 3)
    }
}
