import Learn
import Plant
import RealModule

/// Recommends setpoint changes and maintenance for one machine at a time: minimizes the expected failure cost minus
/// the rate gain over the machine's recent spread around its setpoints, within the guardrails of the problem.
///
/// Objective, in good parts lost per part: J(s) = failureCost x mean_k risk(x_k(s)) - weight x rate(s), where the
/// scenario inputs x_k(s) are the machine's latest state with each controllable input moved by part k's deviation
/// from the setpoint it was made at (added, or multiplied for `variation: relative`). CPU-bound and synchronous;
/// one optimizer per task (it keeps its buffers).
public struct SetpointOptimizer<Model: RiskModel>: Sendable {
    public let problem: OptimizationProblem
    public let model: Model
    /// The model's name in recommendations ("failure@v3").
    public let modelLabel: String
    public var options: SolverOptions
    var batch: RiskBatch
    /// Control -> its direction in the batch's gradient (nil: the model does not read it).
    let direction: [Int?]
    /// Control -> the numeric input it sets (-1: none), and whether its deviations multiply (else add): the hot
    /// loops read these instead of the controls' descriptions.
    let controlInput: [Int]
    /// The numeric inputs the controls set, increasing: what differs between a search's rows.
    let controlInputs: [Int]
    let relative: [Bool]
    /// The scenarios the objective reads (see `loadScenarios`), and the coarse ones of the current solve
    /// (`options.coarseFraction`; empty when off). A search's coarse phase swaps the two.
    var scenarios = ScenarioSet()
    var coarseScenarios = ScenarioSet()
    /// The coarse phase's scenarios for the machine loaded last (0: one phase), for benchmarks and reports.
    public var coarseScenarioCount: Int { coarseScenarios.count }
    /// The trust penalty's gradient at each row of the last `objective` call (rows x inputs).
    var trustGradient: [Double] = []
    /// The batch rows of the points whose gradients a step wants (`objectiveGradients`), reused.
    var gradientRows: [Int] = []
    /// The values and mean risks of the last `objective` call's points (the first `count`; kept, not allocated per
    /// call).
    var scored: (value: [Double], risk: [Double]) = ([], [])
    /// Equal weights for the scenarios (the uniform trust weighting), kept for the scenario count of the last call.
    var uniformWeights: [Double] = []
    /// Solver iterations (batched model calls of the search) since this optimizer was made: with `solves`, the
    /// average work per recommendation, for benchmarks and metrics.
    public internal(set) var iterations = 0
    public internal(set) var solves = 0
    /// Points the searches scored (each one row per scenario): the model's work, as iterations times the starts
    /// still searching.
    public internal(set) var pointsScored = 0
    /// Model rows scored (a point times the scenarios it was scored on) by the objective: the searches and the
    /// evaluations before and after them (not the attribution of a recommendation's reasons).
    public internal(set) var rowsScored = 0
    /// The strata of the scenarios (see `loadScenarios`).
    let strata: [(z: Double, mass: Double, rank: Double)]
    /// The spread-out starts' steps by the number of free controls (see `starts`).
    let spreadSteps: [[Double]]

    public init(problem: OptimizationProblem, model: Model, label: String, options: SolverOptions = .init()) throws {
        guard model.numericInputs == problem.numericInputs, model.categoricalInputs == problem.categoricalInputs else {
            throw OptimizerError("the problem was built for another model's inputs")
        }
        guard options.starts >= 1, options.maxIterations >= 1, (options.explorationInterval ?? 1) >= 1,
            options.tolerance > 0, (0...1).contains(options.mergeRadius), (options.coarseFraction ?? 0.5) > 0,
            (options.coarseFraction ?? 0.5) < 1
        else {
            throw OptimizerError(
                "solver options: starts, maxIterations and explorationInterval must be at least 1, tolerance above 0, mergeRadius from 0 to 1 and coarseFraction above 0 and below 1"
            )
        }
        self.problem = problem
        self.model = model
        self.modelLabel = label
        self.options = options
        var b = RiskBatch(numericWidth: model.numericInputs.count, categoricalWidth: model.categoricalInputs.count)
        b.directions = problem.controls.compactMap(\.input)
        self.batch = b
        self.strata = Self.normalStrata(problem.scenarios)
        self.spreadSteps = (0...problem.controls.count).map(Self.spreadSteps)
        controlInput = problem.controls.map { $0.input ?? -1 }
        controlInputs = Array(Set(controlInput.filter { $0 >= 0 })).sorted()
        relative = problem.controls.map { $0.limits.variation == .relative }
        var k = 0
        direction = problem.controls.map { c in
            guard c.input != nil else { return nil }
            defer { k += 1 }
            return k
        }
    }

