import Foundation
import Primitives
import Testing

@testable import Learn

@Suite struct PCADetectorTests {
    /// 8 sensors driven by 3 hidden factors plus noise, as in a plant where many measurements move together.
    static func normal(_ n: Int, seed: UInt64) -> [[Double]] {
        var rng = RandomSource(seed: seed)
        var loadings: [[Double]] = []
        for i in 0..<8 {
            let a: Double = sin(Double(i))
            let b: Double = cos(Double(2 * i))
            let c: Double = Double(i % 3) - 1
            loadings.append([a, b, c])
        }
        var rows: [[Double]] = []
        for _ in 0..<n {
            let f: [Double] = [rng.normal(), rng.normal(), rng.normal()]
            var row: [Double] = []
            for i in 0..<8 {
                let signal: Double = loadings[i][0] * f[0] + loadings[i][1] * f[1] + loadings[i][2] * f[2]
                row.append(50 + 3 * signal + 0.3 * rng.normal())
            }
            rows.append(row)
        }
        return rows
    }

    @Test func eigenDecompositionByHand() {
        // [[2,1],[1,2]]: eigenvalues 3 and 1, vectors (1,1)/sqrt2 and (1,-1)/sqrt2.
        let (values, vectors) = SymmetricEigen.decompose([[2, 1], [1, 2]])
        #expect(abs(values[0] - 3) < 1e-12 && abs(values[1] - 1) < 1e-12)
        #expect(abs(abs(vectors[0][0]) - 0.5.squareRoot()) < 1e-12 && abs(vectors[0][0] - vectors[0][1]) < 1e-12)
    }

    /// The false-alarm rate on held-out normal data is within 1 point of the rate asked for.
    @Test(arguments: [0.01, 0.05])
    func falseAlarmRateHoldsOnNewNormalData(_ rate: Double) throws {
        let names = (1...8).map { "s\($0)" }
        let detector = try PCADetector.fit(variables: names, rows: Self.normal(8000, seed: 1), falseAlarmRate: rate)
        let held = Self.normal(20_000, seed: 2)
        let observed = Double(held.filter { detector.evaluate($0).alarm }.count) / Double(held.count)
        #expect(abs(observed - rate) < 0.01, "asked \(rate), observed \(observed)")
    }

    @Test func aBrokenSensorIsCaughtAndNamed() throws {
        let names = (1...8).map { "s\($0)" }
        let detector = try PCADetector.fit(variables: names, rows: Self.normal(8000, seed: 1))
        var faulty = Self.normal(200, seed: 3)
        // Sensor 6 drifts by about 3 sigma, off the correlation structure.
        for i in faulty.indices { faulty[i][5] += 10 }
        let results = faulty.map(detector.evaluate)
        #expect(Double(results.filter(\.alarm).count) / 200 > 0.9)
        let top = results.map { r in r.contributions.indices.max { r.contributions[$0] < r.contributions[$1] }! }
        #expect(Double(top.filter { $0 == 5 }.count) / 200 > 0.9)
        #expect { try PCADetector.fit(variables: ["a"], rows: []) } throws: { "\($0)".contains("at least 2 variables") }
        #expect { try PCADetector.fit(variables: names, rows: Array(Self.normal(50, seed: 1))) } throws: {
            "\($0)".contains("needs at least 56 rows")
        }
    }
}
