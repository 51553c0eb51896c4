/// A column of a Parquet file: a name and its values, any of which may be missing.
public enum ParquetColumn: Sendable {
    /// 64-bit integers; `timestampMillis` marks them as milliseconds since the epoch, UTC.
    case int64(String, [Int64?], timestampMillis: Bool = false)
    case double(String, [Double?])
    case string(String, [String?])

    var name: String {
        switch self {
        case .int64(let n, _, _), .double(let n, _), .string(let n, _): n
        }
    }

    var count: Int {
        switch self {
        case .int64(_, let v, _): v.count
        case .double(_, let v): v.count
        case .string(_, let v): v.count
        }
    }
}

/// Writes Apache Parquet files: every column optional, PLAIN values, definition levels in RLE runs, no compression,
/// one data page per column chunk and a row group per `rowGroupSize` rows.
///
/// Hand-written (about 250 lines) because no Swift Parquet library is in the package mirror; what it writes is the
/// format's simplest valid form, and `HistoryExportTests` has pyarrow read it back value for value. The file metadata
/// is Thrift's compact protocol, written by `ThriftCompact` below.
public enum ParquetWriter {
    public static func write(_ columns: [ParquetColumn], rowGroupSize: Int = 100_000, createdBy: String = "millstream")
        -> [UInt8]
    {
        let rows = columns.first?.count ?? 0
        precondition(columns.allSatisfy { $0.count == rows }, "Parquet columns of unequal length")
        var out: [UInt8] = Array("PAR1".utf8)
        var groups: [[UInt8]] = []
        var start = 0
        repeat {
            let end = min(rows, start + max(1, rowGroupSize))
            var chunks: [[UInt8]] = []
            var groupBytes = 0
            for column in columns {
                let offset = out.count
                let (page, values) = Self.page(column, start..<end)
                out += page
                groupBytes += page.count
                var meta = ThriftCompact()
                meta.struct {
                    $0.i32(1, Self.physicalType(column))
                    $0.list(2, i32: [0, 3])  // PLAIN, RLE
                    $0.list(3, strings: [column.name])
                    $0.i32(4, 0)  // UNCOMPRESSED
                    $0.i64(5, Int64(values))
                    $0.i64(6, Int64(page.count))
                    $0.i64(7, Int64(page.count))
                    $0.i64(9, Int64(offset))
                }
                var chunk = ThriftCompact()
                chunk.i64(2, Int64(offset))
                chunk.field(3, type: ThriftCompact.structType)
                chunk.bytes += meta.bytes
                chunks.append(chunk.bytes)
            }
            var group = ThriftCompact()
            group.list(1, structs: chunks)
            group.i64(2, Int64(groupBytes))
            group.i64(3, Int64(end - start))
            groups.append(group.bytes)
            start = end
        } while start < rows
        var schema: [[UInt8]] = []
        var root = ThriftCompact()
        root.binary(4, Array("schema".utf8))
        root.i32(5, Int32(columns.count))
        schema.append(root.bytes)
        for column in columns {
            var element = ThriftCompact()
            element.i32(1, physicalType(column))
            element.i32(3, 1)  // OPTIONAL
            element.binary(4, Array(column.name.utf8))
            switch column {
            case .int64(_, _, true): element.i32(6, 9)  // TIMESTAMP_MILLIS
            case .string: element.i32(6, 0)  // UTF8
            default: break
            }
            schema.append(element.bytes)
        }
        var file = ThriftCompact()
        file.i32(1, 1)
        file.list(2, structs: schema)
        file.i64(3, Int64(rows))
        file.list(4, structs: groups)
        file.binary(6, Array(createdBy.utf8))
        let footer = file.bytes + [0]  // the file metadata struct's stop
        out += footer
        let n = UInt32(footer.count)
        out += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
        out += Array("PAR1".utf8)
        return out
    }

    static func physicalType(_ c: ParquetColumn) -> Int32 {
        switch c {
        case .int64: 2
        case .double: 5
        case .string: 6
        }
    }

