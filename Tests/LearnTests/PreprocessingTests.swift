import Foundation
import Testing

@testable import Learn

@Suite struct PreprocessingTests {
    @Test func expressionsFollowPrecedenceAndNameErrors() throws {
        let names = ["torque_nm", "rpm", "a"]
        func eval(_ text: String, _ inputs: [Double] = [40, 1500, 2]) throws -> Double {
            try FeatureExpression(text, variables: names).evaluate(inputs)
        }
        #expect(abs(try eval("torque_nm * rpm * 2 * pi / 60") - 40 * 1500 * 2 * Double.pi / 60) < 1e-9)
        #expect(try eval("1 + 2 * 3 - 4 / 2") == 5)
        #expect(try eval("-a ^ 2") == -4)
        #expect(try eval("2 ^ 3 ^ 2") == 512)
        #expect(try eval("max(a, 3) + min(a, 3) + abs(-1) + sqrt(16) + pow(a, 3)") == 3 + 2 + 1 + 4 + 8)
        #expect(try eval("(a + 1) * 1.5e1") == 45)
        #expect { try FeatureExpression("torque_nm * rpmm", variables: names) } throws: {
            "\($0)" == "expression 'torque_nm * rpmm': unknown name 'rpmm' (inputs: torque_nm, rpm, a) at column 13"
        }
        #expect { try FeatureExpression("max(a)", variables: names) } throws: {
            "\($0)".contains("max takes 2 arguments")
        }
        #expect { try FeatureExpression("a +", variables: names) } throws: {
            "\($0)".contains("expected a number, name or '('")
        }
        #expect { try FeatureExpression("a ) ", variables: names) } throws: { "\($0)".contains("unexpected ')'") }
    }

    @Test func standardScalingOneHotAndDerived() throws {
        let p = try Preprocessing.fit(
            numericInputs: ["x", "y"], numeric: [[1, 2, 3, 4], [10, 10, 10, 10]], derived: [("xy", "x * y")],
            categoricalInputs: ["kind"], categoricalValues: [["b", "a", "b", "c"]])
        #expect(p.featureNames == ["x", "y", "xy", "kind=a", "kind=b", "kind=c"])
        let t = try p.transform(numeric: [[1, 4], [10, 10]], categoricalValues: [["c", "zzz"]])
        // x: mean 2.5, sd sqrt(1.25); a constant column is only centred.
        #expect(abs(t[0, 0] - Float(-1.5 / 1.25.squareRoot())) < 1e-6 && t[0, 1] == 0)
        #expect(abs(t[1, 2] - Float(1.5 / 1.25.squareRoot())) < 1e-5)
        // An unknown category: all zeros.
        #expect(Array(t.row(0)[3...]) == [0, 0, 1] && Array(t.row(1)[3...]) == [0, 0, 0])
        let decoded = try JSONDecoder().decode(Preprocessing.self, from: JSONEncoder().encode(p))
        #expect(decoded == p)
    }

    @Test func treeStepsFindTheThresholdOfTheLabel() throws {
        // The label flips at x = 8.6: the first tree edge must land between the neighbouring values.
        let xs = (0..<400).map { 7 + Double($0) * 0.01 }
        let labels = xs.map { $0 < 8.6 ? 1 : 0 }
        let p = try Preprocessing.fit(
            numericInputs: ["diff"], numeric: [xs], scaling: .treeSteps, bins: 4, labels: labels)
        let edges = p.edges![0]
        #expect(edges.contains { abs($0 - 8.595) < 1e-9 })
        let t = try p.transform(numeric: [[8.58, 8.61]])
        let step = 1 + edges.dropFirst().dropLast().firstIndex { abs($0 - 8.595) < 1e-9 }! - 1
        #expect(t[0, step] == 0 && t[1, step] == 1)
        #expect { try Preprocessing.fit(numericInputs: ["d"], numeric: [xs], scaling: .treeSteps) } throws: {
            "\($0)".contains("learns its bins from class labels")
        }
    }

    @Test func piecewiseLinearEncodingByHand() throws {
        let p = try Preprocessing.fit(
            numericInputs: ["x"], numeric: [[0, 1, 2, 3, 4]], scaling: .piecewiseLinear, bins: 4)
        #expect(p.edges! == [[0, 1, 2, 3, 4]])
        let t = try p.transform(numeric: [[1.5, 5]])
        #expect(Array(t.row(0)) == [1, 0.5, 0, 0])
        #expect(Array(t.row(1)) == [1, 1, 1, 2])  // the last bin extrapolates
    }
}

@Suite struct ModelFileTests {
    func trained() throws -> ModelFile {
        let model = try Sequential(
            [Dense(3, activation: .relu), BatchNormalization(), Dense(1, activation: .sigmoid)], inputSize: 2, seed: 4)
        let d = ModelFile.Description(
            task: .binary, inputSize: 2, outputSize: 1, layers: model.configurations, preprocessing: nil, target: "y",
            classes: ["0", "1"], threshold: 0.4, metadata: .init(created: "2026-11-25T00:00:00Z", codeVersion: "test"))
        return ModelFile(description: d, model: model)
    }

    @Test func roundTripsThroughItsFiles() throws {
        let file = try trained()
        let (json, weights) = try file.encoded()
        let back = try ModelFile.decode(json: json, weights: weights, source: "m")
        #expect(back.description == file.description)
        let x = Tensor([[0.5, -1], [2, 3]])
        #expect(try back.makeModel().predict(x) == file.makeModel().predict(x))
    }

    @Test func corruptWeightsAreClearErrors() throws {
        let (json, weights) = try trained().encoded()
        #expect { try ModelFile.decode(json: json, weights: Array(weights.prefix(5)), source: "m") } throws: {
            "\($0)".contains("too short for a header")
        }
        #expect { try ModelFile.decode(json: json, weights: Array(weights.dropLast(8)), source: "m") } throws: {
            "\($0)".contains("does not fit bytes")
        }
        var garbled = weights
        garbled[8] = UInt8(ascii: "#")  // the header's opening brace
        #expect { try ModelFile.decode(json: json, weights: garbled, source: "m") } throws: {
            "\($0)".contains("not a JSON object")
        }
        let tensors = try Safetensors.decode(weights, source: "m").filter { $0.key != "layers.0.bias" }
        let missing = try Safetensors.encode(
            tensors.map { (name: $0.key, shape: $0.value.shape, values: $0.value.values) })
        #expect { try ModelFile.decode(json: json, weights: missing, source: "m") } throws: {
            "\($0)".contains("no tensor 'layers.0.bias'")
        }
        #expect { try ModelFile.decode(json: Data("{}".utf8), weights: weights, source: "m") } throws: {
            "\($0)".contains("not a valid model description")
        }
    }
}
