import Foundation
import Learn

/// Remaining useful life on NASA C-MAPSS FD001 (data/cmapss, or --data DIR): Millstream's window MLP over
/// five seeds beside Keras 3 with the same architecture, the same window features and the same procedure (splits by
/// engine, Adam, early stopping), one run on this machine (docs/learn.md, examples/cmapss/README.md).
enum CMAPSSBench {
    /// The 14 sensors that vary in FD001 (one operating condition; the others are constant).
    static let sensors = [2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21]

    static func read(_ path: String) throws -> (units: [String], time: [Double], columns: [[Double]]) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            print("cannot read \(path): pass --data DIR with NASA's train_FD001.txt, test_FD001.txt and RUL_FD001.txt")
            exit(1)
        }
        var units: [String] = [], time: [Double] = []
        var columns = [[Double]](repeating: [], count: sensors.count)
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ").compactMap { Double($0) }
            guard f.count == 26 else { continue }
            units.append(String(Int(f[0])))
            time.append(f[1])
            for (j, s) in sensors.enumerated() { columns[j].append(f[4 + s]) }
        }
        return (units, time, columns)
    }

    /// Window 80 with the engine's age and 5 averaged networks: the settings `select` picks on engines held out of
    /// the training file (never on the test set).
    static func run(data: String, seeds: Int, window length: Int = 80, age: Bool = true, ensemble: Int = 5) throws {
        print(
            "cmapss: FD001 remaining life, window \(length) (last, mean, slope, EWMA of 14 sensors)\(age ? " and the engine's age" : ""), MLP 64-64\(ensemble > 1 ? " x \(ensemble) averaged" : ""), RUL cap 125"
        )
        let names = sensors.map { "s\($0)" }
        let train = try read(data + "/train_FD001.txt")
        let test = try read(data + "/test_FD001.txt")
        let truth = try String(contentsOfFile: data + "/RUL_FD001.txt", encoding: .utf8).split(separator: "\n")
            .compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        let window = try WindowSpec(variables: names, length: length, age: age)
        let history = ModelFile.HistorySpec(unit: "unit", time: "cycle", window: window, cap: 125)
        let target = try TimeToEvent.remainingLife(units: train.units, time: train.time, cap: 125)
        let table = TabularData(
            numericNames: names, numeric: train.columns, targetName: "rul", target: target.map { "\($0)" })
        let lastRows = try history.lastRows(units: test.units, time: test.time).map(\.row)
        let columns = Dictionary(uniqueKeysWithValues: zip(names, test.columns))
        var ours: [(rmse: Double, score: Double, seconds: Double)] = []
        var exported = false
        let dir = NSTemporaryDirectory() + "millstream-cmapss-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for seed in 0..<seeds {
            let spec = Self.spec(seed: seed, ensemble: ensemble)
            var result: TrainingResult?
            let t = try seconds {
                result = try Trainer.train(
                    history: table, units: train.units, time: train.time, history: history, spec: spec,
                    metadata: .init(created: "bench", codeVersion: "bench"))
            }
            let file = result!.model
            let pre = file.description.preprocessing!
            let numeric = try history.numericInputs(pre.numericInputs, units: test.units, time: test.time) {
                columns[$0]!
            }
            let x = try pre.transform(numeric: numeric)
            let y = try file.makePredictor().predictBatch(x)
            let m = RULMetrics(predicted: lastRows.map { Double(y[$0, 0]) }, actual: truth)
            ours.append((m.rmse, m.score, t))
            if !exported {
                // The same windows for Keras, through the preprocessing fitted here (standardized features).
                let trainNumeric = try history.numericInputs(
                    pre.numericInputs, units: train.units, time: train.time
                ) { name in train.columns[names.firstIndex(of: name)!] }
                let xTrain = try pre.transform(numeric: trainNumeric)
                try write(xTrain.scalars, dir + "/x_train.bin")
                try write(target.map(Float.init), dir + "/y_train.bin")
                try write(train.units.map { Float($0)! }, dir + "/units.bin")
                try write(lastRows.flatMap { x.row($0) }, dir + "/x_test.bin")
                try write(truth.map(Float.init), dir + "/y_test.bin")
                try JSONSerialization.data(withJSONObject: [
                    "features": xTrain.columns, "train_rows": xTrain.rows, "test_rows": lastRows.count, "seeds": seeds,
                    "ensemble": ensemble,
                ]).write(to: URL(fileURLWithPath: dir + "/meta.json"))
                exported = true
            }
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ".venv/bin/python")
        process.arguments = ["Benchmarks/learn/keras_cmapss.py", dir]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let keras = try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: dir + "/keras.json"))) as? [String: Any],
            let runs = keras["runs"] as? [[String: Double]]
        else {
            print("the Keras side failed: run scripts/bench-venv first")
            exit(1)
        }
        print("peer versions: \(keras["versions"] ?? "")")
        func summary(_ xs: [Double]) -> String {
            String(format: "%.2f (%.2f–%.2f)", xs.reduce(0, +) / Double(xs.count), xs.min()!, xs.max()!)
        }
        let theirs = runs.map { ($0["rmse"]!, $0["score"]!, $0["fit_seconds"]!) }
        print("\(seeds) seeds each; RMSE and PHM08 score at each test engine's last cycle against RUL_FD001.txt")
        print(
            "  millstream  RMSE \(summary(ours.map(\.rmse)))  score \(summary(ours.map(\.score)))  fit \(summary(ours.map(\.seconds))) s"
        )
        print(
            "  keras       RMSE \(summary(theirs.map(\.0)))  score \(summary(theirs.map(\.1)))  fit \(summary(theirs.map(\.2))) s"
        )
        let ratio = theirs.map(\.2).reduce(0, +) / ours.map(\.seconds).reduce(0, +)
        print(
            String(format: "  fit: millstream %.1fx faster than keras (mean over seeds, each to early stopping)", ratio)
        )
    }

    /// The settings' choice on the training file alone: for each window length, with and without the age, the RMSE
    /// over every reading of the engines `train` holds out (a fifth, whole engines) over seeds 0-2. The test file
    /// plays no part.
    static func select(data: String) throws {
        let names = sensors.map { "s\($0)" }
        let train = try read(data + "/train_FD001.txt")
        let target = try TimeToEvent.remainingLife(units: train.units, time: train.time, cap: 125)
        let table = TabularData(
            numericNames: names, numeric: train.columns, targetName: "rul", target: target.map { "\($0)" })
        print("cmapss select: RMSE on engines held out of train_FD001.txt (every reading), MLP 64-64, seeds 0-2")
        for ensemble in [1, 5] {
            for length in [30, 45, 60, 80, 100] {
                for age in [false, true] where ensemble == 1 || age {
                    var rmse: [Double] = []
                    for seed in 0..<3 {
                        let spec = Self.spec(seed: seed, ensemble: ensemble)
                        let history = ModelFile.HistorySpec(
                            unit: "unit", time: "cycle",
                            window: try WindowSpec(variables: names, length: length, age: age),
                            cap: 125)
                        let result = try Trainer.train(
                            history: table, units: train.units, time: train.time, history: history, spec: spec,
                            metadata: .init(created: "bench", codeVersion: "bench"))
                        rmse.append(result.testMetrics["mse"].map { $0.squareRoot() } ?? .nan)
                    }
                    print(
                        String(
                            format: "  window %3d  age %@  ensemble %d  held-out RMSE %.2f (%@)", length,
                            age ? "yes" : "no ", ensemble, rmse.reduce(0, +) / 3,
                            rmse.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
                }
            }
        }
    }

    /// Dense 64-64 for the capped remaining life, at most 60 epochs.
    static func spec(seed: Int, ensemble: Int) -> TrainingSpec {
        var spec = TrainingSpec()
        spec.task = .regression
        spec.hiddenLayers = [64, 64]
        spec.epochs = 60
        spec.seed = UInt64(seed)
        spec.ensemble = ensemble
        return spec
    }

    static func write(_ values: [Float], _ path: String) throws {
        try values.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: path))
    }
}