    /// One data page (v1) of rows `range`: its header and body, and the number of values (nulls included).
    static func page(_ column: ParquetColumn, _ range: Range<Int>) -> ([UInt8], Int) {
        var present: [Bool] = []
        var values: [UInt8] = []
        func little(_ x: UInt64, _ width: Int) { for i in 0..<width { values.append(UInt8(x >> (8 * i) & 0xFF)) } }
        switch column {
        case .int64(_, let v, _):
            for x in v[range] {
                present.append(x != nil)
                if let x { little(UInt64(bitPattern: x), 8) }
            }
        case .double(_, let v):
            for x in v[range] {
                present.append(x != nil)
                if let x { little(x.bitPattern, 8) }
            }
        case .string(_, let v):
            for x in v[range] {
                present.append(x != nil)
                if let x {
                    let utf8 = Array(x.utf8)
                    little(UInt64(utf8.count), 4)
                    values += utf8
                }
            }
        }
        // Definition levels (1 present, 0 missing) as RLE runs: <count << 1 varint> <value byte>.
        var levels: [UInt8] = []
        var i = 0
        while i < present.count {
            var j = i
            while j < present.count && present[j] == present[i] { j += 1 }
            ThriftCompact.varint(UInt64(j - i) << 1, into: &levels)
            levels.append(present[i] ? 1 : 0)
            i = j
        }
        let n = UInt32(levels.count)
        let body = [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + levels + values
        var header = ThriftCompact()
        header.i32(1, 0)  // DATA_PAGE
        header.i32(2, Int32(body.count))
        header.i32(3, Int32(body.count))
        header.struct(5) {
            $0.i32(1, Int32(present.count))
            $0.i32(2, 0)  // PLAIN
            $0.i32(3, 3)  // RLE
            $0.i32(4, 3)  // RLE
        }
        return (header.bytes + [0] + body, present.count)
    }
}

/// Thrift's compact protocol, the fields Parquet's metadata needs: a struct's fields in increasing id order; the
/// caller ends a top-level struct with a 0 byte (`struct` and `list(structs:)` end nested ones).
struct ThriftCompact {
    var bytes: [UInt8] = []
    private var last: Int16 = 0

    static let i32Type: UInt8 = 5, i64Type: UInt8 = 6, binaryType: UInt8 = 8, listType: UInt8 = 9
    static let structType: UInt8 = 12

    static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    mutating func field(_ id: Int16, type: UInt8) {
        let delta = id - last
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type)
        } else {
            bytes.append(type)
            Self.varint(Self.zigzag(Int64(id)), into: &bytes)
        }
        last = id
    }

    mutating func i32(_ id: Int16, _ v: Int32) {
        field(id, type: Self.i32Type)
        Self.varint(Self.zigzag(Int64(v)), into: &bytes)
    }

    mutating func i64(_ id: Int16, _ v: Int64) {
        field(id, type: Self.i64Type)
        Self.varint(Self.zigzag(v), into: &bytes)
    }

    mutating func binary(_ id: Int16, _ v: [UInt8]) {
        field(id, type: Self.binaryType)
        Self.varint(UInt64(v.count), into: &bytes)
        bytes += v
    }

    private mutating func listHeader(_ id: Int16, count: Int, element: UInt8) {
        field(id, type: Self.listType)
        if count < 15 {
            bytes.append(UInt8(count) << 4 | element)
        } else {
            bytes.append(0xF0 | element)
            Self.varint(UInt64(count), into: &bytes)
        }
    }

    mutating func list(_ id: Int16, i32 values: [Int32]) {
        listHeader(id, count: values.count, element: Self.i32Type)
        for v in values { Self.varint(Self.zigzag(Int64(v)), into: &bytes) }
    }

    mutating func list(_ id: Int16, strings: [String]) {
        listHeader(id, count: strings.count, element: Self.binaryType)
        for s in strings {
            Self.varint(UInt64(s.utf8.count), into: &bytes)
            bytes += Array(s.utf8)
        }
    }

    /// A list of structs, each already written (without its stop byte) by a `ThriftCompact` of its own.
    mutating func list(_ id: Int16, structs: [[UInt8]]) {
        listHeader(id, count: structs.count, element: Self.structType)
        for s in structs { bytes += s + [0] }
    }

    /// A nested struct field.
    mutating func `struct`(_ id: Int16, _ body: (inout ThriftCompact) -> Void) {
        field(id, type: Self.structType)
        var inner = ThriftCompact()
        body(&inner)
        bytes += inner.bytes + [0]
    }

    /// The fields of a struct written on its own (a list element, a nested value placed by hand); no stop byte.
    mutating func `struct`(_ body: (inout ThriftCompact) -> Void) {
        var inner = ThriftCompact()
        body(&inner)
        bytes += inner.bytes + [0]
    }
}
