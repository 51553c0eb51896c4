import Foundation
import Testing

@testable import Learn

/// Conv1D and GRU forward passes against Keras's, with Keras's weights (Fixtures/make_sequence_fixtures.py made
/// keras_sequence.json with Keras 3 on TensorFlow): the same numbers to 1e-5, in training and in the frozen model.
@Suite struct KerasSequenceTests {
    struct Weights: Decodable {
        var shape: [Int]
        var values: [Float]
    }
    struct KerasLayer: Decodable {
        var type: String
        var weights: [Weights]
    }
    struct Fixture: Decodable {
        var steps: Int
        var channels: Int
        var layers: [KerasLayer]
        var x: [[Float]]
        var y: [[Float]]
    }

    static func fixture(_ name: String) throws -> Fixture {
        let url = ONNXTests.fixtures.appendingPathComponent("keras_sequence.json")
        let all = try JSONDecoder().decode([String: Fixture].self, from: Data(contentsOf: url).filteringVersions())
        return try #require(all[name], "keras_sequence.json has no model \(name)")
    }

    @Test(arguments: [
        ("conv", [Conv1D.Padding.same, .valid], [Activation.relu, .tanh], Activation.linear),
        ("conv_gru", [.same], [.relu], .sigmoid),
        ("gru", [], [], .tanh),
    ])
    func forwardMatchesKeras(
        _ name: String, _ paddings: [Conv1D.Padding], _ activations: [Activation], _ head: Activation
    )
        throws
    {
        let f = try Self.fixture(name)
        var layers: [any Layer] = []
        var channels = f.channels
        var convs = 0
        for (i, k) in f.layers.enumerated() {
            switch k.type {
            case "Conv1D":
                let shape = k.weights[0].shape
                layers.append(
                    Conv1D(
                        filters: shape[2], kernelSize: shape[0], channels: channels, padding: paddings[convs],
                        activation: activations[convs]))
                channels = shape[2]
                convs += 1
            case "GRU":
                let units = k.weights[1].shape[0]
                let next = f.layers[i + 1].type
                layers.append(GRU(units: units, channels: channels, returnSequences: next == "GRU"))
                channels = units
            case "Dense": layers.append(Dense(k.weights[0].shape[1], activation: head))
            default: Issue.record("unexpected layer \(k.type)")
            }
        }
        let model = try Sequential(layers, inputSize: f.steps * f.channels, seed: 1)
        let ours = model.layers.flatMap(\.parameters)
        let theirs = f.layers.flatMap(\.weights)
        #expect(ours.map(\.shape) == theirs.map(\.shape))
        for (p, w) in zip(ours, theirs) { p.value = w.values }
        let x = Tensor(rows: f.x.count, columns: f.x[0].count, scalars: f.x.flatMap { $0 })
        let batch = model.predict(x)
        let frozen = InferenceModel(model)
        var worst: Float = 0
        for (r, expected) in f.y.enumerated() {
            let one = frozen.predict(x.row(r))
            for (c, e) in expected.enumerated() { worst = max(worst, abs(batch[r, c] - e), abs(one[c] - e)) }
        }
        #expect(worst < 1e-5, "\(name): largest difference from Keras \(worst)")
    }
}

extension Data {
    /// The fixture without its "versions" entry (not a model).
    fileprivate func filteringVersions() throws -> Data {
        var object = try JSONSerialization.jsonObject(with: self) as? [String: Any] ?? [:]
        object["versions"] = nil
        return try JSONSerialization.data(withJSONObject: object)
    }
}
