import Analytics
package import Yams

extension ProcessConfig {
    /// Parses and checks a process configuration; every error names the file, line and column.
    public static func load(yaml text: String, source: String) throws -> ProcessConfig {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ConfigError("\(source): the file is empty") }
            root = node
        } catch let error as YamlError {
            let firstLine = String(describing: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw ConfigError("\(source):\(firstLine)")
        }
        let y = YAMLReader(source: source)
        let top = try y.mapping(
            root, "",
            allowed: [
                "process", "description", "site", "ideal_cycle_s", "lines", "products", "variables", "csv", "features",
                "optimizer", "alarms", "connectors",
            ])
        let process = try y.string(y.required(top, "process", in: root, ""), "process")
        let site = try y.name(y.required(top, "site", in: root, ""), "site")
        let cycle = try y.number(y.required(top, "ideal_cycle_s", in: root, ""), "ideal_cycle_s")
        guard cycle > 0 else {
            throw y.error(top["ideal_cycle_s"]!, "ideal_cycle_s", "must be greater than 0, is \(cycle)")
        }

        let linesNode = try y.required(top, "lines", in: root, "")
        let lines = try y.lines(linesNode, site: site)
        let products = try top["products"].map { try y.products($0) } ?? []
        let variablesNode = try y.required(top, "variables", in: root, "")
        let variables = try y.orderedMapping(variablesNode, "variables").map { try y.variable($0.0, $0.1) }
        guard !variables.isEmpty else {
            throw y.error(variablesNode, "variables", "must declare at least one variable")
        }
        let csv = try top["csv"].map { try y.csv($0) } ?? CSVMapping()
        let features = try top["features"].map { try y.features($0, variables: variables) } ?? FeatureSettings()
        let optimizer = try top["optimizer"].map { try y.optimizerSettings($0, variables: variables) }
        let alarms = try top["alarms"].map { try y.alarmSettings($0) } ?? AlarmSettings()
        return ProcessConfig(
            process: process, description: try top["description"].map { try y.string($0, "description") } ?? "",
            site: site, idealCycleSeconds: cycle, lines: lines, products: products, variables: variables, csv: csv,
            features: features, optimizer: optimizer, alarms: alarms)
    }
}

/// Typed access to a YAML node tree with errors that carry the node's line and column.
package struct YAMLReader {
    package let source: String

    package init(source: String) { self.source = source }

    package func error(_ node: Node, _ path: String, _ message: String) -> ConfigError {
        let place = node.mark.map { "\($0.line):\($0.column)" } ?? "?"
        return ConfigError("\(source):\(place): \(path.isEmpty ? "" : path + ": ")\(message)")
    }

    package func orderedMapping(_ node: Node, _ path: String) throws -> [(String, Node)] {
        guard let mapping = node.mapping else { throw error(node, path, "expected a mapping (key: value lines)") }
        var seen = Set<String>()
        var result: [(String, Node)] = []
        for (key, value) in mapping {
            guard let name = key.scalar?.string else { throw error(key, path, "keys must be plain names") }
            guard seen.insert(name).inserted else { throw error(key, path, "'\(name)' appears twice") }
            result.append((name, value))
        }
        return result
    }

    package func mapping(_ node: Node, _ path: String, allowed: [String]) throws -> [String: Node] {
        var result: [String: Node] = [:]
        for (name, value) in try orderedMapping(node, path) {
            guard allowed.contains(name) else {
                throw error(
                    node.mapping!.keys.first { $0.scalar?.string == name } ?? node,
                    path.isEmpty ? name : path + "." + name,
                    "unknown key; expected one of: \(allowed.joined(separator: ", "))")
            }
            result[name] = value
        }
        return result
    }

    package func required(_ fields: [String: Node], _ key: String, in node: Node, _ path: String) throws -> Node {
        guard let value = fields[key] else { throw error(node, path, "missing required key '\(key)'") }
        return value
    }

    package func sequence(_ node: Node, _ path: String) throws -> [Node] {
        guard let sequence = node.sequence else { throw error(node, path, "expected a list") }
        return Array(sequence)
    }

    package func string(_ node: Node, _ path: String) throws -> String {
        guard let scalar = node.scalar else { throw error(node, path, "expected text, found a \(kind(node))") }
        return scalar.string
    }

    /// A name usable in ids and topic keys: letters, digits, '-', '_', '.'.
    package func name(_ node: Node, _ path: String) throws -> String {
        let text = try string(node, path)
        let ok =
            !text.isEmpty
            && text.unicodeScalars.allSatisfy { c in
                c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "_" || c == "."
            }
        guard ok else { throw error(node, path, "'\(text)' is not a valid name (letters, digits, - _ . only)") }
        return text
    }

    package func number(_ node: Node, _ path: String) throws -> Double {
        guard let scalar = node.scalar else { throw error(node, path, "expected a number, found a \(kind(node))") }
        guard scalar.style == .plain, let value = Double(scalar.string), value.isFinite else {
            throw error(node, path, "expected a number, found '\(scalar.string)'")
        }
        return value
    }

    package func optionalNumber(_ node: Node, _ path: String) throws -> Double? {
        if let scalar = node.scalar, scalar.style == .plain, ["null", "~", ""].contains(scalar.string) { return nil }
        return try number(node, path)
    }

    package func integer(_ node: Node, _ path: String) throws -> Int {
        let value = try number(node, path)
        guard value == value.rounded(), abs(value) < 1e15 else {
            throw error(node, path, "expected a whole number, found \(value)")
        }
        return Int(value)
    }

    private func kind(_ node: Node) -> String {
        switch node {
        case .scalar: "value"
        case .mapping: "mapping"
        case .sequence: "list"
        case .alias: "alias"
        }
    }
}

