/// How long a tool lasts, in minutes of tool wear, and how the plant's own rule ends its life.
public enum ToolLife: Sendable, Equatable {
    /// The AI4I 2020 rule: each tool reaches the end of its life at a wear drawn uniformly from `range`, where it
    /// fails (tool wear failure) in `failureShare` of cases and is replaced in the others. The paper says 200...240
    /// min, but the data resets at a median of 215 (5-95 %: 202...234), which 200...230 plus the last product's wear
    /// matches; it fails in 51 of 120 cases (the paper's counts).
    case uniform(range: ClosedRange<Double>, failureShare: Double)
    /// Each tool's life is normal with this mean and coefficient of variation (at least `minimum`); the plant's own
    /// rule replaces a tool when its wear reaches `rated`, and a tool whose life is shorter fails first.
    case scattered(mean: Double, cv: Double, rated: Double, minimum: Double)

    public static let ai4i = ToolLife.uniform(range: 200...230, failureShare: 51.0 / 120.0)

    /// The wear at which the plant's own rule changes a tool that has not failed before.
    public var rated: Double {
        switch self {
        case .uniform(let range, _): range.lowerBound
        case .scattered(_, _, let rated, _): rated
        }
    }
}

/// A named set of simulator parameters: `ai4i` reproduces the dataset, `realistic` behaves like a plant.
public enum PlantProfile: String, Sendable, CaseIterable {
    /// The AI4I 2020 dataset's rules and parameters: failure modes per part at the file's rates (about 3.4 % of
    /// parts fail), one failure per machine every hour or so. Kept for the dataset-fidelity test and the recipe.
    case ai4i
    /// The same failure rules (the five modes and their thresholds) with the variation and parameters of a plant:
    /// tools that last hours and scatter in life, material lots, the day's ambient cycle, changeovers and short
    /// stops. At nominal setpoints under the plant's own tool rule: OEE about 70 % and about one breakdown per machine
    /// a day (docs/simulator.md gives each parameter and its source).
    case realistic

    public var physics: MillingPhysics {
        switch self {
        case .ai4i: return MillingPhysics()
        case .realistic:
            var p = MillingPhysics()
            // Wear per part in minutes of cutting: a 60 s cycle cuts for about 0.65 min on average (AI4I adds 2-5
            // min per part, so a tool lasted about 70 parts, an hour).
            p.wearPerProduct = ["L": 0.5, "M": 0.75, "H": 1.25]
            // Tool life scatters normally with a coefficient of variation of about 0.25 (Wager and Barash 1971:
            // about 0.3 for HSS; Machinery's Handbook: 0.25-0.45 typical); replaced at a rated 200 min of wear, about
            // 310 parts (5 h); 9 % of tools fail before that.
            p.toolLife = .scattered(mean: 300, cv: 0.25, rated: 200, minimum: 30)
            // A worn tool needs more torque: up to 8 % more at the end of its life, rising with the cube of the
            // share of its life used (so a tool that will fail early shows it in the torque it draws).
            p.wornToolTorque = 0.08
            p.staggeredTools = true
            // Torque scatter per part: 5.5 Nm (AI4I's 10 Nm puts 1 % of parts beyond the power limits); material
            // lots of 480 parts (a shift) vary in hardness by 6 % (log sd), with a 20 min changeover between them.
            p.torqueSD = 5.5
            p.lotParts = 480
            p.lotTorqueSD = 0.06
            p.setupMinutes = 20
            // A lower torque target is a lighter cut: the cycle lengthens as (40 / target)^0.3, as it does with speed
            // (AI4I has no feed, so lowering the torque there costs nothing).
            p.cycleTorqueExponent = 0.3
            // Cooling: process minus air temperature around 11.4 K (AI4I 10 K, 8 % of parts below the 8.6 K limit).
            p.deltaMean = 11.4
            // The day's ambient cycle, +-1.5 K.
            p.ambientAmplitude = 1.5
            // Random failures (electrical, hydraulic, control): 0.015 % of parts, one per machine per 110 h running.
            p.randomFailureProbability = 0.00015
            // Short stops: 1 % of parts, 1 to 5 min each.
            p.minorStopProbability = 0.01
            return p
        }
    }
}
