/// One machine's running means (an EWMA with weight 0.3 on the newest value) by variable.
///
/// A machine sends the same few variables in the same order, reading after reading. So the mean of a reading's k-th
/// value is looked for at position k first: one comparison of names. A dictionary hashed each name twice per reading,
/// once to update the mean and once to write the prediction's features. That was about 2 % of the pipeline worker
/// in a profile.
///
/// Encoded as the dictionary it replaced (`{"name": mean}`), so checkpoints load both ways.
public struct RunningMeans: Codable, Sendable {
    /// The variables in the order they were first seen.
    public private(set) var names: [String] = []
    public private(set) var values: [Double] = []
    /// Positions of `names` in name order (features are written sorted by name).
    public private(set) var byName: [Int] = []

    public init() {}

    public var count: Int { names.count }

    /// The variable's mean, if it has one.
    public subscript(name: String) -> Double? {
        names.firstIndex(of: name).map { values[$0] }
    }

    /// Adds `value` to the mean of `name` (its first value starts it); `position` is where the value came in its
    /// reading, where the name is looked for first.
    public mutating func add(_ value: Double, for name: String, at position: Int) {
        let i: Int
        if position < names.count, names[position] == name {
            i = position
        } else if let found = names.firstIndex(of: name) {
            i = found
        } else {
            names.append(name)
            values.append(value)
            byName = names.indices.sorted { names[$0] < names[$1] }
            return
        }
        values[i] = 0.3 * value + 0.7 * values[i]
    }

    public init(from decoder: any Decoder) throws {
        for (name, value) in try [String: Double](from: decoder).sorted(by: { $0.key < $1.key }) {
            names.append(name)
            values.append(value)
        }
        byName = Array(names.indices)
    }

    public func encode(to encoder: any Encoder) throws {
        try Dictionary(uniqueKeysWithValues: zip(names, values)).encode(to: encoder)
    }
}
