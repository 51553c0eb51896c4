import Foundation
import Testing

@testable import Analytics

@Suite struct SPCTests {
    func close(_ a: Double?, _ b: Double, _ tolerance: Double = 1e-4) -> Bool {
        a.map { abs($0 - b) < tolerance } ?? false
    }

    @Test func individualsChartByHand() throws {
        // mean 91/8; moving ranges 2,1,2,1,1,1,2 -> 10/7; sigma = (10/7)/1.128
        let limits = try #require(ControlLimits.individuals([10, 12, 11, 13, 12, 11, 10, 12]))
        #expect(close(limits.center, 11.375))
        #expect(close(limits.sigma, (10.0 / 7) / 1.128))
        #expect(close(limits.upper, 11.375 + 3 * (10.0 / 7) / 1.128))
        #expect(close(ControlLimits.movingRangeUpper([10, 12, 11, 13, 12, 11, 10, 12]), 3.267 * 10 / 7))
    }

    @Test func xBarRChartByHand() throws {
        let chart = try #require(XBarRChart(subgroups: [[1, 2, 3], [2, 3, 4], [3, 4, 5]]))
        #expect(chart.grandMean == 3 && chart.averageRange == 2)
        #expect(close(chart.xBarUpper, 3 + 1.023 * 2) && close(chart.xBarLower, 3 - 1.023 * 2))
        #expect(close(chart.rangeUpper, 2.574 * 2) && chart.rangeLower == 0)
        #expect(close(chart.sigma, 2 / 1.693))
        #expect(XBarRChart(subgroups: [[1], [2]]) == nil)
    }

    @Test func capabilityByHand() {
        let both = Capability(mean: 10, sigma: 1, lsl: 7, usl: 16)
        #expect(close(both.cp, 1.5) && close(both.cpk, 1.0))
        let upperOnly = Capability(mean: 10, sigma: 1, lsl: nil, usl: 16)
        #expect(upperOnly.cp == nil && close(upperOnly.cpk, 2))
        #expect(Capability(mean: 10, sigma: 0, lsl: 7, usl: 16).cpk == nil)
    }

    func firstHit(_ values: [Double], _ ruleSet: RuleChecker.RuleSet = .westernElectric) -> [(Int, RuleChecker.Rule)] {
        var checker = RuleChecker(limits: ControlLimits(center: 0, sigma: 1), ruleSet: ruleSet)
        var hits: [(Int, RuleChecker.Rule)] = []
        for (i, v) in values.enumerated() { for rule in checker.add(v) { hits.append((i, rule)) } }
        return hits
    }

    @Test func westernElectricRules() {
        #expect(firstHit([0.5, -0.2, 3.2]).map(\.1) == [.beyond3Sigma])
        #expect(firstHit([2.5, 0.1, 2.2]).map(\.1) == [.twoOfThreeBeyond2Sigma])
        #expect(firstHit([2.5, 0.1, -2.2]).isEmpty)  // opposite sides
        #expect(firstHit([1.5, 1.2, -0.3, 1.1, 1.4]).map(\.1) == [.fourOfFiveBeyond1Sigma])
        let eight = firstHit([0.3, 0.5, 0.2, 0.9, 0.4, 0.1, 0.6, 0.7])
        #expect(eight.map(\.0) == [7] && eight.map(\.1) == [.eightOnOneSide])
        #expect(firstHit([0.3, -0.5, 0.2, 0.9, -0.4, 0.1, 0.6, 0.7]).isEmpty)
    }

