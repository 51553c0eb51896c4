import Foundation
import Learn
import Primitives

/// Learn beside Keras 3 / TensorFlow 2.21 and onnxruntime, same data, same machine, one run (see docs/benchmarks.md).
/// Needs the benchmark venv: scripts/bench-venv.
enum LearnBench {
    struct Workload {
        var rows: Int, features: Int, classes: Int, layers: [(Int, Float)], epochs: Int, batch: Int
    }

    static let workloads: [(String, Workload)] = [
        ("binary_1000x10", Workload(rows: 1000, features: 10, classes: 2, layers: [(64, 0)], epochs: 10, batch: 32)),
        (
            "multiclass_1000x20",
            Workload(rows: 1000, features: 20, classes: 3, layers: [(128, 0.3), (64, 0.2)], epochs: 20, batch: 64)
        ),
        (
            "binary_100000x16",
            Workload(rows: 100_000, features: 16, classes: 2, layers: [(64, 0), (64, 0)], epochs: 5, batch: 256)
        ),
    ]

    static func python(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ".venv/bin/python")
        process.arguments = ["Benchmarks/learn/keras_side.py"] + arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            print("the Python side failed (\(arguments.dropFirst().first ?? "")): run scripts/bench-venv first")
            exit(1)
        }
    }

    static func load(_ path: String, count: Int) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        precondition(data.count == count * 4, "\(path): \(data.count) bytes, expected \(count * 4)")
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// The 100,000 x 16 fit alone, on random data made here (for profiling without Python).
    static func fitOnly() throws {
        var rng = RandomSource(seed: 1)
        let x = Tensor(rows: 100_000, columns: 16, scalars: (0..<1_600_000).map { _ in Float(rng.uniform() * 4 - 2) })
        let y = Tensor(
            rows: 100_000, columns: 1, scalars: (0..<100_000).map { i in x[i, 0] + x[i, 1] * x[i, 2] > 0 ? 1 : 0 })
        let model = try Sequential(
            [Dense(64, activation: .relu), Dense(64, activation: .relu), Dense(1, activation: .sigmoid)], inputSize: 16)
        let t = try seconds {
            try model.fit(
                x: x, y: y, loss: BinaryCrossEntropy(), optimizer: Adam(),
                options: FitOptions(epochs: 5, batchSize: 256, validationSplit: 0.2))
        }
        print(String(format: "fit 100000 x 16, 64-64-1, 5 epochs, batch 256: %.3f s", t))
    }

    static func run() throws {
        let dir = NSTemporaryDirectory() + "millstream-learn-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        print("learn: Millstream vs Keras (TensorFlow CPU) and onnxruntime; same data, same machine, one run")
        try python([dir, "make-data"])
        try python([dir, "keras"])
        let keras =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/keras.json")))
            as! [String: Any]
        print("peer versions: \(keras["versions"]!)")
        var lastModel: Sequential?
        var lastX: Tensor?
        print("\nfit time (seed 0) and validation accuracy (last epoch, validation split 0.2, mean over seeds)")
        for (name, w) in workloads {
            let x = Tensor(
                rows: w.rows, columns: w.features, scalars: try load("\(dir)/\(name).x.bin", count: w.rows * w.features)
            )
            let y = Tensor(rows: w.rows, columns: 1, scalars: try load("\(dir)/\(name).y.bin", count: w.rows))
            let seeds: [UInt64] = w.rows <= 1000 ? [0, 1, 2, 3, 4] : [0]
            var accuracies: [Double] = []
            var firstTime = 0.0
            for seed in seeds {
                var layers: [any Layer] = []
                for (units, rate) in w.layers {
                    layers.append(Dense(units, activation: .relu))
                    if rate > 0 { layers.append(Dropout(rate)) }
                }
                let binary = w.classes == 2
                layers.append(Dense(binary ? 1 : w.classes, activation: binary ? .sigmoid : .softmax))
                let model = try Sequential(layers, inputSize: w.features, seed: seed)
                var history = History()
                let t = try seconds {
                    history = try model.fit(
                        x: x, y: y, loss: binary ? BinaryCrossEntropy() : SparseCategoricalCrossEntropy(),
                        optimizer: Adam(),
                        options: FitOptions(epochs: w.epochs, batchSize: w.batch, validationSplit: 0.2, seed: seed))
                }
                if seed == 0 { firstTime = t }
                accuracies.append(history.epochs.last!.values["val_accuracy"]!)
                lastModel = model
                lastX = x
            }
            let peer = keras[name] as! [String: Any]
            let peerTime = peer["fit_seconds"] as! Double
            let peerAccuracy = (peer["val_accuracy"] as! [Double])
            let ours = accuracies.reduce(0, +) / Double(accuracies.count)
            let theirs = peerAccuracy.reduce(0, +) / Double(peerAccuracy.count)
            print(
                name.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + String(
                        format: "fit: millstream %7.3f s   keras %7.3f s   %6.1fx faster", firstTime, peerTime,
                        peerTime / firstTime))
            if seeds.count > 1 {
                print(
                    String(repeating: " ", count: 20)
                        + String(
                            format: "val accuracy: millstream %.4f   keras %.4f   difference %+.2f points (%d seeds)",
                            ours, theirs, (ours - theirs) * 100, seeds.count))
            }
        }
        // Scoring: the 16-64-64-1 model just trained.
        let model = lastModel!, x = lastX!
        try Data(try model.onnx()).write(to: URL(fileURLWithPath: dir + "/model.onnx"))
        try python([dir, "onnxruntime", dir + "/model.onnx"])
        let ortJSON =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/onnxruntime.json")))
            as! [String: Any]
        let ort = ortJSON.compactMapValues { ($0 as? NSNumber)?.doubleValue }
        let single = keras["single_sample"] as! [String: Double]
        let frozen = InferenceModel(model)
        var scratch = frozen.makeScratch()
        var out: [Float] = [0]
        var times: [Double] = []
        times.reserveCapacity(200_000)
        let rows = (0..<1000).map { x.row($0) }
        var sink: Float = 0
        for i in 0..<200_000 {
            rows[i % 1000].withUnsafeBufferPointer { input in
                out.withUnsafeMutableBufferPointer { o in
                    let t = ContinuousClock.now
                    frozen.predict(input, into: o, scratch: &scratch)
                    let d = ContinuousClock.now - t
                    times.append(Double(d.components.attoseconds) * 1e-12 + Double(d.components.seconds) * 1e6)
                }
            }
            sink += out[0]
        }
        times.sort()
        let median = times[times.count / 2], p99 = times[times.count * 99 / 100]
        print("\nsingle-sample scoring, 16-64-64-1 (microseconds; ours timed per call, allocation-free path)")
        print(String(format: "  millstream median %.3f  p99 %.3f", median, p99))
        print(
            String(
                format: "  keras model(x) median %.1f  p99 %.1f   (%.0fx)", single["call_median_us"]!,
                single["call_p99_us"]!, single["call_median_us"]! / median))
        print(
            String(
                format: "  keras tf.function median %.1f  p99 %.1f   (%.0fx)", single["tf_function_median_us"]!,
                single["tf_function_p99_us"]!, single["tf_function_median_us"]! / median))
        print(
            String(
                format: "  onnxruntime %@ median %.2f  p99 %.2f   (%.1fx)", "\(ortJSON["version"] ?? "")",
                ort["single_median_us"]!, ort["single_p99_us"]!, ort["single_median_us"]! / median))
        let batch = x.gathering(rows: 0..<1024)
        var n = 0
        let t = seconds {
            let start = ContinuousClock.now
            while ContinuousClock.now - start < .seconds(2) {
                sink += model.predict(batch).scalars[0]
                n += 1
            }
        }
        let ours = Double(n * 1024) / t
        let peer = ort["batch1024_samples_per_s"]!
        print("\nbatch 1024 throughput, one thread (samples/s)")
        print(String(format: "  millstream %.0f   onnxruntime %.0f   ratio %.2f", ours, peer, ours / peer))
        print("  (sink \(sink))")
    }
}
