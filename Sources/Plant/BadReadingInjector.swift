import Foundation
import Primitives

/// Turns an exact fraction of readings into realistic bad input, for testing the dead-letter path.
///
/// After n readings, exactly floor(n x fraction) have been corrupted, spread evenly; the kind of each is random
/// (seeded).
public struct BadReadingInjector: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case missingValue = "missing_value"
        case text = "text_value"
        case nan = "nan_value"
        case unknownMachine = "unknown_machine"
        case truncated = "truncated_json"
    }

    public let fraction: Double
    private var owed = 0.0
    private var rng: RandomSource
    public private(set) var counts: [Kind: Int] = [:]

    public init(fraction: Double, seed: UInt64) {
        precondition((0...1).contains(fraction))
        self.fraction = fraction
        self.rng = RandomSource(seed: seed ^ 0xBAD_5EED)
    }

    /// The encoded bytes for `reading`: usually its JSON, sometimes a corrupted form (with its kind).
    public mutating func encode(_ reading: Reading) -> (bytes: [UInt8], bad: Kind?) {
        owed += fraction
        guard owed >= 1, !reading.values.isEmpty else { return (ReadingEncoder.encode(reading), nil) }
        owed -= 1
        var kind = Kind.allCases[Int(rng.next() % UInt64(Kind.allCases.count))]
        // A machine that is not running may omit values, so a missing one is no error there.
        if kind == .missingValue && reading.state != .running { kind = .text }
        counts[kind, default: 0] += 1
        var r = reading
        let victim = Int(rng.next() % UInt64(r.values.count))
        switch kind {
        case .missingValue:
            r.values.remove(at: victim)
            return (ReadingEncoder.encode(r), kind)
        case .text, .nan:
            let marker = 987_654_321.25
            r.values[victim].value = marker
            let text = String(decoding: ReadingEncoder.encode(r), as: UTF8.self)
            let replaced = text.replacingOccurrences(of: "987654321.25", with: kind == .text ? "\"n/a\"" : "NaN")
            return (Array(replaced.utf8), kind)
        case .unknownMachine:
            r.machine = "unknown/line0/m000"
            return (ReadingEncoder.encode(r), kind)
        case .truncated:
            let full = ReadingEncoder.encode(r)
            let cut = 1 + Int(rng.next() % UInt64(full.count - 2))
            return (Array(full[0..<cut]), kind)
        }
    }
}
