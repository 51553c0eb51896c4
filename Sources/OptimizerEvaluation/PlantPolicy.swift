import Optimizer
import Plant

/// How a plant runs its milling machines without Millstream: the rules a maintenance engineer would write, which the
/// closed-loop evaluation measures the optimizer against (docs/optimizer.md).
public enum PlantPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Nominal setpoints; a tool is changed at its rated life or when it fails (the simulator's own rule).
    case reactive
    /// Nominal setpoints; a tool is also changed after a fixed count of parts (a CNC's tool-life counter).
    case preventive(intervalParts: Int)
    /// Change the tool when the measured wear crosses a threshold, and raise the spindle speed while the measured
    /// temperature difference is close to its limit.
    case condition(ConditionRule)

    public var name: String {
        switch self {
        case .reactive: "reactive"
        case .preventive: "preventive"
        case .condition: "condition"
        }
    }

    public var description: String {
        switch self {
        case .reactive: "reactive (tools changed at their rated life or on failure)"
        case .preventive(let parts): "preventive (tool changed every \(parts) parts)"
        case .condition(let rule): "condition (\(rule))"
        }
    }
}

/// A condition-based rule for the milling process: tool change on measured wear, spindle speed raised while the
/// process-air temperature difference is small (heat dissipation fails below 8.6 K at a low speed).
public struct ConditionRule: Sendable, Equatable, CustomStringConvertible {
    /// Change the tool when the reading's tool wear reaches this (min).
    public var wearThreshold: Double
    /// Raise the speed setpoint while process minus air temperature is below this (K); nil: never.
    public var temperatureThreshold: Double?
    /// How far above nominal the speed setpoint goes (rpm; at most the control's step).
    public var speedRaise: Double
    /// The difference must rise this far above the threshold before the speed goes back to nominal (K).
    public var hysteresis = 0.3

    public init(wearThreshold: Double, temperatureThreshold: Double?, speedRaise: Double) {
        self.wearThreshold = wearThreshold
        self.temperatureThreshold = temperatureThreshold
        self.speedRaise = speedRaise
    }

    public var description: String {
        let wear = "tool change at \(Int(wearThreshold)) min of wear"
        guard let t = temperatureThreshold else { return wear }
        return wear + ", speed +\(Int(speedRaise)) rpm below \(t) K of temperature difference"
    }
}

/// Applies a `PlantPolicy` to a stream of readings: per machine, what to change after each reading. Changes respect
/// the controls' bounds and minimum intervals, as the optimizer's do.
struct PolicyController {
    let policy: PlantPolicy
    let speed: Controllable?
    private var machines: [String: MachineRule] = [:]

    struct MachineRule {
        var lastWear = -1.0
        var partsOnTool = 0
        var toolOrdered = false
        var speedRaised = false
        var lastSpeedChange: Int64?
    }

    init(policy: PlantPolicy, config: ProcessConfig) {
        self.policy = policy
        speed = config.variable("rpm")?.controllable
    }

    /// The change to make after this reading, if any.
    mutating func decide(_ reading: Reading) -> SetpointChange? {
        guard reading.state == .running, let wear = reading["tool_wear_min"] else { return nil }
        var m = machines[reading.machine] ?? MachineRule()
        defer { machines[reading.machine] = m }
        if wear < m.lastWear {  // a new tool
            m.partsOnTool = 0
            m.toolOrdered = false
        }
        m.lastWear = wear
        m.partsOnTool += 1
        var change = SetpointChange(machine: reading.machine, values: [])
        switch policy {
        case .reactive: return nil
        case .preventive(let interval):
            change.changeTool = !m.toolOrdered && m.partsOnTool >= interval
        case .condition(let rule):
            change.changeTool = !m.toolOrdered && wear >= rule.wearThreshold
            if let threshold = rule.temperatureThreshold, let speed, let air = reading["air_temp_k"],
                let process = reading["process_temp_k"],
                m.lastSpeedChange.map({ reading.timestamp - $0 >= Int64(speed.minIntervalSeconds * 1000) }) ?? true
            {
                let difference = process - air
                let raise = difference < threshold && !m.speedRaised
                let lower = difference > threshold + rule.hysteresis && m.speedRaised
                if raise || lower {
                    let target =
                        raise ? min(speed.max, speed.nominal + min(rule.speedRaise, speed.maxStep)) : speed.nominal
                    change.values = [Measurement("rpm", target)]
                    m.speedRaised = raise
                    m.lastSpeedChange = reading.timestamp
                }
            }
        }
        if change.changeTool { m.toolOrdered = true }
        return change.changeTool || !change.values.isEmpty ? change : nil
    }
}
