import Plant
import Testing
import Topics

/// Every topic's record: the bytes the writers put on the bus decode (fixtures in the form the pipeline, the server
/// and the simulator write), every record type survives encode and decode, and the decoder says what is wrong.
@Suite struct TopicRecordTests {
    static let source = #""source":{"topic":"readings","partition":3,"offset":123456}"#

    /// One record per topic, as written.
    static let fixtures: [String: String] = [
        "readings":
            #"{"machine":"plant1/line1/m07","ts":"2026-11-25T06:00:00.123Z","seq":12345,"values":{"air_temp_k":300.1,"process_temp_k":310.2,"rpm":1551,"torque_nm":42.8,"tool_wear_min":108},"product":"M","state":"running","good":1,"scrap":0}"#,
        "predictions":
            #"{"machine":"plant1/line1/m07","ts":"2026-11-25T06:00:00.123Z","seq":12345,"state":"running","product":"M","risk":0.0123,"failure":false,"model":"failure@v3","modes":{"TWF":0.001,"HDF":0.01},"forecast":{"probability":0.2,"horizon_min":30,"model":"lead@v1"},"anomaly":{"score":0.4,"alarm":false,"top_variable":"torque_nm"},"features":{"power_w":6543.2,"temp_diff_k":null,"rpm_ewma":1500.2},\#(source)}"#,
        "shadow-predictions":
            #"{"machine":"plant1/line1/m07","ts":"2026-11-25T06:00:00.123Z","seq":12345,"model":"failure@v4","risk":0.61,"failure":true,"estimate":null,"champion":"failure@v3","champion_risk":0.42,"champion_failure":false,"champion_estimate":null,"horizon_min":30,\#(source)}"#,
        "alerts":
            #"{"id":"plant1/line1/m07/failure_risk/1764050400123","machine":"plant1/line1/m07","ts":"2026-11-25T06:00:00.123Z","kind":"failure_risk","severity":"critical","priority":"high","status":"raised","latched":true,"message":"failure risk 60 % on plant1/line1/m07","evidence":{"risk":0.6,"limit":0.5,"horizon_min":30,"mode":"HDF","rpm":1380,"torque_nm":61.2,"contributions":[{"input":"torque_nm","value":61.2,"effect":0.21}]},\#(source)}"#,
        "kpis":
            #"{"machine":"plant1/line1/m07","ts":"2026-11-25T06:00:00.123Z","hour":{"availability":0.9,"performance":0.8,"quality":0.95,"oee":0.684,"good":100,"scrap":5,"downtime":[]},"shift":{"availability":0.9,"performance":0.8,"quality":0.95,"oee":0.684,"good":100,"scrap":5,"downtime":[{"reason":"tool_change","seconds":300}]},\#(source)}"#,
        "dead-letters":
            #"{"reason":"not_finite","error":"rpm is not a finite number","original":"{\"machine\":\"m1\",\"values\":{\"rpm\":\"x\"}}","original_base64":null,"ts":"2026-11-25T06:00:00.123Z",\#(source)}"#,
        "labels":
            #"{"machine":"plant1/line1/m07","seq":12345,"ts":"2026-11-25T06:00:00.123Z","failure":1,"modes":["HDF"]}"#,
        "alert-actions":
            #"{"action":"shelve","alert":"plant1/line1/m07/spc/rpm/1","by":"op","id":"6F1C","minutes":30,"note":"checking","ts":"2026-11-25T06:00:00.123Z","until":"2026-11-25T06:30:00.123Z"}"#,
        "recommendations":
            #"{"id":"plant1/line1/m07/1764050400123","machine":"plant1/line1/m07","ts":"2026-11-25T06:00:00.123Z","model":"failure@v3","mode":"advisory","changes":[{"variable":"rpm","from":1380,"to":1560,"unit":"rpm"}],"maintenance":["tool_change"],"risk_before":0.3,"risk_after":0.05,"rate_change":-0.02,"gain":12.5,"contributions":[{"variable":"torque_nm","value":61.2,"unit":"Nm","effect":0.2}],"explanation":"raise the speed"}"#,
        "recommendation-actions":
            #"{"action":"approve","by":"op","id":"7A2B","machine":"plant1/line1/m07","recommendation":"plant1/line1/m07/1764050400123","ts":"2026-11-25T06:01:00.000Z"}"#,
        "setpoints":
            #"{"machine":"plant1/line1/m07","values":{"rpm":1600,"torque_nm":38},"change_tool":false,"by":"closed_loop","recommendation":"r1","ts":"2026-11-25T06:00:00.123Z"}"#,
        "optimizer-control": #"{"by":"eng","closed_loop":true,"ts":"2026-11-25T06:00:00.123Z"}"#,
        "retrain-requests": #"{"model":"lead","by":"eng","ts":"2026-11-25T06:00:00.123Z","reason":"new tooling"}"#,
        "notifications":
            #"{"alert":"plant1/line1/m07/failure_risk/1764050400123","machine":"plant1/line1/m07","route":"night-failures","channel":"oncall","status":"sent","escalation":false,"attempts":1,"error":null,"ts":"2026-11-25T06:00:01.000Z"}"#,
        "notifier-escalations":
            #"{"alert":{"id":"plant1/line1/m07/failure_risk/1764050400123","machine":"plant1/line1/m07","ts":"2026-11-25T06:00:00.123Z","kind":"failure_risk","severity":"critical","priority":"high","status":"raised","message":"failure risk"},"state":"pending","due":"2026-11-25T06:15:00.123Z","targets":[{"route":"night-failures","channel":"shift-lead"}],"ts":"2026-11-25T06:00:01.000Z"}"#,
        "setpoint-writes":
            #"{"id":"r1","machine":"plant1/line1/m07","values":{"rpm":1600},"state":"refused","reason":"rpm from 1450 to 1600 is a step larger than 100","endpoint":"mqtt://broker:1883 topic plant1/line1/m07/cmd","ts":"2026-11-25T06:00:00.123Z"}"#,
    ]

