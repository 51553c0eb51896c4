import Foundation
import HummingbirdTesting
import Learn
import Primitives
import Registry
import Testing

@testable import Server

/// TensorFlow Serving's REST API: the same request JSON gets the same-shaped answer, with TensorFlow's numbers, for
/// Keras models converted by tf2onnx (Tests/LearnTests/Fixtures: the model files and TensorFlow's outputs).
@Suite struct TFServingTests {
    static func worst(_ got: Any?, _ expected: [[Double]]) -> Double {
        guard let rows = got as? [[Double]], rows.count == expected.count else { return .infinity }
        var worst = 0.0
        for (g, e) in zip(rows, expected) {
            guard g.count == e.count else { return .infinity }
            for (a, b) in zip(g, e) { worst = max(worst, abs(a - b)) }
        }
        return worst
    }

    @Test(arguments: [("softmax", ModelFile.Task.multiclass), ("binary", .binary)])
    func kerasModelsAnswerWithTensorFlowsNumbers(_ fixture: String, _ task: ModelFile.Task) async throws {
        let t = try TestServer()
        defer { t.remove() }
        try t.importKeras(fixture, as: fixture, task: task)
        let (inputs, outputs) = try TestServer.tensorFlow(fixture)
        let viewer = t.token[.viewer]!
        try await t.test { client in
            // The row format, as a TensorFlow Serving client sends it.
            let rows = try await client.call(
                .post, "/v1/models/\(fixture):predict", token: viewer,
                json: ["signature_name": "serving_default", "instances": inputs])
            #expect(rows.status == .ok, "\(rows.text)")
            #expect(rows.headers[.contentType] == "application/json")
            #expect(Array(rows.json.keys) == ["predictions"])
            #expect(Self.worst(rows.json["predictions"], outputs) < 1e-5)
            // The columnar format.
            let columns = try await client.call(
                .post, "/v1/models/\(fixture):predict", token: viewer, json: ["inputs": inputs])
            #expect(Array(columns.json.keys) == ["outputs"])
            #expect(Self.worst(columns.json["outputs"], outputs) < 1e-5)
            // The named input of the signature (tf2onnx keeps Keras's name "input").
            let named = try await client.call(
                .post, "/v1/models/\(fixture)/versions/1:predict", token: viewer,
                json: ["instances": inputs.map { ["input": $0] }])
            #expect(Self.worst(named.json["predictions"], outputs) < 1e-5, "\(named.text)")
        }
    }

