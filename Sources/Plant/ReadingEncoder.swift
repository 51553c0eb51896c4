/// Writes readings as JSON in the wire format, straight into bytes.
public enum ReadingEncoder {
    public static func encode(_ reading: Reading) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(200)
        encode(reading, into: &out)
        return out
    }

    public static func encode(_ r: Reading, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"machine":"#.utf8)
        JSONWriter.string(r.machine, into: &out)
        out.append(contentsOf: #","ts":""#.utf8)
        Timestamp.append(r.timestamp, to: &out)
        out.append(UInt8(ascii: "\""))
        if let seq = r.sequence {
            out.append(contentsOf: #","seq":"#.utf8)
            JSONWriter.integer(seq, into: &out)
        }
        out.append(contentsOf: #","values":"#.utf8)
        JSONWriter.object(r.values, into: &out)
        if !r.setpoints.isEmpty {
            out.append(contentsOf: #","setpoints":"#.utf8)
            JSONWriter.object(r.setpoints, into: &out)
        }
        if let product = r.product {
            out.append(contentsOf: #","product":"#.utf8)
            JSONWriter.string(product, into: &out)
        }
        out.append(contentsOf: #","state":""#.utf8)
        out.append(contentsOf: r.state.rawValue.utf8)
        out.append(contentsOf: #"","good":"#.utf8)
        JSONWriter.integer(Int64(r.good), into: &out)
        out.append(contentsOf: #","scrap":"#.utf8)
        JSONWriter.integer(Int64(r.scrap), into: &out)
        out.append(UInt8(ascii: "}"))
    }
}

/// JSON primitives written into byte arrays.
public enum JSONWriter {
    /// `{"name":value,...}` for measurements.
    public static func object(_ measurements: [Measurement], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (i, m) in measurements.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            string(m.name, into: &out)
            out.append(UInt8(ascii: ":"))
            number(m.value, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    public static func string(_ s: String, into out: inout [UInt8]) {
        var text = s
        text.withUTF8 { utf8 in
            // Most text (names, times, ids) needs no escape: copied in one go (measured: the per-byte loop was the
            // largest cost of writing a prediction record).
            if !needsEscape(utf8) {
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: utf8)
                out.append(UInt8(ascii: "\""))
                return
            }
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: longestString(utf8.count)) { buffer in
                out.append(contentsOf: buffer[..<string(utf8, to: buffer.baseAddress!)])
            }
        }
    }

    public static func integer(_ value: Int64, into out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: longestInteger) { buffer in
            out.append(contentsOf: buffer[..<integer(value, to: buffer.baseAddress!)])
        }
    }

    /// Shortest exact decimal with up to 9 fraction digits when one exists, otherwise Swift's round-trip form.
    /// Non-finite values are written as null (JSON has no NaN); readers reject them.
    public static func number(_ value: Double, into out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: longestNumber) { buffer in
            out.append(contentsOf: buffer[..<number(value, to: buffer.baseAddress!)])
        }
    }

    // MARK: through a pointer

    // The writers below write at a pointer with room enough and return the bytes written: the records written per
    // reading write through them into a buffer of their own (Array's append checks its buffer's uniqueness and
    // capacity on every call), and the array forms above take their text from them.

    /// The most bytes `number` writes: Swift's shortest form ("-2.2250738585072014e-308", 24), or up to 16 digits
    /// with a point and a sign.
    public static let longestNumber = 32
    /// The most bytes `integer` writes ("-9223372036854775808").
    public static let longestInteger = 20
    /// The most bytes `string` writes for text of `count` UTF-8 bytes: every byte escaped as \u00XX, and the quotes.
    public static func longestString(_ count: Int) -> Int { 6 * count + 2 }

    /// Whether the text has a byte JSON needs escaped.
    public static func needsEscape(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        utf8.contains { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }
    }

    /// The text quoted and escaped, at `p` (room for `longestString(utf8.count)`).
    public static func string(_ utf8: UnsafeBufferPointer<UInt8>, to p: UnsafeMutablePointer<UInt8>) -> Int {
        p[0] = UInt8(ascii: "\"")
        var n = 1
        if !needsEscape(utf8) {
            if let base = utf8.baseAddress { (p + 1).update(from: base, count: utf8.count) }
            n += utf8.count
        } else {
            func put(_ text: StaticString) {
                (p + n).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
                n += text.utf8CodeUnitCount
            }
            let hex: StaticString = "0123456789abcdef"
            for c in utf8 {
                switch c {
                case UInt8(ascii: "\""): put(#"\""#)
                case UInt8(ascii: "\\"): put(#"\\"#)
                case 10: put(#"\n"#)
                case 13: put(#"\r"#)
                case 9: put(#"\t"#)
                case 0..<0x20:
                    put(#"\u00"#)
                    p[n] = hex.utf8Start[Int(c >> 4)]
                    p[n + 1] = hex.utf8Start[Int(c & 15)]
                    n += 2
                default:
                    p[n] = c
                    n += 1
                }
            }
        }
        p[n] = UInt8(ascii: "\"")
        return n + 1
    }

    /// The integer's decimal digits at `p` (room for `longestInteger`).
    public static func integer(_ value: Int64, to p: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        if value < 0 {
            p[0] = UInt8(ascii: "-")
            n = 1
        }
        var v = value.magnitude
        var digits = 1
        var scale: UInt64 = 10
        while digits < 20 && v >= scale {
            digits += 1
            scale &*= 10
        }
        var k = n + digits
        repeat {
            k -= 1
            p[k] = UInt8(48 + v % 10)
            v /= 10
        } while v > 0
        return n + digits
    }

    static let powersOfTen: [Double] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]

    /// The number at `p` (room for `longestNumber`), as `number(_:into:)` says.
    public static func number(_ value: Double, to p: UnsafeMutablePointer<UInt8>) -> Int {
        guard value.isFinite else {
            let null: StaticString = "null"
            p.update(from: null.utf8Start, count: 4)
            return 4
        }
        if abs(value) < 1e15 && hasNineDecimals(value) {
            for decimals in 0...9 {
                let scale = powersOfTen[decimals]
                let scaled = (value * scale).rounded()
                // Dividing an exact integer by an exact power of ten rounds correctly, so equality means the
                // decimal text parses back to exactly `value`.
                if abs(scaled) < 9.007_199_254_740_992e15 && scaled / scale == value {
                    return fixed(Int64(scaled), decimals: decimals, to: p)
                }
            }
        }
        // Swift's shortest round-trip digits: our own writer's where it takes the value (`ShortestDecimal`, most of
        // a prediction's numbers), else the standard library's, written straight into the bytes (through
        // `_writeASCII`, which the standard library's `Double.write(to:)` calls with its digit buffer):
        // `description` made a heap string of every number of more than 15 characters. Were that call ever to go,
        // the text would come through `write(_:)`, the same, only slower.
        if let n = ShortestDecimal.write(value, to: p) { return n }
        var sink = PointerSink(base: p)
        value.write(to: &sink)
        return sink.count
    }

    /// Whether `value` may have a decimal of at most 9 fraction digits that parses back to it, tried once at 9
    /// digits. Below 2^21 the test is exact: a decimal of k <= 9 digits that parses to `value` is, padded, one of
    /// 9 digits; `value * 1e9` is then within 0.4 of that integer (the decimal's rounding to `value`, at most half
    /// an ulp of 2^-32, times 1e9, plus the product's own rounding, at most 0.25 below 2^51), so rounds to it. The
    /// full-precision numbers of a prediction (risks, means, products) skip the ten tries of the loop this way.
    static func hasNineDecimals(_ value: Double) -> Bool {
        guard abs(value) < 2_097_152 else { return true }
        return (value * 1e9).rounded() / 1e9 == value
    }

    /// `whole / 10^decimals` written with exactly `decimals` fraction digits.
    private static func fixed(_ whole: Int64, decimals: Int, to p: UnsafeMutablePointer<UInt8>) -> Int {
        if decimals == 0 { return integer(whole, to: p) }
        var n = 0
        if whole < 0 {
            p[0] = UInt8(ascii: "-")
            n = 1
        }
        let magnitude = whole.magnitude
        let divisor = UInt64(powersOfTen[decimals])
        n += integer(Int64(magnitude / divisor), to: p + n)
        p[n] = UInt8(ascii: ".")
        n += 1
        var fraction = magnitude % divisor
        var d = divisor / 10
        while d > 0 {
            p[n] = UInt8(48 + fraction / d)
            n += 1
            fraction %= d
            d /= 10
        }
        return n
    }
}

/// Text streamed to a pointer with room for it (a number's digits).
private struct PointerSink: TextOutputStream {
    let base: UnsafeMutablePointer<UInt8>
    var count = 0

    mutating func write(_ string: String) {
        for c in string.utf8 {
            base[count] = c
            count += 1
        }
    }

    // swift-format-ignore: AllPublicDeclarationsHaveDocumentation
    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) {
        guard let from = buffer.baseAddress else { return }
        (base + count).update(from: from, count: buffer.count)
        count += buffer.count
    }
}
