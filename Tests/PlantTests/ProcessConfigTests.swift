import Analytics
import Foundation
import Primitives
import Testing

@testable import Plant

@Suite struct ProcessConfigTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")

    func load(_ yaml: String) throws -> ProcessConfig { try ProcessConfig.load(yaml: yaml, source: "p.yaml") }

    func message(_ yaml: String) -> String {
        do {
            _ = try load(yaml)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func shippedFileEqualsTheBuiltInOne() throws {
        let file = try String(
            contentsOf: Self.repository.appendingPathComponent("config/milling.yaml"), encoding: .utf8)
        #expect(file == ProcessConfig.millingYAML)
        let config = ProcessConfig.milling()
        #expect(config.machineIDs.count == 100)
        #expect(config.machineIDs.first == "plant1/line1/m01")
        #expect(config.machineIDs.last == "plant1/line4/m25")
        #expect(config.variables.map(\.name) == MillingPhysics.variables)
        #expect(config.variable("rpm")?.controllable?.maxStep == 100)
        #expect(config.variable("tool_wear_min")?.usl == 240 && config.variable("tool_wear_min")?.lsl == nil)
        #expect(config.products.map(\.name) == ["L", "M", "H"])
        #expect(config.variable("rpm")?.controllable?.variation == .relative)
        #expect(config.variables.filter(\.spc).map(\.name) == ["rpm", "torque_nm"])
        #expect(config.variable("torque_nm")?.controllable?.variation == .additive)
        let optimizer = try #require(config.optimizer)
        #expect(
            optimizer.failureCost == 45 && optimizer.scenarios == 64 && optimizer.history == 512
                && !optimizer.closedLoop)
        var throughput = OptimizerSettings.Throughput(variable: "rpm", elasticity: 0.3, floor: 0.95, weight: 1)
        throughput.further = [.init(variable: "torque_nm", elasticity: 0.3)]
        #expect(optimizer.throughput == throughput)
        #expect(
            optimizer.maintenance == [.init(name: "tool_change", variable: "tool_wear_min", value: 0, downtime: 10)])
    }

    @Test func optimizerSectionErrorsNameThePlace() {
        let controllable = Self.minimal + "\n    controllable: {min: 1, max: 400, max_step: 5}\n"
        #expect(
            message(controllable + "optimizer:\n  throughput: {variable: pressure, elasticity: 1}")
                .contains("optimizer.throughput.variable: 'pressure' is not a variable of this config"))
        #expect(
            message(controllable + "optimizer:\n  throughput: {variable: temp, elasticity: 1, floor: 1.5}")
                .contains("optimizer.throughput.floor: must be above 0 and at most 1, is 1.5"))
        #expect(
            message(controllable + "optimizer:\n  throughput: {variable: temp, elasticity: 1, also: {temp: 1}}")
                .contains(
                    "optimizer.throughput.also.temp: 'temp' is not a controllable variable of this config other than 'temp'"
                ))
        #expect(
            message(controllable + "optimizer:\n  scenarios: 0").contains("optimizer.scenarios: must be from 1 to 256"))
        #expect(message(controllable + "optimizer:\n  closed_loop: maybe").contains("expected true or false"))
        #expect(message(Self.minimal + "\n    spc: maybe\n").contains("variables.temp.spc: expected true or false"))
        #expect(message(controllable + "optimizer:\n  speed: 3").contains("optimizer.speed: unknown key"))
        #expect(
            message(controllable + "optimizer:\n  maintenance:\n    purge: {resets: temp}")
                .contains("optimizer.maintenance.purge: missing required key 'downtime'"))
        #expect(
            message(Self.minimal + "\n    controllable: {min: 1, max: 400, max_step: 5, variation: wild}")
                .contains("variation: 'wild' is not one of: additive, relative"))
    }

    static let minimal = """
        process: reactor
        site: s1
        ideal_cycle_s: 10
        lines:
          - name: l1
            machines: [r1, r2]
        variables:
          temp:
            min: 0
            max: 500
        """

    @Test func alarmSectionSetsClassesAndNamesItsErrors() throws {
        let config = try load(
            Self.minimal + """

                alarms:
                  machines_per_operator: 10
                  failure_risk: {limit: 0.6, deadband: 0.1, on_delay_s: 120, respond_within_min: 5, latched: false}
                  spc: {consequence: major, off_delay_s: 900, suppress_in: [down], suppressed_by: [failure_risk, anomaly]}
                """)
        #expect(config.alarms.machinesPerOperator == 10)
        let risk = config.alarms["failure_risk"]
        #expect(risk.limit == 0.6 && risk.deadband == 0.1 && risk.onDelaySeconds == 120 && !risk.latched)
        #expect(risk.offDelaySeconds == AlarmClass.failureRisk.offDelaySeconds)
        #expect(risk.priority == .high)
        let spc = config.alarms["spc"]
        #expect(spc.consequence == .major && spc.offDelaySeconds == 900 && spc.suppressInStates == ["down"])
        #expect(spc.suppressedBy == ["failure_risk", "anomaly"])
        #expect(config.alarms["anomaly"] == AlarmClass.anomaly)
        #expect(try load(Self.minimal).alarms == AlarmSettings())
        #expect(
            message(Self.minimal + "\nalarms:\n  smoke: {limit: 1}")
                .contains("alarms.smoke: unknown alarm class; expected machines_per_operator or one of: failure_risk"))
        #expect(
            message(Self.minimal + "\nalarms:\n  spc: {on_delay_s: -5}")
                .contains("alarms.spc.on_delay_s: must not be negative, is -5.0"))
        #expect(
            message(Self.minimal + "\nalarms:\n  spc: {consequence: dire}")
                .contains("alarms.spc.consequence: 'dire' is not one of minor, major, severe"))
        #expect(
            message(Self.minimal + "\nalarms:\n  spc: {suppressed_by: [smoke]}")
                .contains("alarms.spc.suppressed_by: 'smoke' is not an alarm class"))
        #expect(
            message(Self.minimal + "\nalarms:\n  spc: {delay: 5}")
                .contains("alarms.spc.delay: unknown key"))
    }

    @Test func chartsAreChosenPerVariable() throws {
        let torque = try #require(ProcessConfig.milling().variable("torque_nm"))
        #expect(torque.spc && torque.spcSubgroup == 5 && torque.spcBaseline == 250)
        #expect(torque.spcRules == ["beyond_3_sigma", "cusum"] && torque.spcRestartAfter == ["setup"])
        #expect(ProcessConfig.milling().alarms["failure_risk"].limit == 0.2)
        let chosen = try load(Self.minimal + "\n    spc: {rules: [beyond_3_sigma, ewma], subgroup: 4}\n")
        #expect(chosen.variable("temp")?.spcRules == ["beyond_3_sigma", "ewma"])
        #expect(chosen.variable("temp")?.spcSubgroup == 4 && chosen.variable("temp")?.spcBaseline == nil)
        #expect(
            message(Self.minimal + "\n    spc: {rules: [smoke]}\n")
                .contains(
                    "variables.temp.spc.rules: 'smoke' is not a control-chart test; expected some of: beyond_3_sigma"))
        #expect(
            message(Self.minimal + "\n    spc: {subgroup: 0}\n").contains(
                "variables.temp.spc.subgroup: must be from 1 to 100"))
        #expect(
            message(Self.minimal + "\n    spc: {baseline: 5}\n").contains(
                "variables.temp.spc.baseline: must be from 20"))
    }

    @Test func aGenericProcessLoads() throws {
        let config = try load(Self.minimal)
        #expect(config.machineIDs == ["s1/l1/r1", "s1/l1/r2"])
        #expect(config.variables[0].validRange == 0...500)
        #expect(config.variables[0].column == "temp")
    }

    @Test func syntaxErrorsGiveLineAndColumn() {
        let text = "process: x\nsite: s\nlines: [\n  - name: a\n"
        #expect(message(text).hasPrefix("p.yaml:4:"))
        #expect(message("process: x\n  site: y\n").hasPrefix("p.yaml:2:"))
    }

    @Test func semanticErrorsGiveLineAndColumnAndName() {
        #expect(
            message(Self.minimal.replacingOccurrences(of: "max: 500", with: "max: hot"))
                == "p.yaml:10:10: variables.temp.max: expected a number, found 'hot'")
        #expect(
            message(Self.minimal.replacingOccurrences(of: "ideal_cycle_s", with: "ideal_cycle")).hasPrefix(
                "p.yaml:3:1: ideal_cycle: unknown key"))
        #expect(
            message(Self.minimal.replacingOccurrences(of: "min: 0", with: "min: 600")).contains(
                "min (600.0) must be below max (500.0)"))
        #expect(
            message(Self.minimal.replacingOccurrences(of: "machines: [r1, r2]", with: "machines: [r1, r1]")).contains(
                "machine s1/l1/r1 is declared twice"))
        #expect(
            message(Self.minimal.replacingOccurrences(of: "site: s1\n", with: "")).contains(
                "missing required key 'site'"))
        #expect(message("") == "p.yaml: the file is empty")
        #expect(
            message(Self.minimal + "\n    controllable: {min: 1, max: 2, max_step: 0}").contains(
                "variables.temp.controllable.max_step: must be greater than 0"))
    }
}

@Suite struct TimestampTests {
    @Test func formatAndParse() {
        #expect(Timestamp.format(0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(1_764_050_400_123) == "2025-11-25T06:00:00.123Z")
        #expect(Timestamp.format(-1) == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp.parse("2025-11-25T06:00:00.123Z") == 1_764_050_400_123)
        #expect(Timestamp.parse("2025-11-25T07:00:00+01:00") == 1_764_050_400_000)
        #expect(Timestamp.parse("2024-02-29T00:00:00Z") != nil)
        for bad in [
            "2023-02-29T00:00:00Z", "2025-13-01T00:00:00Z", "2025-11-25 06:00", "2025-11-25T06:00:00",
            "2025-11-25T06:00:00.Z", "x",
        ] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
        var rng = RandomSource(seed: 4)
        for _ in 0..<1000 {
            let t = Int64(rng.next() % 8_000_000_000_000) - 1_000_000_000_000
            #expect(Timestamp.parse(Timestamp.format(t)) == t)
        }
    }
}
