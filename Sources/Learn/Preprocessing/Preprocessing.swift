/// Turns raw inputs into the model's feature vector, exactly the same way in training and in scoring, and is saved
/// with the model.
///
/// Feature order: the numeric inputs, then the derived features (both scaled), then a one-hot block per
/// categorical input (an unknown category is all zeros).
public struct Preprocessing: Sendable, Equatable {
    public enum Scaling: String, Sendable, Codable, CaseIterable {
        case standard
        case minMax = "min_max"
        case none
        /// Piecewise-linear encoding over quantile bins (Gorishniy et al. 2022): each feature becomes one column per
        /// bin, 0 below it, 1 above it, linear inside. Lets an MLP place sharp thresholds, as trees do.
        case piecewiseLinear = "piecewise_linear"
        /// Piecewise-linear encoding with bin edges from a one-dimensional decision tree on the labels (needs the
        /// training labels): edges fall where the label's distribution changes.
        case piecewiseLinearTree = "piecewise_linear_tree"
        /// The standardized value plus one step feature per edge of a label-driven decision tree (1 at or above the
        /// edge, else 0): exact thresholds for processes whose failures start at a limit.
        case treeSteps = "tree_steps"
    }

    public struct Derived: Sendable, Equatable {
        public var name: String
        public var expression: FeatureExpression
    }

    public struct Categorical: Sendable, Codable, Equatable {
        public var name: String
        public var categories: [String]
    }

    /// Numeric inputs, in the order `transform` takes them.
    public private(set) var numericInputs: [String]
    public private(set) var derived: [Derived]
    public private(set) var categorical: [Categorical]
    public private(set) var scaling: Scaling
    /// Per scaled feature (numeric inputs, then derived): value -> (value - offset) x factor.
    public private(set) var offsets: [Double]
    public private(set) var factors: [Double]
    /// Bin edges per scaled feature, for piecewise-linear encoding (nil otherwise).
    public private(set) var edges: [[Double]]?

    /// Columns per scaled feature.
    func width(_ feature: Int) -> Int {
        guard let edges else { return 1 }
        return scaling == .treeSteps ? edges[feature].count - 1 : edges[feature].count - 1
    }

    /// The names of the features the model sees, in order ("product=L" for one-hot columns).
    public var featureNames: [String] {
        let scaled = numericInputs + derived.map(\.name)
        let expanded = scaled.enumerated().flatMap { i, name in
            width(i) == 1 && edges == nil ? [name] : (0..<width(i)).map { "\(name)#\($0)" }
        }
        return expanded + categorical.flatMap { c in c.categories.map { "\(c.name)=\($0)" } }
    }

    public var featureCount: Int {
        (0..<(numericInputs.count + derived.count)).reduce(0) { $0 + width($1) }
            + categorical.reduce(0) { $0 + $1.categories.count }
    }

