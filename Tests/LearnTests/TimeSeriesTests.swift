import Foundation
import Primitives
import Testing

@testable import Learn

/// Windows of histories, time-to-event targets, remaining-life metrics and the 1-D convolution.
@Suite struct TimeSeriesTests {
    @Test func windowStatisticsMatchAHandCount() throws {
        let spec = try WindowSpec(
            variables: ["a"], length: 3, statistics: [.last, .mean, .slope, .ewma, .min, .max, .std], ewmaSpan: 3)
        var state = WindowState(spec)
        for v in [1.0, 2, 4, 8] { state.append([v]) }
        // Window holds 2, 4, 8; EWMA alpha 0.5 over 1, 2, 4, 8: 1, 1.5, 2.75, 5.375.
        let f = state.features(spec)
        let mean = 14.0 / 3
        let std = ((pow2(2 - mean) + pow2(4 - mean) + pow2(8 - mean)) / 3).squareRoot()
        let expected = [8, mean, 3, 5.375, 2, 8, std]
        for (a, b) in zip(f, expected) { #expect(abs(a - b) < 1e-12, "\(f) vs \(expected)") }
        #expect(spec.featureNames == ["a.last", "a.mean", "a.slope", "a.ewma", "a.min", "a.max", "a.std"])
    }

    func pow2(_ x: Double) -> Double { x * x }

    /// The age feature is the unit's readings so far (not the window's), last; a caller that knows more history
    /// gives it; model files from before it load without it; a sequence window refuses it.
    @Test func ageIsTheReadingsSoFar() throws {
        let spec = try WindowSpec(variables: ["a"], length: 2, statistics: [.last], age: true)
        var state = WindowState(spec)
        for v in [1.0, 2, 4, 8, 16] { state.append([v]) }
        #expect(spec.featureNames == ["a.last", "age"] && spec.featureCount == 2)
        #expect(state.features(spec) == [16, 5])
        var out = [0.0, 0]
        state.features(spec, into: &out, age: 120)
        #expect(out == [16, 120])
        let old = Data(
            #"{"variables":["a"],"length":2,"layout":"statistics","statistics":["last"],"ewmaSpan":10}"#.utf8)
        #expect(try JSONDecoder().decode(WindowSpec.self, from: old).age == false)
        #expect(try JSONDecoder().decode(WindowSpec.self, from: JSONEncoder().encode(spec)) == spec)
        #expect { try WindowSpec(variables: ["a"], length: 2, layout: .sequence, age: true) } throws: {
            "\($0)".contains("the age feature is for statistics windows")
        }
    }

    @Test func sequenceLayoutPadsWithTheOldestReading() throws {
        let spec = try WindowSpec(variables: ["a", "b"], length: 3, layout: .sequence)
        var state = WindowState(spec)
        state.append([1, 10])
        state.append([2, 20])
        #expect(state.features(spec) == [1, 10, 1, 10, 2, 20])
        state.append([3, 30])
        state.append([4, 40])
        #expect(state.features(spec) == [2, 20, 3, 30, 4, 40])
        #expect(spec.featureNames == ["a[t-2]", "b[t-2]", "a[t-1]", "b[t-1]", "a[t-0]", "b[t-0]"])
    }

    @Test func batchWindowsFollowEachUnitInTimeOrder() throws {
        let spec = try WindowSpec(variables: ["x"], length: 2, statistics: [.last, .mean])
        // Two units interleaved and out of order.
        let units = ["b", "a", "a", "b", "a"]
        let time = [2.0, 3, 1, 1, 2]
        let x = [20.0, 3, 1, 10, 2]
        let f = try WindowedSeries.features(spec, units: units, time: time, columns: [x])
        #expect(f[0] == [20, 3, 1, 10, 2])  // last
        #expect(f[1] == [15, 2.5, 1, 10, 1.5])  // mean of the two newest
        #expect(throws: LearnError.self) {
            try WindowedSeries.features(spec, units: ["a", "a"], time: [1, 1], columns: [[1, 2]])
        }
    }

