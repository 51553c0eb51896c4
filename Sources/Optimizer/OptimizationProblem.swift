import Plant
import RealModule

/// What may change on a machine, within which limits, and what a change is worth: the process config's
/// controllable variables and `optimizer:` section, bound to the inputs of one risk model.
public struct OptimizationProblem: Sendable {
    /// A setpoint the optimizer may move.
    public struct Control: Sendable {
        public let variable: ProcessVariable
        public let limits: Controllable
        /// Its position among the model's numeric inputs; nil when the model does not read it.
        public let input: Int?
        public var name: String { variable.name }
    }

    /// A maintenance action bound to the model input it resets.
    public struct Maintenance: Sendable {
        public let name: String
        public let variable: ProcessVariable
        public let input: Int
        public let value: Double
        /// Downtime in parts.
        public let downtime: Double
    }

    /// The production rate's dependence on the controls: a product of powers, (value / nominal)^elasticity.
    public struct Throughput: Sendable {
        public struct Term: Sendable {
            public let control: Int
            public let elasticity: Double
            /// The control's nominal value, where its factor is 1.
            public let nominal: Double
        }
        public let terms: [Term]
        public let floor: Double
        public let weight: Double

        /// The production rate relative to the nominal rate at the setpoints `points[offset ..< offset + controls]`.
        public func rate(_ points: [Double], offset: Int = 0) -> Double {
            var rate = 1.0
            for t in terms { rate *= Double.pow(points[offset + t.control] / t.nominal, t.elasticity) }
            return rate
        }

        /// The elasticity of the rate in control `c` (0 when the rate does not depend on it).
        public func elasticity(_ c: Int) -> Double { terms.first { $0.control == c }?.elasticity ?? 0 }
    }

    public let controls: [Control]
    public let maintenance: [Maintenance]
    public let throughput: Throughput?
    public let failureCost: Double
    public let minGain: Double
    public let scenarios: Int
    public let history: Int
    public let numericInputs: [String]
    public let categoricalInputs: [String]
    /// Each variable's words (`describe`), made once: every recommendation's explanation asks for several.
    let words: [String: (label: String, unit: String)]

    /// Binds the config to a model. Fails when the model reads a variable the config lacks, or when nothing the
    /// optimizer may change reaches the model or the rate (there would be nothing to optimize).
    public init(config: ProcessConfig, model: some RiskModel) throws {
        let settings = config.optimizer ?? OptimizerSettings()
        let inputs = model.numericInputs
        numericInputs = inputs
        categoricalInputs = model.categoricalInputs
        words = Dictionary(uniqueKeysWithValues: config.variables.map { ($0.name, Self.words($0)) })
        for name in inputs where config.variable(name) == nil {
            throw OptimizerError(
                "the model reads '\(name)', which process '\(config.process)' does not declare as a variable")
        }
        controls = config.controllables.map { v in
            Control(variable: v, limits: v.controllable!, input: inputs.firstIndex(of: v.name))
        }
        maintenance = try settings.maintenance.map { a in
            guard let input = inputs.firstIndex(of: a.variable), let v = config.variable(a.variable) else {
                throw OptimizerError(
                    "maintenance '\(a.name)' resets '\(a.variable)', which the model does not read (its inputs: \(inputs.joined(separator: ", ")))"
                )
            }
            return Maintenance(name: a.name, variable: v, input: input, value: a.value, downtime: a.downtime)
        }
        let controlNames = controls.map(\.name)
        let nominals = controls.map(\.limits.nominal)
        throughput = try settings.throughput.map { t in
            let terms = try t.terms.map { term in
                guard let c = controlNames.firstIndex(of: term.variable) else {
                    throw OptimizerError(
                        "optimizer.throughput: '\(term.variable)' is not a controllable variable")
                }
                return Throughput.Term(control: c, elasticity: term.elasticity, nominal: nominals[c])
            }
            return Throughput(terms: terms, floor: t.floor, weight: t.weight)
        }
        guard controls.contains(where: { $0.input != nil }) || !maintenance.isEmpty else {
            throw OptimizerError(
                "the model reads none of the controllable variables (\(controlNames.joined(separator: ", "))) and no maintenance action is configured: there is nothing to optimize"
            )
        }
        failureCost = settings.failureCost
        minGain = settings.minGain
        scenarios = settings.scenarios
        history = max(settings.history, settings.scenarios)
    }

    /// The production rate at these setpoints relative to the nominal rate (1 without a throughput term).
    public func rate(_ setpoints: [Double]) -> Double { throughput?.rate(setpoints) ?? 1 }

    /// The range the throughput floor leaves for control `c` (the whole line when the rate does not depend on it).
    /// With several terms the floor is shared evenly between them (each factor at least floor^(1/terms)), so that
    /// each control has a bound of its own and no combination of moves takes the rate below the floor.
    func floorRange(_ c: Int) -> ClosedRange<Double> {
        guard let t = throughput, let term = t.terms.first(where: { $0.control == c }) else {
            return -Double.infinity...Double.infinity
        }
        let bound = term.nominal * Double.pow(t.floor, 1 / (Double(t.terms.count) * term.elasticity))
        return term.elasticity > 0 ? bound...Double.infinity : -Double.infinity...bound
    }

    /// Where control `c` may go from `current` at `now`: within its bounds, one step at most, not before its minimum
    /// interval since `lastChange`, and not below the throughput floor. A degenerate range holds the control.
    public func allowedRange(_ c: Int, current: Double, lastChange: Int64?, now: Int64) -> ClosedRange<Double> {
        let l = controls[c].limits
        if let last = lastChange, Double(now - last) < l.minIntervalSeconds * 1000 { return current...current }
        let floor = floorRange(c)
        var lo = max(l.min, current - l.maxStep, floor.lowerBound)
        var hi = min(l.max, current + l.maxStep, floor.upperBound)
        if lo > hi {
            // Outside its bounds already (a changed config): one step back towards them, no further.
            let target = min(max(current, l.min), l.max)
            let held = current + max(-l.maxStep, min(l.maxStep, target - current))
            lo = held
            hi = held
        }
        return lo...hi
    }

    /// The words for a variable: its description (or name) and unit.
    func describe(_ name: String) -> (label: String, unit: String) { words[name] ?? (name, "") }

    /// A variable's description (or name) up to any parenthesis, lowercased first letter, and its unit.
    static func words(_ v: ProcessVariable) -> (label: String, unit: String) {
        var label = Substring(v.description.isEmpty ? v.name : v.description)
        if let paren = label.firstIndex(of: "(") { label = label[..<paren] }
        while label.last == " " { label = label.dropLast() }
        return (label.prefix(1).lowercased() + label.dropFirst(), v.unit)
    }
}