    static func bytes(_ topic: String) -> [UInt8] { Array(fixtures[topic]!.utf8) }

    @Test func everyTopicDecodesFromItsFixture() throws {
        #expect(
            Set(Self.fixtures.keys)
                == Set(
                    Topics.followed + [
                        Topics.setpoints.name, Topics.setpointWrites.name, Topics.retrainRequests.name,
                        Topics.notifications.name, Topics.escalations.name,
                    ]))
        let reading = try Topics.readings.decode(Self.bytes("readings"))
        #expect(reading.machine == "plant1/line1/m07" && reading["rpm"] == 1551 && reading.sequence == 12345)

        let p = try Topics.predictions.decode(Self.bytes("predictions"))
        #expect(p.risk == 0.0123 && p.failure == false && p.model == "failure@v3" && p.seq == 12345)
        #expect(p.modes?["HDF"] == 0.01 && p.forecast?.horizonMinutes == 30 && p.anomaly?.topVariable == "torque_nm")
        #expect(p.features["power_w"] == 6543.2 && p.features["temp_diff_k"]!.isNaN)
        #expect(p.source == SourceRef(topic: "readings", partition: 3, offset: 123_456))

        let shadow = try Topics.shadowPredictions.decode(Self.bytes("shadow-predictions"))
        #expect(shadow.model == "failure@v4" && shadow.failure == true && shadow.champion == "failure@v3")
        #expect(shadow.championRisk == 0.42 && shadow.championFailure == false && shadow.estimate == nil)
        #expect(shadow.horizonMinutes == 30)

        let a = try Topics.alerts.decode(Self.bytes("alerts"))
        #expect(a.kind == "failure_risk" && a.priority == "high" && a.latched == true && a.variable == nil)
        #expect(a.evidence?.numbers["risk"] == 0.6 && a.evidence?.numbers["rpm"] == 1380 && a.evidence?.mode == "HDF")
        #expect(a.evidence?.contributions == [.init(input: "torque_nm", value: 61.2, effect: 0.21)])

        let k = try Topics.kpis.decode(Self.bytes("kpis"))
        #expect(k.hour.oee == 0.684 && k.hour.good == 100 && k.shift.downtime.first?.seconds == 300)

        let d = try Topics.deadLetters.decode(Self.bytes("dead-letters"))
        #expect(d.reason == "not_finite" && d.original?.hasPrefix(#"{"machine""#) == true && d.originalBase64 == nil)

        let l = try Topics.labels.decode(Self.bytes("labels"))
        #expect(l.failure == 1 && l.modes == ["HDF"] && l.seq == 12345)
        #expect(l.millis == Timestamp.parse("2026-11-25T06:00:00.123Z"))

        let action = try Topics.alertActions.decode(Self.bytes("alert-actions"))
        #expect(action.action == "shelve" && action.minutes == 30 && action.until == "2026-11-25T06:30:00.123Z")

