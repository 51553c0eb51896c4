import Foundation
import Primitives

/// What an anomaly detector says of one sample.
public struct AnomalyCheck: Sendable, Equatable {
    /// Larger is more unusual; an alarm above the detector's limit.
    public var score: Double
    public var alarm: Bool
    /// Each variable's share of the score, in the detector's variable order.
    public var contributions: [Double]
}

/// The detectors the pipeline and `millstream predict` can use: PCA and the autoencoder.
public protocol AnomalyDetector: Sendable {
    var variables: [String] { get }
    var limit: Double { get }
    /// Earlier samples a check reads besides the current one (dynamic PCA); 0 for a static detector.
    var lags: Int { get }
    /// How the limit was set (nil for files written before calibration on time-ordered folds).
    var calibration: DetectorCalibration? { get }
    /// `x`: the current sample followed by the `lags` previous ones, each in `variables` order.
    func check(_ x: [Double]) -> AnomalyCheck
}

extension AnomalyDetector {
    /// Row t of `rows` (time order) with its `lags` predecessors; the first rows of a series repeat the earliest.
    public func sample(_ rows: [[Double]], at t: Int) -> [Double] {
        lags == 0 ? rows[t] : (0...lags).flatMap { rows[max(t - $0, 0)] }
    }

    /// Checks every row of a series in time order.
    public func checkSeries(_ rows: [[Double]]) -> [AnomalyCheck] { rows.indices.map { check(sample(rows, at: $0)) } }
}

extension PCADetector: AnomalyDetector {
    public func check(_ x: [Double]) -> AnomalyCheck {
        let r = evaluate(x)
        return AnomalyCheck(score: r.score, alarm: r.alarm, contributions: r.contributions)
    }
}

/// Normal-operation data as both detectors take it: checked, standardised, lagged and cut into time-ordered folds.
enum NormalOperation {
    static func check(
        detector: String, variables: [String], rows: [[Double]], falseAlarmRate: Double, minimumRows: Int
    ) throws {
        let d = variables.count
        guard d >= 2 else { throw LearnError("a \(detector) detector needs at least 2 variables, got \(d)") }
        guard rows.count >= minimumRows else {
            throw LearnError(
                "a \(detector) detector on \(d) variables needs at least \(minimumRows) rows of normal operation, got \(rows.count)"
            )
        }
        guard falseAlarmRate > 0 && falseAlarmRate < 0.5 else {
            throw LearnError("false-alarm rate must be above 0 and below 0.5, got \(falseAlarmRate)")
        }
        if let bad = rows.firstIndex(where: { $0.count != d || !$0.allSatisfy(\.isFinite) }) {
            throw LearnError("every row needs \(d) finite values; row \(bad + 1) has \(rows[bad])")
        }
    }

    /// The rows standardised by their columns' means and standard deviations (a constant column gets scale 1).
    static func standardised(_ rows: [[Double]]) -> (z: [[Double]], means: [Double], scales: [Double]) {
        let d = rows.first?.count ?? 0
        let n = Double(rows.count)
        let means = (0..<d).map { j in rows.reduce(0) { $0 + $1[j] } / n }
        let scales = (0..<d).map { j -> Double in
            let v = rows.reduce(0) { $0 + ($1[j] - means[j]) * ($1[j] - means[j]) } / max(n - 1, 1)
            return v > 1e-24 ? v.squareRoot() : 1
        }
        return (rows.map { row in (0..<d).map { (row[$0] - means[$0]) / scales[$0] } }, means, scales)
    }

    /// Row t of the result is rows[t + lags] followed by the `lags` rows before it.
    static func lagged(_ rows: [[Double]], lags: Int) -> [[Double]] {
        guard lags > 0 else { return rows }
        return (lags..<max(rows.count, lags)).map { t in (0...lags).flatMap { rows[t - $0] } }
    }

