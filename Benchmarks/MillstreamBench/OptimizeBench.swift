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

    /// A trained 16-64-64-1 network (hidden layers `width` wide, `--width`): failures where a nonlinear mix of the
    /// controllables and the state is high.
    static func model(width: Int = 64) throws -> ModelFile {
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
            [Dense(width, activation: .relu), Dense(width, activation: .relu), Dense(1, activation: .sigmoid)],
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

    /// Two measures. Cold: one recommendation per machine, each searched from scratch (the current setpoints and two
    /// spread-out starts). Streaming: `streamMachines` machines re-optimized on every reading as their readings
    /// arrive (interleaved, as a plant sends them), each search starting where the machine's last one ended and
    /// from its current setpoints, with the spread-out starts every `explorationInterval` searches; SciPy follows
    /// the same policy from its own previous answers. `coarseFraction` is the solver's coarse phase
    /// (`SolverOptions.coarseFraction`, 0 turns it off; SciPy searches as before). `rounds` repeats the timed cold solves (for a profiler; the
    /// figure is the last round's); `peer: false` skips SciPy.
    static func run(
        problems count: Int, scenarios: Int, rounds: Int = 1, peer runsPeer: Bool = true, streamMachines: Int = 200,
        readingsPerMachine: Int = 20, coarseFraction: Double = 0.25, width: Int = 64
    ) throws {
        let config = config(scenarios: scenarios)
        let file = try model(width: width)
        let model = try NetworkRiskModel(file: file, label: "bench@v1")
        let problem = try OptimizationProblem(config: config, model: model)
        var options = SolverOptions()
        let environment = ProcessInfo.processInfo.environment
        if let t = environment["MS_TOL"].flatMap(Double.init) { options.tolerance = t }
        if let t = environment["MS_STARTS"].flatMap(Int.init) { options.starts = t }
        if let t = environment["MS_ITER"].flatMap(Int.init) { options.maxIterations = t }
        options.coarseFraction = coarseFraction > 0 ? coarseFraction : nil
        var optimizer = try SetpointOptimizer(problem: problem, model: model, label: "bench@v1", options: options)
        // Machines in different states, each with its history of parts spread around its setpoints.
        var rng = RandomSource(seed: 9)
        var contexts: [MachineContext] = []
        var states: [[Double]] = []
        let names = (0..<inputs).map { String(format: "x%02d", $0) }
        func reading(_ machine: Int, _ k: Int, setpoints: [Double], state: [Double]) -> Reading {
            let values = (0..<inputs).map { i in
                Measurement(names[i], i < 3 ? setpoints[i] + 0.4 * rng.normal() : state[i])
            }
            return Reading(machine: "s/l/m1", timestamp: Int64(machine * 1000 + k), values: values)
        }
        for m in 0..<count {
            var c = MachineContext(
                machine: "s/l/m1", problem: problem, setpoints: (0..<3).map { _ in (rng.uniform() * 4 - 2).rounded() })
            let state = (0..<inputs).map { _ in rng.normal() }
            for k in 0..<config.optimizer!.history {
                c.observe(reading(m, k, setpoints: c.setpoints, state: state), model: model, problem: problem)
            }
            contexts.append(c)
            states.append(state)
        }
        // The streams: new readings of the first machines, the state drifting a little with each.
        let streamCount = min(streamMachines, count)
        var stream: [(machine: Int, reading: Reading)] = []
        var drifting = Array(states.prefix(streamCount))
        for k in 0..<readingsPerMachine {
            for m in 0..<streamCount {
                for i in 3..<inputs { drifting[m][i] += 0.05 * rng.normal() }
                stream.append((m, reading(m, 500 + k, setpoints: contexts[m].setpoints, state: drifting[m])))
            }
        }

        // Cold: warm-up, then timed.
        for c in contexts.prefix(50) { _ = optimizer.recommend(c, now: 10_000_000) }
        var decisions: [Decision] = []
        var elapsed = 0.0
        var (iterations, solves, points, rows) = (
            optimizer.iterations, optimizer.solves, optimizer.pointsScored, optimizer.rowsScored
        )
        for _ in 0..<max(1, rounds) {
            decisions.removeAll(keepingCapacity: true)
            decisions.reserveCapacity(count)
            (iterations, solves, points, rows) = (
                optimizer.iterations, optimizer.solves, optimizer.pointsScored, optimizer.rowsScored
            )
            Profile.enable()  // the profile holds the cold searches
            elapsed = seconds {
                for c in contexts { decisions.append(optimizer.recommend(c, now: 10_000_000)) }
            }
            Profile.disable()
        }
        let cold = Double(count) / elapsed
        let coldIterations = Double(optimizer.iterations - iterations) / Double(max(1, optimizer.solves - solves))
        let coldPoints = Double(optimizer.pointsScored - points) / Double(max(1, optimizer.solves - solves))
        let coldRows = Double(optimizer.rowsScored - rows) / Double(max(1, optimizer.solves - solves))

        // Streaming: timed over all readings of all streams, each machine searched from where its last search ended.
        var streamOptions = options
        streamOptions.explorationInterval = 10
        var streamer = try SetpointOptimizer(
            problem: problem, model: model, label: "bench@v1", options: streamOptions)
        var live = Array(contexts.prefix(streamCount))
        var streamDecisions: [Decision] = []
        streamDecisions.reserveCapacity(stream.count)
        let streamElapsed = seconds {
            for (m, r) in stream {
                live[m].observe(r, model: model, problem: problem)
                streamDecisions.append(streamer.recommend(updating: &live[m], now: 10_000_000))
            }
        }
        let streaming = Double(stream.count) / streamElapsed
        let streamIterations = Double(streamer.iterations) / Double(max(1, streamer.solves))
        let streamPoints = Double(streamer.pointsScored) / Double(max(1, streamer.solves))
        let streamRows = Double(streamer.rowsScored) / Double(max(1, streamer.solves))

        // The objective at each answer (recommended setpoints, or the current ones when it held), and the problems
        // as plain values for the peer.
        func answer(_ c: MachineContext, _ d: Decision) -> [Double] {
            var s = c.setpoints
            if case .recommend(let r) = d {
                for change in r.changes { s[Int(change.variable.dropFirst())!] = change.to }
            }
            return s
        }
        var coldObjective = 0.0
        var exported: [[String: Any]] = []
        for (c, d) in zip(contexts, decisions) {
            coldObjective += optimizer.objectiveValue(c, setpoints: answer(c, d))
            exported.append(optimizer.export(c, now: 10_000_000))
        }
        coldObjective /= Double(count)
        var streamObjective = 0.0
        var exportedStream: [[String: Any]] = []
        var replay = Array(contexts.prefix(streamCount))
        for ((m, r), d) in zip(stream, streamDecisions) {
            replay[m].observe(r, model: model, problem: problem)
            streamObjective += optimizer.objectiveValue(replay[m], setpoints: answer(replay[m], d))
            var p = optimizer.export(replay[m], now: 10_000_000)
            p["machine"] = m
            exportedStream.append(p)
        }
        streamObjective /= Double(stream.count)
        let header =
            "recommendations, 16-\(width)-\(width)-1 model, 3 controls, \(scenarios) scenarios from \(config.optimizer!.history) parts, 3 starts, one core"
        let coldName = "cold, \(count) machines"
        let streamName = "streaming, \(streamCount) x \(readingsPerMachine) readings"
        let coarse =
            optimizer.coarseScenarioCount > 0
            ? "a coarse phase on \(optimizer.coarseScenarioCount) scenarios" : "one phase"
        let unsettled = decisions.filter { $0.hold?.kind == .notConverged }.count
        let streamUnsettled = streamDecisions.filter { $0.hold?.kind == .notConverged }.count
        let work = { (iterations: Double, points: Double, rows: Double) in
            String(format: "%.1f iterations, %.1f points and %.0f model rows per solve", iterations, points, rows)
        }
        guard runsPeer else {
            print(header + ", " + coarse + ", \(unsettled) cold and \(streamUnsettled) streaming searches not settled")
            print(
                String(
                    format: "%@: ours %.0f /s, %@, mean objective %.5f (no peer run)", coldName, cold,
                    work(coldIterations, coldPoints, coldRows), coldObjective))
            print(
                String(
                    format: "%@: ours %.0f /s, %@, mean objective %.5f (no peer run)", streamName, streaming,
                    work(streamIterations, streamPoints, streamRows), streamObjective))
            return
        }

        // The peer: the same network, problems and start policy through SciPy.
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
            "layers": layers, "offsets": pre.offsets, "factors": pre.factors, "failure_cost": 45,
            "starts": options.starts, "exploration_interval": streamOptions.explorationInterval!, "problems": exported,
            "stream": exportedStream,
        ]
        let path = dir + "/problems.json"
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ".venv/bin/python")
        process.arguments = ["Benchmarks/optimize/scipy_side.py", path]
        // One core, as ours: NumPy's BLAS would otherwise spread the small products over both.
        var peerEnvironment = environment
        for name in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"] { peerEnvironment[name] = "1" }
        process.environment = peerEnvironment
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let result = try JSONSerialization.jsonObject(with: out) as? [String: Double],
            let peerCold = result["per_second"], let peerColdObjective = result["mean_objective"],
            let peerStreaming = result["stream_per_second"], let peerStreamObjective = result["stream_mean_objective"]
        else {
            print(
                "the SciPy side failed: scripts/bench installs scipy into .venv; run it through scripts/bench optimize")
            exit(1)
        }
        print(header + ", " + coarse + ", \(unsettled) cold and \(streamUnsettled) streaming searches not settled")
        row(coldName, ours: cold, peer: peerCold, peerName: "scipy L-BFGS-B", unit: "/s")
        row(streamName, ours: streaming, peer: peerStreaming, peerName: "scipy L-BFGS-B", unit: "/s")
        print(
            String(
                format:
                    "mean objective at the answers (parts per part, lower is better): cold ours %.5f, scipy %.5f; streaming ours %.5f, scipy %.5f",
                coldObjective, peerColdObjective, streamObjective, peerStreamObjective))
        print(
            String(
                format: "solver: %@, %@; cold %@; streaming %@",
                optimizer.usesGradients ? "projected gradient" : "pattern search", coarse,
                work(coldIterations, coldPoints, coldRows), work(streamIterations, streamPoints, streamRows)))
    }
}

