import Primitives

/// Multivariate anomaly detection for processes without failure labels: principal component analysis of normal
/// operation, Hotelling's T² (unusual within the normal correlation structure) and Q / SPE (breaks the structure).
///
/// **Dynamic PCA.** With `lags` > 0 each sample is the current reading followed by the `lags` previous ones (Ku,
/// Storer and Georgakis, 1995), so the model also learns how the variables move from one sample to the next, and a
/// slow fault that breaks those dynamics shows in Q. The lag is chosen from the data (`chooseLags`).
///
/// **Limits.** Each statistic's limit is set on time-ordered held-out folds (see `DetectorCalibration`) at the rate
/// 1 - sqrt(1 - asked), so that either of the two (nearly independent, orthogonal subspaces) alarms at the asked rate.
/// The score is max(T² / T²-limit, Q / Q-limit): an alarm above 1.
///
/// **Contributions** are reconstruction-based (Alcala and Qin, 2009) on the combined index: a variable's share is how
/// much the score falls when the sample is reconstructed along that variable, so a faulty sensor is named even when
/// its error smears over correlated ones (the plain squared-residual contribution blames its neighbours too).
public struct PCADetector: Sendable, Codable, Equatable {
    public var variables: [String]
    /// The original variables' means and standard deviations (of all training rows).
    public var means: [Double]
    public var scales: [Double]
    /// Previous samples in each model row (dynamic PCA); 0 for a static model.
    public var lags: Int
    /// Retained loadings, one row of `variables.count * (lags + 1)` per component (current sample first).
    public var components: [[Double]]
    public var eigenvalues: [Double]
    /// The T² and Q limits (a statistic at its limit scores 1).
    public var t2Scale: Double
    public var qScale: Double
    /// The alarm limit on the score (1 for detectors calibrated on folds).
    public var limit: Double
    public var falseAlarmRate: Double
    public var calibration: DetectorCalibration?

    public struct Result: Sendable, Equatable {
        public var t2: Double
        public var q: Double
        /// max(T² / T²-limit, Q / Q-limit); an alarm when above `limit`.
        public var score: Double
        public var alarm: Bool
        /// Each variable's reconstruction-based share of the score, in `variables` order (lags summed).
        public var contributions: [Double]
    }

    enum CodingKeys: String, CodingKey {
        case variables, means, scales, lags, components, eigenvalues, t2Scale, qScale, limit, falseAlarmRate
        case calibration
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        variables = try c.decode([String].self, forKey: .variables)
        means = try c.decode([Double].self, forKey: .means)
        scales = try c.decode([Double].self, forKey: .scales)
        lags = try c.decodeIfPresent(Int.self, forKey: .lags) ?? 0  // files written before dynamic PCA
        components = try c.decode([[Double]].self, forKey: .components)
        eigenvalues = try c.decode([Double].self, forKey: .eigenvalues)
        t2Scale = try c.decode(Double.self, forKey: .t2Scale)
        qScale = try c.decode(Double.self, forKey: .qScale)
        limit = try c.decode(Double.self, forKey: .limit)
        falseAlarmRate = try c.decode(Double.self, forKey: .falseAlarmRate)
        calibration = try c.decodeIfPresent(DetectorCalibration.self, forKey: .calibration)
    }

    init(
        variables: [String], means: [Double], scales: [Double], lags: Int, components: [[Double]],
        eigenvalues: [Double], falseAlarmRate: Double
    ) {
        self.variables = variables
        self.means = means
        self.scales = scales
        self.lags = lags
        self.components = components
        self.eigenvalues = eigenvalues
        self.t2Scale = 1
        self.qScale = 1
        self.limit = 1
        self.falseAlarmRate = falseAlarmRate
    }

