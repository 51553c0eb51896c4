import EventLog
import Foundation
import Plant

/// Benchmarks, never run by the tests: `swift run -c release millstream-bench [eventlog|readings] [options]`.
@main
struct Bench {
    static func main() async throws {
        var args = Array(CommandLine.arguments.dropFirst())
        let what = args.isEmpty ? "all" : args.removeFirst()
        var options: [String: String] = [:]
        while args.count >= 2, args[0].hasPrefix("--") {
            options[String(args[0].dropFirst(2))] = args[1]
            args.removeFirst(2)
        }
        guard args.isEmpty else {
            print(
                "usage: millstream-bench [eventlog|encryption|readings|learn|cmapss|detectors|pipeline|shadow|kafka|mqtt|opcua|serve|optimize|historian|all] [--records N] [--dir PATH]"
            )
            exit(2)
        }
        let directory = options["dir"] ?? NSTemporaryDirectory() + "millstream-bench-\(getpid())"
        switch what {
        case "eventlog":
            try EventLogBench.run(records: Int(options["records"] ?? "") ?? 2_000_000, directory: directory)
        case "encryption":
            try EventLogBench.encryption(records: Int(options["records"] ?? "") ?? 1_000_000, directory: directory)
            try HistorianBench.sealed(
                directory: directory + "-historian", days: Int(options["days"] ?? "") ?? 90, rounds: 3)
        case "readings": try ReadingBench.run(count: Int(options["records"] ?? "") ?? 200_000)
        case "topic-records": try ReadingBench.records(count: Int(options["records"] ?? "") ?? 50_000)
        case "learn": try LearnBench.run()
        case "learn-fit": try LearnBench.fitOnly()
        case "cmapss":
            try CMAPSSBench.run(
                data: options["data"] ?? "data/cmapss", seeds: Int(options["seeds"] ?? "") ?? 5,
                window: Int(options["window"] ?? "") ?? 80, age: options["age"] != "no",
                ensemble: Int(options["ensemble"] ?? "") ?? 5)
        case "cmapss-select": try CMAPSSBench.select(data: options["data"] ?? "data/cmapss")
        case "pipeline":
            try await PipelineBench.run(
                count: Int(options["records"] ?? "") ?? 200_000, kafka: (options["bus"] ?? "embedded") == "kafka")
        case "shadow":
            try await PipelineBench.shadow(
                count: Int(options["records"] ?? "") ?? 200_000, rounds: Int(options["rounds"] ?? "") ?? 3)
        case "kafka":
            try await KafkaBench.run(
                count: Int(options["records"] ?? "") ?? 200_000, size: Int(options["size"] ?? "") ?? 200,
                partitions: Int32(options["partitions"] ?? "") ?? 6)
        case "detectors":
            try DetectorBench.run(
                plants: Int(options["plants"] ?? "") ?? 3, runs: Int(options["runs"] ?? "") ?? 6,
                rows: Int(options["rows"] ?? "") ?? 500, variables: Int(options["variables"] ?? "") ?? 20,
                autoencoder: options["autoencoder"] != "no", disturbance: Double(options["disturbance"] ?? "") ?? 0.3,
                noise: Double(options["noise"] ?? "") ?? 0.2)
        case "detectors-data": try DetectorData.write(directory: options["dir"] ?? "detector-example")
        case "mqtt":
            try await MQTTBench.run(
                count: Int(options["records"] ?? "") ?? 200_000, rate: Int(options["rate"] ?? "") ?? 1_000,
                seconds: Int(options["seconds"] ?? "") ?? 10)
        case "opcua":
            try await OPCUABench.run(
                rate: Int(options["rate"] ?? "") ?? 1_000, nodes: Int(options["nodes"] ?? "") ?? 100,
                seconds: Int(options["seconds"] ?? "") ?? 10)
        case "serve": try await ServeBench.run(seconds: Int(options["seconds"] ?? "") ?? 8)
        case "historian":
            try await HistorianBench.run(
                directory: directory, days: Int(options["days"] ?? "") ?? 365, rounds: Int(options["rounds"] ?? "") ?? 7
            )
        case "optimize" where options["call-sizes"] != nil:
            try OptimizeBench.callSizes(width: Int(options["width"] ?? "") ?? 64)
        case "optimize":
            try OptimizeBench.run(
                problems: Int(options["problems"] ?? "") ?? 2_000, scenarios: Int(options["scenarios"] ?? "") ?? 16,
                rounds: Int(options["rounds"] ?? "") ?? 1, peer: options["peer"] != "none",
                streamMachines: Int(options["stream-machines"] ?? "") ?? 200,
                readingsPerMachine: Int(options["readings"] ?? "") ?? 20,
                coarseFraction: options["coarse-fraction"].map { Double($0) ?? 0.25 } ?? 0.25,
                width: Int(options["width"] ?? "") ?? 64)
        case "all":
            try EventLogBench.run(records: Int(options["records"] ?? "") ?? 2_000_000, directory: directory)
            try ReadingBench.run(count: 200_000)
        default:
            print(
                "unknown benchmark '\(what)': eventlog, encryption, readings, topic-records, learn, cmapss, detectors, pipeline, shadow, kafka, mqtt, opcua, serve, optimize, historian or all"
            )
            exit(2)
        }
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// The middle value (the upper one of an even count); NaN for none. The benchmarks' repeated runs report it.
func median(_ x: [Double]) -> Double { x.isEmpty ? .nan : x.sorted()[x.count / 2] }

func row(_ name: String, ours: Double, peer: Double, peerName: String, unit: String) {
    let ratio = ours / peer
    print(
        name.padding(toLength: 38, withPad: " ", startingAt: 0)
            + String(format: "%12.0f %@   %@ %12.0f %@   ratio %.2f", ours, unit, peerName, peer, unit, ratio))
}

/// Runs a benchmark's Python side from the project venv; its last output, a JSON object of numbers (empty: none).
/// Exits the benchmark with `failure` when the script fails.
func pythonPeer(_ script: String, _ arguments: [String], failure: String) throws -> [String: Double] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ".venv/bin/python")
    process.arguments = [script] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        print(failure)
        exit(1)
    }
    if data.isEmpty { return [:] }
    guard let result = try JSONSerialization.jsonObject(with: data) as? [String: Double] else {
        print(failure + ": it printed no figures")
        exit(1)
    }
    return result
}

/// Brackets a benchmark's measured part for a profile (docs/benchmarks.md#profiles): with `PERF_CTL_FIFO` set (the
/// control FIFO of `perf record --control fifo:PATH -D -1`), writes "enable" and "disable" to it, so the profile holds
/// the measured part only, not the set-up (training, filling the log, starting peers).
enum Profile {
    static func enable() { command("enable") }
    static func disable() { command("disable") }

    private static func command(_ text: String) {
        guard let path = ProcessInfo.processInfo.environment["PERF_CTL_FIFO"],
            let fifo = FileHandle(forWritingAtPath: path)
        else { return }
        fifo.write(Data((text + "\n").utf8))
        try? fifo.close()
    }
}
