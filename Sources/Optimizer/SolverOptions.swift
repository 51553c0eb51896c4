/// How the optimizer searches.
public struct SolverOptions: Sendable {
    public enum Method: String, Sendable, CaseIterable {
        /// Gradients when the model gives them, else pattern search.
        case automatic
        /// Projected gradient descent on the model's input gradients, from several starts.
        case gradient
        /// Derivative-free compass search, from several starts.
        case patternSearch = "pattern_search"
    }

    public var method: Method = .automatic
    /// Starting points: the current setpoints, then spread over the allowed box.
    public var starts = 3
    /// Iterations before a start that has not settled counts as not converged.
    public var maxIterations = 40
    /// A start has settled when its step is below this share of the allowed range.
    public var tolerance = 0.002
    /// A start that comes within this distance (a share of the allowed range, in every control) of a start at a
    /// lower objective stops: the two are in one basin and would settle at the same point. On the optimizer
    /// benchmark 0.05 scores a quarter fewer points per search for the same answers (docs/optimizer.md); 0 turns it
    /// off.
    public var mergeRadius = 0.05
    /// A search from scratch first runs on this share of the scenarios (at least 3), to ten times the tolerance:
    /// the strata taken a few neighbours at a time, the one nearest the middle standing for its group with their
    /// summed weight. Then it refines each basin it found on all of them, and runs the one-phase search if that does
    /// not settle. On the optimizer benchmark a quarter scores 37 % (16 scenarios) and 37 % (64) fewer model rows
    /// for the same or slightly better answers (docs/optimizer.md). Nil: one phase on all the scenarios.
    public var coarseFraction: Double? = 0.25
    /// Nil (the default): every search starts from the current setpoints and points spread over the allowed box.
    /// N: a machine re-optimized as its readings arrive (`recommend(updating:now:)`) is searched only from where its
    /// last search ended, and from the current setpoints and the spread-out starts every N searches. Several times
    /// faster, but in closed loop it tracks a local optimum: on the milling evaluation N = 10 cut failures 1 to 2
    /// points less than searching everything every time (docs/optimizer.md).
    public var explorationInterval: Int?
    /// What leaving the model's training data costs, in parts per part per squared unit of Mahalanobis distance
    /// beyond the data's reach, summed over the scenarios with `trustWeighting` (the trust region; 0 turns it off).
    public var trustWeight = 10.0
    /// How the scenarios' overshoots add up: each scenario alike (`uniform`, the default), so that the tails, where
    /// failures at a limit start and the data is thinnest, count as much as the middle; or by their probability
    /// (`probability`), which let the tails leave the data almost for free (measured on the realistic plant: power
    /// failures rose from 5 to 36 per 1,000 h against 9 with uniform weights at weight 1 and 1 at weight 10).
    public var trustWeighting = TrustWeighting.uniform

    public enum TrustWeighting: String, Sendable { case probability, uniform }

    public init(method: Method = .automatic, starts: Int = 3, maxIterations: Int = 40, tolerance: Double = 0.002) {
        self.method = method
        self.starts = starts
        self.maxIterations = maxIterations
        self.tolerance = tolerance
    }
}
