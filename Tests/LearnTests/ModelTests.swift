import Foundation
import Primitives
import Testing

@testable import Learn

@Suite struct ModelTests {
    /// A two-moons-like problem no linear model solves.
    static func circles(_ n: Int, seed: UInt64) -> (Tensor, Tensor) {
        var rng = RandomSource(seed: seed)
        var x: [Float] = []
        var y: [Float] = []
        for _ in 0..<n {
            let a = Float(rng.uniform() * 2 - 1), b = Float(rng.uniform() * 2 - 1)
            x += [a, b]
            y.append(a * a + b * b < 0.5 ? 1 : 0)
        }
        return (Tensor(rows: n, columns: 2, scalars: x), Tensor(rows: n, columns: 1, scalars: y))
    }

    @Test func learnsANonLinearBoundaryAndIsDeterministic() throws {
        let (x, y) = Self.circles(600, seed: 1)
        func train() throws -> (Sequential, History) {
            let model = try Sequential(
                [Dense(16, activation: .relu), Dense(16, activation: .relu), Dense(1, activation: .sigmoid)],
                inputSize: 2, seed: 5)
            let h = try model.fit(
                x: x, y: y, loss: BinaryCrossEntropy(), optimizer: Adam(learningRate: Constant(0.01)),
                options: FitOptions(epochs: 60, batchSize: 32, validationSplit: 0.2, seed: 9))
            return (model, h)
        }
        let (a, history) = try train()
        let (b, _) = try train()
        #expect(history.epochs.last!.values["val_accuracy"]! > 0.93)
        #expect(history.epochs.last!.values["loss"]! < history.epochs.first!.values["loss"]!)
        #expect(a.parameters.map(\.value) == b.parameters.map(\.value))
    }

    @Test func earlyStoppingRestoresTheBestEpoch() throws {
        let (x, y) = Self.circles(300, seed: 2)
        let model = try Sequential(
            [Dense(64, activation: .relu), Dense(1, activation: .sigmoid)], inputSize: 2, seed: 1)
        var best: (Double, [[Float]])?
        let history = try model.fit(
            x: x, y: y, loss: BinaryCrossEntropy(), optimizer: Adam(learningRate: Constant(0.05)),
            options: FitOptions(epochs: 200, validationSplit: 0.3, earlyStopping: EarlyStopping(patience: 5))
        ) { log in
            if log.values["val_loss"]! < (best?.0 ?? .infinity) {
                best = (log.values["val_loss"]!, model.parameters.map(\.value))
            }
        }
        #expect(history.stoppedEarly)
        #expect(model.parameters.map(\.value) == best!.1)
    }

