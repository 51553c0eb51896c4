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
    func check(_ x: [Double]) -> AnomalyCheck
}

extension PCADetector: AnomalyDetector {
    public func check(_ x: [Double]) -> AnomalyCheck {
        let r = evaluate(x)
        return AnomalyCheck(score: r.score, alarm: r.alarm, contributions: r.contributions)
    }
}

/// Normal-operation data as both detectors take it: checked, split (every fourth row calibrates the limit, the rest
/// trains), and standardised by the training rows' means and standard deviations.
struct NormalOperation {
    var fitRows: [[Double]]
    var calibration: [[Double]]
    var means: [Double]
    var scales: [Double]

    init(detector: String, variables: [String], rows: [[Double]], falseAlarmRate: Double, minimumRows: Int) throws {
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
        guard rows.allSatisfy({ $0.count == d && $0.allSatisfy(\.isFinite) }) else {
            throw LearnError("every row needs \(d) finite values")
        }
        let fit = rows.enumerated().filter { $0.offset % 4 != 3 }.map(\.element)
        let n = Double(fit.count)
        let means = (0..<d).map { j in fit.reduce(0) { $0 + $1[j] } / n }
        fitRows = fit
        calibration = rows.enumerated().filter { $0.offset % 4 == 3 }.map(\.element)
        self.means = means
        scales = (0..<d).map { j -> Double in
            let v = fit.reduce(0) { $0 + ($1[j] - means[j]) * ($1[j] - means[j]) } / (n - 1)
            return v > 0 ? v.squareRoot() : 1
        }
    }

    /// The value below which a share `p` of `values` lies (the next one up: conservative).
    static func quantile(_ values: [Double], _ p: Double) -> Double {
        let s = values.sorted()
        return s[min(s.count - 1, Int((p * Double(s.count - 1)).rounded(.up)))]
    }
}

/// An autoencoder trained on normal operation: the standardised variables pass through a bottleneck and back, and
/// the reconstruction error (mean squared, in standard deviations) is the score. Normal data are rebuilt well; a
/// sample off the learned structure is not, and the variables rebuilt worst are the ones to look at. Nonlinear where
/// PCA is linear. The limit is the error's (1 - false-alarm rate) quantile on calibration rows held out of training,
/// so the false-alarm rate on new normal data is the one asked for.
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

    /// Fits on normal operation (rows are samples, columns follow `variables`). Every fourth row calibrates the
    /// limit; the network learns from the rest (a tenth of them for early stopping).
    public static func fit(
        variables: [String], rows: [[Double]], falseAlarmRate: Double = 0.01, epochs: Int = 200, seed: UInt64 = 0
    ) throws -> AutoencoderDetector {
        let d = variables.count
        let data = try NormalOperation(
            detector: "autoencoder", variables: variables, rows: rows, falseAlarmRate: falseAlarmRate,
            minimumRows: 20 * d + 200)
        let (fitRows, calibration, means, scales) = (data.fitRows, data.calibration, data.means, data.scales)
        let z = Tensor(fitRows.map { row in (0..<d).map { Float((row[$0] - means[$0]) / scales[$0]) } })
        // d -> h -> bottleneck -> h -> d; the bottleneck forces the network to learn the variables' structure.
        let hidden = max(8, d)
        let bottleneck = max(2, d / 4)
        let network = try Sequential(
            [
                Dense(hidden, activation: .tanh), Dense(bottleneck, activation: .linear),
                Dense(hidden, activation: .tanh),
                Dense(d, activation: .linear),
            ], inputSize: d, seed: seed)
        try network.fit(
            x: z, y: z, loss: MeanSquaredError(), optimizer: Adam(learningRate: Constant(0.01)),
            options: FitOptions(
                epochs: epochs, batchSize: 32, validationSplit: 0.1, seed: seed,
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
        var detector = AutoencoderDetector(
            variables: variables, means: means, scales: scales, weights: weights, biases: biases,
            activations: activations, limit: 0, falseAlarmRate: falseAlarmRate)
        let errors = calibration.map { detector.check($0).score }.sorted()
        detector.limit =
            errors[min(errors.count - 1, Int(((1 - falseAlarmRate) * Double(errors.count - 1)).rounded(.up)))]
        return detector
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