    /// Fits on normal operation. Rows are samples in time order; columns follow `variables`. `lags`: nil chooses
    /// them from the data, 0 is static PCA. `folds` time-ordered blocks calibrate the limits.
    public static func fit(
        variables: [String], rows: [[Double]], falseAlarmRate: Double = 0.01, varianceToKeep: Double = 0.95,
        lags: Int? = 0, folds: Int = 5
    ) throws -> PCADetector {
        let d = variables.count
        try NormalOperation.check(
            detector: "PCA", variables: variables, rows: rows, falseAlarmRate: falseAlarmRate,
            minimumRows: 2 * d + 40)
        guard folds >= 2 else { throw LearnError("calibration needs at least 2 folds, got \(folds)") }
        let lags = lags ?? chooseLags(rows)
        guard lags >= 0 && lags <= 10 else { throw LearnError("lags must be 0 to 10, got \(lags)") }
        guard rows.count - lags >= max(2 * d * (lags + 1), 20 * folds) else {
            throw LearnError(
                "dynamic PCA with \(lags) lags on \(d) variables needs at least \(max(2 * d * (lags + 1), 20 * folds) + lags) rows, got \(rows.count); use fewer lags"
            )
        }
        var detector = try model(
            variables: variables, rows: rows, lags: lags, falseAlarmRate: falseAlarmRate,
            keep: .variance(varianceToKeep))
        // Held-out statistics: a model of the same size fitted without each time-ordered block scores the block.
        var t2: [[Double]] = []
        var q: [[Double]] = []
        // Rows within the decorrelation lag of a block stay out of the fit that scores it (h-block): without this
        // gap the held-out block resembles its neighbours and the limits come out too tight for a new run.
        let gap = NormalOperation.decorrelationLag(rows, maximum: rows.count / (2 * folds))
        let blocks = NormalOperation.blocks(rows.count, folds: folds, lags: lags)
        for block in blocks {
            let before = max(0, block.lowerBound - gap)
            let train = Array(rows[..<before]) + Array(rows[min(rows.count, block.upperBound + gap)...])
            let fold = try model(
                variables: variables, rows: train, lags: lags, falseAlarmRate: falseAlarmRate,
                keep: .count(detector.components.count), skipping: before)
            let scored = NormalOperation.lagged(Array(rows[(block.lowerBound - lags)..<block.upperBound]), lags: lags)
            let s = scored.map { fold.statistics($0) }
            t2.append(s.map(\.t2))
            q.append(s.map(\.q))
        }
        let each = 1 - (1 - falseAlarmRate).squareRoot()
        let allT2 = t2.flatMap { $0 }
        let allQ = q.flatMap { $0 }
        let r = max(HeldOutLimit.autocorrelation(allT2), HeldOutLimit.autocorrelation(allQ))
        let effective = HeldOutLimit.effectiveRows(allT2.count, autocorrelation: r)
        let t2Limit = HeldOutLimit.limit(allT2, rate: each, effectiveRows: effective)
        let qLimit = HeldOutLimit.limit(allQ, rate: each, effectiveRows: effective)
        detector.t2Scale = max(t2Limit.value, 1e-12)
        detector.qScale = max(qLimit.value, 1e-12)
        let scores = zip(t2, q).map { a, b in zip(a, b).map { max($0 / detector.t2Scale, $1 / detector.qScale) } }
        detector.calibration = HeldOutLimit.calibration(
            rows: rows.count, folds: scores, limit: 1, rate: falseAlarmRate,
            method: t2Limit.method == "box" || qLimit.method == "box" ? "box" : "quantile", autocorrelation: r)
        return detector
    }

    enum Size {
        case variance(Double)
        case count(Int)
    }

    /// PCA of the standardised (and lagged) rows. `skipping`: where a held-out block was cut out of `rows`, so that
    /// no lagged row spans the cut.
    static func model(
        variables: [String], rows: [[Double]], lags: Int, falseAlarmRate: Double, keep: Size, skipping cut: Int? = nil
    ) throws -> PCADetector {
        let d = variables.count
        let (z, means, scales) = NormalOperation.standardised(rows)
        var lagged = NormalOperation.lagged(z, lags: lags)
        if let cut, lags > 0, cut >= lags, cut - lags < lagged.count {
            // The lagged rows of the `lags` samples after the gap would reach back across it.
            lagged.removeSubrange((cut - lags)..<min(cut, lagged.count))
        }
        let width = d * (lags + 1)
        let n = Double(lagged.count)
        var covariance = [[Double]](repeating: [Double](repeating: 0, count: width), count: width)
        for row in lagged {
            for i in 0..<width where row[i] != 0 {
                let a = row[i]
                for j in i..<width { covariance[i][j] += a * row[j] }
            }
        }
        for i in 0..<width {
            for j in i..<width {
                covariance[i][j] /= n - 1
                covariance[j][i] = covariance[i][j]
            }
        }
        let (values, vectors) = SymmetricEigen.decompose(covariance)
        let count: Int
        switch keep {
        case .count(let k): count = k
        case .variance(let share):
            let total = values.reduce(0) { $0 + max($1, 0) }
            var k = 0
            var explained = 0.0
            while k < width - 1 && explained < share * total {
                explained += max(values[k], 0)
                k += 1
            }
            count = max(1, k)
        }
        return PCADetector(
            variables: variables, means: means, scales: scales, lags: lags, components: Array(vectors.prefix(count)),
            eigenvalues: Array(values.prefix(count)).map { max($0, 1e-12) }, falseAlarmRate: falseAlarmRate)
    }

