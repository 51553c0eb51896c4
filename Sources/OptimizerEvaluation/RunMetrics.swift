import Optimizer
import Plant

/// What one simulated run produced, for the comparison of `millstream optimize evaluate`.
public struct RunMetrics: Sendable, Equatable {
    public var failures = 0
    /// Failed parts by mode ("TWF", "HDF", "PWF", "OSF", "RNF"); a part can fail in several.
    public var failuresByMode: [String: Int] = Dictionary(uniqueKeysWithValues: FailureModes.all.map { ($0.1, 0) })
    /// Scheduled machine-hours (machines x hours).
    public var scheduledHours = 0.0
    /// Machine-hours spent making parts: the time base of failure rates (as MTBF is counted in operating time).
    public var operatingHours = 0.0
    public var parts = 0
    public var goodParts = 0
    public var scrap = 0
    /// Good parts x ideal cycle time / scheduled time (availability x performance x quality).
    public var oee = 0.0
    /// Spindle energy: power x cycle time of every part, kWh.
    public var energyKWh = 0.0
    /// Setpoint change records applied (one per machine and decision, however many variables it moved).
    public var setpointChanges = 0
    /// Maintenance actions the optimizer had done (planned tool changes), beyond the plant's own.
    public var maintenanceActions = 0
    /// Planned tool changes of all kinds: the plant's own rule at the rated life and the ones a policy ordered (a
    /// tool that failed is replaced in its repair and not counted here).
    public var toolChanges = 0
    /// Why the optimizer held, by kind, when it did.
    public var holds: [String: Int] = [:]

    public init() {}

    public var failuresPer1000Hours: Double { per1000Hours(Double(failures)) }

    /// `value` per 1,000 operating hours.
    public func per1000Hours(_ value: Double) -> Double { operatingHours > 0 ? value / operatingHours * 1000 : 0 }
    public var scrapRate: Double { parts > 0 ? Double(scrap) / Double(parts) : 0 }
    public var energyPerGoodPart: Double { goodParts > 0 ? energyKWh / Double(goodParts) : 0 }

    /// Name and value pairs in a stable order (what --json prints; per 1,000 operating hours where named so).
    public var fields: [(String, Double)] {
        var out: [(String, Double)] = [
            ("failures", Double(failures)), ("failures_per_1000h", failuresPer1000Hours),
        ]
        for (_, mode) in FailureModes.all {
            out.append(("failures_\(mode.lowercased())", Double(failuresByMode[mode] ?? 0)))
            out.append(("failures_\(mode.lowercased())_per_1000h", per1000Hours(Double(failuresByMode[mode] ?? 0))))
        }
        out += [
            ("good_parts", Double(goodParts)), ("scrap", Double(scrap)), ("parts", Double(parts)),
            ("scrap_rate", scrapRate), ("oee", oee), ("energy_kwh", energyKWh),
            ("energy_kwh_per_good_part", energyPerGoodPart),
            ("operating_hours", operatingHours), ("scheduled_hours", scheduledHours),
            ("mtbf_hours", failures > 0 ? operatingHours / Double(failures) : 0),
            ("setpoint_changes", Double(setpointChanges)), ("maintenance_actions", Double(maintenanceActions)),
            ("tool_changes", Double(toolChanges)),
        ]
        return out
    }
}