/// One reader per section of the process config.
extension YAMLReader {
    /// `lines:`: each line's name and its machines (a count, named m01..., or a list of names).
    func lines(_ linesNode: Node, site: String) throws -> [ProductionLine] {
        var lines: [ProductionLine] = []
        for (i, lineNode) in try sequence(linesNode, "lines").enumerated() {
            let path = "lines[\(i)]"
            let fields = try mapping(lineNode, path, allowed: ["name", "machines"])
            let name = try self.name(required(fields, "name", in: lineNode, path), path + ".name")
            let machinesNode = try required(fields, "machines", in: lineNode, path)
            var machines: [String] = []
            if case .scalar = machinesNode {
                let count = try integer(machinesNode, path + ".machines")
                guard (1...10_000).contains(count) else {
                    throw error(machinesNode, path + ".machines", "must be a count from 1 to 10000 or a list of names")
                }
                let width = max(2, String(count).count)
                machines = (1...count).map { n in
                    let digits = String(n)
                    return "\(site)/\(name)/m" + String(repeating: "0", count: width - digits.count) + digits
                }
            } else {
                for (j, m) in try sequence(machinesNode, path + ".machines").enumerated() {
                    machines.append("\(site)/\(name)/" + (try self.name(m, path + ".machines[\(j)]")))
                }
            }
            lines.append(ProductionLine(name: name, machines: machines))
        }
        guard !lines.isEmpty else { throw error(linesNode, "lines", "must list at least one line") }
        let all = lines.flatMap(\.machines)
        if let duplicate = Dictionary(grouping: all, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw error(linesNode, "lines", "machine \(duplicate) is declared twice")
        }
        return lines
    }

    /// `products:`: names and shares of the mix.
    func products(_ productsNode: Node) throws -> [ProductType] {
        try sequence(productsNode, "products").enumerated().map { i, node in
            let path = "products[\(i)]"
            let fields = try mapping(node, path, allowed: ["name", "share"])
            let name = try self.name(required(fields, "name", in: node, path), path + ".name")
            let share = try fields["share"].map { try number($0, path + ".share") } ?? 1
            guard share > 0 else { throw error(fields["share"]!, path + ".share", "must be greater than 0") }
            return ProductType(name: name, share: share)
        }
    }

    /// One entry of `variables:`: unit, column, valid range, spec limits, SPC and what may be controlled.
    func variable(_ name: String, _ node: Node) throws -> ProcessVariable {
        let path = "variables.\(name)"
        _ = try self.name(Node(name), path)
        let fields = try mapping(
            node, path, allowed: ["unit", "description", "column", "min", "max", "lsl", "usl", "controllable", "spc"])
        var variable = ProcessVariable(
            name: name, unit: try fields["unit"].map { try string($0, path + ".unit") } ?? "",
            description: try fields["description"].map { try string($0, path + ".description") } ?? "",
            column: try fields["column"].map { try string($0, path + ".column") })
        let low = try fields["min"].map { try number($0, path + ".min") }
        let high = try fields["max"].map { try number($0, path + ".max") }
        if low != nil || high != nil {
            let lo = low ?? -Double.greatestFiniteMagnitude
            let hi = high ?? Double.greatestFiniteMagnitude
            guard lo < hi else { throw error(node, path, "min (\(lo)) must be below max (\(hi))") }
            variable.validRange = lo...hi
        }
        variable.lsl = try fields["lsl"].flatMap { try optionalNumber($0, path + ".lsl") }
        variable.usl = try fields["usl"].flatMap { try optionalNumber($0, path + ".usl") }
        if let n = fields["spc"] { try spc(n, path: path + ".spc", into: &variable) }
        if let lsl = variable.lsl, let usl = variable.usl, lsl >= usl {
            throw error(node, path, "lsl (\(lsl)) must be below usl (\(usl))")
        }
        if let c = fields["controllable"] { variable.controllable = try controllable(c, path: path + ".controllable") }
        return variable
    }