    /// The lag order of the data: the largest k <= 3 at which most variables' partial autocorrelation is still
    /// significant (median |PACF(k)| above 2 / sqrt(n)): an AR(p) process needs p lags.
    public static func chooseLags(_ rows: [[Double]], maximum: Int = 3) -> Int {
        guard let d = rows.first?.count, rows.count > 10 * (maximum + 1) else { return 0 }
        let bound = 2 / Double(rows.count).squareRoot()
        let pacf = (0..<d).map { j in partialAutocorrelation(rows.map { $0[j] }, maximum) }
        return (1...maximum).last { k in
            let median = pacf.map { abs($0[k]) }.sorted()[d / 2]
            return median > bound && median > 0.1
        } ?? 0
    }

    /// Partial autocorrelations 0...maximum (Durbin-Levinson on the sample autocorrelations).
    static func partialAutocorrelation(_ x: [Double], _ maximum: Int) -> [Double] {
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        let c0 = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        guard c0 > 0 else { return [Double](repeating: 0, count: maximum + 1) }
        let r = (0...maximum).map { k in
            (k..<x.count).reduce(0.0) { $0 + (x[$1] - mean) * (x[$1 - k] - mean) } / c0
        }
        var pacf = [1.0]
        var phi: [Double] = []
        for k in 1...maximum {
            var num = r[k]
            var den = 1.0
            for j in 0..<phi.count {
                num -= phi[j] * r[k - 1 - j]
                den -= phi[j] * r[j + 1]
            }
            let a = den != 0 ? num / den : 0
            phi = (0..<phi.count).map { phi[$0] - a * phi[phi.count - 1 - $0] } + [a]
            pacf.append(a)
        }
        return pacf
    }

    /// T², Q and the standardised, lagged sample; `x` is the current sample followed by the `lags` previous ones.
    func statistics(_ x: [Double]) -> (t2: Double, q: Double, z: [Double], scores: [Double]) {
        let d = variables.count
        let width = components.first?.count ?? d
        precondition(
            x.count == width, "the detector takes \(width) values (\(lags) lags of \(d) variables), got \(x.count)")
        var z = [Double](repeating: 0, count: width)
        for i in 0..<width { z[i] = (x[i] - means[i % d]) / scales[i % d] }
        var t2 = 0.0
        var q = z.reduce(0) { $0 + $1 * $1 }
        var scores = [Double](repeating: 0, count: components.count)
        for (a, p) in components.enumerated() {
            var s = 0.0
            for j in 0..<width { s += p[j] * z[j] }
            scores[a] = s
            t2 += s * s / eigenvalues[a]
            q -= s * s  // orthonormal loadings: the residual's squared length is |z|² - |scores|²
        }
        return (t2, max(q, 0), z, scores)
    }

    /// Scores one sample: `x` holds the current sample and then the `lags` previous ones (each in `variables` order).
    public func evaluate(_ x: [Double]) -> Result {
        let s = statistics(x)
        let score = max(s.t2 / t2Scale, s.q / qScale)
        return Result(t2: s.t2, q: s.q, score: score, alarm: score > limit, contributions: contributions(s.z, s.scores))
    }

    /// Reconstruction-based contributions to the combined index phi = P Λ⁻¹ Pᵀ / T²-limit + (I - P Pᵀ) / Q-limit:
    /// (phi z)_i² / phi_ii per model column, summed over a variable's lags and normalised to shares.
    func contributions(_ z: [Double], _ scores: [Double]) -> [Double] {
        let d = variables.count
        let width = z.count
        var phiZ = z.map { $0 / qScale }
        var diagonal = [Double](repeating: 1 / qScale, count: width)
        for (a, p) in components.enumerated() {
            let w = 1 / (eigenvalues[a] * t2Scale) - 1 / qScale
            for j in 0..<width {
                phiZ[j] += w * scores[a] * p[j]
                diagonal[j] += w * p[j] * p[j]
            }
        }
        var shares = [Double](repeating: 0, count: d)
        for j in 0..<width where diagonal[j] > 1e-12 { shares[j % d] += phiZ[j] * phiZ[j] / diagonal[j] }
        let sum = shares.reduce(0, +)
        return shares.map { sum > 0 ? $0 / sum : 0 }
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
