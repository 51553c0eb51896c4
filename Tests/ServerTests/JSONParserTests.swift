import Foundation
import Testing

@testable import Server

/// The predict path's parser reads what JSON allows, as Foundation does, and refuses what it does not.
@Suite struct JSONParserTests {
    @Test func readsWhatFoundationReads() throws {
        let text = #"{"instances":[[1,-2.5,3e2,0.125,-0E-2],[{"a":"x\"y\u00e9","b":true,"c":null,"d":[]}]],"n":{}}"#
        let ours = try JSONParser.parse(Array(text.utf8)) as! [String: Any]
        let theirs = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        #expect(NSDictionary(dictionary: ours).isEqual(to: theirs))
        let first = (ours["instances"] as! [Any])[0] as! [Any]
        #expect(first.map { JSON.number($0) } == [1, -2.5, 300, 0.125, -0.0])
        let object = ((ours["instances"] as! [Any])[1] as! [Any])[0] as! [String: Any]
        #expect(object["a"] as? String == "x\"yé")
        #expect(JSON.number(object["b"]) == nil)  // a boolean is not a number
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
