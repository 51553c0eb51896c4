import Foundation
import Primitives
import Testing

@testable import Plant

@Suite struct ReadingCodecTests {
    static let good =
        #"{"machine":"plant1/line1/m07","ts":"2026-11-25T06:00:00.123Z","seq":12345,"values":{"air_temp_k":300.1,"process_temp_k":310.2,"rpm":1551,"torque_nm":42.8,"tool_wear_min":108},"product":"M","state":"running","good":1,"scrap":0}"#

    func decode(_ text: String) throws(ReadingError) -> Reading { try ReadingDecoder.decode(Array(text.utf8)) }

    func failure(_ text: String) -> ReadingError? {
        do {
            _ = try decode(text)
            return nil
        } catch { return error }
    }

    @Test func decodesTheWireFormatAndEncodesItBack() throws {
        let r = try decode(Self.good)
        #expect(r.machine == "plant1/line1/m07")
        #expect(r.timestamp == Timestamp.parse("2026-11-25T06:00:00.123Z"))
        #expect(r.sequence == 12345)
        #expect(r["air_temp_k"] == 300.1 && r["rpm"] == 1551 && r["torque_nm"] == 42.8)
        #expect(r.product == "M" && r.state == .running && r.good == 1 && r.scrap == 0)
        #expect(String(decoding: ReadingEncoder.encode(r), as: UTF8.self) == Self.good)
    }

    @Test func acceptsWhitespaceEscapesAndUnknownFields() throws {
        let text = """
             { "extra": {"a":[1,2,{"b":null}]}, "machine" : "m\\u00e9\\/x\\"q", "ts":"2026-01-01T00:00:00Z",
               "values": { "v": -1.5e3, "w": 0, "z": 0.000123 } , "note": "x", "state": "down" }
            """
        let r = try decode(text)
        #expect(r.machine == "mé/x\"q")
        #expect(r.values == [Measurement("v", -1500), Measurement("w", 0), Measurement("z", 0.000123)])
        #expect(r.state == .down && r.sequence == nil && r.product == nil)
        // The encoder escapes what needs it and the decoder reads it back.
        #expect(try ReadingDecoder.decode(ReadingEncoder.encode(r)) == r)
    }