    @Test func remainingLifeIsCappedAndEventLabelsLookAhead() throws {
        let units = ["1", "1", "1", "1", "2", "2"]
        let time = [1.0, 2, 3, 4, 1, 2]
        #expect(try TimeToEvent.remainingLife(units: units, time: time, cap: 2) == [2, 2, 1, 0, 1, 0])
        let event = [false, false, true, false, false, false]
        #expect(
            try TimeToEvent.eventWithin(horizon: 1, units: units, time: time, event: event) == [0, 1, 1, 0, 0, 0])
    }

    @Test func rulMetricsMatchThePHM08Definition() {
        // d = -13 (early) costs e - 1; d = +10 (late) costs e - 1; d = 0 costs nothing.
        let m = RULMetrics(predicted: [7, 30, 50], actual: [20, 20, 50], alarmBelow: 25)
        #expect(abs(m.score - 2 * (2.718_281_828_459_045 - 1)) < 1e-12)
        #expect(abs(m.rmse - ((169.0 + 100) / 3).squareRoot()) < 1e-12)
        // Predicted below 25: unit 1 (true 20, right). True below 25: units 1 and 2.
        #expect(m.alarmPrecision == 1)
        #expect(m.alarmRecall == 0.5)
    }

    @Test(arguments: [Conv1D.Padding.valid, .same])
    func conv1DGradientsMatchFiniteDifferences(_ padding: Conv1D.Padding) throws {
        try GradientTests().check(
            [Conv1D(filters: 3, kernelSize: 3, channels: 2, padding: padding, activation: .tanh), Dense(1)],
            loss: MeanSquaredError(), y: Tensor([[0.5], [-1], [0.2]]), inputs: 10)
    }

    @Test func conv1DInferenceMatchesTraining() throws {
        let model = try Sequential(
            [
                Conv1D(filters: 4, kernelSize: 5, channels: 3, padding: .same, activation: .relu),
                Conv1D(filters: 2, kernelSize: 3, channels: 4, activation: .gelu), Dense(3, activation: .tanh),
                Dense(1),
            ], inputSize: 30, seed: 5)
        var rng = RandomSource(seed: 9)
        let x = Tensor(rows: 4, columns: 30, scalars: (0..<120).map { _ in Float(rng.normal()) })
        let batch = model.predict(x)
        let frozen = InferenceModel(model)
        for r in 0..<4 {
            let one = frozen.predict(x.row(r))
            #expect(abs(one[0] - batch[r, 0]) < 1e-5, "row \(r): \(one[0]) vs \(batch[r, 0])")
        }
    }

    @Test func gruGradientsMatchFiniteDifferences() throws {
        // A GRU returning its sequence under one that returns its last state: the lower one's parameter gradients
        // check the upper one's input gradients through time.
        try GradientTests().check(
            [GRU(units: 3, channels: 2, returnSequences: true), GRU(units: 2, channels: 3), Dense(1)],
            loss: MeanSquaredError(), y: Tensor([[0.5], [-1], [0.2]]), inputs: 8)
        try GradientTests().check(
            [
                Conv1D(filters: 2, kernelSize: 2, channels: 2, padding: .same, activation: .tanh),
                GRU(units: 4, channels: 2),
            ],
            loss: MeanSquaredError(), y: Tensor([[0.5, 0, 1, -1], [-1, 0.3, 0, 0.2]]), inputs: 10)
    }

    @Test func gruInferenceMatchesTrainingAndSaves() throws {
        let model = try Sequential(
            [
                GRU(units: 5, channels: 3, returnSequences: true), GRU(units: 4, channels: 5),
                Dense(2, activation: .tanh),
            ],
            inputSize: 21, seed: 5)
        var rng = RandomSource(seed: 9)
        let x = Tensor(rows: 4, columns: 21, scalars: (0..<84).map { _ in Float(rng.normal()) })
        let batch = model.predict(x)
        let frozen = InferenceModel(model)
        for r in 0..<4 {
            let one = frozen.predict(x.row(r))
            for c in 0..<2 { #expect(abs(one[c] - batch[r, c]) < 1e-5, "row \(r): \(one[c]) vs \(batch[r, c])") }
        }
        // Keras's weight shapes, and a model file that loads back to the same outputs.
        let gru = model.layers[0] as! GRU
        #expect(gru.parameters.map(\.shape) == [[3, 15], [5, 15], [2, 15]])
        let recurrent = gru.recurrentKernel.value
        for i in 0..<5 {
            for j in 0...i {
                let dot = (0..<15).reduce(Float(0)) { $0 + recurrent[i * 15 + $1] * recurrent[j * 15 + $1] }
                #expect(abs(dot - (i == j ? 1 : 0)) < 1e-5, "orthogonal rows \(i), \(j)")
            }
        }
        let layers = try JSONDecoder().decode(
            [LayerConfiguration].self, from: JSONEncoder().encode(model.layers.map(\.configuration)))
        #expect(layers == model.layers.map(\.configuration))
        let copy = try Sequential(layers.map { $0.makeLayer() }, inputSize: 21)
        for (p, q) in zip(copy.parameters, model.parameters) { p.value = q.value }
        #expect(copy.predict(x).scalars == batch.scalars)
    }

    @Test func aHistoryModelLearnsRemainingLife() throws {
        // Units degrade linearly at different rates; the window's slope gives the rate, the level how far along.
        var units: [String] = []
        var time: [Double] = []
        var level: [Double] = []
        var rng = RandomSource(seed: 1)
        for u in 0..<40 {
            let life = 60 + Double(u % 7) * 10
            for t in 0..<Int(life) {
                units.append("\(u)")
                time.append(Double(t))
                level.append(Double(t) / life + 0.02 * rng.normal())
            }
        }
        let target = try TimeToEvent.remainingLife(units: units, time: time, cap: 60)
        let data = TabularData(
            numericNames: ["level"], numeric: [level], targetName: "rul", target: target.map { "\($0)" })
        let window = try WindowSpec(variables: ["level"], length: 10)
        var spec = TrainingSpec()
        spec.task = .regression
        spec.hiddenLayers = [32]
        spec.epochs = 60
        spec.learningRate = 0.003
        let result = try Trainer.train(
            history: data, units: units, time: time,
            history: ModelFile.HistorySpec(unit: "unit", time: "t", window: window, cap: 60), spec: spec,
            metadata: .init(created: "test", codeVersion: "test"))
        #expect(result.model.description.history?.window == window)
        #expect(result.model.description.preprocessing?.numericInputs == window.featureNames)
        // A constant guess of the mean would be off by about 17 cycles.
        #expect(result.testMetrics["rmse"]! < 8, "\(result.testMetrics)")
    }

    /// A failure that depends on the difference of two variables with large offsets: the window holds the difference,
    /// derived from each reading, and every path that builds the inputs from raw readings derives it alike.
    @Test func aDerivedVariableEntersTheWindow() throws {
        var units: [String] = []
        var time: [Double] = []
        var hot: [Double] = []
        var cold: [Double] = []
        var rng = RandomSource(seed: 4)
        for u in 0..<30 {
            var base = 300 + 2 * rng.normal()
            var gap = 10 + rng.normal()
            for t in 0..<80 {
                base += 0.1 * rng.normal()
                gap = 10 + 0.95 * (gap - 10) + 0.3 * rng.normal()
                units.append("u\(u)")
                time.append(Double(t))
                cold.append(base)
                hot.append(base + gap)
            }
        }
        let target = zip(hot, cold).map { $0 - $1 < 9.5 ? "1" : "0" }
        var data = TabularData(
            numericNames: ["hot", "cold"], numeric: [hot, cold], targetName: "low_gap", target: target)
        data.derived = [("gap", "hot - cold")]
        let window = try WindowSpec(variables: ["hot", "cold", "gap"], length: 5, statistics: [.last, .mean])
        var spec = TrainingSpec()
        spec.task = .binary
        spec.epochs = 30
        let result = try Trainer.train(
            history: data, units: units, time: time,
            history: ModelFile.HistorySpec(unit: "unit", time: "t", window: window), spec: spec,
            metadata: .init(created: "test", codeVersion: "test"))
        let history = try #require(result.model.description.history)
        #expect(history.derived == [DerivedVariable(name: "gap", expression: "hot - cold")])
        #expect(result.model.description.preprocessing?.derived.isEmpty == true)
        #expect(result.testMetrics["f1"]! > 0.9, "\(result.testMetrics)")
        // From the raw columns alone, the inputs are the windows of the precomputed difference.
        let names = try #require(result.model.description.preprocessing?.numericInputs)
        let raw = ["hot": hot, "cold": cold]
        let inputs = try history.numericInputs(names, units: units, time: time) { raw[$0]! }
        let gaps = zip(hot, cold).map { $0 - $1 }
        let expected = try WindowedSeries.features(window, units: units, time: time, columns: [hot, cold, gaps])
        #expect(names == window.featureNames)
        for (got, want) in zip(inputs, expected) { #expect(got == want) }
        // Reading by reading, as the pipeline and serving fill the window.
        let variables = try WindowVariables(history)
        #expect(variables.raw == ["hot", "cold"])
        var reading = [0.0, 0.0, 0.0]
        variables.fill(&reading, raw: [310.5, 300.25])
        #expect(reading == [310.5, 300.25, 10.25])
        // A derivation that reads what the window does not hold is refused by name.
        var other = history
        other.derived = [DerivedVariable(name: "gap", expression: "hot - ambient")]
        #expect(throws: LearnError.self) { try WindowVariables(other) }
        #expect(throws: LearnError.self) {
            var named = data
            named.derived = [("hot", "hot * 2")]
            _ = try named.derivingColumns()
        }
    }
}
