import RealModule

/// Targets for time to event, from histories of units.
public enum TimeToEvent {
    /// Remaining useful life at each row of run-to-failure histories: the unit's last time minus the row's time,
    /// capped at `cap` (the piecewise-linear target of Heimes 2008: a healthy unit's life is not predictable, only
    /// its degradation is).
    public static func remainingLife(units: [String], time: [Double], cap: Double? = nil) throws -> [Double] {
        var life = [Double](repeating: 0, count: units.count)
        for group in try WindowedSeries.orderedUnits(units: units, time: time) {
            let end = time[group.rows.last!]
            for r in group.rows { life[r] = Swift.min(end - time[r], cap ?? .infinity) }
        }
        return life
    }

    /// 1 at each row whose unit has an event (`event[r]` true) within the next `horizon` time units, counting the
    /// row's own event; else 0. Rows after a unit's last event are 0 (no event was seen within the horizon, or
    /// the history ends).
    public static func eventWithin(
        horizon: Double, units: [String], time: [Double], event: [Bool]
    ) throws -> [Int] {
        guard horizon > 0 else { throw LearnError("the horizon must be above 0, got \(horizon)") }
        var label = [Int](repeating: 0, count: units.count)
        for group in try WindowedSeries.orderedUnits(units: units, time: time) {
            var next = Double.infinity
            for r in group.rows.reversed() {
                if event[r] { next = time[r] }
                label[r] = next - time[r] <= horizon ? 1 : 0
            }
        }
        return label
    }
}

/// How well remaining useful life is predicted: RMSE, the PHM08 challenge score, and an "RUL below N" alarm.
public struct RULMetrics: Sendable, Codable, Equatable {
    public var count: Int
    public var rmse: Double
    public var mae: Double
    /// Saxena et al. 2008: sum over units of Double.exp(-d/13) - 1 for early predictions (d < 0), Double.exp(d/10) - 1 for late
    /// ones, d = predicted - true. Late predictions cost more: a unit fails before it was expected to.
    public var score: Double
    public var alarmBelow: Double
    /// Of the units predicted below `alarmBelow`, the share whose true RUL is below it.
    public var alarmPrecision: Double
    /// Of the units whose true RUL is below `alarmBelow`, the share predicted below it.
    public var alarmRecall: Double

    public init(predicted: [Double], actual: [Double], alarmBelow: Double = 30) {
        precondition(predicted.count == actual.count && !actual.isEmpty)
        count = actual.count
        var se = 0.0
        var ae = 0.0
        var s = 0.0
        var tp = 0
        var fp = 0
        var fn = 0
        for (p, a) in zip(predicted, actual) {
            let d = p - a
            se += d * d
            ae += abs(d)
            s += d < 0 ? Double.exp(-d / 13) - 1 : Double.exp(d / 10) - 1
            switch (p <= alarmBelow, a <= alarmBelow) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, true): fn += 1
            case (false, false): break
            }
        }
        rmse = (se / Double(count)).squareRoot()
        mae = ae / Double(count)
        score = s
        self.alarmBelow = alarmBelow
        alarmPrecision = tp + fp == 0 ? 0 : Double(tp) / Double(tp + fp)
        alarmRecall = tp + fn == 0 ? 0 : Double(tp) / Double(tp + fn)
    }

    public var dictionary: [String: Double] {
        [
            "rmse": rmse, "mae": mae, "score": score, "alarm_below": alarmBelow, "alarm_precision": alarmPrecision,
            "alarm_recall": alarmRecall,
        ]
    }
}