    /// Whether the gradient solver runs (else pattern search).
    public var usesGradients: Bool {
        switch options.method {
        case .automatic: model.providesGradients
        case .gradient: true
        case .patternSearch: false
        }
    }

    /// The recommendation for a machine at `now`, or why there is none, from a search of the whole allowed box (the
    /// current setpoints and points spread over it).
    public mutating func recommend(_ context: MachineContext, now: Int64) -> Decision {
        var warm: MachineContext.WarmStart?
        return recommend(context, now: now, warm: &warm)
    }

    /// As `recommend(_:now:)`, for a machine re-optimized as its readings arrive. With `options.explorationInterval`
    /// set, the search starts only where the machine's last one ended, with a short first step (its problem moves
    /// little from one reading to the next), and every that many searches also from the current setpoints and the
    /// spread-out starts; the context remembers where this search ended. Without it, the same as
    /// `recommend(_:now:)`.
    public mutating func recommend(updating context: inout MachineContext, now: Int64) -> Decision {
        guard options.explorationInterval != nil else { return recommend(context, now: now) }
        var warm = context.warmStart
        let decision = recommend(context, now: now, warm: &warm)
        context.warmStart = warm
        return decision
    }

    mutating func recommend(_ context: MachineContext, now: Int64, warm: inout MachineContext.WarmStart?) -> Decision {
        let needed = min(problem.scenarios, 4)
        guard context.count >= needed, let latest = context.latest else {
            return .hold(
                Hold(
                    kind: .notEnoughData,
                    message: "\(context.machine): \(context.count) running parts seen, \(needed) needed"))
        }
        loadScenarios(context, latest: latest)
        let current = context.setpoints
        let ranges = problem.controls.indices.map {
            problem.allowedRange($0, current: current[$0], lastChange: context.lastChange[$0], now: now)
        }
        // The objective where the machine is now.
        guard objective(points: current, count: 1, reset: nil) else {
            return notFinite(context, at: current)
        }
        let here = (value: scored.value[0], risk: scored.risk[0])
        var best = current
        let free = problem.controls.indices.filter { ranges[$0].lowerBound < ranges[$0].upperBound }
        if !free.isEmpty {
            switch search(context, current: current, free: free, ranges: ranges, warm: &warm) {
            case .success(let point): best = point
            case .failure(let hold): return hold.decision
            }
        }
        // The chosen point, and each maintenance action done at it.
        guard objective(points: best, count: 1, reset: nil) else {
            return notFinite(context, at: best)
        }
        let there = (value: scored.value[0], risk: scored.risk[0])
        var setpointGain = here.value - there.value
        if setpointGain < problem.minGain || !setpointGain.isFinite {
            best = current
            setpointGain = 0
        }
        let riskAtBest = setpointGain > 0 ? there.risk : here.risk
        guard let (maintenance, riskAfter) = maintenance(at: best, risk: riskAtBest, context: context) else {
            return notFinite(context, at: best)
        }
        let changes = problem.controls.indices.compactMap { c -> Recommendation.Change? in
            guard best[c] != current[c] else { return nil }
            return .init(
                variable: problem.controls[c].name, from: current[c], to: best[c],
                unit: problem.controls[c].variable.unit)
        }
        if changes.isEmpty && maintenance.isEmpty {
            return .hold(
                free.isEmpty
                    ? Hold(
                        kind: .rateLimited, message: "\(context.machine): every setpoint is within its minimum interval"
                    )
                    : Hold(
                        kind: .noGain,
                        message:
                            "\(context.machine): no change gains \(problem.minGain) parts per part (risk \(Self.percent(here.risk)) per part)"
                    ))
        }
        let weight = problem.throughput?.weight ?? 0
        let gain = here.value - (problem.failureCost * riskAfter - weight * problem.rate(best))
        var recommendation = Recommendation(
            id: "\(context.machine)@\(context.latestTimestamp ?? now)", machine: context.machine,
            timestamp: context.latestTimestamp ?? now, model: modelLabel, changes: changes, maintenance: maintenance,
            riskBefore: here.risk, riskAfter: riskAfter, rateChange: problem.rate(best) / problem.rate(current) - 1,
            gain: gain, contributions: [], explanation: "")
        recommendation.contributions = contributions(latest: latest, context: context)
        recommendation.explanation = explain(recommendation)
        return .recommend(recommendation)
    }

