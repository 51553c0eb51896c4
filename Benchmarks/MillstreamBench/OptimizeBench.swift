import Foundation
import Learn
import Optimizer
import Plant
import Primitives

/// Recommendations per second per core: a 16-64-64-1 failure model with 3 controllable variables, 16 scenarios per
/// machine (64 with --scenarios 64), 3 starts, against SciPy's L-BFGS-B (bounded quasi-Newton) on the same network in NumPy with analytic
/// gradients, the same problems, scenarios and starts (Benchmarks/optimize/scipy_side.py). Both report the mean
/// objective at their answers, so speed is compared at equal quality.
enum OptimizeBench {
    static let inputs = 16

    static func config(scenarios: Int) -> ProcessConfig {
        let variables = (0..<inputs).map { i in
            ProcessVariable(
                name: String(format: "x%02d", i),
                controllable: i < 3
                    ? Controllable(min: -3, max: 3, maxStep: 1, minIntervalSeconds: 300, nominal: 0) : nil)
        }
        return ProcessConfig(
            process: "bench", site: "s", idealCycleSeconds: 60,
            lines: [ProductionLine(name: "l", machines: ["s/l/m1"])], products: [], variables: variables,
            optimizer: OptimizerSettings(
                failureCost: 45, scenarios: scenarios, history: max(128, scenarios * 8), minGain: 0))
    }

    /// A trained 16-64-64-1 network: failures where a nonlinear mix of the controllables and the state is high.
    static func model() throws -> ModelFile {
        var rng = RandomSource(seed: 42)
        let rows = 20_000
        var columns = (0..<inputs).map { _ in [Double](repeating: 0, count: rows) }
        var labels = [Int](repeating: 0, count: rows)
        for r in 0..<rows {
            for c in 0..<inputs { columns[c][r] = rng.normal() * (c < 3 ? 1.5 : 1) }
            let x = (0..<inputs).map { columns[$0][r] }
            let score =
                0.8 * x[0] * x[0] - 1.2 * x[1] + 0.9 * x[0] * x[3] + 0.7 * x[2] * x[4] + 0.5 * x[5] - 0.6 * x[2]
                + 0.4 * x[6] * x[1] - 3.5
            labels[r] = rng.uniform() < 1 / (1 + exp(-score)) ? 1 : 0
        }
        let names = (0..<inputs).map { String(format: "x%02d", $0) }
        let pre = try Preprocessing.fit(numericInputs: names, numeric: columns, scaling: .standard)
        let x = try pre.transform(numeric: columns)
        let y = Tensor(rows: rows, columns: 1, scalars: labels.map(Float.init))
        let net = try Sequential(
            [Dense(64, activation: .relu), Dense(64, activation: .relu), Dense(1, activation: .sigmoid)],
            inputSize: inputs, seed: 7)
        try net.fit(
            x: x, y: y, loss: BinaryCrossEntropy(), optimizer: Adam(),
            options: FitOptions(epochs: 5, batchSize: 256, validationSplit: 0))
        let description = ModelFile.Description(
            task: .binary, inputSize: inputs, outputSize: 1, layers: net.configurations, preprocessing: pre,
            target: "failure", classes: ["0", "1"], threshold: 0.5,
            metadata: .init(created: "bench", codeVersion: "bench"))
        return ModelFile(description: description, model: net)
    }