    @Test func nelsonRules() {
        #expect(firstHit([-0.5, -0.3, -0.1, 0.1, 0.3, 0.5], .nelson).map(\.1) == [.sixTrending])
        let alternating = (0..<14).map { $0 % 2 == 0 ? 0.5 : -0.5 }
        #expect(firstHit(alternating, .nelson).map(\.1) == [.fourteenAlternating])
        let hugging = (0..<15).map { Double($0 % 3) * 0.2 - 0.2 }
        #expect(firstHit(hugging, .nelson).last?.1 == .fifteenWithin1Sigma)
        let mixture = [1.5, -1.5, 1.6, -1.4, 1.3, -1.7, 1.2, -1.6]
        #expect(firstHit(mixture, .nelson).contains { $0.0 == 7 && $0.1 == .eightBeyond1Sigma })
        #expect(firstHit((0..<9).map { _ in 0.4 }, .nelson).map(\.1) == [.nineOnOneSide])
    }

    @Test func ewmaAndCusumByHand() {
        var ewma = EWMAChart(limits: ControlLimits(center: 0, sigma: 1))
        // First point: z = 0.2 x; limit half-width 3 sqrt(0.2/1.8 (1 - 0.64)) = 3 sqrt(0.04) = 0.6
        let first = ewma.add(2.9)
        #expect(!first)
        #expect(abs(ewma.value - 0.58) < 1e-12 && abs(ewma.halfWidth - 0.6) < 1e-12)
        var signalled = false
        for _ in 0..<10 where !signalled { signalled = ewma.add(2) }
        #expect(signalled)
        var cusum = CUSUMChart(limits: ControlLimits(center: 0, sigma: 1))
        // x = 1.5: C+ grows by 1.5 - 0.5 = 1 per point and passes h = 5 at the 6th.
        var signals: [Bool] = []
        for _ in 0..<6 { signals.append(cusum.add(1.5)) }
        #expect(signals == [false, false, false, false, false, true])
    }

    @Test func oeeByHand() {
        var acc = OEEAccumulator()
        acc.add(state: "running", duration: 50 * 60_000, good: 45, scrap: 5)
        acc.add(state: "down", duration: 6 * 60_000, good: 0, scrap: 0)
        acc.add(state: "tool_change", duration: 4 * 60_000, good: 0, scrap: 0)
        let f = acc.figures(idealCycleSeconds: 60)
        #expect(abs(f.availability - 50.0 / 60) < 1e-12)
        #expect(f.performance == 1)  // 50 units x 60 s = 50 min of running time
        #expect(abs(f.quality - 0.9) < 1e-12 && abs(f.oee - 0.75) < 1e-12)
        #expect(f.downtime.map(\.reason) == ["down", "tool_change"] && f.downtime[0].seconds == 360)
        var rolling = RollingOEE(minutes: 60)
        rolling.add(at: 0, state: "running", duration: 60_000, good: 1, scrap: 0)
        rolling.add(at: 90 * 60_000, state: "running", duration: 60_000, good: 2, scrap: 0)
        #expect(rolling.total(now: 90 * 60_000).good == 2)  // the first minute fell out of the hour
    }