    /// A model trained in Millstream takes its raw columns by name (its preprocessing applied) and answers what the
    /// model itself answers; an anomaly detector answers score, alarm and top variable per instance.
    @Test func millstreamModelsAndDetectors() async throws {
        let t = try TestServer()
        defer { t.remove() }
        var rng = RandomSource(seed: 4)
        let rows = 400
        let x1 = (0..<rows).map { _ in rng.normal() * 2 + 10 }
        let x2 = (0..<rows).map { _ in rng.normal() }
        let kind = (0..<rows).map { $0 % 2 == 0 ? "A" : "B" }
        let target = (0..<rows).map { (x1[$0] > 10) != (kind[$0] == "B") ? "1" : "0" }
        var spec = TrainingSpec()
        spec.epochs = 5
        let trained = try Trainer.train(
            TabularData(
                numericNames: ["x1", "x2"], numeric: [x1, x2], categoricalNames: ["kind"], categorical: [kind],
                targetName: "y", target: target), spec: spec,
            metadata: .init(created: "x", datasetSHA256: nil, hyperparameters: [:], codeVersion: "test"))
        try t.registry.register(trained.model, as: "tabular")
        let pre = trained.model.description.preprocessing!
        let expected = try trained.model.makeModel().predict(
            try pre.transform(numeric: [[11.5, 8], [0.3, -1]], categoricalValues: [["B", "A"]]))
        let detector = try PCADetector.fit(
            variables: ["a", "b", "c"],
            rows: (0..<2_000).map { _ in
                let f = rng.normal(); return [f, 2 * f + 0.1 * rng.normal(), rng.normal()]
            })
        var d = ModelFile.Description(
            task: .anomaly, inputSize: 3, outputSize: 5, layers: [], preprocessing: nil, target: "", classes: [],
            threshold: 1, metadata: .init(created: "x", datasetSHA256: nil, hyperparameters: [:], codeVersion: "test"))
        d.engine = .pca
        d.detector = detector
        try t.registry.register(ModelFile(description: d, weights: [:]), as: "normal")
        // Dynamic PCA: a request's instances are a series, scored as `checkSeries` scores it.
        var state = 0.0
        let series = (0..<600).map { _ -> [Double] in
            state = 0.9 * state + rng.normal()
            return [state, 2 * state + 0.1 * rng.normal(), rng.normal()]
        }
        let dynamic = try PCADetector.fit(variables: ["a", "b", "c"], rows: series, falseAlarmRate: 0.05, lags: 2)
        d.detector = dynamic
        try t.registry.register(ModelFile(description: d, weights: [:]), as: "dynamic")
        let probe = Array(series.suffix(4))
        let probeScores = dynamic.checkSeries(probe).map(\.score)
        let viewer = t.token[.viewer]!
        try await t.test { client in
            let named = try await client.call(
                .post, "/v1/models/tabular:predict", token: viewer,
                json: ["instances": [["x1": 11.5, "x2": 0.3, "kind": "B"], ["x1": 8, "x2": -1, "kind": "A"]]])
            #expect(named.status == .ok, "\(named.text)")
            let got = named.json["predictions"] as? [[Double]] ?? []
            #expect(got.count == 2)
            for r in 0..<2 { #expect(abs((got[r].first ?? .nan) - Double(expected[r, 0])) < 1e-6) }
            // The signature names the raw columns; a string where a number belongs is refused by name.
            let metadata = try await client.call(.get, "/v1/models/tabular/metadata", token: viewer).text
            #expect(metadata.contains("\"kind\"") && metadata.contains("DT_STRING") && metadata.contains("\"x1\""))
            let wrong = try await client.call(
                .post, "/v1/models/tabular:predict", token: viewer,
                json: ["instances": [["x1": "a", "x2": 0, "kind": "A"]]])
            #expect(wrong.status == .badRequest && (wrong.json["error"] as? String ?? "").contains("instances[0].x1"))
            let anomaly = try await client.call(
                .post, "/v1/models/normal:predict", token: viewer,
                json: ["instances": [["a": 0.1, "b": 0.2, "c": 0], ["a": 1, "b": -2, "c": 0.5]]])
            let answers = anomaly.json["predictions"] as? [[String: Any]] ?? []
            #expect(answers.map { $0["alarm"] as? Bool } == [false, true], "\(anomaly.text)")
            #expect(["a", "b", "c"].contains(answers.last?["top_variable"] as? String ?? ""))
            #expect((answers.last?["score"] as? Double ?? 0) > 1)
            let columnar = try await client.call(
                .post, "/v1/models/normal:predict", token: viewer,
                json: ["inputs": ["a": [0.1, 1], "b": [0.2, -2], "c": [0, 0.5]]])
            #expect(((columnar.json["outputs"] as? [String: Any])?["alarm"] as? [Bool]) == [false, true])
            let lagged = try await client.call(
                .post, "/v1/models/dynamic:predict", token: viewer,
                json: ["instances": probe.map { ["a": $0[0], "b": $0[1], "c": $0[2]] }])
            let scores = (lagged.json["predictions"] as? [[String: Any]] ?? []).compactMap { $0["score"] as? Double }
            #expect(scores.count == 4, "\(lagged.text)")
            #expect(
                zip(scores, probeScores).allSatisfy { abs($0 - $1) < 1e-6 * max(1, abs($1)) },
                "\(scores) \(probeScores)")
        }
    }

