import Analytics
import Yams

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
                "optimizer", "alarms",
            ])
        let process = try y.string(y.required(top, "process", in: root, ""), "process")
        let site = try y.name(y.required(top, "site", in: root, ""), "site")
        let cycle = try y.number(y.required(top, "ideal_cycle_s", in: root, ""), "ideal_cycle_s")
        guard cycle > 0 else {
            throw y.error(top["ideal_cycle_s"]!, "ideal_cycle_s", "must be greater than 0, is \(cycle)")
        }

        var lines: [ProductionLine] = []
        let linesNode = try y.required(top, "lines", in: root, "")
        for (i, lineNode) in try y.sequence(linesNode, "lines").enumerated() {
            let path = "lines[\(i)]"
            let fields = try y.mapping(lineNode, path, allowed: ["name", "machines"])
            let name = try y.name(y.required(fields, "name", in: lineNode, path), path + ".name")
            let machinesNode = try y.required(fields, "machines", in: lineNode, path)
            var machines: [String] = []
            if case .scalar = machinesNode {
                let count = try y.integer(machinesNode, path + ".machines")
                guard (1...10_000).contains(count) else {
                    throw y.error(
                        machinesNode, path + ".machines", "must be a count from 1 to 10000 or a list of names")
                }
                let width = max(2, String(count).count)
                machines = (1...count).map { n in
                    let digits = String(n)
                    return "\(site)/\(name)/m" + String(repeating: "0", count: width - digits.count) + digits
                }
            } else {
                for (j, m) in try y.sequence(machinesNode, path + ".machines").enumerated() {
                    machines.append("\(site)/\(name)/" + (try y.name(m, path + ".machines[\(j)]")))
                }
            }
            lines.append(ProductionLine(name: name, machines: machines))
        }
        guard !lines.isEmpty else { throw y.error(linesNode, "lines", "must list at least one line") }
        let all = lines.flatMap(\.machines)
        if let duplicate = Dictionary(grouping: all, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw y.error(linesNode, "lines", "machine \(duplicate) is declared twice")
        }

        var products: [ProductType] = []
        if let productsNode = top["products"] {
            for (i, node) in try y.sequence(productsNode, "products").enumerated() {
                let path = "products[\(i)]"
                let fields = try y.mapping(node, path, allowed: ["name", "share"])
                let name = try y.name(y.required(fields, "name", in: node, path), path + ".name")
                let share = try fields["share"].map { try y.number($0, path + ".share") } ?? 1
                guard share > 0 else { throw y.error(fields["share"]!, path + ".share", "must be greater than 0") }
                products.append(ProductType(name: name, share: share))
            }
        }

        var variables: [ProcessVariable] = []
        let variablesNode = try y.required(top, "variables", in: root, "")
        for (name, node) in try y.orderedMapping(variablesNode, "variables") {
            let path = "variables.\(name)"
            _ = try y.name(Node(name), path)
            let fields = try y.mapping(
                node, path,
                allowed: ["unit", "description", "column", "min", "max", "lsl", "usl", "controllable", "spc"])
            var variable = ProcessVariable(
                name: name, unit: try fields["unit"].map { try y.string($0, path + ".unit") } ?? "",
                description: try fields["description"].map { try y.string($0, path + ".description") } ?? "",
                column: try fields["column"].map { try y.string($0, path + ".column") })
            let low = try fields["min"].map { try y.number($0, path + ".min") }
            let high = try fields["max"].map { try y.number($0, path + ".max") }
            if low != nil || high != nil {
                let lo = low ?? -Double.greatestFiniteMagnitude
                let hi = high ?? Double.greatestFiniteMagnitude
                guard lo < hi else { throw y.error(node, path, "min (\(lo)) must be below max (\(hi))") }
                variable.validRange = lo...hi
            }
            variable.lsl = try fields["lsl"].flatMap { try y.optionalNumber($0, path + ".lsl") }
            variable.usl = try fields["usl"].flatMap { try y.optionalNumber($0, path + ".usl") }
            if let n = fields["spc"] {
                if n.mapping != nil {
                    let spc = try y.mapping(
                        n, path + ".spc", allowed: ["rules", "restart_after", "subgroup", "baseline"])
                    if let parts = spc["baseline"] {
                        let value = try y.integer(parts, path + ".spc.baseline")
                        guard (20...100_000).contains(value) else {
                            throw y.error(parts, path + ".spc.baseline", "must be from 20 to 100000 parts")
                        }
                        variable.spcBaseline = value
                    }
                    if let size = spc["subgroup"] {
                        variable.spcSubgroup = try y.integer(size, path + ".spc.subgroup")
                        guard (1...100).contains(variable.spcSubgroup) else {
                            throw y.error(size, path + ".spc.subgroup", "must be from 1 to 100 parts")
                        }
                    }
                    if let rules = spc["rules"] {
                        let names = try y.sequence(rules, path + ".spc.rules").map {
                            try y.string($0, path + ".spc.rules")
                        }
                        let known = RuleChecker.Rule.allCases.map(\.rawValue) + ["ewma", "cusum"]
                        if let unknown = names.first(where: { !known.contains($0) }) {
                            throw y.error(
                                rules, path + ".spc.rules",
                                "'\(unknown)' is not a control-chart test; expected some of: \(known.joined(separator: ", "))"
                            )
                        }
                        variable.spcRules = names
                    }
                    if let after = spc["restart_after"] {
                        variable.spcRestartAfter = Set(
                            try y.sequence(after, path + ".spc.restart_after").map {
                                try y.name($0, path + ".spc.restart_after")
                            })
                    }
                } else {
                    let text = try y.string(n, path + ".spc")
                    guard let value = Bool(text) else {
                        throw y.error(
                            n, path + ".spc",
                            "expected true or false, or a mapping {rules: [...], subgroup: N, baseline: N, restart_after: [...]}, found '\(text)'"
                        )
                    }
                    variable.spc = value
                }
            }
            if let lsl = variable.lsl, let usl = variable.usl, lsl >= usl {
                throw y.error(node, path, "lsl (\(lsl)) must be below usl (\(usl))")
            }
            if let c = fields["controllable"] {
                let cp = path + ".controllable"
                let cf = try y.mapping(
                    c, cp, allowed: ["min", "max", "max_step", "min_interval_s", "nominal", "variation"])
                let cmin = try y.number(y.required(cf, "min", in: c, cp), cp + ".min")
                let cmax = try y.number(y.required(cf, "max", in: c, cp), cp + ".max")
                let step = try y.number(y.required(cf, "max_step", in: c, cp), cp + ".max_step")
                let interval = try cf["min_interval_s"].map { try y.number($0, cp + ".min_interval_s") } ?? 0
                let nominal = try cf["nominal"].map { try y.number($0, cp + ".nominal") } ?? (cmin + cmax) / 2
                guard cmin < cmax else { throw y.error(c, cp, "min (\(cmin)) must be below max (\(cmax))") }
                guard step > 0 else { throw y.error(cf["max_step"]!, cp + ".max_step", "must be greater than 0") }
                guard interval >= 0 else {
                    throw y.error(cf["min_interval_s"]!, cp + ".min_interval_s", "must not be negative")
                }
                guard (cmin...cmax).contains(nominal) else {
                    throw y.error(
                        cf["nominal"] ?? c, cp + ".nominal", "\(nominal) is outside min..max (\(cmin)...\(cmax))")
                }
                var variation = Controllable.Variation.additive
                if let node = cf["variation"] {
                    let text = try y.string(node, cp + ".variation")
                    guard let v = Controllable.Variation(rawValue: text) else {
                        throw y.error(node, cp + ".variation", "'\(text)' is not one of: additive, relative")
                    }
                    variation = v
                }
                variable.controllable = Controllable(
                    min: cmin, max: cmax, maxStep: step, minIntervalSeconds: interval, nominal: nominal,
                    variation: variation)
            }
            variables.append(variable)
        }
        guard !variables.isEmpty else {
            throw y.error(variablesNode, "variables", "must declare at least one variable")
        }

        var csv = CSVMapping()
        if let csvNode = top["csv"] {
            let fields = try y.mapping(csvNode, "csv", allowed: ["machine", "timestamp", "product"])
            csv.machine = try fields["machine"].map { try y.string($0, "csv.machine") }
            csv.timestamp = try fields["timestamp"].map { try y.string($0, "csv.timestamp") }
            csv.product = try fields["product"].map { try y.string($0, "csv.product") }
        }
        var features = FeatureSettings()
        if let featuresNode = top["features"] {
            let fields = try y.mapping(featuresNode, "features", allowed: ["derived", "categorical"])
            let known = Set(variables.map(\.name))
            if let derivedNode = fields["derived"] {
                for (name, node) in try y.orderedMapping(derivedNode, "features.derived") {
                    _ = try y.name(Node(name), "features.derived.\(name)")
                    guard !known.contains(name) else {
                        throw y.error(node, "features.derived.\(name)", "is already the name of a variable")
                    }
                    features.derived.append(
                        .init(name: name, expression: try y.string(node, "features.derived.\(name)")))
                }
            }
            if let categoricalNode = fields["categorical"] {
                for (name, node) in try y.orderedMapping(categoricalNode, "features.categorical") {
                    let path = "features.categorical.\(name)"
                    if let scalar = node.scalar, ["null", "~", ""].contains(scalar.string) {
                        features.categorical.append(.init(name: name, categories: nil))
                    } else {
                        features.categorical.append(
                            .init(name: name, categories: try y.sequence(node, path).map { try y.string($0, path) }))
                    }
                }
            }
        }
        let optimizer = try top["optimizer"].map { try y.optimizerSettings($0, variables: variables) }
        let alarms = try top["alarms"].map { try y.alarmSettings($0) } ?? AlarmSettings()
        return ProcessConfig(
            process: process, description: try top["description"].map { try y.string($0, "description") } ?? "",
            site: site, idealCycleSeconds: cycle, lines: lines, products: products, variables: variables, csv: csv,
            features: features, optimizer: optimizer, alarms: alarms)
    }
}

