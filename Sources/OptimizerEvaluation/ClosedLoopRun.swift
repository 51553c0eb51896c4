import Learn
import Optimizer
import Plant

/// The optimizer in closed loop on the evaluated seed, asked as the pipeline asks it: after a running part of a
/// machine, unless it was asked about that machine less than the recommendation interval ago (its own time).
struct ClosedLoopRun {
    let plant: PlantRun
    let model: NetworkRiskModel
    let problem: OptimizationProblem
    var optimizer: SetpointOptimizer<NetworkRiskModel>
    /// Where tool wear is among the model's inputs, for the trace.
    let wearIndex: Int?
    var scorer: TraceScorer
    var trace: [ClosedLoopEvaluation.TracePoint] = []
    var examples: [Recommendation] = []

    init(plant: PlantRun, model: NetworkRiskModel, label: String) throws {
        self.plant = plant
        self.model = model
        problem = try OptimizationProblem(config: plant.config, model: model)
        optimizer = try SetpointOptimizer(problem: problem, model: model, label: label, options: plant.settings.solver)
        scorer = TraceScorer(model: model)
        wearIndex = problem.numericInputs.firstIndex(of: "tool_wear_min")
    }

    mutating func run(progress: (String) -> Void) throws -> RunMetrics {
        let settings = plant.settings
        var simulator = try plant.simulator(seed: settings.seed)
        var accounting = Accounting(config: plant.config, machines: settings.machines, hours: settings.hours)
        var contexts = Dictionary(
            uniqueKeysWithValues: simulator.machineIDs.map { ($0, MachineContext(machine: $0, problem: problem)) })
        var lastRecommendation: [String: Int64] = [:]
        let interval = Int64(settings.recommendationIntervalSeconds * 1000)
        let end = settings.start + Int64(settings.hours * 3_600_000)
        var nextProgress = settings.start + (end - settings.start) / 10
        while true {
            let s = simulator.next()
            let now = s.reading.timestamp
            guard now < end else { break }
            if now >= nextProgress {
                progress("optimized: \(Int(Double(now - settings.start) / Double(end - settings.start) * 100 + 0.5)) %")
                nextProgress += (end - settings.start) / 10
            }
            accounting.add(s)
            let id = s.reading.machine
            guard contexts[id]!.observe(s.reading, model: model, problem: problem) else { continue }
            if id == plant.traceID && now < plant.traceEnd { record(s, context: contexts[id]!) }
            guard RecommendationCadence.isDue(last: lastRecommendation[id], now: now, interval: interval) else {
                continue
            }
            lastRecommendation[id] = now
            switch optimizer.recommend(updating: &contexts[id]!, now: now) {
            case .hold(let hold):
                accounting.metrics.holds[hold.kind.rawValue, default: 0] += 1
            case .recommend(let r):
                try apply(r, to: &simulator, context: &contexts[id]!, metrics: &accounting.metrics, now: now)
            }
        }
        accounting.finish(toolChanges: simulator.toolChanges)
        return accounting.metrics
    }

    /// Carries out a recommendation as the closed loop does: guardrails first, then the setpoints and maintenance.
    private mutating func apply(
        _ r: Recommendation, to simulator: inout PlantSimulator, context: inout MachineContext,
        metrics: inout RunMetrics, now: Int64
    ) throws {
        let change = r.setpointChange
        guard Guardrails.violations(of: change, problem: problem, context: context, now: now).isEmpty else {
            metrics.holds["guardrail", default: 0] += 1
            return
        }
        let applied = try simulator.apply(change)
        context.setpointsChanged(
            applied.map { m in (problem.controls.firstIndex { $0.name == m.name }!, m.value) }, at: now)
        if !applied.isEmpty { metrics.setpointChanges += 1 }
        for name in r.maintenance {
            context.maintained(problem.maintenance.firstIndex { $0.name == name }!)
            metrics.maintenanceActions += 1
        }
        if examples.count < 6 && (!r.maintenance.isEmpty || examples.count < 3) { examples.append(r) }
    }

    private mutating func record(_ s: SimulatedReading, context: MachineContext) {
        trace.append(
            ClosedLoopEvaluation.TracePoint(
                hours: Double(s.reading.timestamp - plant.settings.start) / 3_600_000, risk: scorer.risk(s.reading),
                setpoints: context.setpoints, wear: wearIndex.map { context.latest![$0] }, failed: !s.failure.isEmpty))
    }

