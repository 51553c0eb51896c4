import RealModule

/// The outcome of one search.
enum SolveResult {
    /// The best point's setpoints, and in the unit box of the free controls the settled points of the starts that
    /// were not merged into a better one (one per basin found), best first.
    case found([Double], basins: [[Double]])
    case notFinite([Double])
    case notConverged(iterations: Int)
}

extension SetpointOptimizer {
    /// Starting points in the unit box of the free controls, each with the length of its first step (sup-norm).
    /// A search that explores starts from the current setpoints, from where the machine's last search ended (if
    /// known), and from a low-discrepancy spread (the additive recurrence of the generalized golden ratio, identical
    /// on every call), with long first steps. One that follows the machine starts only where its last search ended,
    /// with a short first step: the optimum moves little from one reading to the next.
    func starts(current: [Double], free: [Int], ranges: [ClosedRange<Double>], warm: [Double]?, explore: Bool)
        -> (points: [[Double]], steps: [Double])
    {
        let d = free.count
        let previous = warm.map { w in free.map { c in min(1, max(0, unit(w[c], ranges[c]))) } }
        if let previous, !explore { return ([previous], [0.05]) }
        var points = [free.map { c in unit(current[c], ranges[c]) }]
        if let previous, Self.supDistance(previous, points[0]) >= options.tolerance { points.append(previous) }
        let alpha = spreadSteps[d]
        for j in 1..<max(1, options.starts) {
            points.append((0..<d).map { i in (0.5 + alpha[i] * Double(j)).truncatingRemainder(dividingBy: 1) })
        }
        return (points, [Double](repeating: 0.5, count: points.count))
    }

    /// The additive recurrence's steps for `d` free controls: 1 / phi_d^i for i = 1...d, where phi_d is the root of
    /// x^(d+1) = x + 1 (by fixed-point iteration). Made once per control count (`spreadSteps`): 30 powers per search
    /// were 1 % of a cold one.
    static func spreadSteps(_ d: Int) -> [Double] {
        guard d >= 1 else { return [] }
        var phi = 2.0
        for _ in 0..<30 { phi = Double.pow(1 + phi, 1 / Double(d + 1)) }
        return (1...d).map { 1 / Double.pow(phi, Double($0)) }
    }

    func unit(_ v: Double, _ r: ClosedRange<Double>) -> Double { (v - r.lowerBound) / (r.upperBound - r.lowerBound) }

    /// Setpoints for a point of the unit box (held controls stay where they are).
    func setpoints(_ u: [Double], current: [Double], free: [Int], ranges: [ClosedRange<Double>]) -> [Double] {
        var s: [Double] = []
        s.reserveCapacity(current.count)
        appendSetpoints(u, current: current, free: free, ranges: ranges, to: &s)
        return s
    }

    /// `setpoints` appended to `flat`, without an array of its own (a search builds one batch of them per step).
    func appendSetpoints(
        _ u: [Double], current: [Double], free: [Int], ranges: [ClosedRange<Double>], to flat: inout [Double]
    ) {
        let start = flat.count
        flat.append(contentsOf: current)
        for c in current.indices where !free.contains(c) { flat[start + c] = ranges[c].lowerBound }
        for (i, c) in free.enumerated() {
            flat[start + c] =
                ranges[c].lowerBound + min(1, max(0, u[i])) * (ranges[c].upperBound - ranges[c].lowerBound)
        }
    }

    /// One search from the starts on the scenarios in `scenarios`, by gradient or pattern search.
    mutating func solve(
        from startPoints: (points: [[Double]], steps: [Double]), current: [Double], free: [Int],
        ranges: [ClosedRange<Double>], tolerance: Double
    ) -> SolveResult {
        usesGradients
            ? solveByGradient(from: startPoints, current: current, free: free, ranges: ranges, tolerance: tolerance)
            : solveByPatternSearch(
                from: startPoints, current: current, free: free, ranges: ranges, tolerance: tolerance)
    }

