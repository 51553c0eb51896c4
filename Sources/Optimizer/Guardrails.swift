import Plant

/// The last check before a setpoint change reaches a machine, independent of how it was made: every value finite and
/// within its bounds, at most one step from the current setpoint, not before the control's minimum interval, and
/// not below the throughput floor. Closed loop applies only changes with no violation.
public enum Guardrails {
    /// Why `change` may not be applied to the machine of `context` at `now`; empty when it may.
    public static func violations(
        of change: SetpointChange, problem: OptimizationProblem, context: MachineContext, now: Int64
    ) -> [String] {
        var found: [String] = []
        for m in change.values {
            guard let c = problem.controls.firstIndex(where: { $0.name == m.name }) else {
                found.append("\(m.name) is not a controllable variable")
                continue
            }
            let l = problem.controls[c].limits
            let current = context.setpoints[c]
            guard m.value.isFinite else {
                found.append("\(m.name) = \(m.value) is not a finite number")
                continue
            }
            if m.value < l.min || m.value > l.max {
                found.append("\(m.name) = \(m.value) is outside its bounds \(l.min)...\(l.max)")
            }
            if abs(m.value - current) > l.maxStep * (1 + 1e-9) {
                found.append(
                    "\(m.name) moves \(abs(m.value - current)) from \(current), more than its step \(l.maxStep)")
            }
            if let last = context.lastChange[c], m.value != current, Double(now - last) < l.minIntervalSeconds * 1000 {
                found.append(
                    "\(m.name) changed \(Double(now - last) / 1000) s ago, sooner than its minimum interval \(l.minIntervalSeconds) s"
                )
            }
            let floor = problem.floorRange(c)
            if !floor.contains(m.value) {
                found.append("\(m.name) = \(m.value) takes the rate below the floor (allowed \(floor))")
            }
        }
        return found
    }
}
