#if canImport(Glibc)
    import Glibc
#endif

/// The outcome of one search.
enum SolveResult {
    case found([Double])
    case notFinite([Double])
    case notConverged(iterations: Int)
}

extension SetpointOptimizer {
    /// Starting points in the unit box of the free controls: the current setpoints first, then a low-discrepancy
    /// spread (the additive recurrence of the generalized golden ratio), identical on every call.
    func starts(current: [Double], free: [Int], ranges: [ClosedRange<Double>]) -> [[Double]] {
        let d = free.count
        var phi = 2.0
        for _ in 0..<30 { phi = pow(1 + phi, 1 / Double(d + 1)) }
        let alpha = (1...d).map { 1 / pow(phi, Double($0)) }
        var points = [free.map { c in unit(current[c], ranges[c]) }]
        for j in 1..<max(1, options.starts) {
            points.append((0..<d).map { i in (0.5 + alpha[i] * Double(j)).truncatingRemainder(dividingBy: 1) })
        }
        return points
    }

    func unit(_ v: Double, _ r: ClosedRange<Double>) -> Double { (v - r.lowerBound) / (r.upperBound - r.lowerBound) }

    /// Setpoints for a point of the unit box (held controls stay where they are).
    func setpoints(_ u: [Double], current: [Double], free: [Int], ranges: [ClosedRange<Double>]) -> [Double] {
        var s = current
        for (i, c) in free.enumerated() {
            s[c] = ranges[c].lowerBound + min(1, max(0, u[i])) * (ranges[c].upperBound - ranges[c].lowerBound)
        }
        for c in s.indices where !free.contains(c) { s[c] = ranges[c].lowerBound }
        return s
    }

    /// Projected gradient descent from several starts at once (one batched model call per iteration): each start
    /// moves a step of its own length against the gradient (sup-norm), clipped to the box; the step grows after a
    /// success and shrinks after a failure, and the start has settled when the step is below the tolerance or no
    /// descent direction stays inside the box.
    mutating func solveByGradient(from current: [Double], free: [Int], ranges: [ClosedRange<Double>]) -> SolveResult {
        let controls = problem.controls.count
        var points = starts(current: current, free: free, ranges: ranges)
        let n = points.count
        var values = [Double](repeating: .infinity, count: n)
        var gradients = [[Double]](repeating: [], count: n)
        var step = [Double](repeating: 0.5, count: n)
        var settled = [Bool](repeating: false, count: n)
        var trials = points
        var pending = Array(0..<n)
        var iteration = 0
        while !pending.isEmpty && iteration < options.maxIterations {
            iteration += 1
            var flat: [Double] = []
            flat.reserveCapacity(pending.count * controls)
            for j in pending { flat += setpoints(trials[j], current: current, free: free, ranges: ranges) }
            guard let result = objective(points: flat, count: pending.count, reset: nil, gradient: true) else {
                return .notFinite(Array(flat[0..<controls]))
            }
            for (slot, j) in pending.enumerated() {
                let value = result.value[slot]
                if value < values[j] {
                    if values[j].isFinite { step[j] = min(1, step[j] * 2) }
                    values[j] = value
                    points[j] = trials[j]
                    gradients[j] = free.map { c in
                        result.gradient[slot * controls + c] * (ranges[c].upperBound - ranges[c].lowerBound)
                    }
                } else {
                    step[j] *= 0.25
                }
                // Next trial: against the projected gradient.
                let g = gradients[j]
                var direction = [Double](repeating: 0, count: free.count)
                var norm = 0.0
                for i in 0..<free.count {
                    let atLow = points[j][i] <= 0 && g[i] > 0
                    let atHigh = points[j][i] >= 1 && g[i] < 0
                    direction[i] = atLow || atHigh ? 0 : -g[i]
                    norm = max(norm, abs(direction[i]))
                }
                if norm == 0 || step[j] < options.tolerance {
                    settled[j] = true
                    continue
                }
                trials[j] = (0..<free.count).map { i in min(1, max(0, points[j][i] + step[j] * direction[i] / norm)) }
                if trials[j] == points[j] { settled[j] = true }
            }
            pending = (0..<n).filter { !settled[$0] }
        }
        guard let best = (0..<n).filter({ settled[$0] }).min(by: { values[$0] < values[$1] }) else {
            return .notConverged(iterations: iteration)
        }
        return .found(setpoints(points[best], current: current, free: free, ranges: ranges))
    }

    /// Compass search from several starts at once: each start polls one step up and down along every free control
    /// (all polls of all starts in one model call), moves to the best poll that improves, else halves its step.
    mutating func solveByPatternSearch(from current: [Double], free: [Int], ranges: [ClosedRange<Double>])
        -> SolveResult
    {
        let controls = problem.controls.count
        var points = starts(current: current, free: free, ranges: ranges)
        let n = points.count
        var flat: [Double] = []
        for p in points { flat += setpoints(p, current: current, free: free, ranges: ranges) }
        guard let first = objective(points: flat, count: n, reset: nil, gradient: false) else {
            return .notFinite(Array(flat[0..<controls]))
        }
        var values = first.value
        var step = [Double](repeating: 0.25, count: n)
        var settled = [Bool](repeating: false, count: n)
        var iteration = 0
        while settled.contains(false) && iteration < options.maxIterations {
            iteration += 1
            var polls: [(start: Int, point: [Double])] = []
            for j in 0..<n where !settled[j] {
                for i in 0..<free.count {
                    for sign in [-1.0, 1.0] {
                        var p = points[j]
                        p[i] = min(1, max(0, p[i] + sign * step[j]))
                        if p != points[j] { polls.append((j, p)) }
                    }
                }
            }
            flat = []
            for poll in polls { flat += setpoints(poll.point, current: current, free: free, ranges: ranges) }
            let result: (value: [Double], risk: [Double], gradient: [Double])
            if polls.isEmpty {
                result = ([], [], [])
            } else {
                guard let r = objective(points: flat, count: polls.count, reset: nil, gradient: false) else {
                    return .notFinite(Array(flat[0..<controls]))
                }
                result = r
            }
            var moved = [Bool](repeating: false, count: n)
            for (slot, poll) in polls.enumerated() where result.value[slot] < values[poll.start] {
                values[poll.start] = result.value[slot]
                points[poll.start] = poll.point
                moved[poll.start] = true
            }
            for j in 0..<n where !settled[j] && !moved[j] {
                step[j] *= 0.5
                if step[j] < options.tolerance { settled[j] = true }
            }
        }
        guard let best = (0..<n).filter({ settled[$0] }).min(by: { values[$0] < values[$1] }) else {
            return .notConverged(iterations: iteration)
        }
        return .found(setpoints(points[best], current: current, free: free, ranges: ranges))
    }
}
