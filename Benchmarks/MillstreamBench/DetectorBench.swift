import Foundation
import Learn

/// Anomaly detectors on autocorrelated process data (docs/detectors.md): false alarms on a second normal run at the
/// asked rate, detection and delay per fault type, for Millstream's PCA (static and dynamic, limits from time-ordered
/// folds) and autoencoder beside two peers on the same runs:
/// - "textbook PCA": T² against chi-square(a), Q against Box's approximation from the residual eigenvalues (the
///   parametric limits of the process-monitoring literature, assuming independent rows);
/// - "random-quarter PCA": Millstream's PCA as it was before (limits the quantile of every fourth training row).
enum DetectorBench {
    struct Method {
        var name: String
        var fit: ([String], [[Double]], Double) throws -> any AnomalyDetector
    }

    static func run(
        plants: Int, runs: Int, rows: Int, variables: Int, autoencoder: Bool, disturbance: Double, noise: Double
    ) throws {
        print(
            "detectors: \(plants) plants x \(runs) runs, \(variables) variables, \(rows) training rows, a second normal run of 2000 rows, faults of one signal spread on one variable from sample 300 of 1000; own slow disturbance \(disturbance), white noise \(noise)"
        )
        print(
            "FA: false alarms on the second normal run at the asked rate; detection: share of faulty samples alarmed at the 5 % limit; oracle: detection at the limit that gives exactly 5 % on the second normal run"
        )
        var methods = [
            Method(name: "PCA, time-ordered folds") {
                try PCADetector.fit(variables: $0, rows: $1, falseAlarmRate: $2)
            },
            Method(name: "dynamic PCA (lags from data)") {
                try PCADetector.fit(variables: $0, rows: $1, falseAlarmRate: $2, lags: nil)
            },
            Method(name: "peer: textbook PCA (chi2, Box)") { try TextbookPCA.fit(variables: $0, rows: $1, rate: $2) },
            Method(name: "peer: random-quarter PCA") {
                try TextbookPCA.randomQuarter(variables: $0, rows: $1, rate: $2)
            },
        ]
        if autoencoder {
            methods.insert(
                Method(name: "autoencoder, time-ordered folds") {
                    try AutoencoderDetector.fit(variables: $0, rows: $1, falseAlarmRate: $2, epochs: 100)
                }, at: 2)
        }
        let faults = SyntheticProcess.Fault.allCases
        print(
            "method".padding(toLength: 34, withPad: " ", startingAt: 0) + "  FA@1%   FA@5%  "
                + faults.map { $0.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined()
                + "mean   step delay   oracle   fit s")
        var results: [String: (far1: Double, far5: Double, detection: [Double])] = [:]
        for method in methods {
            var far: [Double: [Double]] = [0.01: [], 0.05: []]
            var detection = [SyntheticProcess.Fault: [Double]]()
            var delays: [Double] = []
            var oracle: [Double] = []
            var fitTime = 0.0
            for p in 0..<plants {
                var process = SyntheticProcess(variables: variables, seed: UInt64(p))
                process.disturbance = disturbance
                process.noise = noise
                for r in 0..<runs {
                    let train = process.run(rows: rows, seed: UInt64(100 + r))
                    let normal = process.run(rows: 2000, seed: UInt64(500 + r))
                    for rate in [0.01, 0.05] {
                        var detector: (any AnomalyDetector)!
                        fitTime += try seconds { detector = try method.fit(process.variables, train, rate) }
                        let checked = detector.checkSeries(normal)
                        far[rate]!.append(Double(checked.filter(\.alarm).count) / Double(checked.count))
                        guard rate == 0.05 else { continue }
                        let oracleLimit = checked.map(\.score).sorted()[Int(0.95 * Double(checked.count))]
                        for fault in faults {
                            let j = (r * 7 + p) % variables
                            let spread = SyntheticProcess.spread(of: j, in: train)
                            let run = process.run(
                                rows: 1000, seed: UInt64(900 + r), fault: fault, variable: j, start: 300, spread: spread
                            )
                            let c = detector.checkSeries(run.rows)
                            let a = c.map(\.alarm)
                            detection[fault, default: []].append(Double(a[300...].filter { $0 }.count) / 700)
                            oracle.append(Double(c[300...].filter { $0.score > oracleLimit }.count) / 700)
                            if fault == .step {
                                delays.append(Double(a[300...].firstIndex(of: true).map { $0 - 300 } ?? 700))
                            }
                        }
                    }
                }
            }
            let d = faults.map { mean(detection[$0]!) }
            results[method.name] = (mean(far[0.01]!), mean(far[0.05]!), d)
            print(
                method.name.padding(toLength: 34, withPad: " ", startingAt: 0)
                    + String(format: "%5.2f%%  %5.2f%%  ", 100 * mean(far[0.01]!), 100 * mean(far[0.05]!))
                    + d.map { String(format: "%-12.2f", $0) }.joined()
                    + String(
                        format: "%.2f   %5.0f        %.2f     %.2f", mean(d), median(delays), mean(oracle), fitTime))
        }
        if let ours = results["PCA, time-ordered folds"], let peer = results["peer: textbook PCA (chi2, Box)"] {
            print(
                String(
                    format:
                        "false alarms at 1%%: ours %.2f%%, textbook %.2f%% (ratio %.2f); at 5%%: ours %.2f%%, textbook %.2f%% (ratio %.2f)",
                    100 * ours.far1, 100 * peer.far1, ours.far1 / peer.far1, 100 * ours.far5, 100 * peer.far5,
                    ours.far5 / peer.far5))
        }
    }

    static func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(max(x.count, 1)) }
}