    /// How far apart two rows must be to be nearly independent: the first lag at which the variables' mean
    /// autocorrelation reaches zero (at most `maximum`). Rows this close to a held-out block are left out of the
    /// fit that scores it (h-block cross-validation), so the block is as new to the fit as a later run is.
    static func decorrelationLag(_ rows: [[Double]], maximum: Int) -> Int {
        guard let d = rows.first?.count, maximum >= 1, rows.count > 2 * maximum else { return 0 }
        let z = standardised(rows).z
        let n = Double(rows.count)
        for lag in 1...maximum {
            var sum = 0.0
            for t in lag..<z.count { for j in 0..<d { sum += z[t][j] * z[t - lag][j] } }
            if sum / (n - 1) / Double(d) <= 0 { return lag }
        }
        return maximum
    }

    /// `folds` contiguous blocks of the rows that have `lags` rows before them (time order, the last block takes the
    /// remainder).
    static func blocks(_ rows: Int, folds: Int, lags: Int) -> [Range<Int>] {
        let usable = rows - lags
        return (0..<folds).map { k in (lags + k * usable / folds)..<(lags + (k + 1) * usable / folds) }
    }
}

/// An autoencoder trained on normal operation: the standardised variables pass through a bottleneck and back, and
/// the reconstruction error (mean squared, in standard deviations) is the score. Normal data are rebuilt well; a
/// sample off the learned structure is not, and the variables rebuilt worst are the ones to look at. Nonlinear where
/// PCA is linear.
///
/// Small data: the network's size follows the rows (bottleneck and hidden width shrink with fewer rows), AdamW's
/// weight decay keeps the weights small, and early stopping watches the last fifth of the rows in time order (a
/// random fifth would sit between training rows of an autocorrelated process and stop too late). The limit is set
/// on time-ordered held-out folds (`DetectorCalibration`; without PCA's h-block gap, as the fold networks already err
/// cautious), and the calibration says how sure it is.
///
/// Trained with Learn's layers, then kept as plain weights (in model.json, like the PCA detector's parameters): the
/// forward pass is a few small matrix products per sample.
public struct AutoencoderDetector: AnomalyDetector, Codable, Equatable {
    public var variables: [String]
    public var means: [Double]
    public var scales: [Double]
    /// Per layer: weights (inputs x units, row-major), biases, activation.
    public var weights: [[Double]]
    public var biases: [[Double]]
    public var activations: [Activation]
    public var limit: Double
    public var falseAlarmRate: Double
    public var calibration: DetectorCalibration?
    public var lags: Int { 0 }

    /// Fits on normal operation (rows are samples in time order, columns follow `variables`). `folds` networks, each
    /// trained without one time-ordered block, score their blocks to set the limit; the detector is trained on all
    /// rows.
    public static func fit(
        variables: [String], rows: [[Double]], falseAlarmRate: Double = 0.01, epochs: Int = 200, seed: UInt64 = 0,
        folds: Int = 5
    ) throws -> AutoencoderDetector {
        let d = variables.count
        try NormalOperation.check(
            detector: "autoencoder", variables: variables, rows: rows, falseAlarmRate: falseAlarmRate,
            minimumRows: 4 * d + 60)
        guard folds >= 2 && rows.count / folds >= 20 else {
            throw LearnError("\(folds) folds of \(rows.count) rows leave fewer than 20 rows per fold")
        }
        var detector = try network(variables: variables, rows: rows, epochs: epochs, seed: seed)
        detector.falseAlarmRate = falseAlarmRate
        var errors: [[Double]] = []
        for block in NormalOperation.blocks(rows.count, folds: folds, lags: 0) {
            let fold = try network(
                variables: variables, rows: Array(rows[..<block.lowerBound]) + Array(rows[block.upperBound...]),
                epochs: epochs, seed: seed &+ UInt64(block.lowerBound))
            errors.append(rows[block].map { fold.check($0).score })
        }
        let all = errors.flatMap { $0 }
        let r = HeldOutLimit.autocorrelation(all)
        let limit = HeldOutLimit.limit(
            all, rate: falseAlarmRate, effectiveRows: HeldOutLimit.effectiveRows(all.count, autocorrelation: r))
        detector.limit = limit.value
        detector.calibration = HeldOutLimit.calibration(
            rows: rows.count, folds: errors, limit: limit.value, rate: falseAlarmRate, method: limit.method,
            autocorrelation: r)
        return detector
    }

