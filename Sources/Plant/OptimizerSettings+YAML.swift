package import Yams

extension YAMLReader {
    /// The `optimizer:` section; every name it uses must be a variable of the config.
    func optimizerSettings(_ node: Node, variables: [ProcessVariable]) throws -> OptimizerSettings {
        let path = "optimizer"
        let fields = try mapping(
            node, path,
            allowed: ["failure_cost", "throughput", "maintenance", "scenarios", "history", "min_gain", "closed_loop"])
        var settings = OptimizerSettings()
        if let n = fields["failure_cost"] {
            settings.failureCost = try number(n, path + ".failure_cost")
            guard settings.failureCost > 0 else { throw error(n, path + ".failure_cost", "must be greater than 0") }
        }
        if let n = fields["scenarios"] {
            settings.scenarios = try integer(n, path + ".scenarios")
            guard (1...256).contains(settings.scenarios) else {
                throw error(n, path + ".scenarios", "must be from 1 to 256, is \(settings.scenarios)")
            }
        }
        if let n = fields["history"] {
            settings.history = try integer(n, path + ".history")
            guard (1...4096).contains(settings.history) else {
                throw error(n, path + ".history", "must be from 1 to 4096, is \(settings.history)")
            }
        }
        if let n = fields["min_gain"] {
            settings.minGain = try number(n, path + ".min_gain")
            guard settings.minGain >= 0 else { throw error(n, path + ".min_gain", "must not be negative") }
        }
        if let n = fields["closed_loop"] {
            let text = try string(n, path + ".closed_loop")
            guard let value = ["true": true, "false": false][text] else {
                throw error(n, path + ".closed_loop", "expected true or false, found '\(text)'")
            }
            settings.closedLoop = value
        }
        if let n = fields["throughput"] {
            settings.throughput = try throughput(n, path: path + ".throughput", variables: variables)
        }
        if let n = fields["maintenance"] {
            settings.maintenance = try maintenance(n, path: path + ".maintenance", variables: variables)
        }
        return settings
    }

    /// A name that must be one of the config's variables.
    func variable(_ node: Node, _ path: String, in variables: [ProcessVariable]) throws -> ProcessVariable {
        let name = try string(node, path)
        guard let v = variables.first(where: { $0.name == name }) else {
            throw error(
                node, path,
                "'\(name)' is not a variable of this config (variables: \(variables.map(\.name).joined(separator: ", ")))"
            )
        }
        return v
    }

    /// `optimizer.throughput`: the variable that sets the rate, its elasticity, the floor, and further variables.
    func throughput(_ n: Node, path p: String, variables: [ProcessVariable]) throws -> OptimizerSettings.Throughput {
        let t = try mapping(n, p, allowed: ["variable", "elasticity", "also", "floor", "weight"])
        let v = try variable(required(t, "variable", in: n, p), p + ".variable", in: variables)
        guard v.controllable != nil else {
            throw error(t["variable"]!, p + ".variable", "'\(v.name)' is not controllable")
        }
        let elasticity = try number(required(t, "elasticity", in: n, p), p + ".elasticity")
        guard elasticity != 0 else { throw error(t["elasticity"]!, p + ".elasticity", "must not be 0") }
        let floor = try t["floor"].map { try number($0, p + ".floor") } ?? 0.95
        guard floor > 0 && floor <= 1 else {
            throw error(t["floor"]!, p + ".floor", "must be above 0 and at most 1, is \(floor)")
        }
        let weight = try t["weight"].map { try number($0, p + ".weight") } ?? 1
        guard weight >= 0 else { throw error(t["weight"]!, p + ".weight", "must not be negative") }
        var throughput = OptimizerSettings.Throughput(
            variable: v.name, elasticity: elasticity, floor: floor, weight: weight)
        if let also = t["also"] {
            for (name, node) in try orderedMapping(also, p + ".also") {
                guard let other = variables.first(where: { $0.name == name }), other.controllable != nil,
                    other.name != v.name
                else {
                    throw error(
                        node, p + ".also." + name,
                        "'\(name)' is not a controllable variable of this config other than '\(v.name)'")
                }
                let e = try number(node, p + ".also." + name)
                guard e != 0 else { throw error(node, p + ".also." + name, "must not be 0") }
                throughput.further.append(.init(variable: other.name, elasticity: e))
            }
        }
        return throughput
    }

    /// `optimizer.maintenance`: actions that reset a variable, with their downtime.
    func maintenance(_ n: Node, path: String, variables: [ProcessVariable]) throws
        -> [OptimizerSettings.MaintenanceAction]
    {
        try orderedMapping(n, path).map { name, actionNode in
            let p = path + "." + name
            _ = try self.name(Node(name), p)
            let a = try mapping(actionNode, p, allowed: ["resets", "to", "downtime"])
            let v = try variable(required(a, "resets", in: actionNode, p), p + ".resets", in: variables)
            let value = try a["to"].map { try number($0, p + ".to") } ?? 0
            let downtime = try number(required(a, "downtime", in: actionNode, p), p + ".downtime")
            guard downtime >= 0 else { throw error(a["downtime"]!, p + ".downtime", "must not be negative") }
            return .init(name: name, variable: v.name, value: value, downtime: downtime)
        }
    }
}
