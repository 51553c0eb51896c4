import Foundation
import Testing

@testable import Analytics

/// The running means against the dictionary they replaced (written here as the pipeline had it), and checkpoints
/// that load either way.
@Suite struct RunningMeansTests {
    /// The pipeline's former update: one dictionary entry per variable, NaN for a new one.
    static func smooth(_ value: Double, into mean: inout Double) {
        mean = mean.isNaN ? value : 0.3 * value + 0.7 * mean
    }

    @Test func agreesWithTheDictionary() throws {
        var rng = SystemRandomNumberGenerator()
        let all = ["torque_nm", "rpm", "air_temp_k", "process_temperature_k_long_name", "tool_wear_min", "é_unicode"]
        var means = RunningMeans()
        var reference: [String: Double] = [:]
        for step in 0..<5_000 {
            // Mostly the same order; sometimes shuffled, a variable missing or a new one arriving.
            var names = Array(all.prefix(step < 100 ? 3 : all.count))
            if step % 7 == 0 { names.shuffle(using: &rng) }
            if step % 11 == 0 { names.removeLast() }
            for (k, name) in names.enumerated() {
                let value = Double.random(in: -1000...1000, using: &rng)
                means.add(value, for: name, at: k)
                Self.smooth(value, into: &reference[name, default: .nan])
            }
            #expect(Dictionary(uniqueKeysWithValues: zip(means.names, means.values)) == reference)
            #expect(means.byName.map { means.names[$0] } == reference.keys.sorted())
        }
        // A checkpoint of either loads into the other, with the same means.
        let encoded = try JSONEncoder().encode(means)
        #expect(try JSONDecoder().decode([String: Double].self, from: encoded) == reference)
        let loaded = try JSONDecoder().decode(RunningMeans.self, from: try JSONEncoder().encode(reference))
        #expect(Dictionary(uniqueKeysWithValues: zip(loaded.names, loaded.values)) == reference)
        #expect(loaded.byName.map { loaded.names[$0] } == reference.keys.sorted())
        #expect(loaded["rpm"] == reference["rpm"] && loaded["missing"] == nil)
    }
}
