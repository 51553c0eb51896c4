import Plant
public import Topics

extension Recommendation {
    /// The record on the `recommendations` topic; `mode` is "advisory" (waits for an operator) or "closed_loop"
    /// (applied by the worker).
    public func record(mode: String) -> RecommendationRecord {
        RecommendationRecord(
            id: id, machine: machine, ts: Timestamp.format(timestamp), model: model, mode: mode,
            changes: changes.map { .init(variable: $0.variable, from: $0.from, to: $0.to, unit: $0.unit) },
            maintenance: maintenance, riskBefore: riskBefore, riskAfter: riskAfter, rateChange: rateChange, gain: gain,
            contributions: contributions.map {
                .init(variable: $0.variable, value: $0.value, unit: $0.unit, effect: $0.effect)
            },
            explanation: explanation)
    }
}
