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
        out.append(UInt8(ascii: "\""))
        // Most text (names, times, ids) needs no escape: copied in one go (measured: the per-byte loop was the
        // largest cost of writing a prediction record).
        var text = s
        let copied = text.withUTF8 { utf8 -> Bool in
            guard !utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }) else {
                return false
            }
            out.append(contentsOf: utf8)
            return true
        }
        if copied {
            out.append(UInt8(ascii: "\""))
            return
        }
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 10: out.append(contentsOf: #"\n"#.utf8)
            case 13: out.append(contentsOf: #"\r"#.utf8)
            case 9: out.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 15)])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    public static func integer(_ value: Int64, into out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            if value == Int64.min {
                out.append(contentsOf: "9223372036854775808".utf8)
                return
            }
        }
        var v = value.magnitude
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            repeat {
                buf[n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            } while v > 0
            for i in stride(from: n - 1, through: 0, by: -1) { out.append(buf[i]) }
        }
    }

    static let powersOfTen: [Double] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]

    /// Shortest exact decimal with up to 9 fraction digits when one exists, otherwise Swift's round-trip form.
    /// Non-finite values are written as null (JSON has no NaN); readers reject them.
    public static func number(_ value: Double, into out: inout [UInt8]) {
        guard value.isFinite else {
            out.append(contentsOf: "null".utf8)
            return
        }
        if abs(value) < 1e15 && hasNineDecimals(value) {
            for decimals in 0...9 {
                let scale = powersOfTen[decimals]
                let scaled = (value * scale).rounded()
                // Dividing an exact integer by an exact power of ten rounds correctly, so equality means the
                // decimal text parses back to exactly `value`.
                if abs(scaled) < 9.007_199_254_740_992e15 && scaled / scale == value {
                    fixed(Int64(scaled), decimals: decimals, into: &out)
                    return
                }
            }
        }
        // Swift's shortest round-trip digits, written straight into the bytes (through `_writeASCII`, which the
        // standard library's `Double.write(to:)` calls with its digit buffer): `description` made a heap string of
        // every number of more than 15 characters, most of a prediction's. Were that call ever to go, the text
        // would come through `write(_:)`, the same, only slower.
        var sink = ASCIISink(bytes: out)
        out = []
        value.write(to: &sink)
        out = sink.bytes
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
    private static func fixed(_ whole: Int64, decimals: Int, into out: inout [UInt8]) {
        if decimals == 0 { return integer(whole, into: &out) }
        if whole < 0 { out.append(UInt8(ascii: "-")) }
        let magnitude = whole.magnitude
        let divisor = UInt64(powersOfTen[decimals])
        integer(Int64(magnitude / divisor), into: &out)
        out.append(UInt8(ascii: "."))
        var fraction = magnitude % divisor
        var d = divisor / 10
        while d > 0 {
            out.append(UInt8(48 + fraction / d))
            fraction %= d
            d /= 10
        }
    }
}

/// Text streamed into bytes.
private struct ASCIISink: TextOutputStream {
    var bytes: [UInt8]

    mutating func write(_ string: String) { bytes.append(contentsOf: string.utf8) }

    // swift-format-ignore: AllPublicDeclarationsHaveDocumentation
    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }
}
