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
        if abs(value) < 1e15 {
            for decimals in 0...9 {
                let scale = powersOfTen[decimals]
                let scaled = (value * scale).rounded()
                // Dividing an exact integer by an exact power of ten rounds correctly, so equality means the
                // decimal text parses back to exactly `value`.
                if abs(scaled) < 9.007_199_254_740_992e15 && scaled / scale == value {
                    let whole = Int64(scaled)
                    if decimals == 0 {
                        integer(whole, into: &out)
                    } else {
                        if whole < 0 { out.append(UInt8(ascii: "-")) }
                        let magnitude = whole.magnitude
                        let divisor = UInt64(scale)
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
                    return
                }
            }
        }
        out.append(contentsOf: value.description.utf8)
    }
}
