import Foundation
import Primitives
import Testing

@testable import Learn

/// Drift statistics on hand-computed cases and on samples whose answer is known.
@Suite struct ReferenceDistributionTests {
    let uniform = ReferenceDistribution((0..<1000).map(Double.init))

    @Test func decilesOfAUniformColumn() {
        #expect(uniform.edges == [100, 200, 300, 400, 500, 600, 700, 800, 900])
        #expect(uniform.proportions.allSatisfy { abs($0 - 0.1) < 1e-12 })
        #expect(uniform.sample.count == 1000 && uniform.count == 1000)
    }

    /// Everything in the first decile: PSI = 0.9 ln(1 / 0.1) + 9 (0.0001 - 0.1) ln(0.0001 / 0.1) = 8.2831.
    @Test func psiByHand() throws {
        let psi = try #require(uniform.psi((0..<50).map(Double.init)))
        #expect(abs(psi - (0.9 * log(10.0) + 9 * (1e-4 - 0.1) * log(1e-4 / 0.1))) < 1e-9)
        #expect(abs(psi - 8.2831) < 1e-3)
        #expect(try #require(uniform.psi((0..<1000).map(Double.init))) < 1e-12)
    }

    /// KS: the same values give 0 and p 1; the lower half gives 0.5 (the gap at the median).
    @Test func ksByHand() throws {
        let same = try #require(uniform.ks((0..<1000).map(Double.init)))
        #expect(same.statistic < 1e-12 && same.pValue == 1)
        let half = try #require(uniform.ks((0..<500).map(Double.init)))
        #expect(abs(half.statistic - 0.5) < 1e-9)
        #expect(half.pValue < 1e-10)
    }

    /// Normal samples: a second sample of the same distribution is stable; one shifted by one sigma is flagged.
    @Test func stableAndShiftedSamples() throws {
        var rng = RandomSource(seed: 11)
        let reference = ReferenceDistribution((0..<10_000).map { _ in rng.normal() })
        let same = (0..<2_000).map { _ in rng.normal() }
        let shifted = (0..<2_000).map { _ in rng.normal() + 1 }
        #expect(try #require(reference.psi(same)) < 0.05)
        #expect(try #require(reference.ks(same)).pValue > 0.001)
        #expect(try #require(reference.psi(shifted)) > 0.25)
        let ks = try #require(reference.ks(shifted))
        // The largest gap between N(0,1) and N(1,1) is 2 Phi(0.5) - 1 = 0.383.
        #expect(abs(ks.statistic - 0.383) < 0.04)
        #expect(ks.pValue < 1e-10)
    }

    /// Old model files without references still decode.
    @Test func descriptionsWithoutReferenceDecode() throws {
        let json =
            #"{"format":"millstream-model","format_version":1,"engine":"millstream","task":"binary","input_size":2,"output_size":1,"layers":[],"target":"y","classes":["0","1"],"threshold":0.5,"metadata":{"created":"x","hyperparameters":{},"metrics":{},"code_version":"0"}}"#
        let d = try JSONDecoder().decode(ModelFile.Description.self, from: Data(json.utf8))
        #expect(d.reference == nil && d.predictionReference == nil)
    }
}
