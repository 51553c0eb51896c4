import Foundation
import Primitives

/// A multivariable continuous process with realistic dynamics, for testing anomaly detectors where no plant's data
/// can be shipped: a few slow latent drivers (feed, load, ambient: AR(1) with correlation 0.9-0.99) reach each
/// measured variable through its own first-order lag, each variable has its own slow disturbance (fouling, a local
/// loop: AR(1), 0.9-0.99) and white measurement noise. The variables' lag-1 autocorrelations come out at 0.9-0.95,
/// as in the public process-monitoring benchmarks, and 500 rows hold only a few dozen independent samples.
///
/// A plant (`seed`) fixes the structure; runs (`run(rows:seed:)`) are independent stretches of its operation, each
/// started in its stationary state.
public struct SyntheticProcess: Sendable {
    public let variables: [String]
    let loadings: [[Double]]
    let driverCorrelation: [Double]
    let lag: [Double]
    let disturbanceCorrelation: [Double]
    /// Weights of the driven signal, the variable's own slow disturbance and the white noise.
    public var signal = 0.93
    public var disturbance = 0.3
    public var noise = 0.2

    public init(variables d: Int = 20, drivers k: Int = 3, seed: UInt64 = 0) {
        precondition(d >= 2 && k >= 1, "a process needs at least 2 variables and 1 driver")
        var rng = RandomSource(seed: seed)
        variables = (1...d).map { "x\($0)" }
        loadings = (0..<d).map { _ in
            let row = (0..<k).map { _ in rng.normal() }
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return row.map { $0 / max(norm, 1e-9) }
        }
        driverCorrelation = (0..<k).map { _ in 0.9 + 0.09 * rng.uniform() }
        lag = (0..<d).map { _ in 0.3 + 0.5 * rng.uniform() }
        disturbanceCorrelation = (0..<d).map { _ in 0.9 + 0.09 * rng.uniform() }
    }

    /// `rows` samples of normal operation, started in the stationary state.
    public func run(rows: Int, seed: UInt64) -> [[Double]] {
        var rng = RandomSource(seed: seed)
        let d = variables.count
        let k = driverCorrelation.count
        var z = (0..<k).map { _ in rng.normal() }
        var u = (0..<d).map { _ in rng.normal() }
        var y = (0..<d).map { j in (0..<k).reduce(0) { $0 + loadings[j][$1] * z[$1] } }
        var out: [[Double]] = []
        out.reserveCapacity(rows)
        for _ in 0..<rows {
            for i in 0..<k {
                let r = driverCorrelation[i]
                z[i] = r * z[i] + (1 - r * r).squareRoot() * rng.normal()
            }
            var row = [Double](repeating: 0, count: d)
            for j in 0..<d {
                let driven = (0..<k).reduce(0) { $0 + loadings[j][$1] * z[$1] }
                y[j] = lag[j] * y[j] + (1 - lag[j]) * driven
                let r = disturbanceCorrelation[j]
                u[j] = r * u[j] + (1 - r * r).squareRoot() * rng.normal()
                row[j] = 10 + 2 * (signal * y[j] + disturbance * u[j] + noise * rng.normal())
            }
            out.append(row)
        }
        return out
    }

    /// Faults as a plant sees them, each moving one variable by `size` of its signal spread from sample `start` on.
    public enum Fault: String, Sendable, CaseIterable {
        /// A bias: the reading jumps by one spread and stays.
        case step
        /// A slow drift: one spread per 100 samples.
        case drift
        /// Extra noise of one spread (a loose connector, a failing transmitter).
        case variance
        /// The reading freezes at its value when the fault starts.
        case stuck
        /// The variable decouples from the others (a bypassed loop, a sensor moved): it follows an independent run.
        case correlation
    }

    /// Variable `j`'s signal spread (sample standard deviation) in `rows`: the unit of a fault's size.
    public static func spread(of j: Int, in rows: [[Double]]) -> Double {
        let n = Double(rows.count)
        let mean = rows.reduce(0) { $0 + $1[j] } / n
        return (rows.reduce(0) { $0 + ($1[j] - mean) * ($1[j] - mean) } / max(n - 1, 1)).squareRoot()
    }

    /// A run with `fault` on `variable` from `start` on; `spread` is the variable's standard deviation in normal
    /// operation. Returns the rows and a 0/1 label per row.
    public func run(
        rows: Int, seed: UInt64, fault: Fault, variable j: Int, start: Int, spread: Double, size: Double = 1
    ) -> (rows: [[Double]], labels: [Int]) {
        var x = run(rows: rows, seed: seed)
        var rng = RandomSource(seed: seed &+ 7919)
        let other = fault == .correlation ? run(rows: rows, seed: seed &+ 104_729) : []
        let frozen = x[min(start, rows - 1)][j]
        for t in start..<rows {
            switch fault {
            case .step: x[t][j] += size * spread
            case .drift: x[t][j] += size * spread * Double(t - start) / 100
            case .variance: x[t][j] += size * spread * rng.normal()
            case .stuck: x[t][j] = frozen
            case .correlation: x[t][j] = other[t][j]
            }
        }
        return (x, (0..<rows).map { $0 >= start ? 1 : 0 })
    }
}
