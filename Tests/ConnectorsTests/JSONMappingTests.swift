import Connectors
import Plant
import Testing

/// The `connectors:` section and the JSON mapping, without a broker.
@Suite struct JSONMappingTests {
    static let yaml =
        ProcessConfig.millingYAML + """

            connectors:
              mqtt:
                url: mqtt://127.0.0.1:1883
                version: 3.1.1
                client_id: connect-test
                qos: 1
                topics:
                  - topic: factory/{line}/{machine}/telemetry
                    machine: plant1/{line}/{machine}
                    timestamp: ts
                    values: {air_temp_k: air.temp, process_temp_k: process.temp, rpm: spindle.rpm, torque_nm: spindle.torque, tool_wear_min: tool.wear}
                    setpoints: {rpm: setpoint.rpm}
                    state: state
                    good: counts.good
                    scrap: counts.scrap
            """

    static func settings(_ text: String = yaml) throws -> ConnectorSettings {
        try ConnectorSettings.load(yaml: text, source: "plant.yaml", process: ProcessConfig.milling())
    }

    @Test func readsTheSection() throws {
        let s = try #require(try Self.settings().mqtt)
        #expect(s.client.host == "127.0.0.1" && s.client.port == 1883 && s.client.version == .v311)
        #expect(s.client.clientID == "connect-test" && !s.client.cleanStart)
        #expect(s.mappings.count == 1)
        #expect(s.mappings[0].topic.filter == "factory/+/+/telemetry")
        #expect(
            s.mappings[0].values.map(\.variable) == [
                "air_temp_k", "process_temp_k", "rpm", "torque_nm", "tool_wear_min",
            ])
        // The process config itself still loads with the section in it.
        #expect(try ProcessConfig.load(yaml: Self.yaml, source: "plant.yaml").process == "milling")
    }

    @Test func configurationErrorsNameTheLine() throws {
        func error(_ replace: String, _ with: String) -> String {
            do {
                _ = try Self.settings(Self.yaml.replacingOccurrences(of: replace, with: with))
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(error("rpm: spindle.rpm", "spin: spindle.rpm").contains("has no variable spin"))
        #expect(error("rpm: spindle.rpm", "spin: spindle.rpm").hasPrefix("plant.yaml:"))
        #expect(error("mqtt://127.0.0.1:1883", "http://x").contains("is not mqtt://HOST"))
        #expect(error("factory/{line}", "factory/+").contains("not a wildcard"))
        #expect(error("plant1/{line}/{machine}", "plant1/{cell}/{machine}").contains("{cell} is not a level"))
        #expect(error("qos: 1", "qos: 3").contains("outside 0...2"))
        #expect(error("version: 3.1.1", "version: 4").contains("'4' is not 5 or 3.1.1"))
    }

    @Test func mapsAMessage() throws {
        let m = try #require(try Self.settings().mqtt).mappings[0]
        let captured = try #require(m.topic.match("factory/line2/m07/telemetry"))
        let payload = """
            {"ts": "2026-12-05T10:00:00.250Z", "air": {"temp": 300.1}, "process": {"temp": 310.2},
             "spindle": {"rpm": 1510, "torque": 40.5}, "tool": {"wear": 12}, "setpoint": {"rpm": 1500},
             "state": "running", "counts": {"good": 1, "scrap": 0}}
            """
        let r = try m.reading(captured: captured, payload: Array(payload.utf8), receivedAt: 0)
        #expect(r.machine == "plant1/line2/m07")
        #expect(r.timestamp == Timestamp.parse("2026-12-05T10:00:00.250Z"))
        #expect(r["rpm"] == 1510 && r["torque_nm"] == 40.5 && r["tool_wear_min"] == 12)
        #expect(r.setpoints == [Measurement("rpm", 1500)])
        #expect(r.state == .running && r.good == 1 && r.scrap == 0)
        #expect(m.topic.match("factory/line2/m07/other") == nil)
        #expect(m.topic.match("factory/line2/telemetry") == nil)
    }

    @Test func badMessagesSayWhatIsWrong() throws {
        let m = try #require(try Self.settings().mqtt).mappings[0]
        let captured = ["line": "line1", "machine": "m01"]
        let good = """
            {"ts": 1796479200000, "air": {"temp": 300}, "process": {"temp": 310}, "spindle": {"rpm": 1500, "torque": 40},
             "tool": {"wear": 1}, "setpoint": {"rpm": 1500}, "state": "running", "counts": {"good": 1, "scrap": 0}}
            """
        #expect(try m.reading(captured: captured, payload: Array(good.utf8), receivedAt: 0).timestamp == 1796479200000)
        func error(_ replace: String, _ with: String) -> String {
            do {
                _ = try m.reading(
                    captured: captured, payload: Array(good.replacingOccurrences(of: replace, with: with).utf8),
                    receivedAt: 0)
                return "no error"
            } catch { return error.message }
        }
        #expect(
            error("\"rpm\": 1500, ", "\"rpm\": \"fast\", ") == "field spindle.rpm (rpm) is a string, expected a number")
        let lacking = try m.reading(
            captured: captured, payload: Array(good.replacingOccurrences(of: "\"rpm\": 1500, ", with: "").utf8),
            receivedAt: 0)
        #expect(lacking["rpm"] == nil && lacking["torque_nm"] == 40)
        #expect(error("\"ts\": 1796479200000, ", "") == "field ts (timestamp) is missing")
        #expect(
            error("\"running\"", "\"dancing\"").hasPrefix("field state (state) is \"dancing\", expected one of running")
        )
        #expect(
            error("\"good\": 1", "\"good\": -1") == "field counts.good (good) is -1.0, expected a whole number from 0")
        #expect(
            error("1796479200000", "\"yesterday\"")
                == "field ts (timestamp) is \"yesterday\", expected an RFC 3339 time")
        #expect(error("{\"ts\"", "[{\"ts\"").hasPrefix("the payload is not JSON"))
        #expect(
            error("\"air\": {\"temp\": 300}", "\"air\": {\"temp\": [300]}")
                == "field air.temp (air_temp_k) is an array, expected a number")
    }
}
