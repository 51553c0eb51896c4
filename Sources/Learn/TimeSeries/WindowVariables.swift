/// A variable computed from each reading of a history before the reading enters the window, e.g.
/// `temp_diff_k = process_temp_k - air_temp_k`: a window then holds the difference's own last value, mean, slope and
/// EWMA, which a network would otherwise have to form from two windows of temperatures.
public struct DerivedVariable: Sendable, Codable, Equatable {
    public var name: String
    /// A `FeatureExpression` over the window's raw variables.
    public var expression: String

    public init(name: String, expression: String) {
        self.name = name
        self.expression = expression
    }
}

/// How a history model's window reading is made from a reading: the raw variables as read, the derived ones computed
/// from them. One map for training, evaluate, serving and the pipeline, so they cannot disagree.
public struct WindowVariables: Sendable {
    enum Source: Sendable {
        /// Index into the raw values.
        case raw(Int)
        /// An expression over the raw values.
        case derived(FeatureExpression)
    }

    /// The window's variables that are read from a reading, in the window's order: what `fill` takes.
    public let raw: [String]
    /// One per window variable.
    let sources: [Source]

    public init(_ history: ModelFile.HistorySpec) throws {
        try self.init(window: history.window, derived: history.derived ?? [])
    }

    public init(window: WindowSpec, derived: [DerivedVariable]) throws {
        let names = Dictionary(derived.map { ($0.name, $0.expression) }, uniquingKeysWith: { first, _ in first })
        let raw = window.variables.filter { names[$0] == nil }
        self.raw = raw
        sources = try window.variables.map { name in
            guard let text = names[name] else { return .raw(raw.firstIndex(of: name)!) }
            do {
                return .derived(try FeatureExpression(text, variables: raw))
            } catch {
                throw LearnError(
                    "the derived variable '\(name) = \(text)' reads only the window's raw variables \(raw): \(error)")
            }
        }
    }

    /// Writes the window reading (one value per window variable) into `out` from the raw values (`raw`'s order).
    public func fill(_ out: inout [Double], raw values: [Double]) {
        values.withUnsafeBufferPointer { v in
            for (j, source) in sources.enumerated() {
                switch source {
                case .raw(let i): out[j] = v[i]
                case .derived(let expression): out[j] = expression.evaluate(v)
                }
            }
        }
    }

    /// The window variables' columns from the raw variables' columns (`raw`'s order), row by row.
    public func columns(raw columns: [[Double]]) -> [[Double]] {
        let rows = columns.first?.count ?? 0
        var values = [Double](repeating: 0, count: raw.count)
        var reading = [Double](repeating: 0, count: sources.count)
        var out = [[Double]](repeating: [Double](repeating: 0, count: rows), count: sources.count)
        for r in 0..<rows {
            for i in values.indices { values[i] = columns[i][r] }
            fill(&reading, raw: values)
            for j in reading.indices { out[j][r] = reading[j] }
        }
        return out
    }
}

extension TabularData {
    /// The table with its derived features computed row by row as numeric columns of their own (and none left to
    /// derive), for histories: the window then holds them like any variable. Returns the derivations, for the model
    /// file, so that evaluate, serving and the pipeline compute them from each reading.
    public func derivingColumns() throws -> (data: TabularData, derived: [DerivedVariable]) {
        guard !derived.isEmpty else { return (self, []) }
        var out = self
        let expressions = try derived.map { d -> FeatureExpression in
            guard !numericNames.contains(d.name) && !categoricalNames.contains(d.name) else {
                throw LearnError("the derived feature '\(d.name)' has the name of an input")
            }
            return try FeatureExpression(d.expression, variables: numericNames)
        }
        var values = [Double](repeating: 0, count: numericNames.count)
        var columns = [[Double]](repeating: [Double](repeating: 0, count: rows), count: derived.count)
        for r in 0..<rows {
            for i in values.indices { values[i] = numeric[i][r] }
            for (k, e) in expressions.enumerated() {
                let x = e.evaluate(values)
                guard x.isFinite else {
                    throw LearnError(
                        "row \(r + 1): the derived feature '\(derived[k].name) = \(derived[k].expression)' is not a number there"
                    )
                }
                columns[k][r] = x
            }
        }
        out.numericNames += derived.map(\.name)
        out.numeric += columns
        out.derived = []
        return (out, derived.map { DerivedVariable(name: $0.name, expression: $0.expression) })
    }
}
