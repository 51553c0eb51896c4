import Plant
import RealModule
import Synchronization
import Testing

@testable import Optimizer

/// The two-phase search (`SolverOptions.coarseFraction`).
@Suite struct CoarsePhaseTests {
    static let bowl = { @Sendable (x: [Double]) -> Double in
        0.01 + 0.02 * ((x[2] - 1560) / 100) * ((x[2] - 1560) / 100) + 0.02 * ((x[3] - 37) / 5) * ((x[3] - 37) / 5)
    }

    /// With more parts than scenarios, a search from scratch runs first on a few grouped scenarios, then refines on
    /// all of them: the same answer as one phase on all of them. (On a bowl the coarse phase saves nothing: the one
    /// phase settles in a few steps; the rows it saves on a network are measured by `scripts/bench optimize`.)
    @Test(arguments: [SolverOptions.Method.gradient, .patternSearch])
    func theSameAnswerAsOnePhase(method: SolverOptions.Method) throws {
        let model = RecordingModel(base: FunctionModel(Self.bowl))
        let problem = try OptimizationProblem(config: Fixture.config(throughput: false), model: model)
        var single = SolverOptions(method: method)
        single.coarseFraction = nil
        var onePhase = try SetpointOptimizer(problem: problem, model: model, label: "bowl@v1", options: single)
        var twoPhases = try SetpointOptimizer(
            problem: problem, model: model, label: "bowl@v1", options: SolverOptions(method: method))
        #expect(twoPhases.options.coarseFraction == 0.25, "a coarse phase on a quarter of the scenarios is the default")
        let context = Fixture.context(problem, model: model, parts: 64)
        let all = try #require(onePhase.recommend(context, now: 1_000_000).recommendation)
        let onePhaseBatches = model.batches.sizes.withLock { b in
            defer { b = [] }; return b
        }
        let refined = try #require(twoPhases.recommend(context, now: 1_000_000).recommendation)
        #expect(twoPhases.coarseScenarios.count == 4 && twoPhases.scenarios.count == 16)
        #expect(onePhase.coarseScenarios.count == 0)
        #expect(refined.changes.map(\.variable) == all.changes.map(\.variable))
        for (r, a) in zip(refined.changes, all.changes) {
            #expect(abs(r.to - a.to) <= problem.controls.first { $0.name == r.variable }!.limits.maxStep / 50)
        }
        // One phase scores whole points (16 rows each); the coarse phase starts with 3 starts x 4 scenarios.
        #expect(onePhaseBatches.allSatisfy { $0 % 16 == 0 }, "\(onePhaseBatches)")
        let twoPhaseBatches = model.batches.sizes.withLock { $0 }
        #expect(twoPhaseBatches.first == 16 && twoPhaseBatches.dropFirst().first == 12, "\(twoPhaseBatches)")
        // With no more parts than scenarios each part is a scenario and there is nothing to group.
        _ = twoPhases.recommend(Fixture.context(problem, model: model, parts: 16), now: 1_000_000)
        #expect(twoPhases.coarseScenarios.count == 0)
        for wrong in [0, 1, -0.25] {
            var options = SolverOptions(method: method)
            options.coarseFraction = wrong
            #expect(throws: OptimizerError.self, "coarse fraction \(wrong)") {
                _ = try SetpointOptimizer(problem: problem, model: model, label: "bowl@v1", options: options)
            }
        }
    }

    /// Neighbouring strata are grouped; the member nearest the middle stands for its group with their summed
    /// weight, so the groups stay symmetric about the middle.
    @Test func groupsKeepTheirWeightAndTheirInnerPart() {
        let picks = (0..<16).map { (part: 100 + $0, weight: Double($0 + 1)) }
        let four = SetpointOptimizer<FunctionModel>.grouped(picks, into: 4)
        #expect(four.map(\.part) == [103, 107, 108, 112])
        #expect(four.map(\.weight) == [10, 26, 42, 58])
        let three = SetpointOptimizer<FunctionModel>.grouped(picks, into: 3)
        #expect(three.map(\.part) == [105, 107, 112])
        #expect(three.map(\.weight) == [21, 57, 58])
        let eight = SetpointOptimizer<FunctionModel>.grouped(picks, into: 8)
        #expect(eight.map(\.part) == [101, 103, 105, 107, 108, 110, 112, 114])
        #expect(eight.map(\.weight).reduce(0, +) == 136)
        // Equal sizes: four into three is two groups of two.
        #expect(SetpointOptimizer<FunctionModel>.grouped(Array(picks.prefix(4)), into: 3).count == 2)
    }
}

/// The parts of a search step: gradients only at some rows.
@Suite struct SearchStepTests {
    /// A model's default `completeGradients` (scoring the rows again with gradients) gives what scoring every row
    /// with gradients gives, at the rows asked for, and leaves the others as they were.
    @Test func theGradientsOfSomeRowsAreThoseOfTheFullBatch() {
        let model = FunctionModel(CoarsePhaseTests.bowl)
        var batch = RiskBatch(numericWidth: 5, categoricalWidth: 0)
        batch.directions = [2, 3]
        batch.resize(rows: 6)
        for r in 0..<6 {
            for (i, v) in [300.0, 310, 1400 + 30 * Double(r), 35 + Double(r), 100].enumerated() {
                batch.numeric[r * 5 + i] = v
            }
        }
        var full = batch
        full.wantsGradient = true
        model.evaluate(&full)
        batch.wantsGradient = false
        model.evaluate(&batch)
        for i in batch.gradient.indices { batch.gradient[i] = 99 }
        model.completeGradients(&batch, rows: [1, 4, 5])
        for r in 0..<6 {
            for d in 0..<2 {
                let expected = [1, 4, 5].contains(r) ? full.gradient[r * 2 + d] : 99
                #expect(batch.gradient[r * 2 + d] == expected, "row \(r), direction \(d)")
            }
        }
        #expect(batch.risk == full.risk)
    }
}

/// A function model that records the rows of each batch it scores.
struct RecordingModel: RiskModel {
    let base: FunctionModel
    let batches = Batches()
    var numericInputs: [String] { base.numericInputs }
    var categoricalInputs: [String] { base.categoricalInputs }
    var reference: [Double] { base.reference }
    var providesGradients: Bool { base.providesGradients }
    func categoryIndex(of value: String, for input: Int) -> Int { -1 }
    func evaluate(_ batch: inout RiskBatch) {
        let rows = batch.rows
        batches.sizes.withLock { $0.append(rows) }
        base.evaluate(&batch)
    }
}

final class Batches: Sendable {
    let sizes = Mutex<[Int]>([])
}
