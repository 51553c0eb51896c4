/// Decodes a reading from JSON bytes in one pass, strictly: anything the wire format does not allow is an error
/// that names the field (missing field, wrong type, text or null where a number belongs, NaN, infinities,
/// numbers that overflow, trailing bytes, bad UTF-8, duplicate keys). Unknown top-level keys are skipped, so
/// newer producers can add fields.
public enum ReadingDecoder {
    /// `known`: texts (the pipeline's worker passes its process's machines, variable names and products) given as
    /// those Strings when a plain text spells one, instead of a String made from the bytes.
    public static func decode(_ bytes: [UInt8], known: KnownTexts? = nil) throws(ReadingError) -> Reading {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(ReadingError) -> Reading in
                var p = JSONScanner(raw, known: known)
                return try p.reading()
            }
        }
        return try result.get()
    }

    /// The same, into `reading`, whose lists' memory is used again when nothing else holds them: the pipeline's
    /// worker decodes every reading into one (a reading made anew allocated its values and its setpoints, and freed
    /// them, per reading). After an error `reading` is empty.
    public static func decode(
        _ bytes: [UInt8], known: KnownTexts?, into reading: inout Reading
    ) throws(ReadingError) {
        // The lists move to the fields read (swapped, not copied: a second holder would make the first append
        // copy them).
        var fields = JSONScanner.Fields()
        swap(&fields.values, &reading.values)
        swap(&fields.setpoints, &reading.setpoints)
        fields.values.removeAll(keepingCapacity: true)
        fields.setpoints.removeAll(keepingCapacity: true)  // a reading without setpoints has none
        reading = Reading(machine: "", timestamp: 0, values: [])
        // Assigned inside the closure: returned in a `Result` and taken out with `get()`, the reading was copied
        // (its four lists and texts retained) and the copy in the result released, 0.9 % of the pipeline worker.
        var failure: ReadingError?
        bytes.withUnsafeBytes { raw in
            var p = JSONScanner(raw, known: known)
            do throws(ReadingError) { reading = try p.reading(&fields) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ReadingError) -> Reading {
        var p = JSONScanner(bytes)
        return try p.reading()
    }
}

/// The field a number is read for, as errors name it ("values.torque_nm"): put together only for an error (joining
/// the names for every value was 1.8 % of the pipeline worker in a profile).
private struct FieldName: CustomStringConvertible, ExpressibleByStringLiteral {
    let object: String
    let member: String?

    init(_ object: String, _ member: String? = nil) {
        self.object = object
        self.member = member
    }

    init(stringLiteral value: String) { self.init(value) }

    var description: String { member.map { object + "." + $0 } ?? object }
}

private struct JSONScanner {
    let b: UnsafeRawBufferPointer
    let known: KnownTexts?
    var i = 0
    var depth = 0
    init(_ bytes: UnsafeRawBufferPointer, known: KnownTexts? = nil) {
        b = bytes
        self.known = known
    }

    func fail(_ reason: ReadingError.Reason, _ message: String) -> ReadingError {
        ReadingError(reason, message)
    }

    func malformed(_ what: String) -> ReadingError {
        if i >= b.count { return ReadingError(.malformed, "malformed JSON: input ends early (\(what)) at byte \(i)") }
        let c = b[i]
        let shown = c >= 0x20 && c < 0x7F ? "'\(Character(UnicodeScalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        return ReadingError(.malformed, "malformed JSON: expected \(what), found \(shown) at byte \(i)")
    }

    @inline(__always) mutating func skipSpace() {
        while i < b.count {
            let c = b[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { return }
        }
    }

    @inline(__always) mutating func expect(_ c: UInt8, _ what: String) throws(ReadingError) {
        skipSpace()
        guard i < b.count, b[i] == c else { throw malformed(what) }
        i += 1
    }

    @inline(__always) mutating func peek() -> UInt8? {
        skipSpace()
        return i < b.count ? b[i] : nil
    }

    // MARK: reading

    /// The fields of a reading as they are read.
    struct Fields {
        var machine: String?
        var ts: Int64?
        var seq: Int64?
        /// Read when `seen` has the values' bit.
        var values: [Measurement] = []
        var setpoints: [Measurement] = []
        var product: String?
        var state: MachineState = .running
        var good = 0
        var scrap = 0
        /// One bit per field seen: a field twice is an error.
        var seen: UInt16 = 0
    }

    mutating func reading() throws(ReadingError) -> Reading {
        var fields = Fields()
        return try reading(&fields)
    }

    /// The reading, read into `fields` (new, but its lists may have memory to use again).
    mutating func reading(_ fields: inout Fields) throws(ReadingError) -> Reading {
        try expect(UInt8(ascii: "{"), "'{' to start a reading")
        if peek() == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                let keyStart = i
                let key = try fieldKey()
                try expect(UInt8(ascii: ":"), "':' after a field name")
                let bit = try field(key, into: &fields)
                if bit != 0 {
                    if fields.seen & bit != 0 {
                        throw fail(
                            .malformed, "malformed JSON: field '\(key.rawValue)' appears twice (byte \(keyStart))")
                    }
                    fields.seen |= bit
                }
                skipSpace()
                guard i < b.count else { throw malformed("',' or '}'") }
                if b[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if b[i] == UInt8(ascii: "}") {
                    i += 1
                    break
                }
                throw malformed("',' or '}'")
            }
        }
        skipSpace()
        guard i == b.count else { throw malformed("the end of the reading") }
        guard let machine = fields.machine else { throw fail(.missingField, "missing field 'machine'") }
        guard let ts = fields.ts else { throw fail(.missingField, "missing field 'ts'") }
        guard fields.seen & 8 != 0 else { throw fail(.missingField, "missing field 'values'") }
        return Reading(
            machine: machine, timestamp: ts, sequence: fields.seq, values: fields.values, product: fields.product,
            state: fields.state, good: fields.good, scrap: fields.scrap, setpoints: fields.setpoints)
    }

    /// The fields of the wire format; `other` for a name it does not know.
    enum FieldKey: String, CaseIterable {
        case machine, ts, seq, values, setpoints, product, state, good, scrap, other

        /// The field a plain name's bytes spell, by their length first.
        init(_ raw: UnsafeRawBufferPointer) {
            func spells(_ name: StaticString) -> Bool { JSONScanner.equal(raw, name) }
            switch raw.count {
            case 2 where spells("ts"): self = .ts
            case 3 where spells("seq"): self = .seq
            case 4 where spells("good"): self = .good
            case 5 where spells("state"): self = .state
            case 5 where spells("scrap"): self = .scrap
            case 6 where spells("values"): self = .values
            case 7 where spells("machine"): self = .machine
            case 7 where spells("product"): self = .product
            case 9 where spells("setpoints"): self = .setpoints
            default: self = .other
            }
        }
    }

    /// Whether the bytes are the name's.
    @inline(__always) static func equal(_ raw: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
        guard raw.count == name.utf8CodeUnitCount else { return false }
        let p = name.utf8Start
        for k in 0..<raw.count where raw[k] != p[k] { return false }
        return true
    }

    /// Plain text: the bytes between the quotes of a string with nothing to unescape and only ASCII, read past; nil
    /// (nothing read) for anything else, which `rawString` reads or reports. A field name, a time or a state is
    /// matched on these bytes: making a String of each of a reading's nine names to switch on was about 6 % of
    /// decoding (`millstream-bench readings`), and a time's text (24 bytes) was a heap string per reading.
    mutating func plainText() -> UnsafeRawBufferPointer? {
        skipSpace()
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
        var j = i + 1
        // Eight bytes at a time while none of them ends plain text (a quote, a backslash, a control character or a
        // byte of a longer UTF-8 sequence); the byte loop below finds which one does. Machine ids and times are
        // 16 to 24 bytes.
        while j + 8 <= b.count, !Self.endsPlainText(b.loadUnaligned(fromByteOffset: j, as: UInt64.self)) { j += 8 }
        while j < b.count, b[j] != UInt8(ascii: "\""), b[j] != UInt8(ascii: "\\"), b[j] >= 0x20, b[j] < 0x80 {
            j += 1
        }
        guard j < b.count, b[j] == UInt8(ascii: "\"") else { return nil }
        defer { i = j + 1 }
        return UnsafeRawBufferPointer(rebasing: b[(i + 1)..<j])
    }

    /// Whether any of eight bytes is a quote, a backslash, below 0x20 or above 0x7F. (`zero` marks the bytes that
    /// are 0 (and may mark bytes above one that is, which only sends the caller to its byte loop early); `below`
    /// those under 0x20, likewise.)
    @inline(__always) static func endsPlainText(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        func zero(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & high }
        let quote = zero(x ^ (ones &* 0x22))
        let backslash = zero(x ^ (ones &* 0x5C))
        let below = (x &- ones &* 0x20) & ~x & high
        return (quote | backslash | below | (x & high)) != 0
    }

    /// The text of a string value: the plain bytes `plainText` read, or, when it read none, the value read as text
    /// (escapes, other text; a value that is not text is an error naming `field`).
    mutating func text(_ plain: UnsafeRawBufferPointer?, field: String) throws(ReadingError) -> String {
        if let plain { return String(decoding: plain, as: UTF8.self) }
        return try stringValue(field: field)
    }

    /// Plain text as a String: the known one it spells, or one made from its bytes.
    func string(_ plain: UnsafeRawBufferPointer) -> String {
        known?.find(plain) ?? String(decoding: plain, as: UTF8.self)
    }

    /// A text value: plain text through `string`, any other as `stringValue` reads it (and reports a value that is
    /// not text).
    mutating func textField(field: String) throws(ReadingError) -> String {
        if let raw = plainText() { return string(raw) }
        return try stringValue(field: field)
    }

    /// A field name (escapes, other text and errors through `rawString`).
    mutating func fieldKey() throws(ReadingError) -> FieldKey {
        if let raw = plainText() { return FieldKey(raw) }
        let name = try rawString("a field name")
        return FieldKey(rawValue: name) ?? .other
    }

    /// Reads the value of field `key`; returns the field's bit (0 for a field the format does not know, skipped).
    @inline(__always)
    mutating func field(_ key: FieldKey, into f: inout Fields) throws(ReadingError) -> UInt16 {
        switch key {
        case .machine:
            f.machine = try textField(field: "machine")
            if f.machine!.isEmpty { throw fail(.missingField, "machine: must not be empty") }
            return 1
        case .ts:
            // Plain text is parsed from its bytes; escaped text, and any error, through the text.
            let raw = plainText()
            if let raw, let parsed = Timestamp.parse(raw) {
                f.ts = parsed
                return 2
            }
            let value = try text(raw, field: "ts")
            guard let parsed = Timestamp.parse(value) else {
                throw fail(.badTimestamp, "ts: '\(value)' is not an ISO 8601 timestamp like 2026-11-25T06:00:00.123Z")
            }
            f.ts = parsed
            return 2
        case .seq:
            f.seq = try integerValue(field: "seq")
            return 4
        case .values:
            try valuesObject(field: "values", into: &f.values)
            return 8
        case .setpoints:
            try valuesObject(field: "setpoints", into: &f.setpoints)
            return 256
        case .product:
            if peek() == UInt8(ascii: "n") {
                try literal("null")
            } else {
                f.product = try textField(field: "product")
            }
            return 16
        case .state:
            // As the time: plain text matched on its bytes; escaped text, and any error, through the text.
            let raw = plainText()
            if let raw, let state = MachineState(plain: raw) {
                f.state = state
                return 32
            }
            let value = try text(raw, field: "state")
            guard let state = MachineState(rawValue: value) else {
                throw fail(
                    .badState,
                    "state: '\(value)' is not one of \(MachineState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            f.state = state
            return 32
        case .good:
            f.good = Int(try integerValue(field: "good"))
            return 64
        case .scrap:
            f.scrap = Int(try integerValue(field: "scrap"))
            return 128
        case .other:
            try skipValue()
            return 0
        }
    }

    /// An object of name: number into `result` (emptied first, its memory kept).
    mutating func valuesObject(field: String, into result: inout [Measurement]) throws(ReadingError) {
        guard peek() == UInt8(ascii: "{") else {
            throw fail(.wrongType, "\(field): expected an object of name: number, found \(describeValueStart())")
        }
        i += 1
        result.removeAll(keepingCapacity: true)
        result.reserveCapacity(8)
        if peek() == UInt8(ascii: "}") {
            i += 1
            return
        }
        while true {
            let name: String
            if let raw = plainText() { name = string(raw) } else { name = try rawString("a variable name") }
            try expect(UInt8(ascii: ":"), "':' after a variable name")
            for m in result where m.name == name {
                throw fail(.malformed, "\(field): variable '\(m.name)' appears twice")
            }
            result.append(Measurement(name, try number(field: FieldName(field, name))))
            skipSpace()
            guard i < b.count else { throw malformed("',' or '}' in \(field)") }
            if b[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if b[i] == UInt8(ascii: "}") {
                i += 1
                return
            }
            throw malformed("',' or '}' in \(field)")
        }
    }

    func describeValueStart() -> String {
        guard i < b.count else { return "the end of the input" }
        switch b[i] {
        case UInt8(ascii: "\""): return "text"
        case UInt8(ascii: "n"): return "null"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "["): return "a list"
        case UInt8(ascii: "{"): return "an object"
        default: return "'\(Character(UnicodeScalar(b[i])))'"
        }
    }

    // MARK: numbers

    static let exactPowers: [Double] = [
        1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ]

    /// A JSON number as a finite Double. Text, null, booleans, NaN and Infinity are errors naming `field`.
    mutating func number(field: FieldName) throws(ReadingError) -> Double {
        skipSpace()
        let start = i
        guard i < b.count else { throw malformed("a number for \(field)") }
        try rejectNonNumber(b[i], field: field)
        var negative = false
        if b[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        var d = DecimalDigits()
        try wholePart(&d, field: field, start: start)
        try fractionPart(&d, field: field, start: start)
        try exponentPart(&d, field: field, start: start)
        if i < b.count, !isDelimiter(b[i]) {
            throw fail(.notANumber, "\(field): malformed number at byte \(start)")
        }
        var value: Double
        if d.digits <= 15 && d.exponent >= -22 && d.exponent <= 22 {
            value = Double(d.mantissa)
            value = d.exponent < 0 ? value / Self.exactPowers[-d.exponent] : value * Self.exactPowers[d.exponent]
            if negative { value = -value }
        } else {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            value = Double(text) ?? .nan  // the text carries its sign
        }
        guard value.isFinite else {
            throw fail(
                .notFinite,
                "\(field): \(String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<i]), as: UTF8.self)) is too large to be a finite number"
            )
        }
        return value
    }

    /// A number's digits so far: up to 19 significant digits, and the power of ten they are scaled by.
    struct DecimalDigits {
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
    }

    /// Text, NaN, Infinity, null, booleans, objects and arrays where a number belongs, each with its own message.
    @inline(__always)
    mutating func rejectNonNumber(_ c0: UInt8, field: FieldName) throws(ReadingError) {
        if c0 == UInt8(ascii: "\"") {
            let text = try rawString("text")
            if ["nan", "inf", "infinity", "-inf", "-infinity", "+inf"].contains(text.lowercased()) {
                throw fail(.notFinite, "\(field): \"\(text)\" is not a finite number")
            }
            throw fail(.notANumber, "\(field): expected a number, found text \"\(text)\"")
        }
        if c0 == UInt8(ascii: "N") || c0 == UInt8(ascii: "I")
            || (c0 == UInt8(ascii: "-") && i + 1 < b.count && b[i + 1] == UInt8(ascii: "I"))
        {
            throw fail(.notFinite, "\(field): NaN and Infinity are not finite numbers (and not valid JSON)")
        }
        if c0 == UInt8(ascii: "n") || c0 == UInt8(ascii: "t") || c0 == UInt8(ascii: "f") || c0 == UInt8(ascii: "{")
            || c0 == UInt8(ascii: "[")
        {
            throw fail(.notANumber, "\(field): expected a number, found \(describeValueStart())")
        }
    }

    /// The digits before the point (no leading zeros).
    @inline(__always)
    mutating func wholePart(_ d: inout DecimalDigits, field: FieldName, start: Int) throws(ReadingError) {
        guard i < b.count, b[i] >= 48, b[i] <= 57 else {
            throw fail(.notANumber, "\(field): malformed number at byte \(start)")
        }
        if b[i] == 48 {
            i += 1
            if i < b.count, b[i] >= 48, b[i] <= 57 {
                throw fail(.notANumber, "\(field): numbers may not have leading zeros (byte \(start))")
            }
            return
        }
        while i < b.count, b[i] >= 48, b[i] <= 57 {
            if d.digits < 19 {
                d.mantissa = d.mantissa * 10 + UInt64(b[i] - 48)
            } else {
                d.exponent += 1
            }
            d.digits += 1
            i += 1
        }
    }

    /// The digits after a point, if there is one (at least one digit).
    @inline(__always)
    mutating func fractionPart(_ d: inout DecimalDigits, field: FieldName, start: Int) throws(ReadingError) {
        guard i < b.count, b[i] == UInt8(ascii: ".") else { return }
        i += 1
        let fractionStart = i
        while i < b.count, b[i] >= 48, b[i] <= 57 {
            if d.digits < 19 {
                d.mantissa = d.mantissa * 10 + UInt64(b[i] - 48)
                if d.mantissa != 0 { d.digits += 1 }
                d.exponent -= 1
            }
            i += 1
        }
        guard i > fractionStart else { throw fail(.notANumber, "\(field): a digit must follow '.' (byte \(start))") }
    }

    /// An exponent, if there is one (a sign, then at least one digit).
    @inline(__always)
    mutating func exponentPart(_ d: inout DecimalDigits, field: FieldName, start: Int) throws(ReadingError) {
        guard i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") else { return }
        i += 1
        var expNegative = false
        if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            expNegative = b[i] == UInt8(ascii: "-")
            i += 1
        }
        let expStart = i
        var e = 0
        while i < b.count, b[i] >= 48, b[i] <= 57 {
            if e < 100_000 { e = e * 10 + Int(b[i] - 48) }
            i += 1
        }
        guard i > expStart else {
            throw fail(.notANumber, "\(field): a digit must follow the exponent (byte \(start))")
        }
        d.exponent += expNegative ? -e : e
    }

    @inline(__always) func isDelimiter(_ c: UInt8) -> Bool {
        c == UInt8(ascii: ",") || c == UInt8(ascii: "}") || c == UInt8(ascii: "]") || c == 0x20 || c == 0x0A
            || c == 0x0D || c == 0x09
    }

    mutating func integerValue(field: String) throws(ReadingError) -> Int64 {
        let value = try number(field: FieldName(field))
        guard value == value.rounded(), value >= 0, value < 9.2e18 else {
            throw fail(.wrongType, "\(field): expected a whole number of at least 0, found \(value)")
        }
        return Int64(value)
    }

    // MARK: strings

    mutating func stringValue(field: String) throws(ReadingError) -> String {
        guard peek() == UInt8(ascii: "\"") else {
            throw fail(.wrongType, "\(field): expected text, found \(describeValueStart())")
        }
        return try rawString(field)
    }

    mutating func rawString(_ what: String) throws(ReadingError) -> String {
        skipSpace()
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw malformed(what) }
        i += 1
        let start = i
        var plain = true
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") {
                plain = false
                i += 2
                continue
            }
            if c < 0x20 { throw fail(.malformed, "malformed JSON: control character inside text at byte \(i)") }
            if c >= 0x80 { plain = false }
            i += 1
        }
        guard i < b.count else {
            throw fail(.malformed, "malformed JSON: text starting at byte \(start - 1) is never closed")
        }
        let raw = UnsafeRawBufferPointer(rebasing: b[start..<i])
        i += 1
        if plain { return String(decoding: raw, as: UTF8.self) }
        return try unescape(raw, at: start)
    }

    func unescape(_ raw: UnsafeRawBufferPointer, at offset: Int) throws(ReadingError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var j = 0
        func hex4(_ k: Int) -> UInt32? {
            guard k + 4 <= raw.count else { return nil }
            var v: UInt32 = 0
            for n in k..<k + 4 {
                let c = raw[n]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 65...70: d = UInt32(c - 55)
                case 97...102: d = UInt32(c - 87)
                default: return nil
                }
                v = v << 4 | d
            }
            return v
        }
        while j < raw.count {
            let c = raw[j]
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                j += 1
                continue
            }
            guard j + 1 < raw.count else { throw fail(.malformed, "malformed JSON: bad escape at byte \(offset + j)") }
            switch raw[j + 1] {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(j + 2) else {
                    throw fail(.malformed, "malformed JSON: bad \\u escape at byte \(offset + j)")
                }
                j += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard j + 2 + 6 <= raw.count + 0, raw[j + 2] == UInt8(ascii: "\\"), raw[j + 3] == UInt8(ascii: "u"),
                        let low = hex4(j + 4), (0xDC00...0xDFFF).contains(low)
                    else { throw fail(.malformed, "malformed JSON: unpaired surrogate at byte \(offset + j)") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    j += 6
                }
                guard let u = Unicode.Scalar(scalar) else {
                    throw fail(.malformed, "malformed JSON: unpaired surrogate at byte \(offset + j)")
                }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                throw fail(.malformed, "malformed JSON: bad escape at byte \(offset + j)")
            }
            j += 2
        }
        guard let s = String(validating: out, as: UTF8.self) else {
            throw fail(.malformed, "malformed JSON: text at byte \(offset) is not valid UTF-8")
        }
        return s
    }

    // MARK: skipping

    mutating func literal(_ word: StaticString) throws(ReadingError) {
        skipSpace()
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { throw malformed("\(word)") }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { throw malformed("\(word)") }
        i += n
    }

    mutating func skipValue() throws(ReadingError) {
        guard let c = peek() else { throw malformed("a value") }
        switch c {
        case UInt8(ascii: "\""): _ = try rawString("text")
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            depth += 1
            guard depth < 64 else { throw fail(.malformed, "malformed JSON: nested more than 64 deep") }
            defer { depth -= 1 }
            let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            i += 1
            if peek() == close {
                i += 1
                return
            }
            while true {
                if c == UInt8(ascii: "{") {
                    _ = try rawString("a field name")
                    try expect(UInt8(ascii: ":"), "':'")
                }
                try skipValue()
                guard let next = peek() else { throw malformed("',' or a closing bracket") }
                i += 1
                if next == close { return }
                guard next == UInt8(ascii: ",") else {
                    i -= 1
                    throw malformed("',' or a closing bracket")
                }
            }
        default:
            _ = try number(field: "value")
        }
    }
}

extension MachineState {
    /// The state a plain name's bytes spell, if any.
    fileprivate init?(plain raw: UnsafeRawBufferPointer) {
        func spells(_ name: StaticString) -> Bool { JSONScanner.equal(raw, name) }
        if spells("running") {
            self = .running
        } else if spells("idle") {
            self = .idle
        } else if spells("down") {
            self = .down
        } else if spells("tool_change") {
            self = .toolChange
        } else if spells("setup") {
            self = .setup
        } else if spells("maintenance") {
            self = .maintenance
        } else {
            return nil
        }
    }
}