    /// Why a search gave no point, as the decision to return.
    struct SearchStopped: Error {
        let decision: Decision
    }

    /// Searches the free setpoints from the starts (the warm start's point between explorations) and returns the
    /// best point on the setpoints' grid, or why there is none.
    private mutating func search(
        _ context: MachineContext, current: [Double], free: [Int], ranges: [ClosedRange<Double>],
        warm: inout MachineContext.WarmStart?
    ) -> Result<[Double], SearchStopped> {
        let explore = warm.map { $0.searches + 1 >= (options.explorationInterval ?? 1) } ?? true
        let startPoints = starts(current: current, free: free, ranges: ranges, warm: warm?.setpoints, explore: explore)
        solves += 1
        let solved =
            explore && coarseScenarios.count > 0
            ? solveInTwoPhases(from: startPoints, current: current, free: free, ranges: ranges)
            : solve(from: startPoints, current: current, free: free, ranges: ranges, tolerance: options.tolerance)
        switch solved {
        case .found(let point, _):
            warm = .init(setpoints: point, searches: explore ? 0 : warm!.searches + 1)
            return .success(quantized(point, ranges: ranges))
        case .notFinite(let point):
            warm = nil
            return .failure(SearchStopped(decision: notFinite(context, at: point)))
        case .notConverged(let iterations):
            warm = nil
            return .failure(
                SearchStopped(
                    decision: .hold(
                        Hold(
                            kind: .notConverged,
                            message:
                                "\(context.machine): the \(usesGradients ? "gradient" : "pattern") search did not settle within \(iterations) iterations; setpoints left as they are"
                        ))))
        }
    }

    /// The maintenance actions worth doing at `point` (age replacement: when the excess failure cost per part of the
    /// worn state, over the parts made since the last action, outweighs the action's downtime) and the risk after
    /// them; nil when the model's answer is not finite.
    private mutating func maintenance(at point: [Double], risk: Double, context: MachineContext) -> (
        [String], Double
    )? {
        var maintenance: [String] = []
        var riskAfter = risk
        for (a, action) in problem.maintenance.enumerated() {
            guard objective(points: point, count: 1, reset: (action.input, action.value)) else { return nil }
            let riskReset = scored.risk[0]
            let excess = risk - riskReset
            if excess > 0
                && problem.failureCost * excess * Double(max(1, context.partsSinceMaintenance[a])) >= action.downtime
            {
                maintenance.append(action.name)
                riskAfter = min(riskAfter, riskReset)
            }
        }
        return (maintenance, riskAfter)
    }

    private func notFinite(_ context: MachineContext, at point: [Double]) -> Decision {
        let where_ = problem.controls.indices.map { "\(problem.controls[$0].name) \(point[$0])" }.joined(
            separator: ", ")
        return .hold(
            Hold(
                kind: .modelNotFinite,
                message: "\(context.machine): model \(modelLabel) gave a risk that is not a finite number at \(where_)")
        )
    }

