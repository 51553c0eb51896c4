import Foundation
import Tabular
import Testing

@testable import Plant

@Suite struct SimulatorTests {
    @Test func sameSeedSameReadingsInTimeOrder() throws {
        var a = try PlantSimulator(config: .milling(), machines: 7, seed: 42, start: 0)
        var b = try PlantSimulator(config: .milling(), machines: 7, seed: 42, start: 0)
        var c = try PlantSimulator(config: .milling(), machines: 7, seed: 43, start: 0)
        var last: Int64 = 0
        var differs = false
        var sequences: [String: Int64] = [:]
        for _ in 0..<5000 {
            let x = a.next()
            #expect(x.reading == b.next().reading)
            differs = differs || x.reading != c.next().reading
            #expect(x.reading.timestamp >= last)
            last = x.reading.timestamp
            #expect(x.reading.sequence == (sequences[x.reading.machine] ?? 0) + 1)
            sequences[x.reading.machine] = x.reading.sequence
        }
        #expect(differs)
        #expect(sequences.count == 7)
    }

    @Test func readingsAreValidForTheConfig() throws {
        var sim = try PlantSimulator(config: .milling(), machines: 20, seed: 5, start: 1_000)
        let validator = ReadingValidator(config: .milling())
        var states = Set<MachineState>()
        for _ in 0..<20_000 {
            let r = sim.next().reading
            try validator.validate(r)
            states.insert(r.state)
            if r.state == .running { #expect(r.good + r.scrap == 1 && r.product != nil) }
        }
        #expect(states == [.running, .down, .toolChange])
    }

    /// The simulator follows the dataset's generating rules: over a long run, the rate of each failure mode per
    /// product matches the rate in the AI4I file within three standard errors of the file's own count (the file is
    /// one sample of 10,000 products; the rules' random failure is 0.1 %, the file's RNF flag has known quirks).
    @Test func failureModeRatesMatchTheDataset() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../data/ai4i2020.csv"
        ).path
        let table = try CSVParser.parse([UInt8](FileManager.default.contents(atPath: path)!), source: path)
        var datasetCounts: [String: Double] = [:]
        for mode in ["TWF", "HDF", "PWF", "OSF"] {
            let column = try table.column(mode)
            datasetCounts[mode] = try (0..<table.rows.count).reduce(0) {
                $0 + (try table.number(row: $1, column: column))
            }
        }
        #expect(datasetCounts == ["TWF": 46, "HDF": 115, "PWF": 95, "OSF": 98])

