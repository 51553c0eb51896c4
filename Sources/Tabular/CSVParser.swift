/// Parses RFC 4180 CSV: comma separated, fields optionally in double quotes ("" inside quotes is one quote),
/// LF or CRLF line ends, an optional UTF-8 byte-order mark. Blank lines are skipped.
public enum CSVParser {
    public static func parse(_ bytes: [UInt8], source: String) throws -> CSVTable {
        var start = 0
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { start = 3 }
        var records: [[String]] = []
        var lines: [Int] = []
        var field: [UInt8] = []
        var record: [String] = []
        var line = 1
        var recordLine = 1
        var i = start
        var inQuotes = false
        var quoteLine = 0
        var fieldWasQuoted = false

        func endField() {
            record.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
        }
        func endRecord() {
            endField()
            if !(record.count == 1 && record[0].isEmpty) {
                records.append(record)
                lines.append(recordLine)
            }
            record = []
        }
        while i < bytes.count {
            let c = bytes[i]
            if inQuotes {
                if c == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(c)
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if c == 10 { line += 1 }
                    field.append(c)
                }
            } else {
                switch c {
                case UInt8(ascii: ","):
                    endField()
                case 10:
                    endRecord()
                    line += 1
                    recordLine = line
                case 13 where i + 1 < bytes.count && bytes[i + 1] == 10:
                    break  // the LF that follows ends the record
                case UInt8(ascii: "\""):
                    guard field.isEmpty && !fieldWasQuoted else {
                        throw CSVError(
                            "\(source):\(line): a double quote inside an unquoted field (quote the whole field)")
                    }
                    inQuotes = true
                    fieldWasQuoted = true
                    quoteLine = line
                default:
                    field.append(c)
                }
            }
            i += 1
        }
        if inQuotes { throw CSVError("\(source):\(quoteLine): a quoted field is never closed") }
        if !field.isEmpty || !record.isEmpty { endRecord() }
        guard let header = records.first else { throw CSVError("\(source): the file is empty (no header row)") }
        for (index, row) in records.enumerated().dropFirst() where row.count != header.count {
            throw CSVError(
                "\(source):\(lines[index]): \(row.count) fields, but the header has \(header.count)")
        }
        return CSVTable(
            source: source, header: header.map { String($0.trimmingSpaces()) }, rows: Array(records.dropFirst()),
            lines: Array(lines.dropFirst()))
    }
}
