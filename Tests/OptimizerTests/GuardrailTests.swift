import Optimizer
import Plant
import RealModule
import Testing

/// Bounds, steps, minimum intervals and the throughput floor hold in closed loop whatever the model says: models
/// that pull every setpoint to an extreme, that oscillate wildly, or that are noise, drive simulated machines for
/// hours; every change made is checked against the config independently of the optimizer's own checks.
@Suite(.serialized) struct GuardrailTests {
    static let adversaries: [(String, FunctionModel)] = [
        (
            "wants the lowest speed and torque",
            FunctionModel { x in 1 / (1 + Double.exp(-(x[2] - 1500 + 10 * (x[3] - 40)) / 50)) }
        ),
        ("wants the highest speed", FunctionModel(gradients: false) { x in 1 / (1 + Double.exp((x[2] - 5000) / 300)) }),
        ("oscillates", FunctionModel { x in 0.5 + 0.5 * Double.sin(x[2] / 7) * Double.cos(x[3] * 3) }),
        ("noise", FunctionModel { x in abs(Double.sin(x[2] * 12_345.678 + x[3] * 9_876.5)) }),
        ("huge gradients", FunctionModel { x in min(1, max(0, (x[3] - 30) * 1e6)) }),
    ]

    @Test(arguments: 0..<5)
    func guardrailsHoldInClosedLoop(_ index: Int) throws {
        let (name, model) = Self.adversaries[index]
        let config = Fixture.config()
        let problem = try OptimizationProblem(config: config, model: model)
        var optimizer = try SetpointOptimizer(problem: problem, model: model, label: "adversary@v1")
        var simulator = try PlantSimulator(config: config, machines: 3, seed: UInt64(index), start: 0)
        var contexts = Dictionary(
            uniqueKeysWithValues: simulator.machineIDs.map { ($0, MachineContext(machine: $0, problem: problem)) })
        // Independent bookkeeping of what each machine was told, and when.
        var setpoints = Dictionary(
            uniqueKeysWithValues: simulator.machineIDs.map { ($0, ["rpm": 1510.0, "torque_nm": 40.0]) })
        var changedAt: [String: [String: Int64]] = [:]
        var applied = 0
        let limits = Dictionary(uniqueKeysWithValues: config.controllables.map { ($0.name, $0.controllable!) })
        let floorRPM = 1510 * Double.pow(0.95, 1 / 0.3)
        while simulator.now < 3 * 3_600_000 {
            let s = simulator.next()
            let id = s.reading.machine
            guard contexts[id]!.observe(s.reading, model: model, problem: problem) else { continue }
            guard let r = optimizer.recommend(contexts[id]!, now: s.reading.timestamp).recommendation else { continue }
            let change = r.setpointChange
            // The optimizer's own output already satisfies the guardrails...
            #expect(
                Guardrails.violations(of: change, problem: problem, context: contexts[id]!, now: s.reading.timestamp)
                    .isEmpty, "\(name)")
            // ...and so does every value, checked against the config directly.
            for m in change.values {
                let l = try #require(limits[m.name])
                #expect(m.value.isFinite && m.value >= l.min && m.value <= l.max, "\(name): \(m.name) \(m.value)")
                #expect(abs(m.value - setpoints[id]![m.name]!) <= l.maxStep + 1e-9, "\(name): \(m.name) step")
                if let last = changedAt[id]?[m.name] {
                    #expect(
                        Double(s.reading.timestamp - last) >= l.minIntervalSeconds * 1000,
                        "\(name): \(m.name) changed again after \(s.reading.timestamp - last) ms")
                }
                if m.name == "rpm" { #expect(m.value >= floorRPM - 1e-9, "\(name): below the throughput floor") }
                setpoints[id]![m.name] = m.value
                changedAt[id, default: [:]][m.name] = s.reading.timestamp
            }
            let done = try simulator.apply(change)
            contexts[id]!.setpointsChanged(
                done.map { m in (problem.controls.firstIndex { $0.name == m.name }!, m.value) }, at: s.reading.timestamp
            )
            if change.changeTool { contexts[id]!.maintained(0) }
            applied += 1
        }
        #expect(applied > 0, "\(name): the adversary should have made the optimizer act")
    }

    @Test func guardrailsRefuseWhatTheConfigForbids() throws {
        let model = FunctionModel { _ in 0.01 }
        let problem = try OptimizationProblem(config: Fixture.config(), model: model)
        var context = Fixture.context(problem, model: model)
        func check(_ values: [Measurement], now: Int64 = 10_000_000) -> [String] {
            Guardrails.violations(
                of: SetpointChange(machine: Fixture.machine, values: values), problem: problem, context: context,
                now: now)
        }
        #expect(check([Measurement("rpm", 1600), Measurement("torque_nm", 44)]).isEmpty)
        #expect(check([Measurement("rpm", 1650)]).joined().contains("more than its step 100"))
        #expect(check([Measurement("torque_nm", .nan)]).joined().contains("not a finite number"))
        #expect(check([Measurement("air_temp_k", 300)]).joined().contains("not a controllable"))
        #expect(check([Measurement("rpm", 1300)]).joined().contains("more than its step"))
        context.setpointsChanged([(0, 1210)], at: 0)
        #expect(check([Measurement("rpm", 1150)]).joined().contains("outside its bounds 1200.0...2800.0"))
        #expect(check([Measurement("rpm", 1260)]).joined().contains("below the floor"))
        context.setpointsChanged([(0, 1500)], at: 9_900_000)
        #expect(check([Measurement("rpm", 1550)]).joined().contains("sooner than its minimum interval 300.0 s"))
    }
}