    /// Field names are matched on their bytes when plain, and through the text otherwise: an escaped spelling is the
    /// same field (a second one is a duplicate), near misses and other text are unknown fields, skipped.
    @Test func fieldNamesMatchByTheirTextHoweverSpelled() throws {
        let escaped = try decode(
            #"{"mach\u0069ne":"m1","\u0074s":"2026-01-01T00:00:00Z","values":{"a":1},"st\u0061te":"idle"}"#)
        #expect(escaped.machine == "m1" && escaped.state == .idle && escaped["a"] == 1)
        let nearMisses = try decode(
            #"{"machines":"x","machin":"y","Machine":"z","tś":1,"other":2,"machine":"m2","ts":"2026-01-01T00:00:00Z","values":{}}"#
        )
        #expect(nearMisses.machine == "m2")
        let twice = failure(#"{"machine":"m1","mach\u0069ne":"m2","ts":"2026-01-01T00:00:00Z","values":{}}"#)
        #expect(twice?.message.contains("field 'machine' appears twice") == true, "\(String(describing: twice))")
        #expect(failure(#"{"mach"#)?.reason == .malformed)
        #expect(
            failure("{\"mach\u{01}ine\":\"m\",\"ts\":\"2026-01-01T00:00:00Z\",\"values\":{}}")?.reason == .malformed)
    }

    /// States and times are matched on their bytes when plain, and through the text otherwise: every state by its
    /// name, escaped spellings the same, near misses and other kinds of value the errors they were.
    @Test func statesAndTimesReadHoweverSpelled() throws {
        func reading(state: String, ts: String = #""2026-01-01T00:00:00Z""#) -> String {
            #"{"machine":"m","ts":\#(ts),"values":{},"state":\#(state)}"#
        }
        for state in MachineState.allCases {
            #expect(try decode(reading(state: "\"\(state.rawValue)\"")).state == state)
        }
        #expect(try decode(reading(state: #""t\u006fol_change""#)).state == .toolChange)
        let escapedTime = try decode(reading(state: #""idle""#, ts: #""2026-01-01T00:00:00\u005a""#))
        #expect(escapedTime.timestamp == Timestamp.parse("2026-01-01T00:00:00Z"))
        for nearMiss in ["Running", "runnin", "runningg", "tool-change", "", "idlé"] {
            let error = failure(reading(state: "\"\(nearMiss)\""))
            #expect(error?.reason == .badState, "\(nearMiss)")
            #expect(error?.message.hasPrefix("state: '\(nearMiss)' is not one of running, idle") == true, "\(nearMiss)")
        }
        #expect(failure(reading(state: "1"))?.reason == .wrongType)
        #expect(failure(reading(state: #""idle""#, ts: "17"))?.reason == .wrongType)
        let badTime = failure(reading(state: #""idle""#, ts: #""2026-13-01""#))
        #expect(badTime?.reason == .badTimestamp)
        #expect(badTime?.message.hasPrefix("ts: '2026-13-01' is not an ISO 8601 timestamp") == true)
        #expect(failure(#"{"machine":"m","ts":"2026-01-01T00:00:00Z"#)?.reason == .malformed)
    }

    @Test func rejectsWhatTheWireFormatRejects() {
        let cases: [(String, ReadingError.Reason, String)] = [
            (
                Self.good.replacingOccurrences(of: "1551", with: "\"fast\""), .notANumber,
                "values.rpm: expected a number, found text \"fast\""
            ),
            (Self.good.replacingOccurrences(of: "1551", with: "NaN"), .notFinite, "values.rpm: NaN and Infinity"),
            (
                Self.good.replacingOccurrences(of: "1551", with: "\"NaN\""), .notFinite,
                "values.rpm: \"NaN\" is not a finite number"
            ),
            (Self.good.replacingOccurrences(of: "1551", with: "-Infinity"), .notFinite, "values.rpm"),
            (Self.good.replacingOccurrences(of: "1551", with: "1e999"), .notFinite, "values.rpm: 1e999 is too large"),
            (
                Self.good.replacingOccurrences(of: "1551", with: "null"), .notANumber,
                "values.rpm: expected a number, found null"
            ),
            (Self.good.replacingOccurrences(of: "1551", with: "01"), .notANumber, "leading zeros"),
            (Self.good.replacingOccurrences(of: "1551", with: "1."), .notANumber, "a digit must follow"),
            (Self.good.replacingOccurrences(of: "1551", with: "+1"), .notANumber, "values.rpm"),
            (String(Self.good.prefix(80)), .malformed, "malformed JSON"),
            (Self.good + "x", .malformed, "expected the end of the reading"),
            (
                Self.good.replacingOccurrences(of: "\"seq\":12345,", with: "\"seq\":1,\"seq\":2,"), .malformed,
                "'seq' appears twice"
            ),
            (
                Self.good.replacingOccurrences(of: "\"machine\":\"plant1/line1/m07\",", with: ""), .missingField,
                "missing field 'machine'"
            ),
            (
                Self.good.replacingOccurrences(of: "2026-11-25T06:00:00.123Z", with: "yesterday"), .badTimestamp,
                "ts: 'yesterday'"
            ),
            (Self.good.replacingOccurrences(of: "running", with: "sleeping"), .badState, "state: 'sleeping'"),
            (
                Self.good.replacingOccurrences(of: "\"good\":1", with: "\"good\":-1"), .wrongType,
                "good: expected a whole number"
            ),
            (
                Self.good.replacingOccurrences(of: "{\"air", with: "[{\"air").replacingOccurrences(
                    of: "108}", with: "108}]"), .wrongType, "values: expected an object"
            ),
            ("", .malformed, "input ends early"),
            ("[1]", .malformed, "'{' to start a reading"),
        ]
        for (text, reason, fragment) in cases {
            let error = failure(text)
            #expect(error?.reason == reason, "\(text)")
            #expect(
                error?.message.contains(fragment) == true, "\(error?.message ?? "no error") should contain \(fragment)")
        }
        #expect(failure(String(decoding: [0x7B, 0x22, 0xFF, 0x22] as [UInt8], as: UTF8.self)) != nil)
    }

    /// With the process's texts known, the decoder gives the same readings and the same errors, the known texts as
    /// the known Strings (two readings of one machine share its id's storage), and everything else as before.
    @Test func knownTextsGiveTheSameReadingsAndErrors() throws {
        let known = KnownTexts(
            [
                "plant1/line1/m07", "plant1/line1/m08", "air_temp_k", "process_temp_k", "rpm", "torque_nm",
                "tool_wear_min", "M", "L", "", "é",
            ])
        func both(_ text: String) -> (Result<Reading, ReadingError>, Result<Reading, ReadingError>) {
            let bytes = Array(text.utf8)
            return (
                Result { () throws(ReadingError) in try ReadingDecoder.decode(bytes) },
                Result { () throws(ReadingError) in try ReadingDecoder.decode(bytes, known: known) }
            )
        }
        var texts: [String] = [
            Self.good,
            Self.good.replacingOccurrences(of: "m07", with: "m99"),  // not known
            Self.good.replacingOccurrences(of: "m07", with: #"m\u0030\u0037"#),  // known, escaped
            Self.good.replacingOccurrences(of: #""rpm""#, with: #""r\u0070m""#),  // known name, escaped
            Self.good.replacingOccurrences(of: #""rpm""#, with: #""speed""#),  // unknown name
            Self.good.replacingOccurrences(of: #""rpm""#, with: #""torque_nm""#),  // a known name twice
            Self.good.replacingOccurrences(of: #""rpm""#, with: #""torque\u005fnm""#),  // twice, once escaped
            Self.good.replacingOccurrences(of: #""M""#, with: "null"),
            Self.good.replacingOccurrences(of: #""M""#, with: #""\u00e9""#),
            Self.good.replacingOccurrences(of: #""M""#, with: "7"),
            Self.good.replacingOccurrences(of: #""plant1/line1/m07""#, with: #""""#),
            Self.good.replacingOccurrences(of: #""plant1/line1/m07""#, with: "[1]"),
            Self.good.replacingOccurrences(of: #""air_temp_k""#, with: "1"),
            String(Self.good.dropLast()) + #","setpoints":{"rpm":1500,"rpm":1}}"#,
            String(Self.good.dropLast()) + #","setpoints":{"rpm":1500,"torque_nm":38}}"#,
        ]
        texts += texts.map { $0.replacingOccurrences(of: "plant1/line1/m07", with: "plant1/line1/m08") }
        for text in texts {
            let (plain, withKnown) = both(text)
            switch (plain, withKnown) {
            case (.success(let a), .success(let b)): #expect(a == b, "\(text)")
            case (.failure(let a), .failure(let b)):
                #expect(a.reason == b.reason && a.message == b.message, "\(text): \(a) against \(b)")
            default: Issue.record("\(text): \(plain) against \(withKnown)")
            }
        }
        // The machine's id is the known String: two readings share its storage; unknown ids are each their own.
        func storage(_ s: String) -> UnsafeRawPointer? {
            var s = s
            return s.withUTF8 { UnsafeRawPointer($0.baseAddress) }
        }
        let one = try ReadingDecoder.decode(Array(Self.good.utf8), known: known)
        let two = try ReadingDecoder.decode(Array(Self.good.utf8), known: known)
        #expect(storage(one.machine) != nil && storage(one.machine) == storage(two.machine))
        let other = Array(Self.good.replacingOccurrences(of: "m07", with: "m99").utf8)
        let three = try ReadingDecoder.decode(other, known: known)
        let four = try ReadingDecoder.decode(other, known: known)
        #expect(three.machine == four.machine && storage(three.machine) != storage(four.machine))
    }

    /// Text is scanned eight bytes at a time: a quote, a backslash, a control character or a non-ASCII byte at every
    /// place of texts of every length up to 33 is read as Foundation's JSON parser reads it, or rejected as it is.
    @Test func textScannedInWordsAsFoundationReadsIt() throws {
        let specials: [[UInt8]] = [
            [0x22], [0x5C, 0x6E], [0x5C, 0x22], [0x5C], [0x01], [0x1F], [0x7F], [0xC3, 0xA9], [0x20],
        ]
        var checked = 0
        for length in 1...33 {
            for place in 0..<length {
                for special in specials {
                    var text = [UInt8](repeating: UInt8(ascii: "m"), count: length)
                    text.replaceSubrange(place..<place + 1, with: special)
                    let json =
                        Array(#"{"machine":""#.utf8) + text + Array(#"","ts":"2026-01-01T00:00:00Z","values":{}}"#.utf8)
                    let reference =
                        (try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])?["machine"]
                        as? String
                    let ours = try? ReadingDecoder.decode(json)
                    let known = try? ReadingDecoder.decode(json, known: KnownTexts(["mmmm"]))
                    #expect(ours?.machine == reference, "\(String(decoding: json, as: UTF8.self))")
                    #expect(known?.machine == reference, "\(String(decoding: json, as: UTF8.self))")
                    checked += 1
                }
            }
        }
        #expect(checked == 33 * 34 / 2 * 9)
    }

    /// Every one of many machine ids is found, and near misses are not.
    @Test func knownTextsFindEveryOneOfMany() {
        let ids = (0..<2_000).map { "site\($0 % 7)/line\($0 % 13)/m\($0)" }
        let known = KnownTexts(ids + ["a", "ab"])
        for id in ids + ["a", "ab"] {
            let found = Array(id.utf8).withUnsafeBytes { known.find($0) }
            #expect(found == id)
        }
        for miss in ["site0/line0/m", "site0/line0/m0x", "b", "abc", "A", "site1/line1/m1 "] {
            #expect(Array(miss.utf8).withUnsafeBytes { known.find($0) } == nil, "\(miss)")
            #expect(known.index(of: miss) == nil, "\(miss)")
        }
        // Each text's place is its position in the order given, and the place gives the text back.
        #expect(known.count == ids.count + 2)
        for (k, id) in (ids + ["a", "ab"]).enumerated() {
            #expect(known.index(of: id) == k && known[k] == id, "\(id)")
        }
    }

    /// Places skip what is not known: empty texts, texts that are not plain ASCII, and texts given twice.
    @Test func knownTextsPlacesSkipWhatIsNotKnown() {
        let known = KnownTexts(["m1", "", "mé", "m2", "m1", "m\u{1F}", "m3"])
        #expect(known.count == 3)
        #expect((0..<known.count).map { known[$0] } == ["m1", "m2", "m3"])
        #expect(known.index(of: "m1") == 0 && known.index(of: "m2") == 1 && known.index(of: "m3") == 2)
        for other in ["", "mé", "m\u{1F}", "m4", "M1"] { #expect(known.index(of: other) == nil, "\(other)") }
    }

    /// A value is looked for at the place given first, and by name anywhere else: the same value as by name for
    /// every place, in or out of the list, and nil for a name the reading does not have.
    @Test func valueAtAPlaceIsTheValueByName() {
        let reading = Reading(
            machine: "m", timestamp: 0,
            values: [Measurement("air_temp_k", 300), Measurement("rpm", 1500), Measurement("torque_nm", 40)])
        for name in ["air_temp_k", "rpm", "torque_nm", "tool_wear_min"] {
            for place in [-1, 0, 1, 2, 3, 99] {
                #expect(reading.value(name, at: place) == reading[name], "\(name) at \(place)")
            }
        }
        #expect(reading.value("rpm", at: 1) == 1500 && reading.value("rpm", at: 0) == 1500)
        #expect(reading.value("tool_wear_min", at: 0) == nil)
    }

    /// Readings decoded one after another into one reading (as the pipeline's worker does) are the readings decoded
    /// each on its own: one without setpoints after one with them has none, one after an error is whole, and the
    /// errors are the same.
    @Test func readingsDecodedIntoOneAreEachReading() {
        let texts = [
            #"{"machine":"m1","ts":"2026-11-25T06:00:00Z","values":{"a":1,"b":2},"setpoints":{"rpm":1500},"product":"L"}"#,
            #"{"machine":"m2","ts":"2026-11-25T06:00:01Z","values":{"a":3}}"#,
            #"{"machine":"m3","ts":"2026-11-25T06:00:02Z","values":{"a":4,"a":5}}"#,
            #"{"machine":"m4","ts":"2026-11-25T06:00:03Z","setpoints":{"rpm":1}}"#,
            #"{"machine":"m5","ts":"2026-11-25T06:00:04Z","values":{"c":6,"d":7,"e":8},"state":"idle","good":2}"#,
            #"{"machine":"m6","ts":"2026-11-25T06:00:05Z","values":{},"setpoints":{"rpm":1600,"torque_nm":40}}"#,
            #"{"machine":"m7","ts":"2026-11-25T06:00:06Z","values":{"a":9}}"#,
        ]
        let known = KnownTexts(["m1", "a", "rpm"])
        var into = Reading(machine: "x", timestamp: 1, values: [Measurement("z", 1)], setpoints: [Measurement("s", 2)])
        for text in texts {
            let bytes = Array(text.utf8)
            let alone = Result { () throws(ReadingError) -> Reading in try ReadingDecoder.decode(bytes, known: known) }
            let decoded = Result { () throws(ReadingError) -> Reading in
                try ReadingDecoder.decode(bytes, known: known, into: &into)
                return into
            }
            switch (alone, decoded) {
            case (.success(let a), .success(let b)): #expect(a == b, "\(text)")
            case (.failure(let a), .failure(let b)): #expect(a.description == b.description, "\(text)")
            default: Issue.record("\(text): \(alone) against \(decoded)")
            }
        }
    }

    @Test func numbersRoundTripExactly() throws {
        var rng = RandomSource(seed: 11)
        var values: [Double] = [
            0, -0.5, 1e-7, 123456.789, 1e300, -2.5e-300, 0.1, 300.1, Double.ulpOfOne, 9_007_199_254_740_993,
        ]
        for _ in 0..<5000 {
            values.append(Double(bitPattern: rng.next()))
            values.append((rng.uniform() * 2000).rounded() / 10)
        }
        for v in values where v.isFinite {
            var out: [UInt8] = []
            JSONWriter.number(v, into: &out)
            let reading = Reading(machine: "m", timestamp: 0, values: [Measurement("x", v)])
            let back = try ReadingDecoder.decode(ReadingEncoder.encode(reading))
            #expect(back["x"] == v, "\(String(decoding: out, as: UTF8.self)) for \(v)")
        }
    }

    /// Integers and text as the writers put them (through a pointer, and into arrays from it): integers as
    /// `String(v)`, text quoted and escaped as JSON says (the escaper written here, byte by byte).
    @Test func integersAndTextAsTheirReferences() {
        var rng = RandomSource(seed: 13)
        var integers: [Int64] = [
            0, 1, -1, 9, 10, 99, 100, -100, .max, .min, .min + 1, 999_999_999_999_999_999,
            1_000_000_000_000_000_000, -1_000_000_000_000_000_000,
        ]
        for _ in 0..<5000 { integers.append(Int64(bitPattern: rng.next()) >> (rng.next() % 64)) }
        for v in integers {
            var out: [UInt8] = []
            JSONWriter.integer(v, into: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(v))
        }
        func escaped(_ text: String) -> String {
            var out = "\""
            for c in text.unicodeScalars {
                switch c {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where c.value < 0x20:
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(c)
                }
            }
            return out + "\""
        }
        let texts = [
            "", "plain", "q\"uote", "back\\slash", "tab\tnl\nret\r", "\u{0}\u{1f}\u{7f}", "tś ünïcödé 🚀",
            String(repeating: "\u{1}\"", count: 300), String(repeating: "long plain text ", count: 100),
        ]
        for text in texts {
            var out: [UInt8] = [UInt8(ascii: "x")]
            JSONWriter.string(text, into: &out)
            #expect(String(decoding: out, as: UTF8.self) == "x" + escaped(text), "\(text)")
        }
    }

    /// The writer's one try at 9 decimals stands for the ten tries of 0 to 9 decimals: the same text, byte for byte,
    /// as the tries alone (written here as the writer had them) and `description` after them.
    @Test func nineDecimalsDecideAsTheTenTries() {
        func tries(_ v: Double) -> String {
            if abs(v) < 1e15 {
                for k in 0...9 {
                    let scale = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9][k]
                    let scaled = (v * scale).rounded()
                    guard abs(scaled) < 9.007_199_254_740_992e15 && scaled / scale == v else { continue }
                    let whole = Int64(scaled)
                    guard k > 0 else { return String(whole) }
                    let digits = String(whole.magnitude % UInt64(scale))
                    let fraction = String(repeating: "0", count: k - digits.count) + digits
                    return (whole < 0 ? "-" : "") + String(whole.magnitude / UInt64(scale)) + "." + fraction
                }
            }
            return v.description
        }
        var rng = RandomSource(seed: 12)
        var values: [Double] = [
            0, -0, 0.5, 1e-9, 1.5e-9, 2e-10, 2_097_151.999999999, 2_097_152.000000001, 1e15, 3.0e-5,
        ]
        for _ in 0..<20000 {
            let k = Double([1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10][Int(rng.next() % 11)])
            let magnitude = [1.0, 1e3, 1e6, 2.1e6, 1e9][Int(rng.next() % 5)]
            values.append(((rng.uniform() - 0.5) * 2 * magnitude * k).rounded() / k)
            values.append((rng.uniform() - 0.5) * magnitude)
            values.append(Double(bitPattern: rng.next()))
        }
        for v in values where v.isFinite {
            var out: [UInt8] = []
            JSONWriter.number(v, into: &out)
            #expect(String(decoding: out, as: UTF8.self) == tries(v), "\(v)")
        }
    }
}

/// Our shortest-digits writer against the standard library's `description`, byte for byte: random doubles over every
/// binade it takes and beyond, each binade's ends (where the neighbour below is nearer), ties between two shortest
/// candidates (exact binary fractions), the powers of ten and their neighbours, and the change from plain text to
/// an exponent at 1e-4.
@Suite struct ShortestDecimalTests {
    @Test func writesWhatDescriptionWrites() {
        var rng = RandomSource(seed: 21)
        var values: [Double] = [0.0001, 0.00001, 9.99999e-05, 1e-10, 0.1, 0.5, 2.0 / 3, 0.30000000000000004, 1e15]
        for k in -40...53 {
            let v = Double(sign: .plus, exponent: k, significand: 1)
            values += [v, v.nextUp, v.nextDown]
        }
        for k in -12...16 {
            let v = Double("1e\(k)")!
            values += [v, v.nextUp, v.nextDown, 9.5 * v, 5 * v]
        }
        for _ in 0..<40000 {
            let exponent = UInt64(Int(rng.next() % 100) + 1023 - 42)
            values.append(Double(bitPattern: exponent << 52 | rng.next() >> 12))
            let whole = Double(rng.next() >> 17)  // up to 2^47: a fraction of 1/256 is exact, and ties happen
            values.append(whole + Double(rng.next() % 256) / 256)
            values.append(rng.uniform() * 6000)
        }
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: JSONWriter.longestNumber)
        defer { p.deallocate() }
        var taken = 0
        for v in values + values.map(-) {
            guard let n = ShortestDecimal.write(v, to: p) else {
                #expect(!(abs(v) >= 1e-10 && abs(v) < 0x1p53), "\(v) is in the range the writer takes")
                continue
            }
            taken += 1
            #expect(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self) == v.description)
        }
        #expect(taken > 200_000)
    }
}

@Suite struct ReadingValidatorTests {
    let validator = ReadingValidator(config: .milling())

    func reading(_ change: (inout Reading) -> Void = { _ in }) -> Reading {
        var r = Reading(
            machine: "plant1/line2/m03", timestamp: 1_000_000, sequence: 1,
            values: [
                Measurement("air_temp_k", 300), Measurement("process_temp_k", 310), Measurement("rpm", 1500),
                Measurement("torque_nm", 40), Measurement("tool_wear_min", 10),
            ], product: "L")
        change(&r)
        return r
    }

    func reason(_ r: Reading) -> ReadingError.Reason? {
        do {
            try validator.validate(r, now: 1_000_000)
            return nil
        } catch { return error.reason }
    }

    @Test func checksMachinesVariablesRangesProductsAndTime() {
        #expect(reason(reading()) == nil)
        #expect(reason(reading { $0.machine = "plant1/line9/m01" }) == .unknownMachine)
        #expect(reason(reading { $0.values.removeLast() }) == .missingVariable)
        #expect(reason(reading { $0.values[2].value = 9999 }) == .outOfRange)
        #expect(reason(reading { $0.product = "XL" }) == .unknownProduct)
        #expect(reason(reading { $0.timestamp += 3_600_000 }) == .futureTimestamp)
        // A machine that is down may report zeros and omit variables.
        #expect(
            reason(
                reading {
                    $0.state = .down; $0.values.removeLast(); $0.values[2].value = 0
                }) == nil)
    }

    /// Machines and products are found by their bytes, and texts that are not plain ASCII (which that lookup does
    /// not hold) in the sets: both known, neither mistaken for a text of the same length.
    @Test func knowsMachinesAndProductsBeyondPlainASCII() {
        var config = ProcessConfig.milling()
        config.lines = [ProductionLine(name: "linie1", machines: ["werk/linie1/mühle", "werk/linie1/m01"])]
        config.products = [ProductType(name: "Größe L", share: 0.5), ProductType(name: "L", share: 0.5)]
        let validator = ReadingValidator(config: config)
        func reason(_ machine: String, _ product: String?) -> ReadingError.Reason? {
            var r = reading()
            r.machine = machine
            r.product = product
            do {
                try validator.validate(r, now: 1_000_000)
                return nil
            } catch { return error.reason }
        }
        #expect(reason("werk/linie1/mühle", "Größe L") == nil)
        #expect(reason("werk/linie1/m01", "L") == nil)
        #expect(reason("werk/linie1/m02", "L") == .unknownMachine)
        #expect(reason("werk/linie1/mühlf", "L") == .unknownMachine)
        #expect(reason("werk/linie1/m01", "M") == .unknownProduct)
        #expect(reason("werk/linie1/m01", "Größe M") == .unknownProduct)
    }
}
