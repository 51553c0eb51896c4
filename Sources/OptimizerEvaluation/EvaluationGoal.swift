/// The evaluation's goal, checked against each sensible baseline (preventive and condition): at least 30 % fewer
/// failures per 1,000 operating hours, at least as many good parts, no more energy per good part.
public struct EvaluationGoal: Sendable {
    public struct Comparison: Sendable {
        public var baseline: String
        public var failureReduction: Double
        public var goodPartsRatio: Double
        public var energyRatio: Double
        public var met: Bool { failureReduction >= 0.30 && goodPartsRatio >= 1 && energyRatio <= 1 }
    }

    public private(set) var comparisons: [Comparison] = []

    public init(_ report: ClosedLoopEvaluation.Report) {
        guard let o = report.policy("optimized")?.metrics else { return }
        for name in ["preventive", "condition"] {
            guard let b = report.policy(name)?.metrics else { continue }
            comparisons.append(
                Comparison(
                    baseline: name,
                    failureReduction: b.failuresPer1000Hours > 0
                        ? 1 - o.failuresPer1000Hours / b.failuresPer1000Hours : 0,
                    goodPartsRatio: b.goodParts > 0 ? Double(o.goodParts) / Double(b.goodParts) : 0,
                    energyRatio: b.energyPerGoodPart > 0 ? o.energyPerGoodPart / b.energyPerGoodPart : 0))
        }
    }

    /// Met against every baseline.
    public var met: Bool { !comparisons.isEmpty && comparisons.allSatisfy(\.met) }
}