    /// A model of histories takes each window variable as a sequence per instance (its readings, oldest first) and
    /// answers what evaluate computes at the same reading of the same history.
    @Test func historyModelsTakeAWindowPerInstance() async throws {
        let t = try TestServer()
        defer { t.remove() }
        var rng = RandomSource(seed: 9)
        var units: [String] = []
        var time: [Double] = []
        var wear: [Double] = []
        var load: [Double] = []
        var kind: [String] = []
        for u in 0..<30 {
            let life = 40 + Double(u % 5) * 10
            for step in 0..<Int(life) {
                units.append("u\(u)")
                time.append(Double(step))
                wear.append(Double(step) / life + 0.05 * rng.normal())
                load.append(rng.normal())
                kind.append(u % 2 == 0 ? "A" : "B")
            }
        }
        let target = try TimeToEvent.remainingLife(units: units, time: time, cap: 30)
        var spec = TrainingSpec()
        spec.task = .regression
        spec.epochs = 3
        let columns = ["wear": wear, "load": load]
        let rows = [3, 20, 45]  // unit u0: its 4th reading, its 21st (a full window), and u1's 6th (u0 has 40)
        /// Trains and registers a model of histories with `window`; returns what evaluate scores at `rows`: the
        /// window features of every row, then the preprocessing.
        func register(
            _ window: WindowSpec, as name: String, derived: [(name: String, expression: String)] = []
        ) throws -> Tensor {
            let trained = try Trainer.train(
                history: TabularData(
                    numericNames: ["wear", "load"], numeric: [wear, load], categoricalNames: ["kind"],
                    categorical: [kind], derived: derived, targetName: "rul", target: target.map { "\($0)" }),
                units: units, time: time,
                history: ModelFile.HistorySpec(unit: "unit", time: "t", window: window, cap: 30),
                spec: spec, metadata: .init(created: "x", datasetSHA256: nil, hyperparameters: [:], codeVersion: "test")
            )
            try t.registry.register(trained.model, as: name)
            let pre = trained.model.description.preprocessing!
            let history = trained.model.description.history!
            let numeric = try history.numericInputs(pre.numericInputs, units: units, time: time) { columns[$0]! }
            return try trained.model.makeModel().predict(
                try pre.transform(
                    numeric: numeric.map { c in rows.map { c[$0] } }, categoricalValues: [rows.map { kind[$0] }]))
        }
        let expected = try register(try WindowSpec(variables: ["wear"], length: 8), as: "life")
        func readings(_ r: Int) -> [Double] {
            let first = units.firstIndex(of: units[r])!
            return Array(wear[first...r])
        }
        let sequences = rows.map(readings)
        // With the unit's age as an input: a client sends only the last 8 readings and the age (no EWMA, which runs
        // over the whole history).
        let agedExpected = try register(
            try WindowSpec(variables: ["wear"], length: 8, statistics: [.last, .mean, .slope], age: true),
            as: "life-aged")
        // A variable derived from each reading (here from the window's own wear) is computed by the server: the
        // client sends the raw window variables only.
        let derivedExpected = try register(
            try WindowSpec(variables: ["wear", "worn"], length: 8), as: "life-derived",
            derived: [("worn", "max(wear - 0.5, 0) * 2")])
        let loads = rows.map { load[$0] }
        let kinds = rows.map { kind[$0] }
        let viewer = t.token[.viewer]!
        try await t.test { client in
            let named = try await client.call(
                .post, "/v1/models/life:predict", token: viewer,
                json: ["instances": rows.indices.map { ["wear": sequences[$0], "load": loads[$0], "kind": kinds[$0]] }])
            #expect(named.status == .ok, "\(named.text)")
            let got = named.json["predictions"] as? [[Double]] ?? []
            #expect(got.count == rows.count)
            for k in rows.indices {
                #expect(abs(((k < got.count ? got[k].first : nil) ?? .nan) - Double(expected[k, 0])) < 1e-5)
            }
            let columnar = try await client.call(
                .post, "/v1/models/life:predict", token: viewer,
                json: [
                    "inputs": [
                        "wear": sequences, "load": loads, "kind": kinds,
                    ]
                ])
            let outputs = columnar.json["outputs"] as? [[Double]] ?? []
            #expect(outputs.count == rows.count && abs((outputs.last?.first ?? .nan) - Double(expected[2, 0])) < 1e-5)
            // The signature: the window variable is a sequence, the raw input a number, the category a string.
            let metadata = try await client.call(.get, "/v1/models/life/metadata", token: viewer)
            let signature =
                (((metadata.json["metadata"] as? [String: Any])?["signature_def"] as? [String: Any])?["signature_def"]
                as? [String: Any])?["serving_default"] as? [String: Any]
            let inputs = signature?["inputs"] as? [String: [String: Any]] ?? [:]
            #expect(Set(inputs.keys) == ["wear", "load", "kind"], "\(metadata.text)")
            let dims = ((inputs["wear"]?["tensor_shape"] as? [String: Any])?["dim"] as? [[String: Any]])?.count
            #expect(dims == 2)
            let empty = try await client.call(
                .post, "/v1/models/life:predict", token: viewer,
                json: ["instances": [["wear": [Double](), "load": 0, "kind": "A"]]])
            #expect(empty.status == .badRequest)
            let agedAnswer = try await client.call(
                .post, "/v1/models/life-aged:predict", token: viewer,
                json: [
                    "instances": rows.indices.map {
                        [
                            "wear": Array(sequences[$0].suffix(8)), "load": loads[$0], "kind": kinds[$0],
                            "age": sequences[$0].count,
                        ]
                    }
                ])
            let agedGot = agedAnswer.json["predictions"] as? [[Double]] ?? []
            #expect(agedGot.count == rows.count, "\(agedAnswer.text)")
            for k in rows.indices where k < agedGot.count {
                #expect(abs((agedGot[k].first ?? .nan) - Double(agedExpected[k, 0])) < 1e-5)
            }
            #expect((empty.json["error"] as? String ?? "").contains("instances[0].wear must be a list of 1 to"))
            let derivedAnswer = try await client.call(
                .post, "/v1/models/life-derived:predict", token: viewer,
                json: ["instances": rows.indices.map { ["wear": sequences[$0], "load": loads[$0], "kind": kinds[$0]] }])
            let derivedGot = derivedAnswer.json["predictions"] as? [[Double]] ?? []
            #expect(derivedGot.count == rows.count, "\(derivedAnswer.text)")
            for k in rows.indices where k < derivedGot.count {
                #expect(abs((derivedGot[k].first ?? .nan) - Double(derivedExpected[k, 0])) < 1e-5)
            }
        }
    }