    static func run(problems count: Int, scenarios: Int) throws {
        let config = config(scenarios: scenarios)
        let file = try model()
        let model = try NetworkRiskModel(file: file, label: "bench@v1")
        let problem = try OptimizationProblem(config: config, model: model)
        var options = SolverOptions()
        if let t = ProcessInfo.processInfo.environment["MS_TOL"].flatMap(Double.init) { options.tolerance = t }
        if let t = ProcessInfo.processInfo.environment["MS_STARTS"].flatMap(Int.init) { options.starts = t }
        if let t = ProcessInfo.processInfo.environment["MS_ITER"].flatMap(Int.init) { options.maxIterations = t }
        var optimizer = try SetpointOptimizer(problem: problem, model: model, label: "bench@v1", options: options)
        // Machines in different states, each with 16 parts spread around its setpoints.
        var rng = RandomSource(seed: 9)
        var contexts: [MachineContext] = []
        for m in 0..<count {
            var c = MachineContext(
                machine: "s/l/m1", problem: problem, setpoints: (0..<3).map { _ in (rng.uniform() * 4 - 2).rounded() })
            let state = (0..<inputs).map { _ in rng.normal() }
            for k in 0..<config.optimizer!.history {
                let values = (0..<inputs).map { i in
                    Measurement(
                        String(format: "x%02d", i),
                        i < 3 ? c.setpoints[i] + 0.4 * rng.normal() : state[i] + (k == 15 ? 0 : 0))
                }
                c.observe(
                    Reading(machine: "s/l/m1", timestamp: Int64(m * 1000 + k), values: values), model: model,
                    problem: problem)
            }
            contexts.append(c)
        }
        // Warm-up, then timed.
        for c in contexts.prefix(50) { _ = optimizer.recommend(c, now: 10_000_000) }
        var decisions: [Decision] = []
        decisions.reserveCapacity(count)
        let elapsed = seconds {
            for c in contexts { decisions.append(optimizer.recommend(c, now: 10_000_000)) }
        }
        let ours = Double(count) / elapsed
        // The objective at each answer (recommended setpoints, or the current ones when it held).
        var objective = 0.0
        var holds: [String: Int] = [:]
        var exported: [[String: Any]] = []
        for (c, d) in zip(contexts, decisions) {
            var s = c.setpoints
            switch d {
            case .recommend(let r): for change in r.changes { s[Int(change.variable.dropFirst())!] = change.to }
            case .hold(let h): holds[h.kind.rawValue, default: 0] += 1
            }
            objective += optimizer.objectiveValue(c, setpoints: s)
            exported.append(optimizer.export(c, now: 10_000_000))
        }
        objective /= Double(count)

        // The peer: the same network, problems and starts through SciPy.
        let dir = NSTemporaryDirectory() + "millstream-optimize-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let net = try file.makeModel()
        // Dense layers in order: a kernel (inputs x units) then its bias.
        var layers: [[String: Any]] = []
        let parameters = net.parameters
        for i in stride(from: 0, to: parameters.count - 1, by: 2) {
            let kernel: [Double] = parameters[i].value.map { Double($0) }
            let bias: [Double] = parameters[i + 1].value.map { Double($0) }
            layers.append(["kernel": kernel, "bias": bias, "units": parameters[i].shape[1]])
        }
        let pre = file.description.preprocessing!
        let spec: [String: Any] = [
            "layers": layers, "offsets": pre.offsets, "factors": pre.factors, "failure_cost": 45, "starts": 3,
            "problems": exported,
        ]
        let path = dir + "/problems.json"
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ".venv/bin/python")
        process.arguments = ["Benchmarks/optimize/scipy_side.py", path]
        // One core, as ours: NumPy's BLAS would otherwise spread the small products over both.
        var environment = ProcessInfo.processInfo.environment
        for name in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"] { environment[name] = "1" }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let result = try JSONSerialization.jsonObject(with: out) as? [String: Double],
            let peer = result["per_second"], let peerObjective = result["mean_objective"]
        else {
            print(
                "the SciPy side failed: scripts/bench installs scipy into .venv; run it through scripts/bench optimize")
            exit(1)
        }
        print(
            "recommendations, 16-64-64-1 model, 3 controls, \(scenarios) scenarios from \(config.optimizer!.history) parts, 3 starts, \(count) machines, one core"
        )
        row("recommendations per second", ours: ours, peer: peer, peerName: "scipy L-BFGS-B", unit: "/s")
        print(
            String(
                format: "mean objective at the answers (parts per part, lower is better): ours %.5f, scipy %.5f",
                objective,
                peerObjective))
        print("solver: \(optimizer.usesGradients ? "projected gradient" : "pattern search"); holds: \(holds)")
    }
}
