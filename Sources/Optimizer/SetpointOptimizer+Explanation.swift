extension SetpointOptimizer {
    /// How much each variable pushes the latest part's risk above the risk at typical values: integrated gradients
    /// along the straight line from the model's reference point (16 steps, one batched call) when the model has
    /// gradients, else occlusion (the risk drop when the variable alone goes back to its typical value).
    /// The three largest positive effects of at least 0.1 risk points.
    mutating func contributions(latest: [Double], context: MachineContext) -> [Recommendation.Contribution] {
        let nw = problem.numericInputs.count
        let cw = problem.categoricalInputs.count
        let reference = model.reference
        guard reference.count == nw else { return [] }
        let saved = batch.directions
        defer {
            batch.directions = saved
            batch.wantsGradient = false
        }
        var effects = [Double](repeating: 0, count: nw)
        let slot = context.latestSlot ?? 0
        let categories = (0..<cw).map { context.categories[slot * cw + $0] }
        if model.providesGradients {
            let steps = 16
            batch.directions = Array(0..<nw)
            batch.wantsGradient = true
            batch.resize(rows: steps)
            for r in 0..<steps {
                let t = (Double(r) + 0.5) / Double(steps)
                for i in 0..<nw { batch.numeric[r * nw + i] = reference[i] + t * (latest[i] - reference[i]) }
                for j in 0..<cw { batch.categories[r * cw + j] = categories[j] }
            }
            model.evaluate(&batch)
            for i in 0..<nw {
                var sum = 0.0
                for r in 0..<steps { sum += batch.gradient[r * nw + i] }
                effects[i] = (latest[i] - reference[i]) * sum / Double(steps)
            }
        } else {
            batch.wantsGradient = false
            batch.resize(rows: nw + 1)
            for r in 0...nw {
                for i in 0..<nw { batch.numeric[r * nw + i] = r == i ? reference[i] : latest[i] }
                for j in 0..<cw { batch.categories[r * cw + j] = categories[j] }
            }
            model.evaluate(&batch)
            for i in 0..<nw { effects[i] = batch.risk[nw] - batch.risk[i] }
        }
        return (0..<nw).filter { effects[$0].isFinite && effects[$0] >= 0.001 }
            .sorted { effects[$0] > effects[$1] }
            .prefix(3)
            .map { i in
                let name = problem.numericInputs[i]
                return .init(variable: name, value: latest[i], unit: problem.describe(name).unit, effect: effects[i])
            }
    }

    /// The recommendation in words an operator reads at the machine. Written into one string in place: made of
    /// separate pieces, lists joined and concatenated, the words were 6 % of a cold recommendation's time.
    func explain(_ r: Recommendation) -> String {
        var text = "Failure risk "
        text.reserveCapacity(320)
        text += Self.percent(r.riskBefore)
        text += " per part"
        for (i, c) in r.contributions.enumerated() {
            text += i == 0 ? ", raised most by " : Self.separator(i, of: r.contributions.count)
            let words = problem.describe(c.variable)
            text += words.label
            text += " "
            Self.append(c.value, unit: words.unit, to: &text)
            text += " (+"
            text += Self.points(c.effect)
            text += ")"
        }
        text += ". "
        let count = r.maintenance.count + r.changes.count
        for (i, name) in r.maintenance.enumerated() {
            text += Self.separator(i, of: count)
            let action = name == "tool_change" ? "change the tool now" : "do \(name.replacingUnderscores) now"
            text += i == 0 ? action.prefix(1).uppercased() + action.dropFirst() : action
        }
        for (k, c) in r.changes.enumerated() {
            let i = r.maintenance.count + k
            text += Self.separator(i, of: count)
            let verb = c.to > c.from ? "raise" : "lower"
            text += i == 0 ? verb.prefix(1).uppercased() + verb.dropFirst() : verb
            let words = problem.describe(c.variable)
            text += " "
            text += words.label
            text += " from "
            text += Self.number(c.from)
            text += " to "
            Self.append(c.to, unit: words.unit, to: &text)
        }
        text += ": expected risk "
        text += Self.percent(r.riskAfter)
        text += " per part"
        let rate = (r.rateChange * 1000).rounded() / 10
        if rate != 0 { text += ", rate of parts \(rate > 0 ? "+" : "")\(rate) %" }
        text += "."
        return text
    }

    /// A value in words and its unit (if any), appended to `text`.
    static func append(_ value: Double, unit: String, to text: inout String) {
        text += number(value)
        if !unit.isEmpty {
            text += " "
            text += unit
        }
    }

    /// What goes before item `i` of a list of `count` in words: nothing, ", ", or " and " before the last.
    static func separator(_ i: Int, of count: Int) -> String { i == 0 ? "" : i == count - 1 ? " and " : ", " }

    static func points(_ p: Double) -> String { "\((p * 1000).rounded() / 10) points" }

    static func number(_ v: Double) -> String {
        let rounded = abs(v) >= 100 ? v.rounded() : (v * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}

extension String {
    fileprivate var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
