import Optimizer
import Plant
import RealModule
import Testing

private func square(_ x: Double) -> Double { x * x }

@Suite struct SetpointOptimizerTests {
    /// A bowl with its bottom inside the allowed box: rpm 1560 and torque 37 Nm.
    static let bowl = { @Sendable (x: [Double]) -> Double in
        0.01 + 0.02 * square((x[2] - 1560) / 100) + 0.02 * square((x[3] - 37) / 5)
    }

    @Test(arguments: [true, false])
    func bothSolversFindTheInteriorOptimum(gradients: Bool) throws {
        let model = FunctionModel(gradients: gradients, Self.bowl)
        let problem = try OptimizationProblem(config: Fixture.config(throughput: false), model: model)
        var optimizer = try SetpointOptimizer(problem: problem, model: model, label: "bowl@v1")
        #expect(optimizer.usesGradients == gradients)
        let context = Fixture.context(problem, model: model)
        let r = try #require(optimizer.recommend(context, now: 1_000_000).recommendation)
        let rpm = try #require(r.changes.first { $0.variable == "rpm" })
        let torque = try #require(r.changes.first { $0.variable == "torque_nm" })
        // The scenarios spread the parts around the setpoints; the spread is symmetric here, so the best setpoints
        // are close to the bowl's bottom (the relative spread of rpm shifts it by a few rpm).
        #expect(abs(rpm.to - 1560) < 8, "rpm \(rpm.to)")
        #expect(abs(torque.to - 37) < 0.3, "torque \(torque.to)")
        #expect(r.riskAfter < r.riskBefore)
        #expect(r.gain > 0)
        #expect(r.explanation.contains("Raise rotational speed of the spindle from 1510 to"), "\(r.explanation)")
    }

    /// A machine re-optimized on every reading: the first search explores and the context remembers where it
    /// ended; the next ones start only from there and reach the same answer; every `explorationInterval` searches
    /// explore again; a search that fails forgets the warm start.
    @Test func reoptimizingStartsWhereTheLastSearchEnded() throws {
        let model = FunctionModel(Self.bowl)
        let problem = try OptimizationProblem(config: Fixture.config(throughput: false), model: model)
        var options = SolverOptions()
        options.explorationInterval = 3
        var optimizer = try SetpointOptimizer(problem: problem, model: model, label: "bowl@v1", options: options)
        var context = Fixture.context(problem, model: model)
        let cold = try #require(optimizer.recommend(context, now: 1_000_000).recommendation)
        #expect(context.warmStart == nil, "the cold call leaves the context as it was")
        var everything = try SetpointOptimizer(problem: problem, model: model, label: "bowl@v1")
        #expect(everything.options.explorationInterval == nil, "searching everything every time is the default")
        #expect(everything.recommend(updating: &context, now: 1_000_000).recommendation == cold)
        #expect(context.warmStart == nil, "without an interval no warm start is kept")
        var searches: [Int] = []
        for _ in 0..<4 {
            let warm = try #require(optimizer.recommend(updating: &context, now: 1_000_000).recommendation)
            #expect(warm.changes.map(\.variable) == cold.changes.map(\.variable))
            for (w, c) in zip(warm.changes, cold.changes) {
                #expect(abs(w.to - c.to) <= problem.controls.first { $0.name == w.variable }!.limits.maxStep / 50)
            }
            let start = try #require(context.warmStart)
            #expect(abs(start.setpoints[0] - 1560) < 8 && abs(start.setpoints[1] - 37) < 0.3, "\(start.setpoints)")
            searches.append(start.searches)
        }
        #expect(searches == [0, 1, 2, 0])
        // A model that gives NaN: the search fails, and the next starts cold.
        var broken = try SetpointOptimizer(
            problem: problem, model: FunctionModel { _ in .nan }, label: "nan@v1", options: options)
        #expect(broken.recommend(updating: &context, now: 1_000_000).hold?.kind == .modelNotFinite)
        #expect(context.warmStart != nil, "a model that fails where the machine is now holds before any search")
        let nanAtOptimum = FunctionModel { x in x[2] > 1590 ? .nan : Self.bowl(x) }  // finite where it is now
        broken = try SetpointOptimizer(problem: problem, model: nanAtOptimum, label: "nan@v2", options: options)
        #expect(broken.recommend(updating: &context, now: 1_000_000).hold?.kind == .modelNotFinite)
        #expect(context.warmStart == nil)
    }