    @Test func badTrainingInputsAreClearErrors() throws {
        let model = try Sequential([Dense(1, activation: .sigmoid)], inputSize: 2)
        #expect {
            try model.fit(
                x: Tensor(rows: 3, columns: 3), y: Tensor(rows: 3, columns: 1), loss: BinaryCrossEntropy(),
                optimizer: SGD())
        } throws: {
            "\($0)".contains("3 columns, the model takes 2")
        }
        #expect {
            try model.fit(
                x: Tensor(rows: 2, columns: 2), y: Tensor(rows: 2, columns: 1), loss: SparseCategoricalCrossEntropy(),
                optimizer: SGD())
        } throws: {
            "\($0)".contains("expects the last layer to be Dense with activation softmax")
        }
        #expect {
            try model.fit(
                x: Tensor(rows: 2, columns: 2), y: Tensor(rows: 2, columns: 1), loss: BinaryCrossEntropy(),
                optimizer: SGD(), options: FitOptions(epochs: 0))
        } throws: {
            "\($0)".contains("epochs must be at least 1")
        }
    }

    @Test func inferenceModelMatchesPredictIncludingBatchNorm() throws {
        let (x, y) = Self.circles(200, seed: 3)
        let model = try Sequential(
            [Dense(8, activation: .gelu), BatchNormalization(), Dropout(0.3), Dense(3, activation: .softmax)],
            inputSize: 2, seed: 2)
        try model.fit(
            x: x, y: y, loss: SparseCategoricalCrossEntropy(), optimizer: Adam(), options: FitOptions(epochs: 3))
        let frozen = InferenceModel(model)
        let batch = model.predict(x)
        var scratch = frozen.makeScratch()
        var out = [Float](repeating: 0, count: 3)
        for r in 0..<x.rows {
            Array(x.row(r)).withUnsafeBufferPointer { i in
                out.withUnsafeMutableBufferPointer { frozen.predict(i, into: $0, scratch: &scratch) }
            }
            for c in 0..<3 { #expect(abs(out[c] - batch[r, c]) < 1e-5) }
        }
        // The whole batch at once (matrix products, softmax per row) gives the same rows.
        var all = [Float](repeating: .nan, count: x.rows * 3)
        x.scalars.withUnsafeBufferPointer { i in
            all.withUnsafeMutableBufferPointer { frozen.predict(rows: x.rows, i, into: $0) }
        }
        for r in 0..<x.rows {
            for c in 0..<3 { #expect(abs(all[r * 3 + c] - batch[r, c]) < 1e-5) }
        }
    }

    /// The single-row path sums 32 units at a time, then 8, then one: layers of 64, 43 (32 + 8 + 3) and 1 units
    /// give what the batch path gives.
    @Test func theSingleRowPathMatchesPredictOnWideLayers() throws {
        let model = try Sequential(
            [Dense(64, activation: .relu), Dense(43, activation: .tanh), Dense(1, activation: .sigmoid)],
            inputSize: 13, seed: 5)
        var rng = RandomSource(seed: 6)
        let x = Tensor(rows: 50, columns: 13, scalars: (0..<650).map { _ in Float(rng.normal()) })
        let batch = model.predict(x)
        let frozen = InferenceModel(model)
        var scratch = frozen.makeScratch()
        var out: [Float] = [.nan]
        var spread: Float = 0
        for r in 0..<x.rows {
            Array(x.row(r)).withUnsafeBufferPointer { i in
                out.withUnsafeMutableBufferPointer { frozen.predict(i, into: $0, scratch: &scratch) }
            }
            #expect(abs(out[0] - batch[r, 0]) < 1e-5, "row \(r)")
            spread = max(spread, abs(batch[r, 0] - batch[0, 0]))
        }
        #expect(spread > 0.01)  // the rows differ: a constant output would match trivially
    }

    /// One sample through a dense layer, both ways: Swift's SIMD sums (any CPU) and, on a CPU with AVX2 and FMA, the
    /// `CDense` kernel the single-row path then takes. Each against the sum in Double, across the blocks they take
    /// (64 and 32 units at a time, 8, then one by one), with a bias, and with inputs that are zero.
    @Test func bothDenseKernelsGiveTheLayersSums() throws {
        var rng = RandomSource(seed: 11)
        var compared = 0
        for (inputs, units) in [(1, 1), (5, 3), (13, 8), (13, 43), (64, 64), (7, 70), (64, 130)] {
            let model = try Sequential([Dense(units)], inputSize: inputs, seed: UInt64(inputs * 1000 + units))
            var stage = InferenceModel(model).stages[0]
            stage.bias = (0..<units).map { _ in rng.normalFloat() }
            for trial in 0..<5 {
                let x = (0..<inputs).map { i in trial == 0 && i % 2 == 0 ? 0 : rng.normalFloat() }
                let exact = (0..<units).map { u in
                    (0..<inputs).reduce(Double(stage.bias[u])) {
                        $0 + Double(x[$1]) * Double(stage.kernel[$1 * units + u])
                    }
                }
                var kernels:
                    [(
                        String,
                        (InferenceModel.Stage, UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) -> Void
                    )] = [
                        ("portable", InferenceModel.portableDot)
                    ]
                if InferenceModel.wideKernel { kernels.append(("avx2+fma", InferenceModel.wideDot)) }
                for (name, kernel) in kernels {
                    var y = [Float](repeating: .nan, count: units)
                    x.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { kernel(stage, x, $0) } }
                    for u in 0..<units {
                        #expect(
                            abs(Double(y[u]) - exact[u]) <= 1e-5 * (1 + abs(exact[u])),
                            "\(name), \(inputs) inputs, unit \(u) of \(units): \(y[u]) against \(exact[u])")
                    }
                    compared += 1
                }
            }
        }
        // Every layer and sample through the portable sums, and through the kernel too where the CPU runs it.
        #expect(compared == 35 * (InferenceModel.wideKernel ? 2 : 1))
    }

    @Test func anEnsembleIsOneWiderNetworkAveragingLogits() throws {
        let members = try (0..<3).map { seed in
            try Sequential(
                [
                    Dense(4, activation: .relu), Dropout(0.2), Dense(5, activation: .tanh),
                    Dense(1, activation: .sigmoid),
                ], inputSize: 3, seed: UInt64(seed))
        }
        let merged = try Sequential.averaging(members)
        #expect(merged.configurations.map { if case .dense(let u, _, _) = $0 { u } else { 0 } } == [12, 0, 15, 1])
        var rng = RandomSource(seed: 1)
        let x = Tensor(rows: 6, columns: 3, scalars: (0..<18).map { _ in Float(rng.normal()) })
        let out = merged.predict(x)
        func logit(_ p: Float) -> Float { Foundation.log(p / (1 - p)) }
        for r in 0..<6 {
            let mean = members.map { logit($0.predict(x)[r, 0]) }.reduce(0, +) / 3
            #expect(abs(logit(out[r, 0]) - mean) < 1e-4)
        }
    }
}

@Suite struct MetricTests {
    @Test func rankingMetricsByHand() {
        // scikit-learn: roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.75; average_precision_score = 0.8333...
        let scores: [Float] = [0.1, 0.4, 0.35, 0.8]
        let labels = [0, 0, 1, 1]
        #expect(abs(BinaryMetrics.rocAUC(scores: scores, labels: labels) - 0.75) < 1e-12)
        #expect(abs(BinaryMetrics.averagePrecision(scores: scores, labels: labels) - 5.0 / 6.0) < 1e-12)
        let m = BinaryMetrics(scores: scores, labels: labels, threshold: 0.3)
        #expect(m.confusion == [[1, 1], [0, 2]])
        #expect(abs(m.precision - 2.0 / 3.0) < 1e-12 && m.recall == 1 && abs(m.f1 - 0.8) < 1e-12)
        // The best threshold keeps both positives and drops the 0.1 negative (F1 0.8), or takes 0.8 alone (F1 2/3).
        #expect(
            BinaryMetrics(
                scores: scores, labels: labels, threshold: BinaryMetrics.bestThreshold(scores: scores, labels: labels)
            ).f1 == 0.8)
    }

    @Test func reportAveragesByHand() {
        let report = ClassificationReport(
            predicted: [0, 0, 1, 1, 2, 2], actual: [0, 1, 1, 1, 2, 0], labels: ["a", "b", "c"])
        #expect(report.confusion == [[1, 0, 1], [1, 2, 0], [0, 0, 1]])
        #expect(abs(report.accuracy - 4.0 / 6.0) < 1e-12)
        #expect(report.classes[1].precision == 1 && abs(report.classes[1].recall - 2.0 / 3.0) < 1e-12)
        #expect(abs(report.macro.precision - (0.5 + 1 + 0.5) / 3) < 1e-12)
        #expect(report.text.contains("weighted avg"))
    }
}
