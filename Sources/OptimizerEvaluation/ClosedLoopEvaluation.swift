import Learn
import Optimizer
import Plant
import Primitives

/// Measures the optimizer in closed loop against the policies a plant would actually run, all on the same random
/// streams of the simulator (the same parts, temperatures, lots, tools and random failures):
/// - `reactive`: nominal setpoints, tools changed at their rated life or when they fail;
/// - `preventive`: also a fixed tool-change interval in parts;
/// - `condition`: tool change on measured wear, spindle speed raised while the temperature difference is small;
/// - `optimized`: Millstream's recommendations in closed loop, at the pipeline's cadence.
///
/// Nothing is tuned or trained on the evaluated seed: the preventive interval and the condition rule's thresholds
/// are chosen by grid search on a separate tuning seed (the most good parts), and the risk model is trained on that
/// seed's reactive run, the plant's history (readings and whether each part failed; never the simulator's rules).
public enum ClosedLoopEvaluation {
    public struct Settings: Sendable {
        public var machines = 20
        public var hours = 168.0
        public var seed: UInt64 = 1
        public var profile = PlantProfile.realistic
        /// The seed of the history the model learns from and the baselines are tuned on (default: seed + 1000).
        public var tuningSeed: UInt64?
        /// Hours of the history: four weeks by default (with failures rare, a week holds too few to learn from:
        /// about 130 on 20 machines, against 550 in four weeks).
        public var historyHours = 672.0
        /// The grid of the baselines' tool-change points, as shares of the rated tool life (the condition rule's wear
        /// thresholds take those from 0.6 up, each with no temperature rule and with 9.0, 9.5 and 10.0 K).
        public var tuningShares = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
        /// The optimizer is asked about a machine at most once per this many seconds of its time (the pipeline's).
        public var recommendationIntervalSeconds = Double(RecommendationCadence.defaultIntervalMilliseconds) / 1000
        /// Simulated start, ms since the epoch (Monday 2026-01-05 06:00 UTC).
        public var start: Int64 = 1_767_592_800_000
        /// The machine whose risk and setpoints the trace keeps, and for how many hours.
        public var traceMachine = 0
        public var traceHours = 48.0
        public var training: TrainingSpec
        public var solver = SolverOptions()
        /// Everyday setpoint variation in the history, as a share of each control's step: every `explorationHours`
        /// each machine's setpoints move to nominal + uniform(-1, 1) x share x step (evolutionary operation, Box
        /// 1957). It changes only what the model learns from, not the evaluated baselines. 0: nominal throughout.
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

        public var resolvedTuningSeed: UInt64 { tuningSeed ?? seed &+ 1000 }
    }

    /// One part of the traced machine.
    public struct TracePoint: Sendable {
        public var hours: Double
        public var risk: Double
        public var setpoints: [Double]
        public var wear: Double?
        public var failed: Bool
    }

    /// What one policy produced on the evaluated seed.
    public struct PolicyResult: Sendable {
        public var name: String
        public var description: String
        public var metrics: RunMetrics
    }

    /// One point of a baseline's grid search on the tuning seed.
    public struct TuningPoint: Sendable {
        public var policy: PlantPolicy
        public var metrics: RunMetrics
    }

    public struct Report: Sendable {
        /// reactive, preventive, condition, optimized, in that order.
        public var policies: [PolicyResult]
        public var tuningSeed: UInt64
        public var preventiveGrid: [TuningPoint]
        public var conditionGrid: [TuningPoint]
        public var model: String
        public var modelMetrics: [String: Double]
        public var trainingRows: Int
        public var trainingFailures: Int
        public var controls: [String]
        public var traceMachine: String
        /// The policy the optimizer's trace is drawn against.
        public var baselineName: String
        public var baselineTrace: [TracePoint]
        public var optimizedTrace: [TracePoint]
        /// A few recommendations as made, for the docs and the operator's eye.
        public var examples: [Recommendation]

        public func policy(_ name: String) -> PolicyResult? { policies.first { $0.name == name } }
    }