    /// Builds the scenarios from the machine's recent parts. With no more parts than scenarios, each part is one
    /// (equal weights). With more, the parts are ordered along the main direction of their deviations from their
    /// setpoints and cut into strata of the normal distribution, finer towards the tails; each stratum is the part at
    /// its rank, weighted by the stratum's probability. Failures at a limit come from the rare deviations: this gives
    /// them their true weight every time, instead of the luck of a short window.
    mutating func loadScenarios(_ context: MachineContext, latest: [Double]) {
        let nw = problem.numericInputs.count
        let cw = problem.categoricalInputs.count
        let controls = problem.controls.count
        let n = context.count
        var all = [Double](repeating: 0, count: n * controls)
        let (controlInput, relative) = (controlInput, relative)
        // Through buffers: element by element, the bounds checks were a third of building the scenarios.
        all.withUnsafeMutableBufferPointer { all in
            context.numeric.withUnsafeBufferPointer { numeric in
                context.madeAt.withUnsafeBufferPointer { madeAt in
                    for k in 0..<n {
                        for c in 0..<controls where controlInput[c] >= 0 {
                            let value = numeric[k * nw + controlInput[c]]
                            let at = madeAt[k * controls + c]
                            all[k * controls + c] = relative[c] ? (at != 0 ? value / at : 1) : value - at
                        }
                    }
                }
            }
        }
        coarseScenarios.count = 0
        if n <= strata.count || strata.count < 3 {
            let each = (0..<n).map { (part: $0, weight: 1 / Double(n)) }
            scenarios.load(
                each, latest: latest, categories: context.categories, cw: cw, deviations: all, controls: controls)
            return
        }
        let order = Self.principal(all, count: n, width: controls).order
        let picks = strata.map { stratum in
            (part: order[min(n - 1, Int(stratum.rank * Double(n)))], weight: stratum.mass)
        }
        scenarios.load(
            picks, latest: latest, categories: context.categories, cw: cw, deviations: all, controls: controls)
        // Groups of equal size: fewer than asked when the size does not divide the scenarios (4 into 3 is 2 of 2).
        if let share = options.coarseFraction,
            case let groups = Self.grouped(picks, into: max(3, Int((Double(picks.count) * share).rounded()))),
            groups.count >= 3, groups.count < picks.count
        {
            coarseScenarios.load(
                groups, latest: latest, categories: context.categories, cw: cw, deviations: all, controls: controls)
        }
    }

    /// Scenarios (ordered, as the strata) taken a few neighbours at a time: the member nearest the middle (the
    /// group's widest stratum) stands for its group, with the group's summed weight. On the optimizer benchmark the
    /// outermost member gave worse answers (docs/optimizer.md).
    static func grouped(_ picks: [(part: Int, weight: Double)], into count: Int) -> [(part: Int, weight: Double)] {
        let k = picks.count
        let size = (k + count - 1) / count
        return stride(from: 0, to: k, by: size).map { start in
            let end = min(k, start + size)
            let weight = picks[start..<end].reduce(0) { $0 + $1.weight }
            let inner = (start..<end).min { abs(2 * $0 + 1 - k) < abs(2 * $1 + 1 - k) }!
            return (picks[inner].part, weight)
        }
    }

    /// Strata of the standard normal for `count` scenarios: symmetric, with boundaries at tail probabilities that
    /// shrink geometrically from 1/2 to 0.0007 (z = 3.2); each with its probability, conditional mean and the rank
    /// (share of parts below its middle) of the part that stands for it.
    static func normalStrata(_ count: Int) -> [(z: Double, mass: Double, rank: Double)] {
        guard count >= 3 else { return [] }
        let half = count / 2
        let ratio = Double.pow(0.0014, 1 / Double(max(1, half - 1)))
        var lower: [Double] = []  // tail probabilities at the boundaries below 0, from the middle outwards
        for i in 1..<half { lower.append(0.5 * Double.pow(ratio, Double(i))) }
        var boundaries = [-Double.infinity] + lower.reversed().map { Distributions.normalQuantile($0) }
        if count % 2 == 1 {
            boundaries.append(Distributions.normalQuantile(0.5 - 0.5 / Double(count)));
            boundaries.append(-boundaries.last!)
        } else {
            boundaries.append(0)
        }
        boundaries += lower.map { -Distributions.normalQuantile($0) } + [Double.infinity]
        func pdf(_ z: Double) -> Double { z.isInfinite ? 0 : Double.exp(-z * z / 2) / (2 * Double.pi).squareRoot() }
        func cdf(_ z: Double) -> Double {
            z == -.infinity ? 0 : z == .infinity ? 1 : 0.5 * Double.erfc(-z / 2.0.squareRoot())
        }
        return (0..<(boundaries.count - 1)).map { j in
            let (a, b) = (boundaries[j], boundaries[j + 1])
            let mass = cdf(b) - cdf(a)
            return ((pdf(a) - pdf(b)) / mass, mass, (cdf(a) + cdf(b)) / 2)
        }
    }