    /// The downtime is kept as a list but encoded as the dictionary it was, and compared as one: checkpoints of
    /// either form load in the other.
    @Test func downtimeEncodesAsTheDictionaryItWas() throws {
        var a = OEEAccumulator()
        a.add(state: "setup", duration: 1_000, good: 0, scrap: 0)
        a.add(state: "running", duration: 9_000, good: 3, scrap: 1)
        a.add(state: "down", duration: 2_500, good: 0, scrap: 0)
        a.add(state: "setup", duration: 500, good: 0, scrap: 0)
        var b = OEEAccumulator()
        b.add(state: "down", duration: 2_500, good: 0, scrap: 0)
        b.add(state: "running", duration: 9_000, good: 3, scrap: 1)
        b.add(state: "setup", duration: 1_500, good: 0, scrap: 0)
        #expect(a == b && a.downtimeMilliseconds == ["setup": 1_500, "down": 2_500])
        // The encoded form, read as untyped JSON, and a checkpoint written before (a dictionary) read back.
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(a)) as? [String: Any]
        #expect(encoded?["downtimeMilliseconds"] as? [String: Int64] == ["setup": 1_500, "down": 2_500])
        #expect(
            Set(encoded?.keys.map { $0 } ?? []) == [
                "runningMilliseconds", "observedMilliseconds", "downtimeMilliseconds", "good", "scrap",
            ])
        let old =
            #"{"runningMilliseconds":9000,"observedMilliseconds":13000,"downtimeMilliseconds":{"down":2500,"setup":1500},"good":3,"scrap":1}"#
        let read = try JSONDecoder().decode(OEEAccumulator.self, from: Data(old.utf8))
        #expect(read == a)
        var merged = read
        merged.merge(b)
        #expect(
            merged.downtimeMilliseconds == ["setup": 3_000, "down": 5_000] && merged.observedMilliseconds == 26_000)
        // Longest first; a tie keeps the order the reasons came in.
        var tie = OEEAccumulator()
        for reason in ["idle", "down", "setup"] {
            tie.add(state: reason, duration: reason == "setup" ? 7 : 5, good: 0, scrap: 0)
        }
        #expect(tie.figures(idealCycleSeconds: 1).downtime.map(\.reason) == ["setup", "idle", "down"])
    }

    /// The ring of buckets against the dictionary it replaced (written here as it was): the same totals for readings
    /// in order and within the pipeline's lateness, and checkpoints that load either way.
    @Test func rollingWindowsAgreeWithBucketsByDictionary() throws {
        struct SplitMix {
            var state: UInt64
            mutating func next() -> UInt64 {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
        }
        struct ByDictionary: Codable {
            let minutes: Int
            let bucketMinutes: Int
            var buckets: [Int64: OEEAccumulator] = [:]
            var count: Int64 { Int64(minutes / bucketMinutes) }
            func bucket(_ t: Int64) -> Int64 { t / (60_000 * Int64(bucketMinutes)) }
            mutating func add(at t: Int64, state: String, duration: Int64, good: Int, scrap: Int) {
                let b = bucket(t)
                if buckets[b] == nil { for old in buckets.keys.filter({ $0 <= b - count }) { buckets[old] = nil } }
                buckets[b, default: OEEAccumulator()].add(state: state, duration: duration, good: good, scrap: scrap)
            }
            func total(now: Int64) -> OEEAccumulator {
                var sum = OEEAccumulator()
                for (b, acc) in buckets where b >= bucket(now) - count + 1 { sum.merge(acc) }
                return sum
            }
        }
        var rng = SplitMix(state: 5)
        for (minutes, width) in [(60, 1), (480, 10)] {
            var ring = RollingOEE(minutes: minutes, bucketMinutes: width)
            var reference = ByDictionary(minutes: minutes, bucketMinutes: width)
            var newest: Int64 = 0
            for step in 0..<5000 {
                // Mostly forward by up to 3 minutes, sometimes a gap of hours, sometimes up to a minute late.
                let gap = step % 500 == 499 ? Int64(rng.next() % 36_000_000) : Int64(rng.next() % 180_000)
                newest += gap
                let t = rng.next() % 5 == 0 ? newest - Int64(rng.next() % 60_000) : newest
                let state = ["running", "running", "running", "down", "setup"][Int(rng.next() % 5)]
                let (good, scrap) = (Int(rng.next() % 3), Int(rng.next() % 2))
                ring.add(at: t, state: state, duration: 30_000, good: good, scrap: scrap)
                reference.add(at: t, state: state, duration: 30_000, good: good, scrap: scrap)
                #expect(ring.total(now: t) == reference.total(now: t), "step \(step)")
                #expect(ring.total(now: newest) == reference.total(now: newest), "step \(step)")
                if step % 250 == 0 {
                    let restored = try JSONDecoder().decode(RollingOEE.self, from: JSONEncoder().encode(reference))
                    #expect(restored.total(now: newest) == reference.total(now: newest))
                    let back = try JSONDecoder().decode(ByDictionary.self, from: JSONEncoder().encode(ring))
                    #expect(back.total(now: newest) == reference.total(now: newest))
                }
            }
        }
    }
}