    public static func run(
        config: ProcessConfig, settings: Settings, progress: (String) -> Void = { _ in }
    ) throws -> Report {
        guard settings.machines >= 1, settings.hours > 0 else {
            throw OptimizerError("evaluate needs at least 1 machine and more than 0 hours")
        }
        let plant = PlantRun(config: config, settings: settings)
        let tuning = settings.resolvedTuningSeed
        progress("tuning the baselines on seed \(tuning): the preventive interval and the condition rule")
        let shares = settings.tuningShares
        let preventiveGrid = try plant.grid(
            BaselineGrid.preventive(plant.physics, config: config, shares: shares), seed: tuning)
        let conditionGrid = try plant.grid(
            BaselineGrid.condition(plant.physics, config: config, shares: shares), seed: tuning)
        let preventive = BaselineGrid.best(preventiveGrid)
        let condition = BaselineGrid.best(conditionGrid)

        progress("history: the reactive plant on seed \(tuning) for \(settings.historyHours) h")
        let history = try plant.history(seed: tuning)
        guard history.failures >= 10 else {
            throw OptimizerError(
                "the history (\(settings.machines) machines x \(settings.historyHours) h on seed \(tuning)) has "
                    + "\(history.failures) failed parts of \(history.rows): too few to learn a risk model from; give "
                    + "more --history-hours or --machines")
        }
        progress("training the risk model on \(history.rows) parts of history (\(history.failures) failed)")
        var spec = settings.training
        spec.seed = settings.seed
        let trained = try Trainer.train(
            history.data, spec: spec,
            metadata: ModelFile.Metadata(
                created: Timestamp.format(settings.start), datasetRows: history.rows,
                hyperparameters: ["source": "reactive history, seed \(tuning)"], codeVersion: "millstream",
                source: "millstream optimize evaluate"))
        let label = "failure@history"
        let model = try NetworkRiskModel(file: trained.model, label: label)

        var results: [PolicyResult] = []
        var conditionTrace: [(reading: Reading, failed: Bool)] = []
        for policy in [PlantPolicy.reactive, preventive, condition] {
            progress("\(policy.name): \(policy)")
            let metrics = try plant.simulate(policy, seed: settings.seed, hours: settings.hours) { s in
                if case .condition = policy { plant.trace(s, into: &conditionTrace) }
            }
            results.append(PolicyResult(name: policy.name, description: policy.description, metrics: metrics))
        }
        progress("optimized: the same plant with the optimizer in closed loop")
        var closedLoop = try ClosedLoopRun(plant: plant, model: model, label: label)
        let optimized = try closedLoop.run(progress: progress)
        results.append(
            PolicyResult(
                name: "optimized", description: "Millstream's recommendations in closed loop", metrics: optimized))
        return Report(
            policies: results, tuningSeed: tuning, preventiveGrid: preventiveGrid, conditionGrid: conditionGrid,
            model: label, modelMetrics: trained.testMetrics, trainingRows: history.rows,
            trainingFailures: history.failures, controls: closedLoop.problem.controls.map(\.name),
            traceMachine: plant.traceID, baselineName: condition.name,
            baselineTrace: closedLoop.scoredTrace(conditionTrace), optimizedTrace: closedLoop.trace,
            examples: closedLoop.examples)
    }
}

/// The grids the baselines are tuned over, from the physics: tool-change points as shares of the rated life.
enum BaselineGrid {
    /// Mean tool wear per part over the product mix (min).
    static func meanWear(_ physics: MillingPhysics, config: ProcessConfig) -> Double {
        let products = config.products.isEmpty ? [ProductType(name: "M", share: 1)] : config.products
        let total = products.reduce(0) { $0 + $1.share }
        return products.reduce(0) { $0 + $1.share / total * (physics.wearPerProduct[$1.name] ?? 3) }
    }

    static func preventive(_ physics: MillingPhysics, config: ProcessConfig, shares: [Double]) -> [PlantPolicy] {
        let partsAtRated = physics.toolLife.rated / meanWear(physics, config: config)
        return shares.map { .preventive(intervalParts: max(1, Int((partsAtRated * $0).rounded()))) }
    }

    static func condition(_ physics: MillingPhysics, config: ProcessConfig, shares: [Double]) -> [PlantPolicy] {
        let step = config.variable("rpm")?.controllable?.maxStep ?? 100
        var out: [PlantPolicy] = []
        for share in shares where share >= 0.6 {
            for threshold in [nil, 9.0, 9.5, 10.0] as [Double?] {
                out.append(
                    .condition(
                        ConditionRule(
                            wearThreshold: (physics.toolLife.rated * share).rounded(), temperatureThreshold: threshold,
                            speedRaise: step)))
            }
        }
        return out
    }