    /// Each column of `x` (count x width) less its mean, over its standard deviation (0 for a constant column).
    static func standardize(
        _ x: UnsafeBufferPointer<Double>, count n: Int, width: Int, into z: UnsafeMutableBufferPointer<Double>
    ) {
        var mean = [Double](repeating: 0, count: width)
        var scale = [Double](repeating: 0, count: width)
        for k in 0..<n { for c in 0..<width { mean[c] += x[k * width + c] } }
        for c in 0..<width { mean[c] /= Double(n) }
        for k in 0..<n {
            for c in 0..<width {
                let v = x[k * width + c] - mean[c]
                scale[c] += v * v
            }
        }
        for c in 0..<width { scale[c] = scale[c] > 0 ? 1 / (scale[c] / Double(max(1, n - 1))).squareRoot() : 0 }
        for k in 0..<n { for c in 0..<width { z[k * width + c] = (x[k * width + c] - mean[c]) * scale[c] } }
    }

    /// The main direction of the parts' standardized deviations (first principal component, by power iteration) and
    /// the parts ordered along it.
    static func principal(_ values: [Double], count n: Int, width: Int) -> (direction: [Double], order: [Int]) {
        var z = [Double](repeating: 0, count: n * width)
        var covariance = [Double](repeating: 0, count: width * width)
        // Through buffers: with the arrays' bounds checks, these loops over a machine's parts were most of the
        // time of building its scenarios.
        values.withUnsafeBufferPointer { x in
            z.withUnsafeMutableBufferPointer { z in
                covariance.withUnsafeMutableBufferPointer { covariance in
                    standardize(x, count: n, width: width, into: z)
                    for k in 0..<n {
                        let row = z.baseAddress! + k * width
                        for a in 0..<width {
                            for b in 0..<width { covariance[a * width + b] += row[a] * row[b] }
                        }
                    }
                }
            }
        }
        var v = [Double](repeating: 1 / Double(width).squareRoot(), count: width)
        var next = v
        for _ in 0..<30 {
            var norm = 0.0
            for a in 0..<width {
                var sum = 0.0
                for b in 0..<width { sum += covariance[a * width + b] * v[b] }
                next[a] = sum
                norm += sum * sum
            }
            guard norm > 0 else { break }
            norm = norm.squareRoot()
            var moved = 0.0
            for a in 0..<width {
                let value = next[a] / norm
                moved = max(moved, abs(value - v[a]))
                v[a] = value
            }
            if moved < 1e-9 { break }
        }
        // Sorted as integers: each projection's bits made order-preserving, the part's index in the low bits (which
        // only breaks ties closer than 2^-40 relative). Several times faster than sorting indices by a closure.
        let indexBits = UInt64(max(1, Int.bitWidth - (n - 1).leadingZeroBitCount))
        let indexMask: UInt64 = (1 << indexBits) - 1
        var keys = [UInt64](repeating: 0, count: n)
        z.withUnsafeBufferPointer { z in
            for k in 0..<n {
                var p = 0.0
                for c in 0..<width { p += z[k * width + c] * v[c] }
                let bits = (p == 0 ? 0.0 : p).bitPattern  // -0 sorts with +0
                let ordered = bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
                keys[k] = (ordered & ~indexMask) | UInt64(k)
            }
        }
        keys.sort()
        return (v, keys.map { Int($0 & indexMask) })
    }

