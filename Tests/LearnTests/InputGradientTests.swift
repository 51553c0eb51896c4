import Primitives
import Testing

@testable import Learn

/// The input gradients the optimizer follows, checked against central finite differences: through the network
/// (batched, every activation, folded batch normalization), through derived-feature expressions, and through the
/// preprocessing.
@Suite struct InputGradientTests {
    func network(_ hidden: Activation, output: Activation, batchNorm: Bool = false) throws -> InferenceModel {
        var layers: [any Layer] = [Dense(6, activation: hidden)]
        if batchNorm { layers.append(BatchNormalization()) }
        layers += [Dense(5, activation: hidden), Dense(2, activation: output)]
        let model = try Sequential(layers, inputSize: 4, seed: 11)
        if batchNorm, let bn = model.layers[1] as? BatchNormalization {
            bn.movingMean.value = [0.1, -0.2, 0.3, 0, 0.5, -0.1]
            bn.movingVariance.value = [1.5, 0.5, 2, 1, 0.8, 1.2]
            bn.gamma.value = [1.1, 0.9, 1, 1.2, 0.7, 1]
        }
        return InferenceModel(model)
    }

    @Test(arguments: [Activation.relu, .leakyRelu, .gelu, .tanh, .sigmoid])
    func networkGradientMatchesFiniteDifferences(_ hidden: Activation) throws {
        for (output, batchNorm) in [(Activation.sigmoid, false), (.softmax, true), (.linear, false)] {
            let model = try network(hidden, output: output, batchNorm: batchNorm)
            var rng = RandomSource(seed: 5)
            let rows = 7
            let x = (0..<rows * 4).map { _ in Float(rng.normal()) }
            var workspace = InferenceModel.BatchWorkspace()
            let (values, gradients) = model.scored(x, rows: rows, output: 1, gradients: true, workspace: &workspace)
            for r in 0..<rows {
                let row = Array(x[r * 4..<(r + 1) * 4])
                #expect(abs(values[r] - model.predict(row)[1]) < 1e-5, "batched value equals single-sample scoring")
                for i in 0..<4 {
                    let h: Float = 1e-2
                    var plus = row
                    var minus = row
                    plus[i] += h
                    minus[i] -= h
                    let numeric = (model.predict(plus)[1] - model.predict(minus)[1]) / (2 * h)
                    #expect(
                        abs(numeric - gradients[r * 4 + i]) < 3e-3 * max(1, abs(numeric)),
                        "\(hidden) -> \(output): row \(r) input \(i): numeric \(numeric), analytic \(gradients[r * 4 + i])"
                    )
                }
            }
        }
    }

    /// One workspace through batches of different sizes (an optimizer's shrink as its starts settle): each answer
    /// equals a fresh workspace's.
    @Test func aWorkspaceServesEveryBatchSize() throws {
        let model = try network(.relu, output: .sigmoid)
        var rng = RandomSource(seed: 3)
        var shared = InferenceModel.BatchWorkspace()
        for rows in [6, 2, 9, 6, 1] {
            let x = (0..<rows * 4).map { _ in Float(rng.normal()) }
            func run(_ workspace: inout InferenceModel.BatchWorkspace) -> ([Float], [Float]) {
                var values = [Float](repeating: 0, count: rows)
                var gradients = [Float](repeating: 0, count: rows * 4)
                x.withUnsafeBufferPointer { xb in
                    values.withUnsafeMutableBufferPointer { v in
                        gradients.withUnsafeMutableBufferPointer { g in
                            model.evaluate(xb, rows: rows, values: v, gradients: g, workspace: &workspace)
                        }
                    }
                }
                return (values, gradients)
            }
            var fresh = InferenceModel.BatchWorkspace()
            let expected = run(&fresh)
            let got = run(&shared)
            #expect(got.0 == expected.0 && got.1 == expected.1, "\(rows) rows")
        }
    }

    /// Scored without gradients, then the gradients of some rows only (an optimizer's accepted trials): the same as
    /// scoring every row with gradients, for every activation, with and without shared columns and batch
    /// normalization, through one workspace across calls of different sizes.
    @Test(arguments: [Activation.relu, .tanh, .gelu])
    func theGradientsOfSomeRowsEqualTheFullPass(_ hidden: Activation) throws {
        var rng = RandomSource(seed: 21)
        var workspace = InferenceModel.BatchWorkspace()
        for (batchNorm, rows, varying, selected) in [
            (false, 9, [1, 3] as [Int]?, [0, 2, 3, 8]), (true, 5, nil, [4]), (false, 12, [0, 1, 2], [1, 5, 6, 7, 11]),
            (false, 3, nil, [0, 1, 2]), (false, 6, [2], []),
        ] {
            let model = try network(hidden, output: .sigmoid, batchNorm: batchNorm)
            let state = (0..<4).map { _ in Float(rng.normal()) }
            var x: [Float] = []
            for _ in 0..<rows {
                x += state.indices.map { varying?.contains($0) ?? true ? Float(rng.normal()) : state[$0] }
            }
            var fresh = InferenceModel.BatchWorkspace()
            let (values, full) = model.scored(x, rows: rows, gradients: true, varying: varying, workspace: &fresh)
            let forwardOnly = model.scored(x, rows: rows, gradients: false, varying: varying, workspace: &workspace)
                .values
            var some = [Float](repeating: 9, count: selected.count * 4)
            some.withUnsafeMutableBufferPointer { model.gradients(ofRows: selected, into: $0, workspace: &workspace) }
            #expect(forwardOnly == values, "\(hidden): the values do not depend on the gradients")
            for (i, r) in selected.enumerated() {
                for c in 0..<4 {
                    #expect(
                        abs(some[i * 4 + c] - full[r * 4 + c]) < 1e-6,
                        "\(hidden), batch norm \(batchNorm): row \(r), column \(c): \(some[i * 4 + c]) vs \(full[r * 4 + c])"
                    )
                }
            }
        }
    }

    /// Rows that share all but some columns (an optimizer's candidates): told which columns vary, the model does the
    /// shared part of the first layer once and gives the same values and, in the varying columns, the same gradients
    /// as the full path (0 in the others). One workspace across calls: when the shared values change, so do the
    /// answers (the shared part is built again, not reused).
    @Test(arguments: [Activation.relu, .tanh])
    func sharedColumnsGiveTheFullAnswers(_ hidden: Activation) throws {
        let model = try network(hidden, output: .sigmoid)
        var rng = RandomSource(seed: 8)
        var workspace = InferenceModel.BatchWorkspace()
        for (rows, varying) in [(5, [1, 3]), (5, [1, 3]), (3, [2]), (4, [0, 1, 2])] {
            let state = (0..<4).map { _ in Float(rng.normal()) }
            var x: [Float] = []
            for _ in 0..<rows { x += state.indices.map { varying.contains($0) ? Float(rng.normal()) : state[$0] } }
            func run(_ varying: [Int]?, _ workspace: inout InferenceModel.BatchWorkspace) -> ([Float], [Float]) {
                var values = [Float](repeating: 0, count: rows)
                var gradients = [Float](repeating: 9, count: rows * 4)
                x.withUnsafeBufferPointer { xb in
                    values.withUnsafeMutableBufferPointer { v in
                        gradients.withUnsafeMutableBufferPointer { g in
                            model.evaluate(
                                xb, rows: rows, values: v, gradients: g, varying: varying, workspace: &workspace)
                        }
                    }
                }
                return (values, gradients)
            }
            var fresh = InferenceModel.BatchWorkspace()
            let full = run(nil, &fresh)
            let split = run(varying, &workspace)
            for r in 0..<rows {
                #expect(abs(split.0[r] - full.0[r]) < 1e-6, "\(hidden), row \(r): \(split.0[r]) vs \(full.0[r])")
                for c in 0..<4 {
                    let expected = varying.contains(c) ? full.1[r * 4 + c] : 0
                    #expect(abs(split.1[r * 4 + c] - expected) < 1e-6, "\(hidden), row \(r), column \(c)")
                }
            }
        }
        // The same rows through another model's first layer: the shared part is built for that model.
        let other = InferenceModel(
            try Sequential([Dense(6, activation: hidden), Dense(1, activation: .sigmoid)], inputSize: 4, seed: 12))
        let x: [Float] = [0.5, 1, -1, 2, 0.5, -2, -1, 2]
        func score(_ model: InferenceModel, _ varying: [Int]?, _ workspace: inout InferenceModel.BatchWorkspace)
            -> [Float]
        {
            var values = [Float](repeating: 0, count: 2)
            x.withUnsafeBufferPointer { xb in
                values.withUnsafeMutableBufferPointer { v in
                    model.evaluate(xb, rows: 2, values: v, gradients: nil, varying: varying, workspace: &workspace)
                }
            }
            return values
        }
        var one = InferenceModel.BatchWorkspace()
        _ = score(model, [1], &one)
        var fresh = InferenceModel.BatchWorkspace()
        let expected = score(other, nil, &fresh)
        let got = score(other, [1], &one)
        #expect(abs(got[0] - expected[0]) < 1e-6 && abs(got[1] - expected[1]) < 1e-6, "\(got) vs \(expected)")
    }

    @Test func expressionDerivatives() throws {
        let names = ["a", "b", "c"]
        let cases = [
            "a * b * 2 * pi / 60", "b - a", "a ^ 2 + sqrt(b) - log(c)", "exp(a / 10) * abs(b - 3)",
            "min(a, b) + max(b, c) * pow(c, 1.5)", "-(a / b) ^ 3",
        ]
        let point = [1.7, 4.2, 2.5]
        for text in cases {
            let e = try FeatureExpression(text, variables: names)
            for d in 0..<3 {
                var tangent = [0.0, 0, 0]
                tangent[d] = 1
                let (value, derivative) = point.withUnsafeBufferPointer { p in
                    tangent.withUnsafeBufferPointer { e.evaluate(p, tangent: $0) }
                }
                #expect(abs(value - e.evaluate(point)) < 1e-12)
                let h = 1e-6
                var plus = point
                var minus = point
                plus[d] += h
                minus[d] -= h
                let numeric = (e.evaluate(plus) - e.evaluate(minus)) / (2 * h)
                #expect(abs(numeric - derivative) < 1e-5 * max(1, abs(numeric)), "\(text) d/d\(names[d])")
            }
        }
    }

    @Test(arguments: [Preprocessing.Scaling.standard, .minMax, .piecewiseLinear, .none])
    func preprocessingDerivative(_ scaling: Preprocessing.Scaling) throws {
        var rng = RandomSource(seed: 9)
        let torque = (0..<200).map { _ in 40 + 10 * rng.normal() }
        let rpm = (0..<200).map { _ in 1500 + 150 * rng.normal() }
        let pre = try Preprocessing.fit(
            numericInputs: ["torque", "rpm"], numeric: [torque, rpm],
            derived: [(name: "power", expression: "torque * rpm * 2 * pi / 60")], categoricalInputs: ["product"],
            categoricalValues: [(0..<200).map { ["L", "M", "H"][$0 % 3] }], scaling: scaling, bins: 6)
        #expect(pre.isDifferentiable)
        let width = pre.featureCount
        for point in [[37.3, 1433.0], [52.1, 1622.0]] {
            for d in 0..<2 {
                var tangent = [0.0, 0]
                tangent[d] = 1
                var analytic = [Float](repeating: 0, count: width)
                point.withUnsafeBufferPointer { p in
                    tangent.withUnsafeBufferPointer { t in
                        analytic.withUnsafeMutableBufferPointer { pre.derivative(numeric: p, tangent: t, into: $0) }
                    }
                }
                // The reverse direction: d value / d input from d value / d feature equals the forward
                // derivative's dot product with it, on the unbinned path (scaled inputs, derived expressions) and the
                // binned one.
                var rng = RandomSource(seed: UInt64(d + 1))
                let featureGradient = (0..<width).map { _ in Float(rng.normal()) }
                var pulled = [0.0]
                var zeros = [0.0, 0]
                var scratch = [Float](repeating: 0, count: width)
                point.withUnsafeBufferPointer { p in
                    featureGradient.withUnsafeBufferPointer { fg in
                        zeros.withUnsafeMutableBufferPointer { t in
                            scratch.withUnsafeMutableBufferPointer { ft in
                                pulled.withUnsafeMutableBufferPointer {
                                    pre.inputGradient(
                                        numeric: p, featureGradient: fg, directions: [d], tangent: t,
                                        featureTangent: ft, into: $0)
                                }
                            }
                        }
                    }
                }
                let forward = (0..<width).reduce(0.0) { $0 + Double(analytic[$1]) * Double(featureGradient[$1]) }
                #expect(abs(pulled[0] - forward) < 1e-4 * max(1, abs(forward)), "\(scaling) d/d\(d)")
                #expect(zeros == [0, 0], "the tangent is left as it was given")
                let h = d == 0 ? 0.05 : 1.0  // float32 features: steps large enough for the rounding
                var plus = point
                var minus = point
                plus[d] += h
                minus[d] -= h
                let a = try pre.transform(numeric: plus.map { [$0] }, categoricalValues: [["M"]])
                let b = try pre.transform(numeric: minus.map { [$0] }, categoricalValues: [["M"]])
                for f in 0..<width {
                    // Piecewise-linear columns bend at their bin edges: compare only where both sides of the
                    // difference fall in the same bin (the derivative is one-sided at an edge).
                    if scaling == .piecewiseLinear
                        && (a.scalars[f] == 0 || a.scalars[f] == 1 || b.scalars[f] == 0 || b.scalars[f] == 1)
                        && a.scalars[f] != b.scalars[f]
                    {
                        continue
                    }
                    let numeric = Double(a.scalars[f] - b.scalars[f]) / (2 * h)
                    #expect(
                        abs(numeric - Double(analytic[f])) < 2e-3 * max(1, abs(numeric)),
                        "\(scaling) feature \(pre.featureNames[f]) d/d\(d): numeric \(numeric), analytic \(analytic[f])"
                    )
                }
            }
        }
    }

    @Test func treeStepsAreNotDifferentiable() throws {
        let pre = try Preprocessing.fit(
            numericInputs: ["x"], numeric: [(0..<100).map(Double.init)], scaling: .treeSteps, bins: 4,
            labels: (0..<100).map { $0 > 60 ? 1 : 0 })
        #expect(!pre.isDifferentiable)
    }
}

extension InferenceModel {
    /// `evaluate` on arrays: the values of output `output` and, with `gradients`, the input gradients (rows x
    /// inputSize, 9 where not written).
    func scored(
        _ x: [Float], rows: Int, output: Int = 0, gradients: Bool, varying: [Int]? = nil,
        workspace: inout BatchWorkspace
    ) -> (values: [Float], gradients: [Float]) {
        var values = [Float](repeating: 0, count: rows)
        var g = [Float](repeating: 9, count: gradients ? rows * inputSize : 0)
        x.withUnsafeBufferPointer { xb in
            values.withUnsafeMutableBufferPointer { v in
                g.withUnsafeMutableBufferPointer { gb in
                    evaluate(
                        xb, rows: rows, output: output, values: v, gradients: gradients ? gb : nil, varying: varying,
                        workspace: &workspace)
                }
            }
        }
        return (values, g)
    }
}