    /// A baseline's traced parts, scored by the same model.
    mutating func scoredTrace(_ parts: [(reading: Reading, failed: Bool)]) -> [ClosedLoopEvaluation.TracePoint] {
        let nominal = problem.controls.map(\.limits.nominal)
        return parts.map { item in
            ClosedLoopEvaluation.TracePoint(
                hours: Double(item.reading.timestamp - plant.settings.start) / 3_600_000,
                risk: scorer.risk(item.reading),
                setpoints: item.reading.setpoints.isEmpty
                    ? nominal
                    : problem.controls.map { c in
                        item.reading.setpoints.first { $0.name == c.name }?.value ?? c.limits.nominal
                    }, wear: item.reading["tool_wear_min"], failed: item.failed)
        }
    }
}

/// Counts what a run produced.
struct Accounting {
    var metrics = RunMetrics()
    let idealCycleSeconds: Double
    /// Per machine: the last running part's time and power, until the machine's next reading closes its cycle.
    var open: [String: (time: Int64, power: Double)] = [:]
    var runningMilliseconds: Int64 = 0

    init(config: ProcessConfig, machines: Int, hours: Double) {
        idealCycleSeconds = config.idealCycleSeconds
        metrics.scheduledHours = Double(machines) * hours
    }

    mutating func add(_ s: SimulatedReading) {
        let r = s.reading
        if let last = open.removeValue(forKey: r.machine) {
            let ms = r.timestamp - last.time
            runningMilliseconds += ms
            metrics.energyKWh += last.power * Double(ms) / 3_600_000 / 1000
        }
        guard r.state == .running else { return }
        metrics.parts += 1
        metrics.goodParts += r.good
        metrics.scrap += r.scrap
        if !s.failure.isEmpty {
            metrics.failures += 1
            for name in s.failure.names { metrics.failuresByMode[name, default: 0] += 1 }
        }
        if let torque = r["torque_nm"], let rpm = r["rpm"] {
            open[r.machine] = (r.timestamp, MillingPhysics.power(torque: torque, rpm: rpm))
        }
    }

    mutating func finish(toolChanges: Int) {
        metrics.toolChanges = toolChanges
        metrics.operatingHours = Double(runningMilliseconds) / 3_600_000
        metrics.oee =
            metrics.scheduledHours > 0
            ? Double(metrics.goodParts) * idealCycleSeconds / (metrics.scheduledHours * 3600) : 0
    }
}

/// The training table of a history: the config's variables, derived features and categorical inputs of every
/// running part, and whether it failed.
struct TableBuilder {
    let config: ProcessConfig
    var numeric: [[Double]]
    var products: [String] = []
    var target: [String] = []

    init(config: ProcessConfig) {
        self.config = config
        numeric = config.variables.map { _ in [] }
    }

    var rows: Int { target.count }

    mutating func add(_ s: SimulatedReading) {
        let r = s.reading
        guard r.state == .running else { return }
        var values: [Double] = []
        for v in config.variables {
            guard let x = r[v.name], x.isFinite else { return }
            values.append(x)
        }
        for i in values.indices { numeric[i].append(values[i]) }
        products.append(r.product ?? "")
        target.append(s.failure.isEmpty ? "0" : "1")
    }

    var data: TabularData {
        let categorical = config.features.categorical
        return TabularData(
            numericNames: config.variables.map(\.name), numeric: numeric, categoricalNames: categorical.map(\.name),
            categorical: categorical.map { _ in products },
            categories: Dictionary(
                uniqueKeysWithValues: categorical.compactMap { c in c.categories.map { (c.name, $0) } }),
            derived: config.features.derived.map { ($0.name, $0.expression) }, targetName: "failure", target: target)
    }
}

/// Scores single readings for the trace.
struct TraceScorer {
    let model: NetworkRiskModel
    var batch: RiskBatch

    init(model: NetworkRiskModel) {
        self.model = model
        batch = RiskBatch(numericWidth: model.numericInputs.count, categoricalWidth: model.categoricalInputs.count)
    }

    mutating func risk(_ reading: Reading) -> Double {
        batch.resize(rows: 1)
        for (i, name) in model.numericInputs.enumerated() { batch.numeric[i] = reading[name] ?? .nan }
        for (j, name) in model.categoricalInputs.enumerated() {
            batch.categories[j] = model.categoryIndex(of: name == "product" ? reading.product ?? "" : "", for: j)
        }
        model.evaluate(&batch)
        return batch.risk[0]
    }
}