    /// One network on `rows`: d -> hidden -> bottleneck -> hidden -> d, sized by the rows available.
    static func network(variables: [String], rows: [[Double]], epochs: Int, seed: UInt64) throws
        -> AutoencoderDetector
    {
        let d = variables.count
        let (standardised, means, scales) = NormalOperation.standardised(rows)
        let z = Tensor(standardised.map { $0.map(Float.init) })
        // The bottleneck forces the network to learn the variables' structure; with few rows it must be small.
        let hidden = max(4, min(max(8, d), rows.count / 25))
        let bottleneck = max(1, min(max(2, d / 4), rows.count / 150))
        let network = try Sequential(
            [
                Dense(hidden, activation: .tanh), Dense(bottleneck, activation: .linear),
                Dense(hidden, activation: .tanh),
                Dense(d, activation: .linear),
            ], inputSize: d, seed: seed)
        try network.fit(
            x: z, y: z, loss: MeanSquaredError(),
            optimizer: AdamW(learningRate: Constant(0.01), weightDecay: rows.count < 2000 ? 0.01 : 0.001),
            options: FitOptions(
                epochs: epochs, batchSize: 32, validationSplit: 0.2, seed: seed,
                earlyStopping: EarlyStopping(monitor: "val_loss", patience: 15)))
        var weights: [[Double]] = []
        var biases: [[Double]] = []
        var activations: [Activation] = []
        for layer in network.layers {
            guard let dense = layer as? Dense else { continue }
            weights.append(dense.kernel.value.map(Double.init))
            biases.append(dense.bias?.value.map(Double.init) ?? [Double](repeating: 0, count: dense.units))
            activations.append(dense.activation)
        }
        return AutoencoderDetector(
            variables: variables, means: means, scales: scales, weights: weights, biases: biases,
            activations: activations, limit: 0, falseAlarmRate: 0)
    }

    /// The reconstruction of a standardised sample.
    func reconstruct(_ z: [Double]) -> [Double] {
        var x = z
        for l in weights.indices {
            let inputs = x.count
            let units = biases[l].count
            var y = biases[l]
            for i in 0..<inputs where x[i] != 0 {
                let xi = x[i]
                let row = i * units
                for j in 0..<units { y[j] += xi * weights[l][row + j] }
            }
            switch activations[l] {
            case .tanh: for j in 0..<units { y[j] = Foundation.tanh(y[j]) }
            case .relu: for j in 0..<units { y[j] = max(0, y[j]) }
            default: break
            }
            x = y
        }
        return x
    }

    public func check(_ x: [Double]) -> AnomalyCheck {
        let d = variables.count
        let z = (0..<d).map { (x[$0] - means[$0]) / scales[$0] }
        let r = reconstruct(z)
        let squared = (0..<d).map { (z[$0] - r[$0]) * (z[$0] - r[$0]) }
        let total = squared.reduce(0, +)
        let score = total / Double(d)
        return AnomalyCheck(
            score: score, alarm: score > limit, contributions: squared.map { total > 0 ? $0 / total : 0 })
    }
}

extension AutoencoderDetector: Predictor {
    /// Columns as the PCA detector's: score, T² (none: NaN), reconstruction error, alarm (0 or 1), top variable.
    public func predictBatch(_ x: Tensor) throws -> Tensor {
        guard x.columns == variables.count else {
            throw LearnError("the detector takes \(variables.count) variables per row, got \(x.columns)")
        }
        var out = Tensor(rows: x.rows, columns: 5)
        for r in 0..<x.rows {
            let c = check(x.row(r).map(Double.init))
            let top = c.contributions.indices.max { c.contributions[$0] < c.contributions[$1] } ?? 0
            for (k, v) in [c.score, .nan, c.score, c.alarm ? 1 : 0, Double(top)].enumerated() { out[r, k] = Float(v) }
        }
        return out
    }
}
