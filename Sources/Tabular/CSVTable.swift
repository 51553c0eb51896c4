/// A parsed CSV file: a header row and data rows of equal width.
public struct CSVTable: Sendable {
    /// Where the data came from, for error messages (a path, or "stdin").
    public let source: String
    public let header: [String]
    public let rows: [[String]]
    /// The 1-based line on which each row starts (quoted fields may span lines).
    public let lines: [Int]

    public init(source: String, header: [String], rows: [[String]], lines: [Int]) {
        self.source = source
        self.header = header
        self.rows = rows
        self.lines = lines
    }

    /// The index of `name` in the header.
    public func column(_ name: String) throws -> Int {
        guard let index = header.firstIndex(of: name) else {
            throw CSVError(
                "\(source): no column named '\(name)'; the columns are: \(header.map { "'\($0)'" }.joined(separator: ", "))"
            )
        }
        return index
    }

    /// The value at `row`, `column` as a finite number, or an error naming the file, line and column.
    public func number(row: Int, column: Int) throws -> Double {
        let text = rows[row][column]
        guard let value = Double(text.trimmingSpaces()), value.isFinite else {
            let what = text.isEmpty ? "is empty" : "'\(text)' is not a finite number"
            throw CSVError("\(source):\(lines[row]): column '\(header[column])' \(what)")
        }
        return value
    }
}

/// A CSV problem, with the file and line in the message.
public struct CSVError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension String {
    func trimmingSpaces() -> Substring {
        var s = self[...]
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
