import Learn

/// A model that gives the probability of failure of a part from the machine's inputs: what the optimizer minimizes.
///
/// Inputs are raw values (the process variables, in `numericInputs` order) and category indices; a model that can
/// also gives the derivative of the risk along chosen numeric inputs, which the gradient solver uses. Models without
/// gradients are optimized by a derivative-free search.
public protocol RiskModel: Sendable {
    /// The numeric inputs, in the order rows give them.
    var numericInputs: [String] { get }
    /// The categorical inputs ("product"), in the order rows give their category indices.
    var categoricalInputs: [String] { get }
    /// The index of `value` among the categories of categorical input `input`, or -1 when unknown.
    func categoryIndex(of value: String, for input: Int) -> Int
    /// Typical values of the numeric inputs (e.g. training medians): the reference point of attributions.
    var reference: [Double] { get }
    /// Where the model's training inputs lie (the optimizer's trust region), if known.
    var support: InputSupport? { get }
    /// Whether `evaluate` can fill `RiskBatch.gradient`.
    var providesGradients: Bool { get }
    /// Fills `batch.risk` for its rows and, when `batch.wantsGradient`, `batch.gradient` along `batch.directions`.
    func evaluate(_ batch: inout RiskBatch)
    /// After `evaluate` without gradients, fills `batch.gradient` for the rows `rows` only (increasing positions;
    /// the others are left as they are), the batch unchanged since: a solver wants the gradient only where a trial
    /// point was accepted. Once per evaluation. The default scores those rows again, with gradients.
    func completeGradients(_ batch: inout RiskBatch, rows: [Int])
}

extension RiskModel {
    public var support: InputSupport? { nil }

    public func completeGradients(_ batch: inout RiskBatch, rows: [Int]) {
        let (nw, cw, dc) = (batch.numericWidth, batch.categoricalWidth, batch.directions.count)
        var sub = RiskBatch(numericWidth: nw, categoricalWidth: cw)
        sub.directions = batch.directions
        sub.varyingInputs = batch.varyingInputs
        sub.wantsGradient = true
        sub.resize(rows: rows.count)
        for (i, r) in rows.enumerated() {
            for c in 0..<nw { sub.numeric[i * nw + c] = batch.numeric[r * nw + c] }
            for c in 0..<cw { sub.categories[i * cw + c] = batch.categories[r * cw + c] }
        }
        evaluate(&sub)
        for (i, r) in rows.enumerated() {
            for d in 0..<dc { batch.gradient[r * dc + d] = sub.gradient[i * dc + d] }
        }
    }
}

/// Rows to score, and the buffers for the answers; reused across calls so that steady-state solving allocates nothing.
public struct RiskBatch: Sendable {
    public private(set) var rows = 0
    public let numericWidth: Int
    public let categoricalWidth: Int
    /// rows x numericWidth raw values.
    public var numeric: [Double] = []
    /// rows x categoricalWidth category indices (-1: unknown).
    public var categories: [Int] = []
    /// Numeric input positions to differentiate along.
    public var directions: [Int] = []
    /// When set, the numeric inputs (increasing positions) that may differ between rows: all other numeric inputs
    /// are the same in every row, so a model may do their share of the work once (an optimizer's candidates share
    /// the machine's state and move only its setpoints). Categories may still differ.
    public var varyingInputs: [Int]?
    public var wantsGradient = false
    /// One risk per row.
    public var risk: [Double] = []
    /// rows x directions.count: d risk / d numeric input.
    public var gradient: [Double] = []
    /// The model's own buffers.
    public var scratch = Scratch()

    public struct Scratch: Sendable {
        public var features: [Float] = []
        public var featureGradient: [Float] = []
        public var values: [Float] = []
        public var tangent: [Double] = []
        public var featureTangent: [Float] = []
        public var network = InferenceModel.BatchWorkspace()
        /// The features that differ between the batch's rows (see `NetworkRiskModel.varyingFeatures`).
        var varying: [Int] = []
        public init() {}
    }

    public init(numericWidth: Int, categoricalWidth: Int) {
        self.numericWidth = numericWidth
        self.categoricalWidth = categoricalWidth
    }

    /// Sizes the batch for `rows` rows (keeps the buffers when they are large enough).
    public mutating func resize(rows: Int) {
        self.rows = rows
        if numeric.count < rows * numericWidth { numeric = [Double](repeating: 0, count: rows * numericWidth) }
        if categories.count < rows * categoricalWidth {
            categories = [Int](repeating: -1, count: rows * categoricalWidth)
        }
        if risk.count < rows { risk = [Double](repeating: 0, count: rows) }
        if gradient.count < rows * directions.count {
            gradient = [Double](repeating: 0, count: rows * directions.count)
        }
    }
}
