import Learn
import Plant
import Primitives

/// Runs the simulator twice on identical random streams: once as the plant runs today (nominal setpoints, tools
/// changed only when the plant's own rule does it), once with the optimizer in closed loop. The risk model is trained
/// on the first run's parts only (readings and whether each part failed), never on the simulator's rules.
public enum ClosedLoopEvaluation {
    public struct Settings: Sendable {
        public var machines = 20
        public var hours = 168.0
        public var seed: UInt64 = 1
        /// Simulated start, ms since the epoch (Monday 2026-01-05 06:00 UTC).
        public var start: Int64 = 1_767_592_800_000
        /// The machine whose risk and setpoints the trace keeps, and for how many hours.
        public var traceMachine = 0
        public var traceHours = 48.0
        public var training: TrainingSpec
        public var solver = SolverOptions()
        /// Everyday setpoint variation of the run without the optimizer, as a share of each control's step: every
        /// `explorationHours` each machine's setpoints are moved to nominal + uniform(-1, 1) x share x step (evolutionary
        /// operation, Box 1957: small planned changes in normal production). Without any variation the history holds
        /// one setpoint, and no model can learn from it what another setpoint would do. 0: fixed nominal setpoints.
        public var exploration = 0.0
        public var explorationHours = 2.0

        public init() {
            var spec = TrainingSpec()
            spec.hiddenLayers = [64, 64]
            spec.epochs = 40
            spec.batchSize = 256
            spec.learningRate = 0.002
            spec.patience = 6
            spec.monitor = "val_loss"  // calibrated probabilities: the objective weighs them, not just ranks them
            spec.scaling = .standard  // smooth in the inputs: the solver follows its gradients
            training = spec
        }
    }

    /// One part of the traced machine.
    public struct TracePoint: Sendable {
        public var hours: Double
        public var risk: Double
        public var setpoints: [Double]
        public var wear: Double?
        public var failed: Bool
    }

    public struct Report: Sendable {
        public var baseline: RunMetrics
        /// The run without the optimizer and without the everyday variation (all setpoints nominal throughout), for
        /// reference; nil when the exploration is 0 (then it is the baseline).
        public var fixedSetpoints: RunMetrics?
        public var optimized: RunMetrics
        public var model: String
        public var modelMetrics: [String: Double]
        public var trainingRows: Int
        public var controls: [String]
        public var traceMachine: String
        public var baselineTrace: [TracePoint]
        public var optimizedTrace: [TracePoint]
        /// A few recommendations as made, for the docs and the operator's eye.
        public var examples: [Recommendation]
    }

