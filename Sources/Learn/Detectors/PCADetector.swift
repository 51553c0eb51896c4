import Primitives

/// Multivariate anomaly detection for processes without failure labels: principal component analysis of normal
/// operation, Hotelling's T² (unusual within the normal correlation structure) and Q / SPE (breaks the structure).
///
/// Both statistics are scaled by their quantile on calibration data and combined as the larger of the two; the alarm
/// limit is the combined score's (1 - false-alarm rate) quantile on that calibration data, so the false-alarm rate on
/// new normal data is the one asked for, without assuming normal distributions.
public struct PCADetector: Sendable, Codable, Equatable {
    public var variables: [String]
    public var means: [Double]
    public var scales: [Double]
    /// Retained loadings, one row of `variables.count` per component.
    public var components: [[Double]]
    public var eigenvalues: [Double]
    public var t2Scale: Double
    public var qScale: Double
    public var limit: Double
    public var falseAlarmRate: Double

    public struct Result: Sendable, Equatable {
        public var t2: Double
        public var q: Double
        /// max(T² / T²-scale, Q / Q-scale); an alarm when above `limit`.
        public var score: Double
        public var alarm: Bool
        /// Each variable's share of the squared residual (Q) and of T², in `variables` order.
        public var contributions: [Double]
    }

    /// Fits on normal operation. Rows are samples; columns follow `variables`. A quarter of the rows (every fourth)
    /// calibrates the limits; the model is fitted on the rest.
    public static func fit(
        variables: [String], rows: [[Double]], falseAlarmRate: Double = 0.01, varianceToKeep: Double = 0.95
    ) throws -> PCADetector {
        let d = variables.count
        let data = try NormalOperation(
            detector: "PCA", variables: variables, rows: rows, falseAlarmRate: falseAlarmRate, minimumRows: 8 * d + 40)
        let (fitRows, calibration, means, scales) = (data.fitRows, data.calibration, data.means, data.scales)
        let n = Double(fitRows.count)
        var covariance = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for row in fitRows {
            let z = (0..<d).map { (row[$0] - means[$0]) / scales[$0] }
            for i in 0..<d { for j in i..<d { covariance[i][j] += z[i] * z[j] } }
        }
        for i in 0..<d { for j in i..<d { covariance[i][j] /= n - 1; covariance[j][i] = covariance[i][j] } }
        let (values, vectors) = SymmetricEigen.decompose(covariance)
        let total = values.reduce(0) { $0 + max($1, 0) }
        var keep = 0
        var explained = 0.0
        while keep < d - 1 && explained < varianceToKeep * total {
            explained += max(values[keep], 0)
            keep += 1
        }
        keep = max(1, keep)
        var detector = PCADetector(
            variables: variables, means: means, scales: scales, components: Array(vectors.prefix(keep)),
            eigenvalues: Array(values.prefix(keep)).map { max($0, 1e-12) }, t2Scale: 1, qScale: 1, limit: 1,
            falseAlarmRate: falseAlarmRate)
        let raw = calibration.map { detector.statistics($0) }
        let quantile = NormalOperation.quantile
        detector.t2Scale = max(quantile(raw.map(\.t2), 1 - falseAlarmRate), 1e-12)
        detector.qScale = max(quantile(raw.map(\.q), 1 - falseAlarmRate), 1e-12)
        detector.limit = quantile(raw.map { max($0.t2 / detector.t2Scale, $0.q / detector.qScale) }, 1 - falseAlarmRate)
        return detector
    }

    func statistics(_ x: [Double]) -> (t2: Double, q: Double, contributions: [Double]) {
        let d = variables.count
        let z = (0..<d).map { (x[$0] - means[$0]) / scales[$0] }
        var reconstructed = [Double](repeating: 0, count: d)
        var t2 = 0.0
        var t2Parts = [Double](repeating: 0, count: d)
        for (a, p) in components.enumerated() {
            var score = 0.0
            for j in 0..<d { score += p[j] * z[j] }
            t2 += score * score / eigenvalues[a]
            for j in 0..<d {
                reconstructed[j] += score * p[j]
                t2Parts[j] += score / eigenvalues[a] * p[j] * z[j]
            }
        }
        var q = 0.0
        var parts = [Double](repeating: 0, count: d)
        for j in 0..<d {
            let r = z[j] - reconstructed[j]
            q += r * r
            parts[j] = r * r
        }
        // Contributions: Q's squared residuals plus T²'s (positive) shares, as fractions.
        let combined = (0..<d).map { parts[$0] / max(q, 1e-12) + max(t2Parts[$0], 0) / max(t2, 1e-12) }
        let sum = combined.reduce(0, +)
        return (t2, q, combined.map { sum > 0 ? $0 / sum : 0 })
    }

    /// Scores one sample (values in `variables` order).
    public func evaluate(_ x: [Double]) -> Result {
        let s = statistics(x)
        let score = max(s.t2 / t2Scale, s.q / qScale)
        return Result(t2: s.t2, q: s.q, score: score, alarm: score > limit, contributions: s.contributions)
    }
}

/// Eigenvalues and eigenvectors of a symmetric matrix by cyclic Jacobi rotations (exact enough for up to a few
/// hundred variables); eigenvalues descending, vectors as rows.
enum SymmetricEigen {
    static func decompose(_ matrix: [[Double]]) -> ([Double], [[Double]]) {
        let n = matrix.count
        var a = matrix
        var v = (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
        for _ in 0..<100 {
            var off = 0.0
            for i in 0..<n { for j in (i + 1)..<n { off += a[i][j] * a[i][j] } }
            if off < 1e-22 { break }
            for p in 0..<n {
                for q in (p + 1)..<n where abs(a[p][q]) > 1e-300 {
                    let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot()
                    let s = t * c
                    for k in 0..<n {
                        let akp = a[k][p], akq = a[k][q]
                        a[k][p] = c * akp - s * akq
                        a[k][q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p][k], aqk = a[q][k]
                        a[p][k] = c * apk - s * aqk
                        a[q][k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k][p], vkq = v[k][q]
                        v[k][p] = c * vkp - s * vkq
                        v[k][q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0][$0] > a[$1][$1] }
        return (order.map { a[$0][$0] }, order.map { col in (0..<n).map { v[$0][col] } })
    }
}