    @Test func statusMetadataVersionsAndLabels() async throws {
        let t = try TestServer()
        defer { t.remove() }
        try t.importKeras("softmax", as: "quality", task: .multiclass)
        try t.importKeras("softmax", as: "quality", task: .multiclass)
        try t.registry.promote("quality", version: 1, to: .production)
        try t.registry.setAlias("canary", of: "quality", to: 2)
        let viewer = t.token[.viewer]!
        try await t.test { client in
            let status = try await client.call(.get, "/v1/models/quality", token: viewer)
            let versions = status.json["model_version_status"] as? [[String: Any]] ?? []
            #expect(versions.map { $0["version"] as? String } == ["2", "1"])
            #expect(versions.allSatisfy { $0["state"] as? String == "AVAILABLE" })
            #expect((versions.first?["status"] as? [String: String]) == ["error_code": "OK", "error_message": ""])
            let one = try await client.call(.get, "/v1/models/quality/versions/2", token: viewer)
            #expect((one.json["model_version_status"] as? [[String: Any]])?.count == 1)
            // Without a version the production one answers (v1 here), like the pipeline scores it.
            let metadata = try await client.call(.get, "/v1/models/quality/metadata", token: viewer)
            let spec = metadata.json["model_spec"] as? [String: String]
            #expect(spec == ["name": "quality", "signature_name": "", "version": "1"])
            let signature =
                ((metadata.json["metadata"] as? [String: Any])?["signature_def"] as? [String: Any])?["signature_def"]
                as? [String: Any]
            let serving = signature?["serving_default"] as? [String: Any]
            #expect(serving?["method_name"] as? String == "tensorflow/serving/predict")
            let input = (serving?["inputs"] as? [String: Any])?["input"] as? [String: Any]
            #expect(input?["dtype"] as? String == "DT_FLOAT")
            let dims = ((input?["tensor_shape"] as? [String: Any])?["dim"] as? [[String: String]])?.map { $0["size"] }
            #expect(dims == ["-1", "6"])
            let label = try await client.call(.get, "/v1/models/quality/labels/production/metadata", token: viewer)
            #expect((label.json["model_spec"] as? [String: String])?["version"] == "1")
            let (inputs, outputs) = try TestServer.tensorFlow("softmax")
            let byLabel = try await client.call(
                .post, "/v1/models/quality/labels/production:predict", token: viewer, json: ["instances": inputs])
            #expect(Self.worst(byLabel.json["predictions"], outputs) < 1e-5)
            // A registry alias is a version label too.
            let canary = try await client.call(.get, "/v1/models/quality/labels/canary/metadata", token: viewer)
            #expect((canary.json["model_spec"] as? [String: String])?["version"] == "2")
        }
    }

