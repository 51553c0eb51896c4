import Foundation
import Topics

/// What the worker writes to the checkpoints topic: per input partition it owns, the next offset to read and the
/// state of the partition's machines, and where each output partition ended when it was written (recovery reads the
/// outputs from there to find which inputs already have theirs). JSON, one record per checkpoint.
public struct PipelineCheckpoint: Codable, Sendable {
    struct Partition: Codable, Sendable {
        var offset: Int64
        var machines: [String: MachineTracker]
    }
    var partitions: [String: Partition]
    var outputEnds: [String: Int64]

    init(partitions: [String: Partition], outputEnds: [String: Int64]) {
        self.partitions = partitions
        self.outputEnds = outputEnds
    }

    /// The record's bytes, by `RecordEncoder` with `Options.state`. Foundation's `JSONEncoder`, used before, builds a
    /// tree first: 20 machines' state (660 KB, mostly the optimizer's window of 512 readings each) took it some
    /// 160 ms, a pause of the worker every checkpoint; `millstream-bench pipeline` prints both encoders' rates.
    /// Nil optionals are left out as Foundation's encoder leaves them, so checkpoints of either encoder load alike.
    public func encoded() throws -> [UInt8] { try RecordEncoder.encode(self, options: .state) }

    /// Reads a checkpoint written by either encoder (non-finite numbers as `RecordEncoder.Options.state` writes
    /// them; Foundation's encoder threw on them).
    public init(decoding bytes: [UInt8]) throws {
        let decoder = JSONDecoder()
        let names = RecordEncoder.Options.nonFiniteStrings
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: names.positiveInfinity, negativeInfinity: names.negativeInfinity, nan: names.nan)
        self = try decoder.decode(Self.self, from: Data(bytes))
    }

    /// The machines whose state it holds.
    public var machineCount: Int { partitions.values.reduce(0) { $0 + $1.machines.count } }
}