    /// Learns the scaling from training data.
    /// - Parameters:
    ///   - numeric: one column of values per numeric input (all of equal length).
    ///   - categoricalValues: one column of category names per categorical input.
    ///   - categories: fixed category lists by input name; others are learned (sorted distinct values).
    public static func fit(
        numericInputs: [String], numeric: [[Double]], derived: [(name: String, expression: String)] = [],
        categoricalInputs: [String] = [], categoricalValues: [[String]] = [], categories: [String: [String]] = [:],
        scaling: Scaling = .standard, bins: Int = 16, labels: [Int]? = nil, hidden: Set<String> = []
    ) throws -> Preprocessing {
        if let unknown = hidden.first(where: { !numericInputs.contains($0) }) {
            throw LearnError("preprocessing: hidden input '\(unknown)' is not a numeric input")
        }
        if !hidden.isEmpty && scaling != .standard && scaling != .none {
            throw LearnError("preprocessing: hidden inputs need standard scaling (or none)")
        }
        if (scaling == .piecewiseLinearTree || scaling == .treeSteps) && labels == nil {
            throw LearnError(
                "preprocessing: piecewise_linear_tree scaling learns its bins from class labels; use it for classification"
            )
        }
        guard bins >= 2 && bins <= 1000 else {
            throw LearnError("preprocessing: bins must be from 2 to 1000, got \(bins)")
        }
        guard numeric.count == numericInputs.count, categoricalValues.count == categoricalInputs.count else {
            throw LearnError("preprocessing: one column of values is needed per input")
        }
        let rows = numeric.first?.count ?? categoricalValues.first?.count ?? 0
        guard rows > 0 else { throw LearnError("preprocessing: no rows to learn the scaling from") }
        let names = numericInputs + derived.map(\.name) + categoricalInputs
        if let duplicate = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw LearnError("preprocessing: the name '\(duplicate)' is used twice")
        }
        let expressions = try derived.map {
            Derived(name: $0.name, expression: try FeatureExpression($0.expression, variables: numericInputs))
        }
        var columns = numeric
        for d in expressions {
            columns.append((0..<rows).map { r in d.expression.evaluate(numeric.map { $0[r] }) })
        }
        var offsets: [Double] = []
        var factors: [Double] = []
        var edges: [[Double]] = []
        for (i, column) in columns.enumerated() {
            let name = i < numericInputs.count ? numericInputs[i] : expressions[i - numericInputs.count].name
            guard column.allSatisfy(\.isFinite) else {
                throw LearnError(
                    "preprocessing: feature '\(name)' has non-finite values (check the data and the expression)")
            }
            let fitted = Self.scale(column, scaling: scaling, bins: bins, labels: labels)
            offsets.append(fitted.offset)
            factors.append(fitted.factor)
            if let e = fitted.edges { edges.append(e) }
        }
        // A hidden input's own column is always 0: it reaches the model only through the derived features.
        for (i, name) in numericInputs.enumerated() where hidden.contains(name) {
            offsets[i] = 0
            factors[i] = 0
        }
        let cats = zip(categoricalInputs, categoricalValues).map { name, values in
            Categorical(name: name, categories: categories[name] ?? Array(Set(values)).sorted())
        }
        return Preprocessing(
            numericInputs: numericInputs, derived: expressions, categorical: cats, scaling: scaling, offsets: offsets,
            factors: factors,
            edges: [.piecewiseLinear, .piecewiseLinearTree, .treeSteps].contains(scaling) ? edges : nil)
    }

    /// One column's scaling: offset and factor, and the bin edges for the piecewise scalings.
    static func scale(_ column: [Double], scaling: Scaling, bins: Int, labels: [Int]?) -> (
        offset: Double, factor: Double, edges: [Double]?
    ) {
        func moments() -> (mean: Double, sd: Double) {
            let mean = column.reduce(0, +) / Double(column.count)
            let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(column.count)
            return (mean, variance.squareRoot())
        }
        switch scaling {
        case .piecewiseLinearTree, .treeSteps:
            let classes = (labels!.max() ?? 0) + 1
            let edges = TreeBinning.edges(
                values: column, labels: labels!, classes: classes, leaves: bins, minLeaf: max(2, column.count / 2000))
            let (mean, sd) = moments()
            return (scaling == .treeSteps ? mean : 0, scaling == .treeSteps && sd > 0 ? 1 / sd : 1, edges)
        case .piecewiseLinear:
            let sorted = column.sorted()
            var e: [Double] = []
            for q in 0...bins {
                let v = sorted[
                    min(sorted.count - 1, Int((Double(q) / Double(bins) * Double(sorted.count - 1)).rounded()))]
                if e.last.map({ v > $0 }) ?? true { e.append(v) }
            }
            if e.count < 2 { e.append(e[0] + 1) }
            return (0, 1, e)
        case .none:
            return (0, 1, nil)
        case .standard:
            let (mean, sd) = moments()
            return (mean, sd > 0 ? 1 / sd : 1, nil)
        case .minMax:
            let lo = column.min()!
            let hi = column.max()!
            return (lo, hi > lo ? 1 / (hi - lo) : 1, nil)
        }
    }

    init(
        numericInputs: [String], derived: [Derived], categorical: [Categorical], scaling: Scaling, offsets: [Double],
        factors: [Double], edges: [[Double]]?
    ) {
        self.edges = edges
        self.numericInputs = numericInputs
        self.derived = derived
        self.categorical = categorical
        self.scaling = scaling
        self.offsets = offsets
        self.factors = factors
    }

    /// The feature vector for one sample, written into `out` (featureCount wide); allocates nothing.
    /// - Parameters:
    ///   - numeric: the numeric inputs in `numericInputs` order.
    ///   - categoryIndex: per categorical input, the index of its category (see `categoryIndex(of:for:)`), or -1.
    public func transform(
        numeric: UnsafeBufferPointer<Double>, categoryIndex: UnsafeBufferPointer<Int>,
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        var k = 0
        let numericFeatures = numericInputs.count + derived.count
        if let edges {
            for f in 0..<numericFeatures {
                let x =
                    f < numericInputs.count ? numeric[f] : derived[f - numericInputs.count].expression.evaluate(numeric)
                let e = edges[f]
                if scaling == .treeSteps {
                    // The standardized value, then a step at each inner edge.
                    out[k] = Float((x - offsets[f]) * factors[f])
                    for t in 1..<(e.count - 1) { out[k + t] = x >= e[t] ? 1 : 0 }
                    k += e.count - 1
                } else {
                    let n = e.count - 1
                    for t in 0..<n {
                        // The first and last bins extrapolate linearly beyond the training range.
                        let v: Double
                        if x < e[t] && t > 0 {
                            v = 0
                        } else if x >= e[t + 1] && t < n - 1 {
                            v = 1
                        } else {
                            v = (x - e[t]) / (e[t + 1] - e[t])
                        }
                        out[k + t] = Float(v)
                    }
                    k += n
                }
            }
        } else {
            // Scaled inputs only: one multiply each, through buffers (per element through the struct's arrays,
            // 5 % of an optimizer's time).
            precondition(numeric.count >= numericInputs.count && out.count >= numericFeatures)
            // The derived features through a buffer too: taken from the array, each (its name and its program) was
            // retained and released per sample, 0.7 % of the pipeline's worker in a profile.
            offsets.withUnsafeBufferPointer { offsets in
                factors.withUnsafeBufferPointer { factors in
                    derived.withUnsafeBufferPointer { derived in
                        for f in 0..<numericInputs.count { out[f] = Float((numeric[f] - offsets[f]) * factors[f]) }
                        for f in numericInputs.count..<numericFeatures {
                            let x = derived[f - numericInputs.count].expression.evaluate(numeric)
                            out[f] = Float((x - offsets[f]) * factors[f])
                        }
                    }
                }
            }
            k = numericFeatures
        }
        for (j, c) in categorical.enumerated() {
            for n in 0..<c.categories.count { out[k + n] = categoryIndex[j] == n ? 1 : 0 }
            k += c.categories.count
        }
    }

    /// The position of `value` among the categories of categorical input `input`, or -1 if unknown.
    public func categoryIndex(of value: String, for input: Int) -> Int {
        categorical[input].categories.firstIndex(of: value) ?? -1
    }

    /// Feature vectors for many samples (columns as in `fit`).
    public func transform(numeric: [[Double]], categoricalValues: [[String]] = []) throws -> Tensor {
        guard numeric.count == numericInputs.count, categoricalValues.count == categorical.count else {
            throw LearnError(
                "preprocessing expects \(numericInputs.count) numeric and \(categorical.count) categorical columns, got \(numeric.count) and \(categoricalValues.count)"
            )
        }
        let rows = numeric.first?.count ?? categoricalValues.first?.count ?? 0
        var out = Tensor(rows: rows, columns: featureCount)
        var sample = [Double](repeating: 0, count: numericInputs.count)
        var indices = [Int](repeating: -1, count: categorical.count)
        out.scalars.withUnsafeMutableBufferPointer { dst in
            for r in 0..<rows {
                for i in 0..<numericInputs.count { sample[i] = numeric[i][r] }
                for j in 0..<categorical.count { indices[j] = categoryIndex(of: categoricalValues[j][r], for: j) }
                sample.withUnsafeBufferPointer { s in
                    indices.withUnsafeBufferPointer { c in
                        transform(
                            numeric: s, categoryIndex: c,
                            into: UnsafeMutableBufferPointer(rebasing: dst[r * featureCount..<(r + 1) * featureCount]))
                    }
                }
            }
        }
        return out
    }
}

