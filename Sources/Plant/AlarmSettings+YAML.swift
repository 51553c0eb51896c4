import Analytics
package import Yams

extension YAMLReader {
    /// The `alarms:` section: `machines_per_operator`, then one mapping per alarm class (`failure_risk`, `spc`,
    /// `anomaly`); a key left out keeps the class's default.
    func alarmSettings(_ node: Node) throws -> AlarmSettings {
        var classes: [AlarmClass] = []
        var perOperator = AlarmSettings().machinesPerOperator
        for (name, value) in try orderedMapping(node, "alarms") {
            let path = "alarms.\(name)"
            if name == "machines_per_operator" {
                perOperator = try integer(value, path)
                guard perOperator >= 1 else { throw error(value, path, "must be at least 1") }
                continue
            }
            guard let base = AlarmSettings().classes[name] else {
                throw error(
                    value, path,
                    "unknown alarm class; expected machines_per_operator or one of: \(AlarmClass.defaults.map(\.name).joined(separator: ", "))"
                )
            }
            classes.append(try alarmClass(value, path, base: base))
        }
        let settings = AlarmSettings(classes: classes, machinesPerOperator: perOperator)
        for c in settings.classes.values {
            for other in c.suppressedBy where settings.classes[other] == nil || other == c.name {
                throw error(
                    node, "alarms.\(c.name).suppressed_by",
                    other == c.name ? "a class cannot suppress itself" : "'\(other)' is not an alarm class")
            }
        }
        return settings
    }

    private func alarmClass(_ node: Node, _ path: String, base: AlarmClass) throws -> AlarmClass {
        let fields = try mapping(
            node, path,
            allowed: [
                "consequence", "respond_within_min", "limit", "deadband", "on_delay_s", "off_delay_s", "suppress_in",
                "startup_s", "suppressed_by", "latched",
            ])
        var c = base
        func seconds(_ key: String) throws -> Double? {
            guard let n = fields[key] else { return nil }
            let v = try number(n, "\(path).\(key)")
            guard v >= 0 else { throw error(n, "\(path).\(key)", "must not be negative, is \(v)") }
            return v
        }
        if let n = fields["consequence"] {
            let text = try string(n, path + ".consequence")
            guard let value = AlarmConsequence(rawValue: text) else {
                throw error(
                    n, path + ".consequence",
                    "'\(text)' is not one of \(AlarmConsequence.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            c.consequence = value
        }
        if let v = try seconds("respond_within_min") { c.respondWithinMinutes = v }
        if let n = fields["limit"] { c.limit = try optionalNumber(n, path + ".limit") }
        if let v = try seconds("deadband") { c.deadband = v }
        if let v = try seconds("on_delay_s") { c.onDelaySeconds = v }
        if let v = try seconds("off_delay_s") { c.offDelaySeconds = v }
        if let v = try seconds("startup_s") { c.startupSeconds = v }
        if let n = fields["suppress_in"] {
            c.suppressInStates = Set(try sequence(n, path + ".suppress_in").map { try name($0, path + ".suppress_in") })
        }
        if let n = fields["suppressed_by"] {
            c.suppressedBy = try sequence(n, path + ".suppressed_by").map { try name($0, path + ".suppressed_by") }
        }
        if let n = fields["latched"] {
            let text = try string(n, path + ".latched")
            guard let v = Bool(text) else {
                throw error(n, path + ".latched", "expected true or false, found '\(text)'")
            }
            c.latched = v
        }
        return c
    }
}