/// Typed access to a YAML node tree with errors that carry the node's line and column.
struct YAMLReader {
    let source: String

    func error(_ node: Node, _ path: String, _ message: String) -> ConfigError {
        let place = node.mark.map { "\($0.line):\($0.column)" } ?? "?"
        return ConfigError("\(source):\(place): \(path.isEmpty ? "" : path + ": ")\(message)")
    }

    func orderedMapping(_ node: Node, _ path: String) throws -> [(String, Node)] {
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

    func mapping(_ node: Node, _ path: String, allowed: [String]) throws -> [String: Node] {
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

    func required(_ fields: [String: Node], _ key: String, in node: Node, _ path: String) throws -> Node {
        guard let value = fields[key] else { throw error(node, path, "missing required key '\(key)'") }
        return value
    }

    func sequence(_ node: Node, _ path: String) throws -> [Node] {
        guard let sequence = node.sequence else { throw error(node, path, "expected a list") }
        return Array(sequence)
    }

    func string(_ node: Node, _ path: String) throws -> String {
        guard let scalar = node.scalar else { throw error(node, path, "expected text, found a \(kind(node))") }
        return scalar.string
    }

    /// A name usable in ids and topic keys: letters, digits, '-', '_', '.'.
    func name(_ node: Node, _ path: String) throws -> String {
        let text = try string(node, path)
        let ok =
            !text.isEmpty
            && text.unicodeScalars.allSatisfy { c in
                c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "_" || c == "."
            }
        guard ok else { throw error(node, path, "'\(text)' is not a valid name (letters, digits, - _ . only)") }
        return text
    }

    func number(_ node: Node, _ path: String) throws -> Double {
        guard let scalar = node.scalar else { throw error(node, path, "expected a number, found a \(kind(node))") }
        guard scalar.style == .plain, let value = Double(scalar.string), value.isFinite else {
            throw error(node, path, "expected a number, found '\(scalar.string)'")
        }
        return value
    }

    func optionalNumber(_ node: Node, _ path: String) throws -> Double? {
        if let scalar = node.scalar, scalar.style == .plain, ["null", "~", ""].contains(scalar.string) { return nil }
        return try number(node, path)
    }

    func integer(_ node: Node, _ path: String) throws -> Int {
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