    @Test func theStepLimitBindsWhenTheOptimumIsFar() throws {
        // Lowest risk at the top of the range: one step of 100 rpm and 5 Nm per change.
        let model = FunctionModel { x in 0.5 / (1 + Double.exp((x[2] - 2000) / 200)) + 0.01 * (60 - x[3]) / 40 }
        let problem = try OptimizationProblem(config: Fixture.config(throughput: false), model: model)
        var optimizer = try SetpointOptimizer(problem: problem, model: model, label: "far@v1")
        let r = try #require(optimizer.recommend(Fixture.context(problem, model: model), now: 1_000_000).recommendation)
        #expect(r.changes.map(\.to) == [1610, 45])
    }

    @Test func aModelThatReturnsNaNYieldsNoRecommendation() throws {
        for model in [
            FunctionModel { _ in .nan },
            // Finite where the machine is, NaN where the solver looks.
            FunctionModel { x in x[2] > 1530 ? .nan : 0.05 - x[2] / 100_000 },
            FunctionModel(gradients: false) { x in x[3] > 42 ? .infinity : 0.05 - x[3] / 1000 },
        ] {
            let problem = try OptimizationProblem(config: Fixture.config(throughput: false), model: model)
            var optimizer = try SetpointOptimizer(problem: problem, model: model, label: "broken@v2")
            let decision = optimizer.recommend(Fixture.context(problem, model: model), now: 1_000_000)
            let hold = try #require(decision.hold)
            #expect(hold.kind == .modelNotFinite)
            #expect(hold.message.contains("broken@v2") && hold.message.contains(Fixture.machine), "\(hold)")
        }
    }

    @Test(arguments: [SolverOptions.Method.gradient, .patternSearch])
    func aSolveThatDoesNotSettleYieldsNoRecommendation(method: SolverOptions.Method) throws {
        let model = FunctionModel(Self.bowl)
        let problem = try OptimizationProblem(config: Fixture.config(throughput: false), model: model)
        var optimizer = try SetpointOptimizer(
            problem: problem, model: model, label: "bowl@v1", options: SolverOptions(method: method, maxIterations: 2))
        let hold = try #require(optimizer.recommend(Fixture.context(problem, model: model), now: 1_000_000).hold)
        #expect(hold.kind == .notConverged)
        #expect(hold.message.contains("did not settle within 2 iterations"), "\(hold)")
    }

