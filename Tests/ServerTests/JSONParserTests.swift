import Foundation
import Testing

@testable import Server

/// The predict path's parser reads what JSON allows, as Foundation does, and refuses what it does not.
@Suite struct JSONParserTests {
    @Test func readsWhatFoundationReads() throws {
        let text = #"{"instances":[[1,-2.5,3e2,0.125,-0E-2],[{"a":"x\"y\u00e9","b":true,"c":null,"d":[]}]],"n":{}}"#
        let ours = plain(try JSONParser.parse(Array(text.utf8))) as! [String: Any]
        let theirs = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        #expect(NSDictionary(dictionary: ours).isEqual(to: theirs))
        let first = (ours["instances"] as! [Any])[0] as! [Any]
        #expect(first.map { JSON.number($0) } == [1, -2.5, 300, 0.125, -0.0])
        let object = ((ours["instances"] as! [Any])[1] as! [Any])[0] as! [String: Any]
        #expect(object["a"] as? String == "x\"yé")
        #expect(JSON.number(object["b"]) == nil)  // a boolean is not a number
    }

    /// Every number reads as strtod reads it, bit for bit: the fast path (at most 53 bits of digits, a power of ten
    /// of at most 22) and the rest (more digits, larger exponents, subnormals).
    @Test func numbersReadAsStrtodReadsThem() throws {
        var texts = [
            "0", "-0", "1", "9007199254740992", "9007199254740993", "0.1", "0.30000000000000004",
            "123456789012345678901",
            "1e22", "1e23", "1e-22", "1e-23", "4.9e-324", "2.2250738585072014e-308", "1.7976931348623157e308",
            "-0.6875391602516174", "3.141592653589793238462643383279", "0.000000000000000000000000001", "12.5E+3",
        ]
        var state: UInt64 = 42
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let x = Double(bitPattern: (state >> 2) & 0x7FEF_FFFF_FFFF_FFFF)
            let y = Double(Float(bitPattern: UInt32(truncatingIfNeeded: state >> 20) & 0x7F7F_FFFF))
            texts += [x.description, y.description, String(format: "%.6f", y), String(format: "%.9e", x)]
            // 17 to 19 digits a power of ten of at most 19 either way (the 128-bit path): doubles as JSON writers
            // print them, and integers of 19 digits with a decimal point put anywhere.
            let z = Double(bitPattern: (state >> 12) | 0x3F00_0000_0000_0000) * 1e3
            let digits = String(state % 9_000_000_000_000_000_000 + 1_000_000_000_000_000_000)
            let point = Int(state >> 59) % 18 + 1
            texts += [z.description, String(digits.prefix(point)) + "." + digits.dropFirst(point), "0." + digits]
            texts += [digits + "e" + String(Int(state >> 40) % 39 - 19)]
        }
        // Halfway cases: ties go to the even neighbour, one past them up.
        texts += [
            "9007199254740993", "9007199254740995", "9007199254740993.0000000001", "4503599627370496.5",
            "4503599627370497.5", "0.9999999999999999999", "1.0000000000000001110", "18014398509481986",
            "1152921504606846977", "9999999999999999999", "9999999999999999999e19", "1e-19",
        ]
        for text in texts where !text.contains("inf") && !text.contains("nan") {
            let ours = JSON.numbers(try JSONParser.parse(Array("[\(text)]".utf8)))!
            let want = strtod(text, nil)
            #expect(ours[0].bitPattern == want.bitPattern, "\(text)")
        }
    }

    /// The parsed value with lists of numbers as `[Any]`, as Foundation gives them.
    func plain(_ value: Any) -> Any {
        if let n = value as? JSONNumbers { return n.values as [Any] }
        if let a = value as? [Any] { return a.map(plain) }
        if let o = value as? [String: Any] { return o.mapValues(plain) }
        return value
    }

    /// A list of numbers alone comes back as one value (no cast per number on the predict path); mixed lists and
    /// the empty list as `[Any]`.
    @Test func listsOfNumbersComeBackWhole() throws {
        let parsed = try JSONParser.parse(Array(#"[[1,2.5],[1,"a"],[]]"#.utf8)) as! [Any]
        #expect(JSON.numbers(parsed[0]) == [1, 2.5])
        #expect(JSON.list(parsed[0])?.count == 2)
        #expect(JSON.numbers(parsed[1]) == nil && JSON.list(parsed[1])?.count == 2)
        #expect(JSON.list(parsed[2])?.isEmpty == true)
    }

    @Test(arguments: [
        "", "{", "[1,]", "[01]", "[1.]", "[.5]", "[NaN]", "[1e999]", #"{"a":1,"a":2}"#, #"{"a" 1}"#, "[1] x",
        #"["tab\#there"]"#, "[tru]", String(repeating: "[", count: 70) + String(repeating: "]", count: 70),
        #"["\#u{1}"]"#,
    ])
    func refusesWhatJSONDoesNot(_ text: String) {
        #expect(throws: APIError.self) { try JSONParser.parse(Array(text.utf8)) }
    }
}