extension Preprocessing: Codable {
    enum CodingKeys: String, CodingKey {
        case numericInputs = "numeric_inputs", derived, categorical, scaling, offsets, factors, edges
    }

    struct DerivedRecord: Codable {
        var name: String
        var expression: String
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        numericInputs = try c.decode([String].self, forKey: .numericInputs)
        let records = try c.decode([DerivedRecord].self, forKey: .derived)
        let inputs = numericInputs
        derived = try records.map {
            Derived(name: $0.name, expression: try FeatureExpression($0.expression, variables: inputs))
        }
        categorical = try c.decode([Categorical].self, forKey: .categorical)
        scaling = try c.decode(Scaling.self, forKey: .scaling)
        offsets = try c.decode([Double].self, forKey: .offsets)
        factors = try c.decode([Double].self, forKey: .factors)
        edges = try c.decodeIfPresent([[Double]].self, forKey: .edges)
        if let edges, edges.count != numericInputs.count + derived.count || edges.contains(where: { $0.count < 2 }) {
            throw LearnError(
                "preprocessing: bin edges do not match the \(numericInputs.count + derived.count) scaled features")
        }
        guard offsets.count == numericInputs.count + derived.count, factors.count == offsets.count else {
            throw LearnError(
                "preprocessing: \(offsets.count) offsets and \(factors.count) factors for \(numericInputs.count + derived.count) scaled features"
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(numericInputs, forKey: .numericInputs)
        try c.encode(derived.map { DerivedRecord(name: $0.name, expression: $0.expression.text) }, forKey: .derived)
        try c.encode(categorical, forKey: .categorical)
        try c.encode(scaling, forKey: .scaling)
        try c.encode(offsets, forKey: .offsets)
        try c.encode(factors, forKey: .factors)
        try c.encodeIfPresent(edges, forKey: .edges)
    }
}
