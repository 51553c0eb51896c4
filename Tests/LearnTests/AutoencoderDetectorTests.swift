import Foundation
import Primitives
import Testing

@testable import Learn

@Suite struct AutoencoderDetectorTests {
    /// 8 sensors on a curved (nonlinear) manifold of 2 hidden factors plus noise: what PCA can only cover with more
    /// components, an autoencoder learns.
    static func normal(_ n: Int, seed: UInt64) -> [[Double]] {
        var rng = RandomSource(seed: seed)
        return (0..<n).map { _ in
            let a = rng.normal()
            let b = rng.normal()
            return (0..<8).map { i -> Double in
                let s = sin(Double(i) + a) + 0.5 * cos(Double(2 * i) * 0.5 + b) + 0.2 * a * b
                return 20 + 4 * s + 0.1 * rng.normal()
            }
        }
    }

    /// The false-alarm rate on held-out normal data is within 1 point of the rate asked for.
    @Test func falseAlarmRateHoldsOnNewNormalData() throws {
        let names = (1...8).map { "s\($0)" }
        let detector = try AutoencoderDetector.fit(
            variables: names, rows: Self.normal(6000, seed: 1), falseAlarmRate: 0.02, epochs: 60)
        let held = Self.normal(10_000, seed: 2)
        let observed = Double(held.filter { detector.check($0).alarm }.count) / Double(held.count)
        #expect(abs(observed - 0.02) < 0.01, "asked 0.02, observed \(observed)")
        // It survives the round trip through model.json.
        let data = try JSONEncoder().encode(detector)
        #expect(try JSONDecoder().decode(AutoencoderDetector.self, from: data) == detector)
    }

    @Test func aBrokenSensorIsCaughtAndNamed() throws {
        let names = (1...8).map { "s\($0)" }
        let detector = try AutoencoderDetector.fit(variables: names, rows: Self.normal(6000, seed: 1), epochs: 60)
        var faulty = Self.normal(200, seed: 3)
        for i in faulty.indices { faulty[i][5] += 10 }  // sensor 6 off by about 3 standard deviations of its signal
        let results = faulty.map(detector.check)
        #expect(Double(results.filter(\.alarm).count) / 200 > 0.9)
        let top = results.map { r in r.contributions.indices.max { r.contributions[$0] < r.contributions[$1] }! }
        // The shifted input also moves the bottleneck's code, so some error spreads to other sensors: the broken one
        // is named for most samples, not as reliably as by PCA's residuals (above 0.9 there).
        #expect(Double(top.filter { $0 == 5 }.count) / 200 > 0.75)
        #expect { try AutoencoderDetector.fit(variables: names, rows: Array(Self.normal(50, seed: 1))) } throws: {
            "\($0)".contains("needs at least 92 rows")
        }
    }
}