extension OptimizeBench {
    /// `optimize --call-sizes`: what one model call costs by its row count, on the benchmark's model (input
    /// gradients along the 3 controls, the shared-input path). A cold search's calls score about 19 rows; scoring
    /// several machines' searches in one call would make them larger. Prints microseconds per call and nanoseconds
    /// per row for each size, over the same number of rows.
    static func callSizes(
        width: Int = 64, sizes: [Int] = [4, 12, 19, 38, 76, 152, 304], rowsPerSize: Int = 600_000
    ) throws {
        let file = try model(width: width)
        let model = try NetworkRiskModel(file: file, label: "bench@v1")
        var rng = RandomSource(seed: 3)
        let state = (0..<inputs).map { _ in rng.normal() }
        print(
            "model calls, 16-\(width)-\(width)-1 model, gradients along 3 controls, shared inputs; \(rowsPerSize) rows per size"
        )
        for round in 0..<2 {
            for rows in sizes {
                var batch = RiskBatch(numericWidth: inputs, categoricalWidth: 0)
                batch.directions = [0, 1, 2]
                batch.wantsGradient = true
                batch.resize(rows: rows)
                for r in 0..<rows {
                    for i in 0..<inputs { batch.numeric[r * inputs + i] = i < 3 ? rng.normal() : state[i] }
                }
                batch.varyingInputs = [0, 1, 2]
                let calls = max(1, rowsPerSize / rows)
                model.evaluate(&batch)
                let elapsed = seconds { for _ in 0..<calls { model.evaluate(&batch) } }
                guard round == 1 else { continue }
                print(
                    String(
                        format: "  %4d rows: %7.2f us per call, %6.1f ns per row", rows, elapsed / Double(calls) * 1e6,
                        elapsed / Double(calls * rows) * 1e9))
            }
        }
    }
}