/// The peers: PCA with the literature's parametric limits, and with limits from a random quarter of the rows. Both fit
/// Millstream's PCA code (same components, same standardisation); only the limits differ.
enum TextbookPCA {
    static func fit(variables: [String], rows: [[Double]], rate: Double) throws -> PCADetector {
        var d = try PCADetector.fit(variables: variables, rows: rows, falseAlarmRate: rate, folds: 2)
        let z = rows.map { r in (0..<variables.count).map { (r[$0] - d.means[$0]) / d.scales[$0] } }
        let theta = PCAResidualMoments.of(z, d)
        let each = 1 - (1 - rate).squareRoot()
        d.t2Scale = Distributions.chiSquareQuantile(1 - each, degreesOfFreedom: Double(d.components.count))
        d.qScale = max(
            theta.1 / theta.0
                * Distributions.chiSquareQuantile(1 - each, degreesOfFreedom: theta.0 * theta.0 / theta.1), 1e-12)
        d.limit = 1
        return d
    }

    /// Limits at the (1 - rate) quantile of every fourth row's statistics, as Millstream did before time-ordered folds.
    static func randomQuarter(variables: [String], rows: [[Double]], rate: Double) throws -> PCADetector {
        let fitRows = rows.enumerated().filter { $0.offset % 4 != 3 }.map(\.element)
        let calibration = rows.enumerated().filter { $0.offset % 4 == 3 }.map(\.element)
        var d = try PCADetector.fit(variables: variables, rows: fitRows, falseAlarmRate: rate, folds: 2)
        let s = calibration.map { d.evaluate($0) }
        func quantile(_ v: [Double]) -> Double {
            v.sorted()[min(v.count - 1, Int((1 - rate) * Double(v.count - 1) + 0.999))]
        }
        d.t2Scale = quantile(s.map(\.t2))
        d.qScale = quantile(s.map(\.q))
        d.limit = quantile(s.map { max($0.t2 / d.t2Scale, $0.q / d.qScale) })
        return d
    }
}

/// theta1 and theta2 of the residual subspace (sums of the residual eigenvalues and of their squares), from the
/// training rows' residuals.
enum PCAResidualMoments {
    static func of(_ z: [[Double]], _ d: PCADetector) -> (Double, Double) {
        let n = Double(z.count)
        let width = z.first?.count ?? 0
        var cov = [[Double]](repeating: [Double](repeating: 0, count: width), count: width)
        for row in z {
            var r = row
            for p in d.components {
                let s = zip(p, row).reduce(0) { $0 + $1.0 * $1.1 }
                for j in 0..<width { r[j] -= s * p[j] }
            }
            for i in 0..<width { for j in 0..<width { cov[i][j] += r[i] * r[j] / (n - 1) } }
        }
        let theta1 = (0..<width).reduce(0) { $0 + cov[$1][$1] }
        let theta2 = cov.flatMap { $0 }.reduce(0) { $0 + $1 * $1 }  // trace(C²) = sum of squared eigenvalues
        return (theta1, theta2)
    }
}

/// `millstream-bench detectors-data --dir DIR`: the example files of docs/detectors.md (normal.csv: 500 rows of a
/// 12-variable test process; faulty.csv: 800 rows, a step of three spreads on x5 from row 401, column `fault`).
enum DetectorData {
    static func write(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let process = SyntheticProcess(variables: 12, seed: 5)
        let train = process.run(rows: 500, seed: 1)
        let spread = SyntheticProcess.spread(of: 4, in: train)
        let faulty = process.run(rows: 800, seed: 2, fault: .step, variable: 4, start: 400, spread: spread, size: 3)
        func csv(_ rows: [[Double]], _ labels: [Int]?) -> String {
            (process.variables + (labels == nil ? [] : ["fault"])).joined(separator: ",") + "\n"
                + rows.enumerated().map { i, row in
                    (row.map { String(format: "%.5f", $0) } + (labels.map { ["\($0[i])"] } ?? [])).joined(
                        separator: ",")
                }.joined(separator: "\n") + "\n"
        }
        try csv(train, nil).write(toFile: directory + "/normal.csv", atomically: true, encoding: .utf8)
        try csv(faulty.rows, faulty.labels).write(toFile: directory + "/faulty.csv", atomically: true, encoding: .utf8)
        print("wrote \(directory)/normal.csv (500 rows) and \(directory)/faulty.csv (800 rows, fault from row 401)")
    }
}