    /// The objective at `count` points (flat, count x controls): their values and mean risks, in `scored`. False
    /// when the model gave a value that is not finite. The batch keeps the points' rows, for `objectiveGradients` at
    /// some of them.
    mutating func objective(points: [Double], count: Int, reset: (input: Int, value: Double)?) -> Bool {
        let nw = problem.numericInputs.count
        let controls = problem.controls.count
        let k = scenarios.count
        batch.wantsGradient = false
        batch.resize(rows: count * k)
        rowsScored += count * k
        fillRows(points: points, count: count, reset: reset)
        // The rows differ only in the controls (and the maintenance reset's input).
        batch.varyingInputs = reset.map { Array(Set(controlInputs + [$0.input])).sorted() } ?? controlInputs
        model.evaluate(&batch)
        batch.varyingInputs = nil
        let trust = options.trustWeight > 0 ? model.support : nil
        if options.trustWeighting == .uniform && uniformWeights.count != k {
            uniformWeights = [Double](repeating: 1 / Double(k), count: k)
        }
        let trustWeights = options.trustWeighting == .uniform ? uniformWeights : scenarios.weights
        if scored.value.count < count {
            scored.value = [Double](repeating: 0, count: count)
            scored.risk = scored.value
        }
        let throughput = problem.throughput
        for p in 0..<count {
            var risk = 0.0
            for s in 0..<k { risk += scenarios.weights[s] * batch.risk[p * k + s] }
            guard risk.isFinite else { return false }
            scored.risk[p] = risk
            let rate = throughput?.rate(points, offset: p * controls) ?? 1
            scored.value[p] = problem.failureCost * risk - (throughput?.weight ?? 0) * rate
            if let trust {
                // Its gradient too, kept (rows x inputs) for `objectiveGradients` at the accepted points.
                let penalty = Self.outside(
                    trust, numeric: batch.numeric, weights: trustWeights, width: nw, rows: p * k..<(p + 1) * k,
                    gradients: &trustGradient, at: p * k * nw)
                scored.value[p] += options.trustWeight * penalty
            }
        }
        return true
    }

    /// dJ/ds (controls wide) at the points `slots` (increasing) of the last `objective` call, whose `points` these
    /// are, written at their slots into `gradients` (count x controls; the other slots are left as they are). The
    /// model's backward pass runs over these points' rows only: a solver wants no gradient where it rejects a trial
    /// point (a quarter of a cold search's points). False when a gradient is not finite.
    mutating func objectiveGradients(points: [Double], slots: [Int], into gradients: inout [Double]) -> Bool {
        let nw = problem.numericInputs.count
        let controls = problem.controls.count
        let k = scenarios.count
        gradientRows.removeAll(keepingCapacity: true)
        for p in slots { gradientRows.append(contentsOf: p * k..<(p + 1) * k) }
        model.completeGradients(&batch, rows: gradientRows)
        let trust = options.trustWeight > 0 ? model.support : nil
        let trustWeights = options.trustWeighting == .uniform ? uniformWeights : scenarios.weights
        let dc = batch.directions.count
        let throughput = problem.throughput
        for p in slots {
            let rate = throughput?.rate(points, offset: p * controls) ?? 1
            for c in 0..<controls {
                var g = 0.0
                if let d = direction[c] {
                    for s in 0..<k {
                        let partial = scenarios.weights[s] * batch.gradient[(p * k + s) * dc + d]
                        g += relative[c] ? partial * scenarios.deviation[s * controls + c] : partial
                    }
                    g *= problem.failureCost
                }
                if let t = throughput, case let e = t.elasticity(c), e != 0 {
                    g -= t.weight * rate * e / points[p * controls + c]
                }
                if trust != nil, controlInput[c] >= 0 {
                    var t = 0.0
                    for s in 0..<k {
                        let partial = trustWeights[s] * trustGradient[(p * k + s) * nw + controlInput[c]]
                        t += relative[c] ? partial * scenarios.deviation[s * controls + c] : partial
                    }
                    g += options.trustWeight * t
                }
                guard g.isFinite else { return false }
                gradients[p * controls + c] = g
            }
        }
        return true
    }

