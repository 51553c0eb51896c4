import Crypto
import Foundation
import Learn
import Plant
import Primitives
import Tabular

/// Reads a CSV file into the columns a model trains on or scores: by the process config's variables and features
/// when one is given, else every column but the target and the dropped ones.
struct TrainingTable {
    var data: TabularData
    /// Input name -> CSV column.
    var columns: [String: String]
    var sha256: String
    var source: String
    /// The file as read.
    var table: CSVTable

    /// Reads a CSV file with a header row, or with `header` a file without one whose fields are separated by
    /// commas or runs of spaces and tabs (as NASA's C-MAPSS files are).
    static func read(path: String, header: [String]? = nil) throws -> (CSVTable, [UInt8]) {
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw CommandError("cannot read \(path): no such file or no permission")
        }
        let bytes = [UInt8](contents)
        if let header { return (try headerless(bytes, header: header, source: path), bytes) }
        let table = try CSVParser.parse(bytes, source: path)
        guard !table.rows.isEmpty else { throw CommandError("\(path) has a header but no rows") }
        return (table, bytes)
    }

    static func headerless(_ bytes: [UInt8], header: [String], source: String) throws -> CSVTable {
        var rows: [[String]] = []
        var lines: [Int] = []
        for (i, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated()
        {
            let fields = line.split { $0 == " " || $0 == "\t" || $0 == "," || $0 == "\r" }.map(String.init)
            if fields.isEmpty { continue }
            guard fields.count == header.count else {
                throw CommandError(
                    "\(source):\(i + 1): \(fields.count) fields, but --columns names \(header.count)")
            }
            rows.append(fields)
            lines.append(i + 1)
        }
        guard !rows.isEmpty else { throw CommandError("\(source) has no rows") }
        return CSVTable(source: source, header: header, rows: rows, lines: lines)
    }

    init(
        path: String, header: [String]? = nil, target: String?, extraTargets: [String] = [], drop: [String],
        config: ProcessConfig?
    ) throws {
        let (table, bytes) = try Self.read(path: path, header: header)
        self.table = table
        source = path
        sha256 = SHA256.hash(data: bytes).hexString
        let targetColumn = try target.map { try table.column($0) }
        let extraColumns = try extraTargets.map { try table.column($0) }
        for name in drop { _ = try table.column(name) }
        var numericNames: [String] = []
        var numeric: [[Double]] = []
        var categoricalNames: [String] = []
        var categorical: [[String]] = []
        var categories: [String: [String]] = [:]
        var derived: [(name: String, expression: String)] = []
        var columns: [String: String] = [:]
        if let config {
            for v in config.variables where !drop.contains(v.column) && !drop.contains(v.name) {
                let c = try table.column(v.column)
                numericNames.append(v.name)
                numeric.append(try table.rows.indices.map { try table.number(row: $0, column: c) })
                columns[v.name] = v.column
            }
            for f in config.features.categorical {
                let columnName = f.name == "product" ? (config.csv.product ?? "product") : f.name
                let c = try table.column(columnName)
                categoricalNames.append(f.name)
                categorical.append(table.rows.map { $0[c] })
                if let list = f.categories { categories[f.name] = list }
                columns[f.name] = columnName
            }
            derived = config.features.derived.map { ($0.name, $0.expression) }
        } else {
            for (c, name) in table.header.enumerated()
            where c != targetColumn && !extraColumns.contains(c) && !drop.contains(name) {
                let values = table.rows.map { $0[c] }
                if values.allSatisfy({ Double($0.trimmingCharacters(in: .whitespaces)).map(\.isFinite) ?? false }) {
                    numericNames.append(name)
                    numeric.append(values.map { Double($0.trimmingCharacters(in: .whitespaces))! })
                } else {
                    let distinct = Set(values).count
                    guard distinct <= 50 else {
                        throw CommandError(
                            "\(path): column '\(name)' holds text with \(distinct) different values; drop it (--drop '\(name)') or describe the inputs with --config"
                        )
                    }
                    categoricalNames.append(name)
                    categorical.append(values)
                }
                columns[name] = name
            }
        }
        guard !numericNames.isEmpty || !categoricalNames.isEmpty else {
            throw CommandError("\(path): no input columns are left")
        }
        let targetValues = targetColumn.map { c in table.rows.map { $0[c].trimmingCharacters(in: .whitespaces) } } ?? []
        data = TabularData(
            numericNames: numericNames, numeric: numeric, categoricalNames: categoricalNames, categorical: categorical,
            categories: categories, derived: derived, targetName: target ?? "", target: targetValues)
        data.extraTargets = zip(extraTargets, extraColumns).map { name, c in
            (name, table.rows.map { $0[c].trimmingCharacters(in: .whitespaces) })
        }
        self.columns = columns
    }

    /// The feature rows a model scores for a CSV file: through its saved preprocessing, or (imported ONNX models) the
    /// numeric columns in order: those named at import, else every numeric column but the target.
    static func features(
        path: String, header: [String]? = nil, model: ModelFile.Description
    ) throws -> (x: Tensor, table: CSVTable) {
        let (table, _) = try read(path: path, header: header ?? model.history?.header)
        if let pre = model.preprocessing {
            let map = model.columns ?? [:]
            func raw(_ name: String) throws -> [Double] {
                let c = try table.column(map[name] ?? name)
                return try table.rows.indices.map { try table.number(row: $0, column: c) }
            }
            let numeric: [[Double]]
            if let history = model.history {
                let (units, time) = try unitsAndTime(table, history)
                numeric = try history.numericInputs(pre.numericInputs, units: units, time: time, raw: raw)
            } else {
                numeric = try pre.numericInputs.map(raw)
            }
            let categorical = try pre.categorical.map { cat in
                let c = try table.column(map[cat.name] ?? cat.name)
                return table.rows.map { $0[c] }
            }
            return (try pre.transform(numeric: numeric, categoricalValues: categorical), table)
        }
        let names =
            model.inputColumns
            ?? table.header.filter { name in
                name != model.target
                    && table.rows.allSatisfy {
                        Double($0[table.header.firstIndex(of: name)!].trimmingCharacters(in: .whitespaces)) != nil
                    }
            }
        let columns = try names.map { try table.column($0) }
        guard columns.count == model.inputSize else {
            throw CommandError(
                "\(path): \(columns.count) numeric input columns (\(names.joined(separator: ", "))), but the model takes \(model.inputSize); name them with `models import --columns`"
            )
        }
        var x = Tensor(rows: table.rows.count, columns: columns.count)
        for r in table.rows.indices {
            for (j, c) in columns.enumerated() { x[r, j] = Float(try table.number(row: r, column: c)) }
        }
        return (x, table)
    }

    /// Each row's unit and time, from the columns a history model names.
    static func unitsAndTime(_ table: CSVTable, _ history: ModelFile.HistorySpec) throws -> ([String], [Double]) {
        let u = try table.column(history.unit)
        let t = try table.column(history.time)
        return (
            table.rows.map { $0[u].trimmingCharacters(in: .whitespaces) },
            try table.rows.indices.map { try table.number(row: $0, column: t) }
        )
    }
}