    public static func run(
        config: ProcessConfig, settings: Settings, progress: (String) -> Void = { _ in }
    ) throws -> Report {
        guard settings.machines >= 1, settings.hours > 0 else {
            throw OptimizerError("evaluate needs at least 1 machine and more than 0 hours")
        }
        let end = settings.start + Int64(settings.hours * 3_600_000)
        let traceEnd = settings.start + Int64(settings.traceHours * 3_600_000)

        // 1. The plant as it runs today, keeping every running part as training data.
        progress("baseline: \(settings.machines) machines for \(settings.hours) simulated hours")
        var baselineSimulator = try PlantSimulator(
            config: config, machines: settings.machines, seed: settings.seed, start: settings.start)
        let traceID = baselineSimulator.machineIDs[min(settings.traceMachine, settings.machines - 1)]
        var baseline = Accounting(config: config, machines: settings.machines, hours: settings.hours)
        var table = TableBuilder(config: config)
        var baselineTraceReadings: [(reading: Reading, failed: Bool)] = []
        let controls = config.controllables
        var variation = RandomSource(seed: settings.seed ^ 0x0E70_0E70)
        let period = Int64(settings.explorationHours * 3_600_000)
        var nextVariation = Dictionary(
            uniqueKeysWithValues: baselineSimulator.machineIDs.map {
                ($0, settings.start + Int64(variation.uniform() * Double(period)))
            })
        while true {
            let s = baselineSimulator.next()
            guard s.reading.timestamp < end else { break }
            let id = s.reading.machine
            if settings.exploration > 0, period > 0, s.reading.timestamp >= nextVariation[id]! {
                nextVariation[id]! += period
                let values = controls.map { v in
                    let c = v.controllable!
                    let target = c.nominal + (variation.uniform() * 2 - 1) * settings.exploration * c.maxStep
                    return Measurement(v.name, min(c.max, max(c.min, target)))
                }
                try baselineSimulator.apply(SetpointChange(machine: id, values: values))
            }
            baseline.add(s)
            table.add(s)
            if s.reading.machine == traceID && s.reading.timestamp < traceEnd && s.reading.state == .running {
                baselineTraceReadings.append((s.reading, !s.failure.isEmpty))
            }
        }
        baseline.finish()
        var fixed: RunMetrics?
        if settings.exploration > 0 {
            var reference = try PlantSimulator(
                config: config, machines: settings.machines, seed: settings.seed, start: settings.start)
            var accounting = Accounting(config: config, machines: settings.machines, hours: settings.hours)
            while true {
                let s = reference.next()
                guard s.reading.timestamp < end else { break }
                accounting.add(s)
            }
            accounting.finish()
            fixed = accounting.metrics
        }

        // 2. The risk model, from the baseline's parts only.
        progress("training the risk model on \(table.rows) baseline parts (\(baseline.metrics.failures) failed)")
        var spec = settings.training
        spec.seed = settings.seed
        let trained = try Trainer.train(
            table.data, spec: spec,
            metadata: ModelFile.Metadata(
                created: Timestamp.format(settings.start), datasetRows: table.rows,
                hyperparameters: ["source": "baseline run, seed \(settings.seed)"], codeVersion: "millstream",
                source: "millstream optimize evaluate"))
        let label = "failure@baseline"
        let model = try NetworkRiskModel(file: trained.model, label: label)
        let problem = try OptimizationProblem(config: config, model: model)
        var optimizer = try SetpointOptimizer(problem: problem, model: model, label: label, options: settings.solver)
        var scorer = TraceScorer(model: model)
        // 3. The same plant, same random streams, with the optimizer in closed loop.
        progress("optimized: the same plant with the optimizer in closed loop")
        var simulator = try PlantSimulator(
            config: config, machines: settings.machines, seed: settings.seed, start: settings.start)
        var optimized = Accounting(config: config, machines: settings.machines, hours: settings.hours)
        var contexts = Dictionary(
            uniqueKeysWithValues: simulator.machineIDs.map { ($0, MachineContext(machine: $0, problem: problem)) })
        var optimizedTrace: [TracePoint] = []
        var examples: [Recommendation] = []
        var nextProgress = settings.start + (end - settings.start) / 10
        let wearIndex = problem.numericInputs.firstIndex(of: "tool_wear_min")
        while true {
            let s = simulator.next()
            let now = s.reading.timestamp
            guard now < end else { break }
            if now >= nextProgress {
                progress(
                    "optimized: \(Int(Double(now - settings.start) / Double(end - settings.start) * 100 + 0.5)) % of the simulated time"
                )
                nextProgress += (end - settings.start) / 10
            }
            optimized.add(s)
            let id = s.reading.machine
            guard contexts[id]!.observe(s.reading, model: model, problem: problem) else { continue }
            if id == traceID && now < traceEnd {
                let c = contexts[id]!
                optimizedTrace.append(
                    TracePoint(
                        hours: Double(now - settings.start) / 3_600_000, risk: scorer.risk(s.reading),
                        setpoints: c.setpoints, wear: wearIndex.map { c.latest![$0] }, failed: !s.failure.isEmpty))
            }
            switch optimizer.recommend(updating: &contexts[id]!, now: now) {
            case .hold(let hold):
                optimized.metrics.holds[hold.kind.rawValue, default: 0] += 1
            case .recommend(let r):
                let change = r.setpointChange
                let violations = Guardrails.violations(of: change, problem: problem, context: contexts[id]!, now: now)
                guard violations.isEmpty else {
                    optimized.metrics.holds["guardrail", default: 0] += 1
                    continue
                }
                let applied = try simulator.apply(change)
                contexts[id]!.setpointsChanged(
                    applied.map { m in (problem.controls.firstIndex { $0.name == m.name }!, m.value) }, at: now)
                if !applied.isEmpty { optimized.metrics.setpointChanges += 1 }
                for name in r.maintenance {
                    contexts[id]!.maintained(problem.maintenance.firstIndex { $0.name == name }!)
                    optimized.metrics.maintenanceActions += 1
                }
                if examples.count < 6 && (!r.maintenance.isEmpty || examples.count < 3) { examples.append(r) }
            }
        }
        optimized.finish()
        let nominal = problem.controls.map(\.limits.nominal)
        let baselineTrace = baselineTraceReadings.map { item in
            TracePoint(
                hours: Double(item.reading.timestamp - settings.start) / 3_600_000, risk: scorer.risk(item.reading),
                setpoints: item.reading.setpoints.isEmpty
                    ? nominal
                    : problem.controls.map { c in
                        item.reading.setpoints.first { $0.name == c.name }?.value ?? c.limits.nominal
                    }, wear: item.reading["tool_wear_min"], failed: item.failed)
        }
        return Report(
            baseline: baseline.metrics, fixedSetpoints: fixed, optimized: optimized.metrics, model: label,
            modelMetrics: trained.testMetrics,
            trainingRows: table.rows, controls: problem.controls.map(\.name), traceMachine: traceID,
            baselineTrace: baselineTrace, optimizedTrace: optimizedTrace, examples: examples)
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

    mutating func finish() {
        metrics.operatingHours = Double(runningMilliseconds) / 3_600_000
        metrics.oee =
            metrics.scheduledHours > 0
            ? Double(metrics.goodParts) * idealCycleSeconds / (metrics.scheduledHours * 3600) : 0
    }
}

/// The training table of the baseline: the config's variables, derived features and categorical inputs of every
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