    /// A search in two phases (`options.coarseFraction`): the starts on the coarse scenarios to ten times the
    /// tolerance, so that the long first steps cost a fraction of the rows; then, on all the scenarios with a short
    /// first step, to the tolerance, from each basin the coarse phase found (its starts that were not merged into a
    /// better one). Refining only the coarse phase's best point lost answers where the coarse scenarios ranked two
    /// basins the other way round (docs/optimizer.md). When the coarse phase gives no answer, the full search runs
    /// from the starts.
    mutating func solveInTwoPhases(
        from startPoints: (points: [[Double]], steps: [Double]), current: [Double], free: [Int],
        ranges: [ClosedRange<Double>]
    ) -> SolveResult {
        swap(&scenarios, &coarseScenarios)
        let coarse = solve(
            from: startPoints, current: current, free: free, ranges: ranges, tolerance: 10 * options.tolerance)
        swap(&scenarios, &coarseScenarios)
        guard case .found(_, let basins) = coarse else {
            return solve(from: startPoints, current: current, free: free, ranges: ranges, tolerance: options.tolerance)
        }
        let fine = (basins, [Double](repeating: 0.05, count: basins.count))
        let refined = solve(from: fine, current: current, free: free, ranges: ranges, tolerance: options.tolerance)
        guard case .notConverged = refined else { return refined }
        return solve(from: startPoints, current: current, free: free, ranges: ranges, tolerance: options.tolerance)
    }

    /// Projected gradient descent from several starts at once (one batched model call per iteration): each start
    /// moves a step of its own length against the gradient (sup-norm), clipped to the box; the step grows after two
    /// successes in a row and shrinks after a failure, and the start has settled when the step is below the
    /// tolerance or no descent direction stays inside the box.
    mutating func solveByGradient(
        from startPoints: (points: [[Double]], steps: [Double]), current: [Double], free: [Int],
        ranges: [ClosedRange<Double>], tolerance: Double
    ) -> SolveResult {
        let controls = problem.controls.count
        let d = free.count
        var points = startPoints.points
        let n = points.count
        var values = [Double](repeating: .infinity, count: n)
        var gradients = [[Double]](repeating: [], count: n)
        var step = startPoints.steps
        var succeeded = [Bool](repeating: false, count: n)
        var settled = [Bool](repeating: false, count: n)
        var merged = [Bool](repeating: false, count: n)
        var trials = points
        var pending = Array(0..<n)
        var iteration = 0
        let widths = free.map { ranges[$0].upperBound - ranges[$0].lowerBound }
        // Reused across iterations (and the per-start arrays written in place): the small arrays a step allocated
        // were several percent of a cold search.
        var flat: [Double] = []
        flat.reserveCapacity(n * controls)
        var direction = [Double](repeating: 0, count: d)
        var accepted: [Int] = []
        var gradient: [Double] = []  // dJ/ds at the accepted trials, by their slot in the step's batch
        while !pending.isEmpty && iteration < options.maxIterations {
            iteration += 1
            iterations += 1
            pointsScored += pending.count
            flat.removeAll(keepingCapacity: true)
            for j in pending { appendSetpoints(trials[j], current: current, free: free, ranges: ranges, to: &flat) }
            if let point = scoreTrials(flat, of: pending, values: values, accepted: &accepted, gradient: &gradient) {
                return .notFinite(point)
            }
            for (slot, j) in pending.enumerated() {
                let value = scored.value[slot]
                if value < values[j] {
                    // The step grows only after two successes in a row: growing after every success lets a path
                    // that zigzags over a kink (success, success, failure) keep its step for ever.
                    if values[j].isFinite && succeeded[j] { step[j] = min(1, step[j] * 2) }
                    succeeded[j] = values[j].isFinite
                    values[j] = value
                    points[j] = trials[j]
                    if gradients[j].count != d { gradients[j] = [Double](repeating: 0, count: d) }
                    for i in 0..<d { gradients[j][i] = gradient[slot * controls + free[i]] * widths[i] }
                } else {
                    step[j] *= 0.25
                    succeeded[j] = false
                }
                // Next trial: against the projected gradient.
                var norm = 0.0
                for i in 0..<d {
                    let g = gradients[j][i]
                    let atLow = points[j][i] <= 0 && g > 0
                    let atHigh = points[j][i] >= 1 && g < 0
                    direction[i] = atLow || atHigh ? 0 : -g
                    norm = max(norm, abs(direction[i]))
                }
                if norm == 0 || step[j] < tolerance {
                    settled[j] = true
                    continue
                }
                for i in 0..<d { trials[j][i] = min(1, max(0, points[j][i] + step[j] * direction[i] / norm)) }
                if trials[j] == points[j] { settled[j] = true }
            }
            merge(points: points, values: values, settled: settled, radius: options.mergeRadius, merged: &merged)
            pending.removeAll(keepingCapacity: true)
            for j in 0..<n where !settled[j] && !merged[j] { pending.append(j) }
        }
        let basins = (0..<n).filter { settled[$0] && !merged[$0] }.sorted { values[$0] < values[$1] }
        guard let best = basins.first else { return .notConverged(iterations: iteration) }
        return .found(
            setpoints(points[best], current: current, free: free, ranges: ranges), basins: basins.map { points[$0] })
    }

