/// Counts of a model's live decisions against the labels that arrived later.
public struct Outcomes: Sendable, Codable, Equatable {
    public var tp = 0, fp = 0, tn = 0, fn = 0

    public init(tp: Int = 0, fp: Int = 0, tn: Int = 0, fn: Int = 0) {
        (self.tp, self.fp, self.tn, self.fn) = (tp, fp, tn, fn)
    }

    public mutating func add(predicted: Bool, actual: Bool) {
        switch (predicted, actual) {
        case (true, true): tp += 1
        case (true, false): fp += 1
        case (false, false): tn += 1
        case (false, true): fn += 1
        }
    }

    public var labelled: Int { tp + fp + tn + fn }
    /// Labelled readings that were failures.
    public var failures: Int { tp + fn }
    public var precision: Double? { tp + fp > 0 ? Double(tp) / Double(tp + fp) : nil }
    public var recall: Double? { tp + fn > 0 ? Double(tp) / Double(tp + fn) : nil }
    /// F1; 0 when the model raised nothing right, nil while no failure and no positive call is known.
    public var f1: Double? {
        guard tp + fp + fn > 0 else { return nil }
        return 2 * Double(tp) / Double(2 * tp + fp + fn)
    }
}

/// When a challenger that scored live readings in shadow may replace the champion: after enough labelled outcomes on
/// the same readings, by at least a margin of live F1.
public struct PromotionPolicy: Sendable, Codable, Equatable {
    /// Labelled readings both models scored, at least.
    public var minOutcomes: Int
    /// Failures among them, at least (F1 on a handful of failures is a coin).
    public var minFailures: Int
    /// Live F1 the challenger must gain over the champion on the same readings.
    public var margin: Double

    public init(minOutcomes: Int = 500, minFailures: Int = 10, margin: Double = 0.02) {
        self.minOutcomes = minOutcomes
        self.minFailures = minFailures
        self.margin = margin
    }

    enum CodingKeys: String, CodingKey {
        case minOutcomes = "min_outcomes"
        case minFailures = "min_failures"
        case margin
    }

    /// What the evidence says.
    public enum Decision: Sendable, Equatable {
        /// The challenger beat the champion by the margin on enough outcomes.
        case promote(String)
        /// Enough outcomes, and the challenger did not beat the champion by the margin.
        case reject(String)
        /// Not enough outcomes yet.
        case wait(String)

        public var reason: String {
            switch self {
            case .promote(let r), .reject(let r), .wait(let r): r
            }
        }
        public var verdict: String {
            switch self {
            case .promote: "promote"
            case .reject: "reject"
            case .wait: "wait"
            }
        }
    }

    /// Decides on the paired outcomes: the challenger's and the champion's decisions on the same labelled readings.
    public func decide(challenger: Outcomes, champion: Outcomes) -> Decision {
        let n = challenger.labelled
        guard n >= minOutcomes else {
            return .wait("\(n) labelled outcomes of the \(minOutcomes) the policy asks for")
        }
        guard challenger.failures >= minFailures else {
            return .wait("\(challenger.failures) failures among \(n) outcomes, \(minFailures) needed")
        }
        let new = challenger.f1 ?? 0
        let old = champion.f1 ?? 0
        let figures =
            "live F1 \(Self.format(new)) against the champion's \(Self.format(old)) on the same \(n) labelled readings (\(challenger.failures) failures); margin \(Self.format(margin))"
        // The baseline a sceptic compares with: an alarm that is always on. A model no better is not worth promoting,
        // however bad the champion has become.
        let alwaysOn = Self.alwaysOnF1(failures: challenger.failures, of: n)
        guard new >= alwaysOn * Self.overAlwaysOn else {
            return .reject(
                figures + "; not 5 % better than an alarm that is always on (F1 \(Self.format(alwaysOn)))")
        }
        return new >= old + margin ? .promote(figures) : .reject(figures)
    }

    /// How much better than an always-on alarm a model's F1 must be (5 %), live and on the hold-out.
    public static let overAlwaysOn = 1.05

    /// F1 of raising the alarm on every reading: precision p (the share that failed), recall 1.
    public static func alwaysOnF1(failures: Int, of n: Int) -> Double {
        guard n > 0 else { return 0 }
        let p = Double(failures) / Double(n)
        return 2 * p / (1 + p)
    }

    static func format(_ x: Double) -> String {
        let scaled = (x * 1000).rounded() / 1000
        return "\(scaled)"
    }
}