        var sim = try PlantSimulator(config: .milling(), machines: 50, seed: 2026, start: 0)
        var products = 0.0
        var counts: [String: Double] = [:]
        while products < 400_000 {
            let s = sim.next()
            guard s.reading.state == .running else { continue }
            products += 1
            for name in s.failure.names { counts[name, default: 0] += 1 }
        }
        for (mode, count) in datasetCounts {
            let datasetRate = count / 10_000
            let simulatedRate = (counts[mode] ?? 0) / products
            let tolerance = 3 * count.squareRoot() / 10_000
            #expect(
                abs(simulatedRate - datasetRate) <= tolerance,
                "\(mode): simulated \(simulatedRate), dataset \(datasetRate) ± \(tolerance)")
        }
        let random = (counts["RNF"] ?? 0) / products
        #expect(abs(random - 0.001) < 0.0003, "RNF \(random)")
    }

    /// The realistic profile behaves like a plant at nominal setpoints under its own tool rule: OEE within the
    /// 55-75 % published for discrete manufacturing, and between one breakdown per machine per 8-hour shift and one
    /// per week; failures are rare events (well under 1 % of parts), every failure mode still occurs, and the
    /// operating variation shows (changeovers, short stops, the day's ambient cycle).
    @Test(arguments: [1, 2, 3] as [UInt64])
    func theRealisticProfileIsCalibrated(seed: UInt64) throws {
        let config = ProcessConfig.milling()
        let machines = 20
        let hours = 168.0
        var sim = try PlantSimulator(config: config, machines: machines, seed: seed, start: 0, profile: .realistic)
        var parts = 0
        var good = 0
        var failures = 0
        var modes = Set<String>()
        var states = Set<MachineState>()
        var air: [Double] = []
        while true {
            let s = sim.next()
            guard Double(s.reading.timestamp) < hours * 3_600_000 else { break }
            states.insert(s.reading.state)
            guard s.reading.state == .running else { continue }
            parts += 1
            good += s.reading.good
            if !s.failure.isEmpty { failures += 1 }
            modes.formUnion(s.failure.names)
            if s.reading.machine == sim.machineIDs[0] { air.append(s.reading["air_temp_k"]!) }
        }
        let scheduledSeconds = Double(machines) * hours * 3600
        let oee = Double(good) * config.idealCycleSeconds / scheduledSeconds
        let hoursBetweenFailures = Double(machines) * hours / Double(failures)
        #expect(oee >= 0.55 && oee <= 0.75, "OEE \(oee)")
        #expect(
            hoursBetweenFailures >= 8 && hoursBetweenFailures <= 168,
            "one failure per machine every \(hoursBetweenFailures) h")
        #expect(Double(failures) / Double(parts) < 0.002, "\(failures) of \(parts) parts failed")
        #expect(modes.count >= 4, "failure modes seen: \(modes)")
        #expect(states.isSuperset(of: [.running, .down, .toolChange, .setup, .idle]), "states \(states)")
        #expect(sim.toolChanges > machines * 20, "\(sim.toolChanges) planned tool changes")
        #expect((air.max()! - air.min()!) > 3, "air temperature range \(air.min()!)...\(air.max()!)")
    }

    /// The AI4I profile is the library's default and draws exactly as before the profiles existed: readings of a
    /// seed are those of `MillingPhysics()`.
    /// A process change mid-run: the cooling degrades (process minus air temperature from 11.4 to 8.4 K) and tools
    /// wear twice as fast; the temperature walk settles at its new mean, wear doubles, heat-dissipation failures come.
    @Test func aProcessChangeShiftsTheRegimeMidRun() throws {
        let hour: Int64 = 3_600_000
        var sim = try PlantSimulator(config: .milling(), machines: 20, seed: 4, start: 0, profile: .realistic)
        sim.schedule(try ProcessChange(at: 24 * hour, text: "delta_mean=8.4,wear_scale=2"))
        var before: (delta: [Double], wear: [Double], hdf: Int) = ([], [], 0)
        var after: (delta: [Double], wear: [Double], hdf: Int) = ([], [], 0)
        var lastWear: [String: Double] = [:]
        while sim.now < 72 * hour {
            let r = sim.next()
            guard r.reading.state == .running, let air = r.reading["air_temp_k"],
                let process = r.reading["process_temp_k"], let wear = r.reading["tool_wear_min"]
            else { continue }
            let step = wear - (lastWear[r.reading.machine] ?? wear)
            lastWear[r.reading.machine] = wear
            let hdf = r.failure.contains(.hdf) ? 1 : 0
            if sim.now < 24 * hour {
                before.delta.append(process - air)
                if step > 0 { before.wear.append(step) }
                before.hdf += hdf
            } else if sim.now > 48 * hour {
                // After a day the walk (lag-1 correlation 0.9975 per part) has settled at its new mean.
                after.delta.append(process - air)
                if step > 0 { after.wear.append(step) }
                after.hdf += hdf
            }
        }
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        #expect(abs(mean(before.delta) - 11.4) < 0.5, "before: \(mean(before.delta))")
        #expect(abs(mean(after.delta) - 8.4) < 0.5, "after: \(mean(after.delta))")
        #expect(abs(mean(after.wear) / mean(before.wear) - 2) < 0.1)
        // 24 hours after against 24 before: heat dissipation fails far more often near its 8.6 K limit.
        #expect(after.hdf > 5 * max(1, before.hdf), "HDF before \(before.hdf), after \(after.hdf)")
        #expect(throws: ConfigError.self) { try ProcessChange(at: 0, text: "cooling=3") }
        #expect(throws: ConfigError.self) { try ProcessChange(at: 0, text: "wear_scale=-1") }
        #expect(throws: ConfigError.self) { try ProcessChange(at: 0, text: "delta_mean") }
    }

    @Test func theAI4IProfileIsTheDefault() throws {
        var a = try PlantSimulator(config: .milling(), machines: 5, seed: 9, start: 0)
        var b = try PlantSimulator(config: .milling(), machines: 5, seed: 9, start: 0, physics: MillingPhysics())
        var c = try PlantSimulator(config: .milling(), machines: 5, seed: 9, start: 0, profile: .realistic)
        var differs = false
        for _ in 0..<3000 {
            let x = a.next().reading
            #expect(x == b.next().reading)
            differs = differs || x != c.next().reading
        }
        #expect(differs)
    }

    @Test func setpointsAreClampedAndChangeTheProcess() throws {
        var sim = try PlantSimulator(config: .milling(), machines: 2, seed: 1, start: 0)
        let machine = sim.machineIDs[0]
        let applied = try sim.apply(
            SetpointChange(machine: machine, values: [Measurement("rpm", 5000), Measurement("torque_nm", 30)]))
        #expect(applied == [Measurement("rpm", 2800), Measurement("torque_nm", 30)])
        #expect(throws: ConfigError.self) { try sim.apply(SetpointChange(machine: "nope", values: [])) }
        #expect(throws: ConfigError.self) {
            try sim.apply(SetpointChange(machine: machine, values: [Measurement("air_temp_k", 1)]))
        }
        var speeds: [Double] = []
        for _ in 0..<2000 {
            let r = sim.next().reading
            if r.machine == machine && r.state == .running { speeds.append(r["rpm"]!) }
        }
        let mean = speeds.reduce(0, +) / Double(speeds.count)
        #expect(mean > 2500, "mean speed \(mean) after a 2800 rpm setpoint")
    }

    @Test func badReadingsAreAnExactFractionAndAllRejected() throws {
        var sim = try PlantSimulator(config: .milling(), machines: 10, seed: 3, start: 1_000)
        var injector = BadReadingInjector(fraction: 0.013, seed: 3)
        let validator = ReadingValidator(config: .milling())
        var rejected = 0
        var flagged = 0
        for _ in 0..<10_000 {
            let (bytes, kind) = injector.encode(sim.next().reading)
            var failed = false
            do { try validator.validate(try ReadingDecoder.decode(bytes)) } catch { failed = true }
            if kind != nil { flagged += 1 }
            #expect(failed == (kind != nil))
            if failed { rejected += 1 }
        }
        #expect(flagged == 130 && rejected == 130)
        #expect(injector.counts.keys.count == BadReadingInjector.Kind.allCases.count)
    }
}