    /// Each bad request gets its 4xx and a message saying what is wrong; none changes anything on the server.
    @Test func badRequestsAreRefusedClearlyAndChangeNothing() async throws {
        let t = try TestServer(maxBodyBytes: 16 * 1024)
        defer { t.remove() }
        try t.importKeras("softmax", as: "quality", task: .multiclass)
        let historyBefore = try t.registry.history(of: "quality")
        let viewer = t.token[.viewer]!
        let row = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
        let cases: [(String, String, Any?, [UInt8]?, Int, String)] = [
            (
                "malformed JSON", "/v1/models/quality:predict", nil, Array(#"{"instances": [[1,2"#.utf8), 400,
                "JSON Parse error"
            ),
            ("not an object", "/v1/models/quality:predict", [1, 2], nil, 400, "must be a JSON object"),
            (
                "no instances", "/v1/models/quality:predict", ["rows": [row]], nil, 400,
                "Missing 'inputs' or 'instances'"
            ),
            (
                "both formats", "/v1/models/quality:predict", ["instances": [row], "inputs": [row]], nil, 400,
                "Not both"
            ),
            (
                "short row", "/v1/models/quality:predict", ["instances": [[1, 2, 3]]], nil, 400,
                "instances[0] has 3 values; the model takes 6"
            ),
            (
                "text in a row", "/v1/models/quality:predict", ["instances": [[1, 2, 3, 4, 5, "x"]]], nil, 400,
                "instances[0][5] is not a number"
            ),
            (
                "unknown input", "/v1/models/quality:predict", ["instances": [["pixels": row]]], nil, 400,
                "unknown input 'pixels'"
            ),
            (
                "unknown model", "/v1/models/nosuch:predict", ["instances": [row]], nil, 404,
                "Servable not found for request: Latest(nosuch)"
            ),
            (
                "unknown version", "/v1/models/quality/versions/7:predict", ["instances": [row]], nil, 404,
                "Specific(quality, 7)"
            ),
            (
                "bad version", "/v1/models/quality/versions/x:predict", ["instances": [row]], nil, 400,
                "not a positive integer"
            ),
            (
                "unknown label", "/v1/models/quality/labels/canary:predict", ["instances": [row]], nil, 404,
                "Unrecognized servable version label"
            ),
            ("classify", "/v1/models/quality:classify", ["instances": [row]], nil, 400, "classify is not supported"),
            (
                "oversized body", "/v1/models/quality:predict", ["instances": Array(repeating: row, count: 2_000)], nil,
                413, "too large"
            ),
        ]
        let requests = cases.map { c in
            (
                c.0, c.1,
                c.3 ?? [UInt8](try! JSONSerialization.data(withJSONObject: c.2!, options: [.fragmentsAllowed])), c.4,
                c.5
            )
        }
        try await t.test { client in
            for (what, uri, raw, status, message) in requests {
                let r = try await client.call(.post, uri, token: viewer, raw: raw)
                #expect(Int(r.status.code) == status, "\(what): \(r.status) \(r.text)")
                let error = r.json["error"] as? String ?? ""
                #expect(error.contains(message), "\(what): \(error)")
                #expect(r.headers[.contentType] == "application/json", "\(what)")
            }
            let status = try await client.call(.get, "/v1/models/nosuch", token: viewer)
            #expect(status.status == .notFound)
            #expect(status.json["error"] as? String == "Could not find any versions of model nosuch")
        }
        #expect(try t.registry.versions(of: "quality").count == 1)
        #expect(try t.registry.history(of: "quality") == historyBefore)
        #expect(t.audit.entries.isEmpty)
    }
}
