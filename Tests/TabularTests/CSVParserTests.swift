import Foundation
import Tabular
import Testing

@Suite struct CSVParserTests {
    func parse(_ text: String) throws -> CSVTable { try CSVParser.parse(Array(text.utf8), source: "t.csv") }

    @Test func quotedFieldsEscapesAndCRLF() throws {
        let table = try parse("a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n2,\"two\nlines\",3\r\n")
        #expect(table.header == ["a", "b", "c"])
        #expect(table.rows == [["1", "x, y", "say \"hi\""], ["2", "two\nlines", "3"]])
        #expect(table.lines == [2, 3])
    }

    @Test func byteOrderMarkIsDropped() throws {
        let table = try CSVParser.parse([0xEF, 0xBB, 0xBF] + Array("x,y\n1,2\n".utf8), source: "bom.csv")
        #expect(table.header == ["x", "y"])
    }

    @Test func errorsNameTheFileAndLine() throws {
        #expect(throws: CSVError.self) { try parse("") }
        do {
            _ = try parse("a,b\n1,2\n3\n")
            Issue.record("a short row must fail")
        } catch let error as CSVError {
            #expect(error.message == "t.csv:3: 1 fields, but the header has 2")
        }
        do {
            _ = try parse("a\n\"open\n")
            Issue.record("an unclosed quote must fail")
        } catch let error as CSVError {
            #expect(error.message == "t.csv:2: a quoted field is never closed")
        }
    }

    @Test func numbersAndColumns() throws {
        let table = try parse("v,w\n1.5,abc\n,2\n")
        #expect(try table.number(row: 0, column: 0) == 1.5)
        #expect(throws: CSVError.self) { try table.number(row: 0, column: 1) }
        do {
            _ = try table.number(row: 1, column: 0)
        } catch let error as CSVError {
            #expect(error.message == "t.csv:3: column 'v' is empty")
        }
        do {
            _ = try table.column("nope")
        } catch let error as CSVError {
            #expect(error.message.contains("no column named 'nope'"))
        }
    }

    @Test func readsTheAI4IFile() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../data/ai4i2020.csv"
        ).path
        let table = try CSVParser.parse([UInt8](FileManager.default.contents(atPath: path)!), source: path)
        #expect(table.rows.count == 10_000)
        #expect(table.header.count == 14)
        #expect(table.header[0] == "UDI")
        let failures = try (0..<table.rows.count).reduce(0.0) {
            $0 + (try table.number(row: $1, column: table.column("Machine failure")))
        }
        #expect(failures == 339)
    }
}