    /// In a bowl every start ends at its bottom: starts that meet stop, so the search scores fewer points for the
    /// same answer; with the radius at 0 every start searches on to the end.
    @Test(arguments: [SolverOptions.Method.gradient, .patternSearch])
    func startsThatMeetStop(method: SolverOptions.Method) throws {
        let model = FunctionModel(Self.bowl)
        let problem = try OptimizationProblem(config: Fixture.config(throughput: false), model: model)
        var apart = SolverOptions(method: method, starts: 4)
        apart.mergeRadius = 0
        var separate = try SetpointOptimizer(problem: problem, model: model, label: "bowl@v1", options: apart)
        var merging = try SetpointOptimizer(
            problem: problem, model: model, label: "bowl@v1", options: SolverOptions(method: method, starts: 4))
        #expect(merging.options.mergeRadius == 0.05, "stopping starts that meet is the default")
        let context = Fixture.context(problem, model: model)
        let all = try #require(separate.recommend(context, now: 1_000_000).recommendation)
        let merged = try #require(merging.recommend(context, now: 1_000_000).recommendation)
        #expect(merged.changes.map(\.variable) == all.changes.map(\.variable))
        for (m, a) in zip(merged.changes, all.changes) {
            #expect(abs(m.to - a.to) <= problem.controls.first { $0.name == m.variable }!.limits.maxStep / 50)
        }
        #expect(merging.pointsScored < separate.pointsScored, "\(merging.pointsScored) vs \(separate.pointsScored)")
        for radius in [-0.1, 1.5] {
            var wrong = SolverOptions(method: method)
            wrong.mergeRadius = radius
            #expect(throws: OptimizerError.self, "radius \(radius)") {
                _ = try SetpointOptimizer(problem: problem, model: model, label: "bowl@v1", options: wrong)
            }
        }
    }

    @Test func nothingWorthItMeansNoChange() throws {
        let model = FunctionModel { x in 0.01 + 1e-9 * x[2] }
        let problem = try OptimizationProblem(config: Fixture.config(throughput: false), model: model)
        var optimizer = try SetpointOptimizer(problem: problem, model: model, label: "flat@v1")
        #expect(optimizer.recommend(Fixture.context(problem, model: model), now: 1_000_000).hold?.kind == .noGain)
        #expect(
            optimizer.recommend(Fixture.context(problem, model: model, parts: 2), now: 1_000_000).hold?.kind
                == .notEnoughData)
    }

    @Test func theThroughputTermRaisesSpeedWhenRiskIsFlat() throws {
        let model = FunctionModel { _ in 0.01 }
        var config = Fixture.config(minGain: 0.001)
        config.optimizer?.throughput?.further = []  // the rate depends on the speed alone
        let problem = try OptimizationProblem(config: config, model: model)
        var optimizer = try SetpointOptimizer(problem: problem, model: model, label: "flat@v1")
        let r = try #require(optimizer.recommend(Fixture.context(problem, model: model), now: 1_000_000).recommendation)
        #expect(r.changes.map(\.variable) == ["rpm"])
        #expect(r.changes[0].to == 1610)
        #expect(abs(r.rateChange - (Double.pow(1610.0 / 1510, 0.3) - 1)) < 1e-9)
    }

    /// With the rate a product of speed and feed (the shipped milling config), flat risk raises both by one step,
    /// and the floor, shared between the two, bounds each from below.
    @Test func aRateOfSeveralSetpointsRaisesEach() throws {
        let model = FunctionModel { _ in 0.01 }
        let problem = try OptimizationProblem(config: Fixture.config(minGain: 0.001), model: model)
        var optimizer = try SetpointOptimizer(problem: problem, model: model, label: "flat@v1")
        let r = try #require(optimizer.recommend(Fixture.context(problem, model: model), now: 1_000_000).recommendation)
        #expect(
            Dictionary(uniqueKeysWithValues: r.changes.map { ($0.variable, $0.to) }) == ["rpm": 1610, "torque_nm": 45])
        #expect(abs(r.rateChange - (Double.pow(1610.0 / 1510, 0.3) * Double.pow(45.0 / 40, 0.3) - 1)) < 1e-9)
        let speed = problem.allowedRange(0, current: 1300, lastChange: nil, now: 0)
        let torque = problem.allowedRange(1, current: 36, lastChange: nil, now: 0)
        #expect(abs(speed.lowerBound - 1510 * Double.pow(0.95, 1 / 0.6)) < 1e-9)
        #expect(abs(torque.lowerBound - 40 * Double.pow(0.95, 1 / 0.6)) < 1e-9)
        #expect(problem.rate([speed.lowerBound, torque.lowerBound]) >= 0.95 - 1e-12)
    }

    @Test func aWornToolIsChangedWhenItsExcessRiskOutweighsTheDowntime() throws {
        // Risk climbs steeply past 180 min of wear; setpoints do not matter.
        let model = FunctionModel { x in 0.003 + 0.2 / (1 + Double.exp(-(x[4] - 190) / 6)) }
        let problem = try OptimizationProblem(config: Fixture.config(throughput: false), model: model)
        var optimizer = try SetpointOptimizer(problem: problem, model: model, label: "wear@v1")
        let young = Fixture.context(problem, model: model, wear: 120)
        #expect(optimizer.recommend(young, now: 1_000_000).hold?.kind == .noGain)
        let worn = Fixture.context(problem, model: model, parts: 70, wear: 185)
        let r = try #require(optimizer.recommend(worn, now: 1_000_000).recommendation)
        #expect(r.maintenance == ["tool_change"])
        #expect(r.changes.isEmpty)
        #expect(r.riskAfter < 0.01 && r.riskBefore > 0.05)
        #expect(r.setpointChange.changeTool)
        #expect(r.contributions.first?.variable == "tool_wear_min")
        #expect(r.explanation.contains("raised most by tool wear 185 min"), "\(r.explanation)")
        #expect(r.explanation.contains("Change the tool now"), "\(r.explanation)")
    }

    @Test func aModelThatReadsNoControllableIsRefused() throws {
        struct Blind: RiskModel {
            let numericInputs = ["air_temp_k"]
            let categoricalInputs: [String] = []
            let reference = [300.0]
            let providesGradients = true
            func categoryIndex(of value: String, for input: Int) -> Int { -1 }
            func evaluate(_ batch: inout RiskBatch) {}
        }
        var config = Fixture.config()
        config.optimizer?.maintenance = []
        #expect(throws: OptimizerError.self) { try OptimizationProblem(config: config, model: Blind()) }
    }
}
