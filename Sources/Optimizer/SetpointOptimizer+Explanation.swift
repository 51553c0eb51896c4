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

    /// The recommendation in words an operator reads at the machine.
    func explain(_ r: Recommendation) -> String {
        var text = "Failure risk \(Self.percent(r.riskBefore)) per part"
        if !r.contributions.isEmpty {
            let causes = r.contributions.map { c in
                let words = problem.describe(c.variable)
                return
                    "\(words.label) \(Self.number(c.value))\(words.unit.isEmpty ? "" : " " + words.unit) (+\(Self.points(c.effect)))"
            }
            text += ", raised most by " + Self.list(causes)
        }
        text += "."
        var actions: [String] = []
        for name in r.maintenance {
            actions.append(name == "tool_change" ? "change the tool now" : "do \(name.replacingUnderscores) now")
        }
        for c in r.changes {
            let words = problem.describe(c.variable)
            let unit = words.unit.isEmpty ? "" : " " + words.unit
            actions.append(
                "\(c.to > c.from ? "raise" : "lower") \(words.label) from \(Self.number(c.from)) to \(Self.number(c.to))\(unit)"
            )
        }
        if let first = actions.first {
            actions[0] = first.prefix(1).uppercased() + first.dropFirst()
        }
        text += " " + Self.list(actions) + ": expected risk \(Self.percent(r.riskAfter)) per part"
        let rate = (r.rateChange * 1000).rounded() / 10
        if rate != 0 { text += ", rate of parts \(rate > 0 ? "+" : "")\(rate) %" }
        return text + "."
    }

    static func points(_ p: Double) -> String { "\((p * 1000).rounded() / 10) points" }

    static func number(_ v: Double) -> String {
        let rounded = abs(v) >= 100 ? v.rounded() : (v * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    static func list(_ items: [String]) -> String {
        switch items.count {
        case 0: ""
        case 1: items[0]
        default: items.dropLast().joined(separator: ", ") + " and " + items.last!
        }
    }
}

extension String {
    fileprivate var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
