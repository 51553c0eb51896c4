/// The scenarios of one solve: `count` rows of numeric inputs and categories (the machine's latest state with each
/// part's categories), per control each one's deviation, and each one's probability weight (they add up to 1).
struct ScenarioSet: Sendable {
    var numeric: [Double] = []
    var categories: [Int] = []
    var deviation: [Double] = []
    var weights: [Double] = []
    var count = 0

    /// Loads `picks` (a part and its weight each) from the latest state, the parts' categories (`cw` per part) and
    /// their deviations (`controls` per part).
    mutating func load(
        _ picks: [(part: Int, weight: Double)], latest: [Double], categories partCategories: [Int], cw: Int,
        deviations: [Double], controls: Int
    ) {
        let nw = latest.count
        count = picks.count
        if numeric.count < count * nw { numeric = [Double](repeating: 0, count: count * nw) }
        if categories.count < count * cw { categories = [Int](repeating: -1, count: count * cw) }
        if deviation.count < count * controls { deviation = [Double](repeating: 0, count: count * controls) }
        if weights.count < count { weights = [Double](repeating: 0, count: count) }
        for (k, pick) in picks.enumerated() {
            for i in 0..<nw { numeric[k * nw + i] = latest[i] }
            for j in 0..<cw { categories[k * cw + j] = partCategories[pick.part * cw + j] }
            for c in 0..<controls { deviation[k * controls + c] = deviations[pick.part * controls + c] }
            weights[k] = pick.weight
        }
    }
}