    /// One step's model work: the objective at the trials (`flat`, one per start in `pending`, into `scored`), and
    /// its gradient (into `gradient`, by slot) only where a trial beats its start's value (`accepted`, the slots): a
    /// rejected trial is not moved from. The point where the model's answer was not finite, else nil.
    private mutating func scoreTrials(
        _ flat: [Double], of pending: [Int], values: [Double], accepted: inout [Int], gradient: inout [Double]
    ) -> [Double]? {
        let controls = problem.controls.count
        guard objective(points: flat, count: pending.count, reset: nil) else { return Array(flat[0..<controls]) }
        accepted.removeAll(keepingCapacity: true)
        for (slot, j) in pending.enumerated() where scored.value[slot] < values[j] { accepted.append(slot) }
        if gradient.count < pending.count * controls {
            gradient = [Double](repeating: 0, count: values.count * controls)
        }
        guard objectiveGradients(points: flat, slots: accepted, into: &gradient) else {
            return Array(flat[accepted[0] * controls..<(accepted[0] + 1) * controls])
        }
        return nil
    }

    /// Stops a start still searching that has come within `radius` (sup-norm, unit box) of a start at a lower
    /// value: both are in one basin and would settle at the same point, so only the better one searches on.
    func merge(points: [[Double]], values: [Double], settled: [Bool], radius: Double, merged: inout [Bool]) {
        for j in points.indices where !settled[j] && !merged[j] && values[j].isFinite {
            for i in points.indices where i != j && !merged[i] && values[i] < values[j] {
                if Self.supDistance(points[i], points[j]) < radius {
                    merged[j] = true
                    break
                }
            }
        }
    }

    static func supDistance(_ a: [Double], _ b: [Double]) -> Double {
        var m = 0.0
        for i in a.indices { m = max(m, abs(a[i] - b[i])) }
        return m
    }

    /// Compass search from several starts at once: each start polls one step up and down along every free control
    /// (all polls of all starts in one model call), moves to the best poll that improves, else halves its step.
    mutating func solveByPatternSearch(
        from startPoints: (points: [[Double]], steps: [Double]), current: [Double], free: [Int],
        ranges: [ClosedRange<Double>], tolerance: Double
    ) -> SolveResult {
        let controls = problem.controls.count
        var points = startPoints.points
        let n = points.count
        var flat: [Double] = []
        for p in points { appendSetpoints(p, current: current, free: free, ranges: ranges, to: &flat) }
        guard objective(points: flat, count: n, reset: nil) else {
            return .notFinite(Array(flat[0..<controls]))
        }
        var values = Array(scored.value[0..<n])
        var step = startPoints.steps.map { $0 / 2 }
        var settled = [Bool](repeating: false, count: n)
        var merged = [Bool](repeating: false, count: n)
        var iteration = 0
        pointsScored += n
        while (0..<n).contains(where: { !settled[$0] && !merged[$0] }) && iteration < options.maxIterations {
            iteration += 1
            iterations += 1
            var polls: [(start: Int, point: [Double])] = []
            for j in 0..<n where !settled[j] && !merged[j] {
                for i in 0..<free.count {
                    for sign in [-1.0, 1.0] {
                        var p = points[j]
                        p[i] = min(1, max(0, p[i] + sign * step[j]))
                        if p != points[j] { polls.append((j, p)) }
                    }
                }
            }
            pointsScored += polls.count
            flat.removeAll(keepingCapacity: true)
            for poll in polls { appendSetpoints(poll.point, current: current, free: free, ranges: ranges, to: &flat) }
            if !polls.isEmpty {
                guard objective(points: flat, count: polls.count, reset: nil) else {
                    return .notFinite(Array(flat[0..<controls]))
                }
            }
            var moved = [Bool](repeating: false, count: n)
            for (slot, poll) in polls.enumerated() where scored.value[slot] < values[poll.start] {
                values[poll.start] = scored.value[slot]
                points[poll.start] = poll.point
                moved[poll.start] = true
            }
            for j in 0..<n where !settled[j] && !merged[j] && !moved[j] {
                step[j] *= 0.5
                if step[j] < tolerance { settled[j] = true }
            }
            merge(points: points, values: values, settled: settled, radius: options.mergeRadius, merged: &merged)
        }
        let basins = (0..<n).filter { settled[$0] && !merged[$0] }.sorted { values[$0] < values[$1] }
        guard let best = basins.first else { return .notConverged(iterations: iteration) }
        return .found(
            setpoints(points[best], current: current, free: free, ranges: ranges), basins: basins.map { points[$0] })
    }
}