    /// The point with the most good parts (what the plant would pick: failures and tool changes both cost output).
    static func best(_ grid: [ClosedLoopEvaluation.TuningPoint]) -> PlantPolicy {
        grid.max { $0.metrics.goodParts < $1.metrics.goodParts }!.policy
    }
}

/// The simulated plant of one evaluation: runs it under a policy and keeps the history the model learns from.
struct PlantRun {
    let config: ProcessConfig
    let settings: ClosedLoopEvaluation.Settings
    let physics: MillingPhysics
    let traceID: String
    let traceEnd: Int64

    init(config: ProcessConfig, settings: ClosedLoopEvaluation.Settings) {
        self.config = config
        self.settings = settings
        physics = settings.profile.physics
        let ids = config.machineIDs
        traceID = ids.isEmpty ? "" : ids[min(settings.traceMachine, min(settings.machines, ids.count) - 1)]
        traceEnd = settings.start + Int64(settings.traceHours * 3_600_000)
    }

    func simulator(seed: UInt64) throws -> PlantSimulator {
        try PlantSimulator(
            config: config, machines: settings.machines, seed: seed, start: settings.start, physics: physics)
    }

    /// Runs the plant under `policy` for `hours`, handing every reading to `observe`.
    func simulate(
        _ policy: PlantPolicy, seed: UInt64, hours: Double, exploration: Double = 0,
        observe: (SimulatedReading) -> Void = { _ in }
    ) throws -> RunMetrics {
        var simulator = try simulator(seed: seed)
        var controller = PolicyController(policy: policy, config: config)
        var everyday = EverydayVariation(
            config: config, settings: settings, machines: simulator.machineIDs, share: exploration)
        var accounting = Accounting(config: config, machines: settings.machines, hours: hours)
        let end = settings.start + Int64(hours * 3_600_000)
        while true {
            let s = simulator.next()
            guard s.reading.timestamp < end else { break }
            accounting.add(s)
            observe(s)
            if let change = everyday.change(after: s.reading) { try simulator.apply(change) }
            if let change = controller.decide(s.reading) {
                try simulator.apply(change)
                if !change.values.isEmpty { accounting.metrics.setpointChanges += 1 }
            }
        }
        accounting.finish(toolChanges: simulator.toolChanges)
        return accounting.metrics
    }

    func grid(_ policies: [PlantPolicy], seed: UInt64) throws -> [ClosedLoopEvaluation.TuningPoint] {
        try policies.map { .init(policy: $0, metrics: try simulate($0, seed: seed, hours: settings.hours)) }
    }

    /// The reactive plant's history on `seed`: every running part's inputs and whether it failed.
    func history(seed: UInt64) throws -> (data: TabularData, rows: Int, failures: Int) {
        var table = TableBuilder(config: config)
        let metrics = try simulate(
            .reactive, seed: seed, hours: settings.historyHours, exploration: settings.exploration
        ) { table.add($0) }
        return (table.data, table.rows, metrics.failures)
    }

    func trace(_ s: SimulatedReading, into trace: inout [(reading: Reading, failed: Bool)]) {
        if s.reading.machine == traceID && s.reading.timestamp < traceEnd && s.reading.state == .running {
            trace.append((s.reading, !s.failure.isEmpty))
        }
    }
}

/// Everyday setpoint variation of a history run (see `Settings.exploration`).
struct EverydayVariation {
    let share: Double
    let period: Int64
    let controls: [ProcessVariable]
    var random: RandomSource
    var next: [String: Int64] = [:]

    init(config: ProcessConfig, settings: ClosedLoopEvaluation.Settings, machines: [String], share: Double) {
        self.share = share
        period = Int64(settings.explorationHours * 3_600_000)
        controls = config.controllables
        random = RandomSource(seed: settings.seed ^ 0x0E70_0E70)
        guard share > 0, period > 0 else { return }
        for id in machines { next[id] = settings.start + Int64(random.uniform() * Double(period)) }
    }

    mutating func change(after reading: Reading) -> SetpointChange? {
        guard let due = next[reading.machine], reading.timestamp >= due else { return nil }
        next[reading.machine] = due + period
        let values = controls.map { v in
            let c = v.controllable!
            let target = c.nominal + (random.uniform() * 2 - 1) * share * c.maxStep
            return Measurement(v.name, min(c.max, max(c.min, target)))
        }
        return SetpointChange(machine: reading.machine, values: values)
    }
}
