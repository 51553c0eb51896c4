/// How a model sees a history: the last `length` readings of each variable of one unit (a machine, an engine),
/// summarized by `statistics`, or passed whole (`sequence`) to a sequence layer such as `Conv1D`.
///
/// The same `WindowState` computes the features in training (`WindowedSeries`) and in the stream (the pipeline keeps
/// one state per machine in its checkpoint), so a model sees in production exactly what it was trained on.
public struct WindowSpec: Sendable, Codable, Equatable {
    /// A summary of one variable over the window.
    public enum Statistic: String, Sendable, Codable, CaseIterable {
        /// The newest value.
        case last
        case mean
        /// Least-squares slope per step over the window (0 for a window of one reading).
        case slope
        /// Exponentially weighted moving average over the unit's whole history (alpha = 2 / (span + 1)), as pandas
        /// `ewm(span:, adjust: False)`.
        case ewma
        case min
        case max
        /// Population standard deviation over the window.
        case std
    }

    public enum Layout: String, Sendable, Codable {
        /// One feature per variable and statistic ("torque_nm.mean").
        case statistics
        /// The whole window, time-major (oldest step first, `length` x variables), for sequence layers; a window not
        /// yet full repeats its oldest reading at the front, as a padded sequence would.
        case sequence
    }

    /// The raw variables the window holds, in order.
    public var variables: [String]
    /// Readings per window.
    public var length: Int
    public var layout: Layout
    public var statistics: [Statistic]
    public var ewmaSpan: Double
    /// One more feature, "age": the unit's readings so far (its age in readings; the cycle for C-MAPSS). Statistics
    /// layout only.
    public var age: Bool

    public init(
        variables: [String], length: Int, layout: Layout = .statistics,
        statistics: [Statistic] = [.last, .mean, .slope, .ewma], ewmaSpan: Double = 10, age: Bool = false
    ) throws {
        guard !variables.isEmpty else { throw LearnError("a window needs at least one variable") }
        guard Set(variables).count == variables.count else {
            throw LearnError("a window's variables must differ; got \(variables)")
        }
        guard length >= 1 && length <= 10_000 else {
            throw LearnError("a window holds 1 to 10,000 readings, not \(length)")
        }
        guard layout == .sequence || !statistics.isEmpty else {
            throw LearnError("a statistics window needs at least one statistic (last, mean, slope, ewma, ...)")
        }
        guard ewmaSpan >= 1 else { throw LearnError("the EWMA span must be at least 1, got \(ewmaSpan)") }
        guard !age || layout == .statistics else {
            throw LearnError("the age feature is for statistics windows (a sequence window is the sequence alone)")
        }
        self.variables = variables
        self.length = length
        self.layout = layout
        self.statistics = statistics
        self.ewmaSpan = ewmaSpan
        self.age = age
    }

    enum CodingKeys: String, CodingKey { case variables, length, layout, statistics, ewmaSpan, age }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            variables: c.decode([String].self, forKey: .variables), length: c.decode(Int.self, forKey: .length),
            layout: c.decode(Layout.self, forKey: .layout), statistics: c.decode([Statistic].self, forKey: .statistics),
            ewmaSpan: c.decode(Double.self, forKey: .ewmaSpan),
            age: c.decodeIfPresent(Bool.self, forKey: .age) ?? false)  // model files written before the age feature
    }

    /// The names of the features a window yields, in the order `WindowState.features` writes them.
    public var featureNames: [String] {
        switch layout {
        case .statistics: variables.flatMap { v in statistics.map { "\(v).\($0.rawValue)" } } + (age ? ["age"] : [])
        case .sequence: (0..<length).flatMap { t in variables.map { "\($0)[t-\(length - 1 - t)]" } }
        }
    }

    public var featureCount: Int {
        layout == .sequence ? length * variables.count : variables.count * statistics.count + (age ? 1 : 0)
    }
}

/// The recent history of one unit: a ring of the last `length` readings and a running EWMA per variable. Small,
/// Codable and Sendable, so the pipeline checkpoints it with its offsets.
public struct WindowState: Sendable, Codable, Equatable {
    public let variableCount: Int
    public let length: Int
    /// `length` rows of `variableCount` values; row `(start + i) % length` is the i-th oldest.
    private var ring: [Double]
    private var start = 0
    /// Readings held (at most `length`).
    public private(set) var count = 0
    /// Readings ever appended.
    public private(set) var seen = 0
    private var ewma: [Double]
    private let alpha: Double

    public init(_ spec: WindowSpec) {
        variableCount = spec.variables.count
        length = spec.length
        ring = [Double](repeating: 0, count: spec.length * spec.variables.count)
        ewma = [Double](repeating: 0, count: spec.variables.count)
        alpha = 2 / (spec.ewmaSpan + 1)
    }

    /// Adds the newest reading (one value per variable, in the spec's order).
    public mutating func append(_ values: some Collection<Double>) {
        precondition(values.count == variableCount, "a window reading has \(variableCount) values")
        let slot = count < length ? (start + count) % length : start
        for (j, v) in values.enumerated() {
            ring[slot * variableCount + j] = v
            ewma[j] = seen == 0 ? v : alpha * v + (1 - alpha) * ewma[j]
        }
        if count < length { count += 1 } else { start = (start + 1) % length }
        seen += 1
    }

    /// Value of variable `j` at the i-th oldest reading held.
    @inline(__always) func value(_ i: Int, _ j: Int) -> Double { ring[((start + i) % length) * variableCount + j] }