        let r = try Topics.recommendations.decode(Self.bytes("recommendations"))
        #expect(r.changes == [.init(variable: "rpm", from: 1380, to: 1560, unit: "rpm")] && r.riskAfter == 0.05)

        let decision = try Topics.recommendationActions.decode(Self.bytes("recommendation-actions"))
        #expect(decision.action == "approve" && decision.note == nil)

        let s = try Topics.setpoints.decode(Self.bytes("setpoints"))
        #expect(
            s.change
                == SetpointChange(
                    machine: "plant1/line1/m07", values: [Measurement("rpm", 1600), Measurement("torque_nm", 38)]))
        #expect(s.by == "closed_loop" && s.recommendation == "r1")
        // Written by hand: only the machine and the values are needed.
        let minimal = try Topics.setpoints.decode(Array(#"{"machine":"m1","values":{"rpm":1600}}"#.utf8))
        #expect(minimal.change == SetpointChange(machine: "m1", values: [Measurement("rpm", 1600)]))

        #expect(try Topics.optimizerControl.decode(Self.bytes("optimizer-control")).closedLoop)

        let w = try Topics.setpointWrites.decode(Self.bytes("setpoint-writes"))
        #expect(w.state == .refused && w.values["rpm"] == 1600 && w.reason?.hasPrefix("rpm from 1450") == true)
        #expect(throws: RecordError.self) {
            try Topics.setpointWrites.decode(
                Array(Self.fixtures["setpoint-writes"]!.replacingOccurrences(of: "refused", with: "maybe").utf8))
        }
    }

    /// Decoding a fixture and encoding it again gives a record that decodes to the same value, for every topic.
    @Test func everyRecordTypeRoundTrips() throws {
        func roundTrip<R: TopicRecord & Equatable>(_ topic: Topic<R>) throws {
            let first = try topic.decode(Self.bytes(topic.name))
            let again = try topic.decode(first.encoded())
            #expect(again == first, "\(topic.name)")
        }
        try roundTrip(Topics.readings)
        try roundTrip(Topics.alerts)
        try roundTrip(Topics.shadowPredictions)
        try roundTrip(Topics.retrainRequests)
        #expect(try Topics.retrainRequests.decode(Self.bytes("retrain-requests")).reason == "new tooling")
        try roundTrip(Topics.kpis)
        try roundTrip(Topics.deadLetters)
        try roundTrip(Topics.labels)
        try roundTrip(Topics.alertActions)
        try roundTrip(Topics.recommendations)
        try roundTrip(Topics.recommendationActions)
        try roundTrip(Topics.setpoints)
        try roundTrip(Topics.optimizerControl)
        try roundTrip(Topics.setpointWrites)
        try roundTrip(Topics.notifications)
        try roundTrip(Topics.escalations)
        let e = try Topics.escalations.decode(Self.bytes("notifier-escalations"))
        #expect(e.alert.priority == "high" && e.state == "pending" && e.targets.first?.channel == "shift-lead")
        #expect(try Topics.notifications.decode(Self.bytes("notifications")).route == "night-failures")
        // Predictions hold a NaN feature (NaN is not equal to itself): compare the rest.
        var p = try Topics.predictions.decode(Self.bytes("predictions"))
        p.features = ["power_w": 6543.2, "rpm_ewma": 1500.2]
        #expect(try Topics.predictions.decode(p.encoded()) == p)
        // A record built in code, with text that needs escapes and optionals left out.
        let built = PredictionRecord(
            machine: "line \"2\"\\m\u{1}\n", ts: "2026-11-25T06:00:00.000Z", seq: nil, state: "down", product: nil,
            risk: nil, failure: nil, model: nil, features: [:], source: nil)
        #expect(try Topics.predictions.decode(built.encoded()) == built)
    }

    /// The pipeline's path, from the parts (the time as milliseconds, the features by names encoded once or by
    /// text), writes the bytes of the record those parts make.
    @Test func aPredictionFromItsPartsIsTheRecordsBytes() throws {
        let milliseconds: Int64 = 1_764_050_400_007
        let features: [(String, Double)] = [
            ("power_w", 6184.18325068946), ("line \"2\"\\\u{1}\n", .nan), ("rpm_ewma", 1579), ("tś", -0.0),
        ]
        let keys = EncodedKeys(features.map(\.0))
        let shapes: [(risk: Double?, forecast: PredictionRecord.Forecast?, anomaly: PredictionRecord.Anomaly?)] = [
            (nil, nil, nil),
            (
                0.25, .init(probability: 0.5, horizonMinutes: 30, model: "lead@v2"),
                .init(score: 1.5, alarm: true, topVariable: "rpm")
            ),
        ]
        for (n, shape) in shapes.enumerated() {
            let record = PredictionRecord(
                machine: "plant1/line1/m\(n)", ts: Timestamp.format(milliseconds + Int64(n)), seq: Int64(n),
                state: "running", product: n == 0 ? nil : "L", risk: shape.risk, failure: shape.risk.map { $0 > 0.5 },
                model: shape.risk == nil ? nil : "failure@v3", horizonMinutes: shape.risk == nil ? nil : 30,
                modes: shape.risk == nil ? nil : ["TWF": 0.125], forecast: shape.forecast, anomaly: shape.anomaly,
                features: NamedValues(features), source: SourceRef(topic: "readings", partition: n, offset: 42))
            let parts = PredictionRecord.encode(
                machine: record.machine, timestamp: milliseconds + Int64(n), seq: record.seq, state: record.state,
                product: record.product, risk: record.risk, failure: record.failure, model: record.model,
                horizonMinutes: record.horizonMinutes, estimate: record.estimate, modes: record.modes,
                forecast: record.forecast, anomaly: record.anomaly, source: record.source
            ) { f in
                // Encoded keys and names as text, mixed, as the pipeline mixes them for undeclared variables.
                for (i, feature) in features.enumerated() {
                    if i % 2 == n { f.number(keys, at: i, feature.1) } else { f.number(named: feature.0, feature.1) }
                }
            }
            #expect(parts == (try RecordEncoder.encode(record)), "\(String(decoding: parts, as: UTF8.self))")
        }
        // No features at all is an empty object.
        let empty = PredictionRecord.encode(
            machine: "m", timestamp: 0, seq: nil, state: "down", product: nil, risk: nil, failure: nil, model: nil,
            horizonMinutes: nil, estimate: nil, modes: nil, forecast: nil, anomaly: nil, source: nil
        ) { _ in }
        let record = PredictionRecord(
            machine: "m", ts: "1970-01-01T00:00:00.000Z", seq: nil, state: "down", product: nil, risk: nil,
            failure: nil, model: nil, features: [:], source: nil)
        #expect(empty == (try RecordEncoder.encode(record)))
    }

    /// Predictions' own writer (the hot path) writes exactly what the Codable encoder writes.
    @Test func thePredictionWriterMatchesTheCodableEncoder() throws {
        var records = [try Topics.predictions.decode(Self.bytes("predictions"))]
        records.append(
            PredictionRecord(
                machine: "m \"1\"\n", ts: "t", seq: nil, state: "down", product: nil, risk: nil, failure: nil,
                model: nil, features: [:], source: nil))
        records.append(
            PredictionRecord(
                machine: "m2", ts: "t", seq: -3, state: "running", product: "L", risk: .nan, failure: true,
                model: "m@v2", estimate: .init(target: "wear", value: 1e-7),
                modes: ["TWF": 1e300, "HDF": -0.0], forecast: .init(probability: 1, horizonMinutes: nil, model: "f"),
                anomaly: .init(score: 2.5, alarm: true, topVariable: nil), features: ["x": .infinity, "y": 1.25],
                source: SourceRef(topic: "readings", partition: 7, offset: 1 << 40)))
        // Larger than the writer's first buffer: it grows.
        records.append(
            PredictionRecord(
                machine: String(repeating: "m\"", count: 200), ts: "t", seq: 1, state: "running", product: nil,
                risk: 0.5, failure: false, model: nil,
                features: NamedValues((0..<300).map { ("feature_\($0)_ewma", Double($0) / 7) }), source: nil))
        // Sizes across the first buffer's end (768 bytes) byte by byte: written in place below it, moved once above.
        func sized(_ n: Int) -> PredictionRecord {
            PredictionRecord(
                machine: String(repeating: "m", count: n), ts: "t", seq: 1, state: "running", product: nil, risk: 0.5,
                failure: false, model: nil, features: NamedValues((0..<8).map { ("f\($0)", 1.5) }), source: nil)
        }
        let base = sized(0).encoded().count
        records += (768 - base - 30...768 - base + 30).map(sized)
        #expect(Set(records.suffix(61).map { $0.encoded().count }).isSuperset(of: [766, 767, 768, 769, 770]))
        for r in records {
            #expect(r.encoded() == (try RecordEncoder.encode(r)), "\(String(decoding: r.encoded(), as: UTF8.self))")
            // And the predictions' reader reads what the Codable decoder reads (NaN aside).
            let mine = try PredictionRecord.decode(r.encoded())
            let codable = try RecordDecoder.decode(PredictionRecord.self, from: r.encoded())
            #expect(mine.encoded() == codable.encoded())
        }
        // The same errors, with the same paths.
        let broken = [
            Self.fixtures["predictions"]!.replacingOccurrences(of: #""score":0.4"#, with: #""score":"high""#),
            Self.fixtures["predictions"]!.replacingOccurrences(of: #""seq":12345,"#, with: #""seq":1.5,"#),
            #"{"machine":"m","ts":"t","state":"running","features":{"a":true}}"#,
            #"{"machine":"m","ts":"t","state":"running"}"#, #"{"machine":"m","ts":"t","features":{}}"#,
            #"[1]"#, #"{"machine":"m","ts":"t","state":"s","features":{},"source":{"topic":"r","partition":1}}"#,
        ]
        for text in broken {
            func message(_ decode: () throws -> PredictionRecord) -> String {
                do {
                    _ = try decode()
                    return "decoded"
                } catch { return "\(error)" }
            }
            let mine = message { try PredictionRecord.decode(Array(text.utf8)) }
            let codable = message { try RecordDecoder.decode(PredictionRecord.self, from: Array(text.utf8)) }
            #expect(mine == codable && mine != "decoded", "\(text)")
        }
    }

    /// The encoder writes fields in declaration order, nil as null and non-finite numbers as null.
    /// The KPIs' writer, against the Codable encoder: no downtime, several reasons, text to escape, no source.
    @Test func theKPIWriterMatchesTheCodableEncoder() throws {
        let busy = KPIRecord.Figures(
            availability: 0.8125, performance: 1, quality: 0.123_456_789_012_345_6, oee: 0.1, good: 41, scrap: 3,
            downtime: [.init(reason: "tool \"change\"", seconds: 90.5), .init(reason: "down", seconds: 1e-7)])
        let idle = KPIRecord.Figures(
            availability: 0, performance: 0, quality: 0, oee: 0, good: 0, scrap: 0, downtime: [])
        let records = [
            KPIRecord(
                machine: "plant1/line1/m07", ts: "2026-11-25T06:00:00.123Z", hour: busy, shift: idle,
                source: SourceRef(topic: "readings", partition: 3, offset: 123_456)),
            KPIRecord(machine: "m\n", ts: "t", hour: idle, shift: busy, source: nil),
        ]
        for r in records {
            #expect(r.encoded() == (try RecordEncoder.encode(r)), "\(String(decoding: r.encoded(), as: UTF8.self))")
            #expect(try Topics.kpis.decode(r.encoded()) == r)
        }
        // Not finite: null, as the Codable encoder writes it (and readers refuse).
        var broken = records[0]
        broken.hour.oee = .nan
        #expect(broken.encoded() == (try RecordEncoder.encode(broken)))
    }

    /// Alerts' own writer writes what the Codable encoder writes: every optional absent, every part of the evidence
    /// present, text to escape and numbers that are not finite.
    @Test func theAlertWriterMatchesTheCodableEncoder() throws {
        var records = [try Topics.alerts.decode(Self.bytes("alerts"))]
        records.append(
            AlertRecord(
                id: "a", machine: "m", ts: "t", kind: "spc", severity: nil, priority: nil, status: "cleared",
                message: nil))
        records.append(
            AlertRecord(
                id: "m \"7\"/spc/x", machine: "m\n7", ts: "2026-11-25T06:00:00.123Z", kind: "spc",
                severity: "warning", priority: "low", status: "suppressed", variable: "torque_nm",
                raisedAt: "2026-11-25T05:00:00.000Z", reason: "machine \\ idle", latched: false,
                message: "torque \"high\"\t",
                evidence: AlertEvidence(
                    numbers: ["value": 61.25, "ucl": .infinity, "mean": 1e-7, "n": 3], rules: ["we1", "we \"2\""],
                    mode: "HDF", topVariable: "rpm",
                    contributions: [.init(input: "rpm", value: 1380, effect: 0.123_456_789_012_345_6)]),
                source: SourceRef(topic: "readings", partition: 0, offset: 0)))
        records.append(
            AlertRecord(
                id: "b", machine: "m", ts: "t", kind: "anomaly", severity: "info", priority: "low", status: "raised",
                message: "", evidence: AlertEvidence(rules: [], contributions: []), source: nil))
        for r in records {
            #expect(r.encoded() == (try RecordEncoder.encode(r)), "\(String(decoding: r.encoded(), as: UTF8.self))")
        }
        #expect(try Topics.alerts.decode(records[0].encoded()) == records[0])
    }

    @Test func theEncodedFormIsFixed() {
        let label = LabelRecord(machine: "m1", seq: 7, failure: 0, modes: nil)
        #expect(
            String(decoding: label.encoded(), as: UTF8.self)
                == #"{"machine":"m1","seq":7,"ts":null,"failure":0,"modes":null}"#)
        let setpoint = SetpointRecord(
            SetpointChange(machine: "m1", values: [Measurement("rpm", 1600), Measurement("torque_nm", 38.5)]))
        #expect(
            String(decoding: setpoint.encoded(), as: UTF8.self)
                == #"{"machine":"m1","values":{"rpm":1600,"torque_nm":38.5},"change_tool":false,"by":null,"recommendation":null,"ts":null}"#
        )
        let evidence = AlertEvidence(numbers: ["value": .infinity, "ucl": 1600], rules: ["beyond_3_sigma"])
        #expect(
            String(decoding: try! RecordEncoder.encode(evidence), as: UTF8.self)
                == #"{"value":null,"ucl":1600,"rules":["beyond_3_sigma"]}"#)
    }

    /// What is wrong and where: a missing field, a wrong kind, a fraction where a whole number belongs, bad JSON.
    @Test func theDecoderSaysWhatIsWrongAndWhere() {
        func message<R>(_ topic: Topic<R>, _ text: String) -> String {
            do {
                _ = try topic.decode(Array(text.utf8))
                return "decoded"
            } catch { return error.message }
        }
        #expect(message(Topics.labels, #"{"machine":"m1","failure":1}"#) == "labels record: field 'seq' is missing")
        #expect(
            message(Topics.labels, #"{"machine":"m1","seq":"7","failure":1}"#)
                == "labels record: seq: expected an integer, found a string")
        #expect(
            message(Topics.labels, #"{"machine":"m1","seq":7.5,"failure":1}"#)
                == "labels record: seq: 7.5 is not an integer that fits Int64")
        #expect(
            message(
                Topics.predictions,
                Self.fixtures["predictions"]!.replacingOccurrences(of: #""score":0.4"#, with: #""score":"high""#))
                == "predictions record: anomaly.score: expected a number, found a string")
        #expect(
            message(
                Topics.kpis,
                Self.fixtures["kpis"]!.replacingOccurrences(of: #""seconds":300"#, with: #""seconds":true"#))
                == "kpis record: shift.downtime[0].seconds: expected a number, found a boolean")
        #expect(
            message(Topics.setpoints, #"{"machine":"m1","values":{"rpm":"fast"}}"#)
                == "setpoints record: values.rpm: expected a number, found a string")
        #expect(message(Topics.labels, #"{"machine":"m1","seq":7,"failure":1"#).hasPrefix("labels record: not JSON: "))
        #expect(
            message(Topics.labels, #"{"machine":"m1","seq":7,"seq":8,"failure":1}"#)
                == #"labels record: not JSON: duplicate member "seq" at byte 24"#)
        #expect(message(Topics.readings, #"{"machine":"m1"}"#).hasPrefix("readings record: "))
        // A member the type does not know is allowed (a newer writer's addition).
        #expect(message(Topics.labels, #"{"machine":"m1","seq":7,"failure":1,"shift":"B"}"#) == "decoded")
    }

    /// The parser takes what RFC 8259 allows and nothing else.
    @Test func theParserIsStrict() throws {
        #expect(
            try JSONValue(parsing: Array(#" {"a":[1,-2.5e3,true,false,null,"\u00e9\ud83d\ude00\n"]} "#.utf8))
                == .object([
                    "a": .array([.number(1), .number(-2500), .bool(true), .bool(false), .null, .string("é😀\n")])
                ]))
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "tru", "\"\\x\"", "\"a", "{} {}", "\"\u{1}\""] {
            #expect(throws: JSONSyntaxError.self, "\(bad)") { try JSONValue(parsing: Array(bad.utf8)) }
        }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: Array(deep.utf8)) }
    }
}