    /// The batch's rows for `count` points: each point's rows are the scenarios' inputs, then the point's setpoints
    /// moved by each scenario's deviation.
    private mutating func fillRows(points: [Double], count: Int, reset: (input: Int, value: Double)?) {
        let nw = problem.numericInputs.count
        let cw = problem.categoricalInputs.count
        let controls = problem.controls.count
        let k = scenarios.count
        precondition(points.count >= count * controls)
        let (controlInput, relative) = (controlInput, relative)
        // Through buffers: element by element, the bounds and uniqueness checks were most of the objective.
        var numericRows = batch.numeric
        batch.numeric = []  // uniquely referenced while written
        numericRows.withUnsafeMutableBufferPointer { numeric in
            scenarios.numeric.withUnsafeBufferPointer { scenarios in
                self.scenarios.deviation.withUnsafeBufferPointer { deviation in
                    for p in 0..<count {
                        (numeric.baseAddress! + p * k * nw).update(from: scenarios.baseAddress!, count: k * nw)
                        for s in 0..<k {
                            let row = numeric.baseAddress! + (p * k + s) * nw
                            for c in 0..<controls where controlInput[c] >= 0 {
                                let d = deviation[s * controls + c]
                                let setpoint = points[p * controls + c]
                                row[controlInput[c]] = relative[c] ? setpoint * d : setpoint + d
                            }
                            if let reset { row[reset.input] = reset.value }
                        }
                    }
                }
            }
        }
        batch.numeric = numericRows
        if cw > 0 {
            let scenarioCategories = scenarios.categories
            batch.categories.withUnsafeMutableBufferPointer { categories in
                scenarioCategories.withUnsafeBufferPointer { scenarios in
                    for p in 0..<count {
                        (categories.baseAddress! + p * k * cw).update(from: scenarios.baseAddress!, count: k * cw)
                    }
                }
            }
        }
    }

    /// The mean squared overshoot of the batch rows `rows` beyond the training data's reach, and per row its
    /// gradient in the numeric inputs (into `gradients` from `offset`, row-relative, rows.count x inputs).
    static func outside(
        _ support: InputSupport, numeric: [Double], weights: [Double], width nw: Int, rows: Range<Int>,
        gradients: inout [Double], at offset: Int = 0
    ) -> Double {
        if gradients.count < offset + rows.count * nw {
            gradients += [Double](repeating: 0, count: offset + rows.count * nw - gradients.count)
        }
        var total = 0.0
        var centred = [Double](repeating: 0, count: nw)
        for (slot, r) in rows.enumerated() {
            for i in 0..<nw { centred[i] = numeric[r * nw + i] - support.mean[i] }
            var squared = 0.0
            for i in 0..<nw {
                var row = 0.0
                for j in 0..<nw { row += support.precision[i * nw + j] * centred[j] }
                squared += centred[i] * row
                gradients[offset + slot * nw + i] = row  // Σ⁻¹(x − μ), scaled below
            }
            let distance = max(0, squared).squareRoot()
            let over = distance - support.radius
            if over > 0 && distance > 0 {
                total += weights[slot] * over * over
                for i in 0..<nw { gradients[offset + slot * nw + i] *= 2 * over / distance }
            } else {
                for i in 0..<nw { gradients[offset + slot * nw + i] = 0 }
            }
        }
        return total
    }

    /// Rounds to a hundredth of each control's step, staying inside its allowed range.
    func quantized(_ point: [Double], ranges: [ClosedRange<Double>]) -> [Double] {
        point.indices.map { c in
            let r = ranges[c]
            guard r.lowerBound < r.upperBound else { return r.lowerBound }
            let q = problem.controls[c].limits.maxStep / 100
            var v = (point[c] / q).rounded() * q
            if v > r.upperBound { v = r.upperBound }
            if v < r.lowerBound { v = r.lowerBound }
            return v
        }
    }

    static func percent(_ p: Double) -> String {
        let v = (p * 1000).rounded() / 10
        return "\(v) %"
    }
}