    /// Writes the window's features (`spec.featureCount` values, `spec.featureNames` order) at `offset` of `out`.
    /// `age`: the unit's readings so far when the caller knows more of its history than this state saw (serving a
    /// window cut from a longer history); default, the readings appended.
    public func features(_ spec: WindowSpec, into out: inout [Double], at offset: Int = 0, age: Double? = nil) {
        precondition(count > 0, "a window's features need at least one reading")
        var k = offset
        if spec.layout == .sequence {
            let pad = length - count
            for t in 0..<length {
                let i = max(0, t - pad)
                for j in 0..<variableCount {
                    out[k] = value(i, j)
                    k += 1
                }
            }
            return
        }
        let n = Double(count)
        let meanIndex = (n - 1) / 2
        // Sum of (i - meanIndex)^2 over i = 0 ..< n.
        let indexSquares = n * (n * n - 1) / 12
        for j in 0..<variableCount {
            var sum = 0.0
            var low = Double.infinity
            var high = -Double.infinity
            for i in 0..<count {
                let v = value(i, j)
                sum += v
                low = Swift.min(low, v)
                high = Swift.max(high, v)
            }
            let mean = sum / n
            var squares = 0.0
            var cross = 0.0
            for i in 0..<count {
                let d = value(i, j) - mean
                squares += d * d
                cross += (Double(i) - meanIndex) * d
            }
            for statistic in spec.statistics {
                switch statistic {
                case .last: out[k] = value(count - 1, j)
                case .mean: out[k] = mean
                case .slope: out[k] = indexSquares > 0 ? cross / indexSquares : 0
                case .ewma: out[k] = ewma[j]
                case .min: out[k] = low
                case .max: out[k] = high
                case .std: out[k] = (squares / n).squareRoot()
                }
                k += 1
            }
        }
        if spec.age { out[k] = age ?? Double(seen) }
    }

    public func features(_ spec: WindowSpec) -> [Double] {
        var out = [Double](repeating: 0, count: spec.featureCount)
        features(spec, into: &out)
        return out
    }
}

/// Histories of several units as rows (unit, time, variables), turned into one window per row.
public enum WindowedSeries {
    /// Each unit's rows in time order: row indices per unit, units in order of first appearance. Two rows of one
    /// unit at the same time are an error (the order between them would be a guess).
    public static func orderedUnits(units: [String], time: [Double]) throws -> [(unit: String, rows: [Int])] {
        precondition(units.count == time.count)
        var index: [String: Int] = [:]
        var groups: [(unit: String, rows: [Int])] = []
        for (r, u) in units.enumerated() {
            guard time[r].isFinite else { throw LearnError("row \(r + 1): the time of unit '\(u)' is not a number") }
            if let g = index[u] {
                groups[g].rows.append(r)
            } else {
                index[u] = groups.count
                groups.append((u, [r]))
            }
        }
        for g in groups.indices {
            groups[g].rows.sort { time[$0] < time[$1] }
            for (a, b) in zip(groups[g].rows, groups[g].rows.dropFirst()) where time[a] == time[b] {
                throw LearnError(
                    "unit '\(groups[g].unit)' has two rows at time \(time[a]) (rows \(a + 1) and \(b + 1)): a history needs one reading per time"
                )
            }
        }
        return groups
    }

    /// The window features at every row, as columns (`spec.featureNames` order) aligned with the input rows:
    /// row r's features describe its unit's readings up to and including r.
    public static func features(
        _ spec: WindowSpec, units: [String], time: [Double], columns: [[Double]]
    ) throws -> [[Double]] {
        guard columns.count == spec.variables.count else {
            throw LearnError("\(columns.count) columns for a window of \(spec.variables.count) variables")
        }
        let rows = units.count
        var out = [[Double]](repeating: [Double](repeating: 0, count: rows), count: spec.featureCount)
        var scratch = [Double](repeating: 0, count: spec.featureCount)
        var reading = [Double](repeating: 0, count: spec.variables.count)
        for group in try orderedUnits(units: units, time: time) {
            var state = WindowState(spec)
            for r in group.rows {
                for j in reading.indices { reading[j] = columns[j][r] }
                state.append(reading)
                state.features(spec, into: &scratch)
                for f in scratch.indices { out[f][r] = scratch[f] }
            }
        }
        return out
    }
}

extension TabularData {
    /// The table of histories with the window's variables replaced by their window features at each row (other
    /// numeric and categorical inputs stay as they are), and the units as groups, so training splits by unit.
    public func windowed(_ spec: WindowSpec, units: [String], time: [Double]) throws -> TabularData {
        guard units.count == rows, time.count == rows else {
            throw LearnError("\(units.count) units and \(time.count) times for \(rows) rows")
        }
        guard derived.isEmpty else {
            throw LearnError(
                "compute the derived features before the window (derivingColumns), which may then hold them")
        }
        let columns = try spec.variables.map { name -> [Double] in
            guard let i = numericNames.firstIndex(of: name) else {
                throw LearnError("the window's variable '\(name)' is not a numeric input of the table")
            }
            return numeric[i]
        }
        let features = try WindowedSeries.features(spec, units: units, time: time, columns: columns)
        var out = self
        let keep = numericNames.indices.filter { !spec.variables.contains(numericNames[$0]) }
        out.numericNames = keep.map { numericNames[$0] } + spec.featureNames
        out.numeric = keep.map { numeric[$0] } + features
        out.groups = units
        return out
    }
}