    /// A variable's `spc:`: true or false, or the chart's rules, subgroup, baseline and restarts.
    func spc(_ n: Node, path: String, into variable: inout ProcessVariable) throws {
        guard n.mapping != nil else {
            let text = try string(n, path)
            guard let value = Bool(text) else {
                throw error(
                    n, path,
                    "expected true or false, or a mapping {rules: [...], subgroup: N, baseline: N, restart_after: [...]}, found '\(text)'"
                )
            }
            variable.spc = value
            return
        }
        let spc = try mapping(n, path, allowed: ["rules", "restart_after", "subgroup", "baseline"])
        if let parts = spc["baseline"] {
            let value = try integer(parts, path + ".baseline")
            guard (20...100_000).contains(value) else {
                throw error(parts, path + ".baseline", "must be from 20 to 100000 parts")
            }
            variable.spcBaseline = value
        }
        if let size = spc["subgroup"] {
            variable.spcSubgroup = try integer(size, path + ".subgroup")
            guard (1...100).contains(variable.spcSubgroup) else {
                throw error(size, path + ".subgroup", "must be from 1 to 100 parts")
            }
        }
        if let rules = spc["rules"] {
            let names = try sequence(rules, path + ".rules").map { try string($0, path + ".rules") }
            let known = RuleChecker.Rule.allCases.map(\.rawValue) + ["ewma", "cusum"]
            if let unknown = names.first(where: { !known.contains($0) }) {
                throw error(
                    rules, path + ".rules",
                    "'\(unknown)' is not a control-chart test; expected some of: \(known.joined(separator: ", "))")
            }
            variable.spcRules = names
        }
        if let after = spc["restart_after"] {
            variable.spcRestartAfter = Set(
                try sequence(after, path + ".restart_after").map { try name($0, path + ".restart_after") })
        }
    }

    /// A variable's `controllable:`: the optimizer's bounds, step, interval, nominal value and how it varies.
    func controllable(_ c: Node, path cp: String) throws -> Controllable {
        let cf = try mapping(c, cp, allowed: ["min", "max", "max_step", "min_interval_s", "nominal", "variation"])
        let cmin = try number(required(cf, "min", in: c, cp), cp + ".min")
        let cmax = try number(required(cf, "max", in: c, cp), cp + ".max")
        let step = try number(required(cf, "max_step", in: c, cp), cp + ".max_step")
        let interval = try cf["min_interval_s"].map { try number($0, cp + ".min_interval_s") } ?? 0
        let nominal = try cf["nominal"].map { try number($0, cp + ".nominal") } ?? (cmin + cmax) / 2
        guard cmin < cmax else { throw error(c, cp, "min (\(cmin)) must be below max (\(cmax))") }
        guard step > 0 else { throw error(cf["max_step"]!, cp + ".max_step", "must be greater than 0") }
        guard interval >= 0 else {
            throw error(cf["min_interval_s"]!, cp + ".min_interval_s", "must not be negative")
        }
        guard (cmin...cmax).contains(nominal) else {
            throw error(cf["nominal"] ?? c, cp + ".nominal", "\(nominal) is outside min..max (\(cmin)...\(cmax))")
        }
        var variation = Controllable.Variation.additive
        if let node = cf["variation"] {
            let text = try string(node, cp + ".variation")
            guard let v = Controllable.Variation(rawValue: text) else {
                throw error(node, cp + ".variation", "'\(text)' is not one of: additive, relative")
            }
            variation = v
        }
        return Controllable(
            min: cmin, max: cmax, maxStep: step, minIntervalSeconds: interval, nominal: nominal, variation: variation)
    }

    /// `csv:`: which columns of an imported file hold the machine, the time and the product.
    func csv(_ csvNode: Node) throws -> CSVMapping {
        var csv = CSVMapping()
        let fields = try mapping(csvNode, "csv", allowed: ["machine", "timestamp", "product"])
        csv.machine = try fields["machine"].map { try string($0, "csv.machine") }
        csv.timestamp = try fields["timestamp"].map { try string($0, "csv.timestamp") }
        csv.product = try fields["product"].map { try string($0, "csv.product") }
        return csv
    }

    /// `features:`: derived variables (expressions) and categorical inputs.
    func features(_ featuresNode: Node, variables: [ProcessVariable]) throws -> FeatureSettings {
        var features = FeatureSettings()
        let fields = try mapping(featuresNode, "features", allowed: ["derived", "categorical"])
        let known = Set(variables.map(\.name))
        if let derivedNode = fields["derived"] {
            for (name, node) in try orderedMapping(derivedNode, "features.derived") {
                _ = try self.name(Node(name), "features.derived.\(name)")
                guard !known.contains(name) else {
                    throw error(node, "features.derived.\(name)", "is already the name of a variable")
                }
                features.derived.append(.init(name: name, expression: try string(node, "features.derived.\(name)")))
            }
        }
        if let categoricalNode = fields["categorical"] {
            for (name, node) in try orderedMapping(categoricalNode, "features.categorical") {
                let path = "features.categorical.\(name)"
                if let scalar = node.scalar, ["null", "~", ""].contains(scalar.string) {
                    features.categorical.append(.init(name: name, categories: nil))
                } else {
                    features.categorical.append(
                        .init(name: name, categories: try sequence(node, path).map { try string($0, path) }))
                }
            }
        }
        return features
    }
}
