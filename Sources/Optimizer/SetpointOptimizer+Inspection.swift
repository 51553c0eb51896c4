extension SetpointOptimizer {
    /// The objective (parts per part) of a machine at given setpoints, over its current scenarios: for benchmarks and
    /// comparisons of answers.
    public mutating func objectiveValue(_ context: MachineContext, setpoints: [Double]) -> Double {
        guard let latest = context.latest else { return .nan }
        loadScenarios(context, latest: latest)
        return objective(points: setpoints, count: 1, reset: nil) ? scored.value[0] : .nan
    }

    /// A machine's problem as plain values (scenario rows with the controls' deviations, current setpoints and their
    /// allowed ranges), for solving the same problem elsewhere (the benchmark's SciPy side).
    public mutating func export(_ context: MachineContext, now: Int64) -> [String: Any] {
        guard let latest = context.latest else { return [:] }
        loadScenarios(context, latest: latest)
        let nw = problem.numericInputs.count
        let controls = problem.controls.count
        let ranges = problem.controls.indices.map {
            problem.allowedRange($0, current: context.setpoints[$0], lastChange: context.lastChange[$0], now: now)
        }
        return [
            "rows": (0..<scenarios.count).map { k in Array(scenarios.numeric[k * nw..<(k + 1) * nw]) },
            "deviation": (0..<scenarios.count).map { k in
                Array(scenarios.deviation[k * controls..<(k + 1) * controls])
            },
            "weights": Array(scenarios.weights[0..<scenarios.count]),
            "inputs": problem.controls.map { $0.input ?? -1 },
            "relative": problem.controls.map { $0.limits.variation == .relative },
            "current": context.setpoints,
            "low": ranges.map(\.lowerBound), "high": ranges.map(\.upperBound),
        ]
    }
}
