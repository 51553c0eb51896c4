import Foundation

/// A JSON array of numbers only, as `JSONParser` gives it. A concrete type, so taking it back out of `Any` is one
/// type check: a cast of `Any` to `[Double]` converts element by element (9 % of a 64-instance predict request in a
/// profile). `JSON.numbers` and `JSON.list` read it.
struct JSONNumbers {
    var values: [Double]
}

/// A strict JSON parser for request bodies on the predict path, several times faster than JSONSerialization on
/// Linux: numbers become `Double`, strings `String`, `true`/`false` `Bool`, `null` `NSNull`, arrays `[Any]` (of
/// numbers only: `JSONNumbers`) and objects `[String: Any]` (a duplicate key is an error). Depth is limited to 64.
struct JSONParser {
    private let bytes: [UInt8]
    private var i = 0
    private var depth = 0
    /// The count of the last list of numbers read (the room made for the next one).
    private var lastNumbersCount = 0

    static func parse(_ input: [UInt8]) throws -> Any {
        var p = JSONParser(bytes: input + [0])
        p.skipSpace()
        let value = try p.value()
        p.skipSpace()
        guard p.i == input.count else { throw p.error("unexpected data after the JSON value") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func error(_ what: String) -> APIError {
        APIError.badRequest("JSON Parse error: \(what) at byte \(i)")
    }

    private mutating func skipSpace() {
        while true {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    private mutating func value() throws -> Any {
        switch bytes[i] {
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "\""): return try string()
        case UInt8(ascii: "t"): return try literal("true", true)
        case UInt8(ascii: "f"): return try literal("false", false)
        case UInt8(ascii: "n"): return try literal("null", NSNull())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        case 0: throw error("unexpected end of input")
        default: throw error("unexpected character '\(Character(Unicode.Scalar(bytes[i])))'")
        }
    }

    private mutating func literal(_ word: String, _ value: Any) throws -> Any {
        for c in word.utf8 {
            guard bytes[i] == c else { throw error("invalid literal") }
            i += 1
        }
        return value
    }

    /// An array; one of numbers only comes back as `[Double]` (not `[Any]`): the predict path reads instances
    /// without a dynamic cast per value (measured: the casts were a fifth of a 64-instance request).
    private mutating func array() throws -> Any {
        depth += 1
        guard depth <= 64 else { throw error("nested deeper than 64") }
        defer { depth -= 1 }
        i += 1
        var numbers: [Double] = []
        var out: [Any]?
        skipSpace()
        if bytes[i] == UInt8(ascii: "]") {
            i += 1
            return [Any]()
        }
        while true {
            skipSpace()
            let c = bytes[i]
            if out == nil && (c == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)) {
                // Sibling lists of numbers (a request's instances) are one width: room for the last one's count
                // at once, where growing by doubling was 2.5 % of a 64-instance request.
                if numbers.isEmpty { numbers.reserveCapacity(lastNumbersCount) }
                numbers.append(try number())
            } else {
                if out == nil { out = numbers.map { $0 as Any } }
                out!.append(try value())
            }
            skipSpace()
            switch bytes[i] {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "]"):
                i += 1
                if out == nil { lastNumbersCount = numbers.count }
                return out ?? JSONNumbers(values: numbers)
            default: throw error("expected ',' or ']' in an array")
            }
        }
    }

    private mutating func object() throws -> [String: Any] {
        depth += 1
        guard depth <= 64 else { throw error("nested deeper than 64") }
        defer { depth -= 1 }
        i += 1
        var out: [String: Any] = [:]
        skipSpace()
        if bytes[i] == UInt8(ascii: "}") {
            i += 1
            return out
        }
        while true {
            skipSpace()
            guard bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try string()
            skipSpace()
            guard bytes[i] == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
            i += 1
            skipSpace()
            guard out.updateValue(try value(), forKey: key) == nil else { throw error("duplicate key '\(key)'") }
            skipSpace()
            switch bytes[i] {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "}"):
                i += 1
                return out
            default: throw error("expected ',' or '}' in an object")
            }
        }
    }

    private mutating func string() throws -> String {
        i += 1
        let start = i
        var simple = true
        while bytes[i] != UInt8(ascii: "\"") {
            if bytes[i] == 0 && i == bytes.count - 1 { throw error("unterminated string") }
            if bytes[i] < 0x20 { throw error("control character in a string") }
            if bytes[i] == UInt8(ascii: "\\") {
                simple = false
                i += 1
            }
            i += 1
        }
        let raw = bytes[start..<i]
        i += 1
        if simple {
            guard let s = String(validating: raw, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
            return s
        }
        // Escapes: let Foundation decode the (rare) escaped string exactly.
        let quoted = [UInt8(ascii: "\"")] + raw + [UInt8(ascii: "\"")]
        guard let s = try? JSONSerialization.jsonObject(with: Data(quoted), options: [.fragmentsAllowed]) as? String
        else { throw error("invalid escape in a string") }
        return s
    }

    /// Exact powers of ten as Doubles (10^22 is the largest that is).
    private static let powersOfTen: [Double] = (0...22).map { (0..<$0).reduce(1.0) { r, _ in r * 10 } }

    private static let integerPowersOfTen: [UInt64] = (0...19).map { (0..<$0).reduce(1) { r, _ in r * 10 } }

    /// The Double nearest to `mantissa` × 10^`scale` (|scale| ≤ 19), ties to even: as strtod reads it.
    static func nearest(_ mantissa: UInt64, timesTenTo scale: Int) -> Double {
        guard mantissa != 0 else { return 0 }
        let power = integerPowersOfTen[abs(scale)]
        if scale >= 0 {
            let (high, low) = mantissa.multipliedFullWidth(by: power)
            return nearest(UInt128(high) << 64 | UInt128(low), sticky: false, exponent: 0)
        }
        // mantissa / power = (w / d) × 2^(b - a), with w and d shifted until their top bits are set; the quotient's
        // 64 bits below the point come from one 128-by-64-bit division, and its remainder says whether more follow.
        let a = mantissa.leadingZeroBitCount
        let b = power.leadingZeroBitCount
        let w = mantissa << a
        let d = power << b
        if w < d {
            let (q, r) = d.dividingFullWidth((high: w, low: 0))  // w / d = (q + r / d) / 2^64, q ≥ 2^63
            return nearest(UInt128(q), sticky: r != 0, exponent: b - a - 64)
        }
        let (q, r) = d.dividingFullWidth((high: w - d, low: 0))  // w / d = 1 + (q + r / d) / 2^64
        return nearest(UInt128(1) << 64 | UInt128(q), sticky: r != 0, exponent: b - a - 64)
    }

    /// The Double nearest to (v + f) × 2^exponent, where f is 0 or, when `sticky`, strictly between 0 and 1 (v has
    /// more than 53 bits then); ties to even.
    private static func nearest(_ v: UInt128, sticky: Bool, exponent: Int) -> Double {
        let bits = 128 - v.leadingZeroBitCount
        guard bits > 53 else {
            assert(!sticky)
            return Double(sign: .plus, exponent: exponent, significand: Double(UInt64(v)))
        }
        let shift = bits - 53
        var m = UInt64(truncatingIfNeeded: v >> shift)
        let rest = v & ((UInt128(1) << shift) - 1)
        let half = UInt128(1) << (shift - 1)
        if rest > half || (rest == half && (sticky || m & 1 == 1)) { m += 1 }
        return Double(sign: .plus, exponent: exponent + shift, significand: Double(m))
    }

    /// The value of the eight bytes at `at` when all are ASCII digits, read at once (SWAR): after a number's first
    /// significant digit, digits go eight at a time (the digit loop was 11 % of a 64-instance predict request).
    @inline(__always)
    private func eightDigits(at: Int) -> UInt64? {
        guard at + 8 <= bytes.count else { return nil }
        let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) }.littleEndian
        // Each byte is 0x30...0x39: its high nibble is 3, and adding 6 does not carry into it.
        let high: UInt64 = 0xF0F0_F0F0_F0F0_F0F0
        let carried: UInt64 = ((v &+ 0x0606_0606_0606_0606) & high) >> 4
        guard (v & high) | carried == 0x3333_3333_3333_3333 else { return nil }
        var x: UInt64 = v &- 0x3030_3030_3030_3030  // the first digit in the lowest byte
        x = (x &* 10) &+ (x >> 8)  // pairs: 10 a + b in the low byte of each 16 bits
        let mask: UInt64 = 0x0000_00FF_0000_00FF
        let upper: UInt64 = (x & mask) &* (100 + (1_000_000 << 32))
        let lower: UInt64 = ((x >> 16) & mask) &* (1 + (10_000 << 32))
        x = (upper &+ lower) >> 32
        return x
    }

    /// A number's digits as an integer (while it has at most 19 significant ones) and the power of ten it is to be
    /// scaled by.
    private struct Digits {
        var mantissa: UInt64 = 0
        var count = 0
        var scale = 0

        mutating func add(_ d: UInt8, fraction: Bool) {
            if count < 19 {
                if mantissa != 0 || d != 0 { count += 1 }
                mantissa = mantissa &* 10 &+ UInt64(d)
                if fraction { scale -= 1 }
            } else {
                count += 1
                if !fraction { scale += 1 }
            }
        }
    }

    /// A run of digits (of the integer part or the fraction) into `digits`.
    private mutating func digitRun(into digits: inout Digits, fraction: Bool) {
        while true {
            if digits.mantissa != 0, digits.count <= 11, let eight = eightDigits(at: i) {
                digits.mantissa = digits.mantissa &* 100_000_000 &+ eight
                digits.count += 8
                if fraction { digits.scale -= 8 }
                i += 8
                continue
            }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else { return }
            digits.add(bytes[i] - UInt8(ascii: "0"), fraction: fraction)
            i += 1
        }
    }

    private mutating func number() throws -> Double {
        let start = i
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else { throw error("invalid number") }
        var d = Digits()
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            digitRun(into: &d, fraction: false)
        }
        if bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else { throw error("invalid number") }
            digitRun(into: &d, fraction: true)
        }
        if bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            let minus = bytes[i] == UInt8(ascii: "-")
            if minus || bytes[i] == UInt8(ascii: "+") { i += 1 }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else { throw error("invalid number") }
            var e = 0
            while (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) {
                e = min(e * 10 + Int(bytes[i] - UInt8(ascii: "0")), 100_000)
                i += 1
            }
            d.scale += minus ? -e : e
        }
        let (mantissa, scale) = (d.mantissa, d.scale)
        // Clinger's fast path: an integer of at most 53 bits and a power of ten of at most 22 are both exact, so one
        // multiplication or division rounds correctly. Measured: strtod was 13 % of a 64-instance predict request.
        if d.count <= 19, mantissa <= 1 << 53, abs(scale) <= 22 {
            let m = Double(mantissa)
            let value = scale < 0 ? m / Self.powersOfTen[-scale] : m * Self.powersOfTen[scale]
            return negative ? -value : value
        }
        // Up to 19 digits and a power of ten of at most 19 either way (the 17 digits JSON writers print for doubles):
        // the exact product or quotient in 128 bits, rounded once. Measured: strtod was 9 % of a 64-instance predict
        // request of such numbers.
        if d.count <= 19, abs(scale) <= 19 {
            let value = Self.nearest(mantissa, timesTenTo: scale)
            return negative ? -value : value
        }
        // Otherwise strtod: the grammar is checked above, and it reads exactly these bytes (the buffer ends in a 0).
        let value = bytes.withUnsafeBufferPointer { b in
            b.baseAddress!.advanced(by: start).withMemoryRebound(to: CChar.self, capacity: i - start + 1) {
                strtod($0, nil)
            }
        }
        guard value.isFinite else { throw error("number out of range") }
        return value
    }
}

/// Writes predict answers: `{"predictions":[[...],...]}` or `{"outputs":[[...],...]}`, each value in the shortest
/// form that reads back as the same Float.
enum PredictionWriter {
    static func rows(_ key: String, _ rows: [[Float]]) -> [UInt8] {
        var out = Array("{\"\(key)\":[".utf8)
        out.reserveCapacity(16 + rows.count * (rows.first?.count ?? 1) * 12)
        for (r, row) in rows.enumerated() {
            if r > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "["))
            for (c, v) in row.enumerated() {
                if c > 0 { out.append(UInt8(ascii: ",")) }
                if v.isFinite { out += v.description.utf8 } else { out += "null".utf8 }
            }
            out.append(UInt8(ascii: "]"))
        }
        out += "]}".utf8
        return out
    }
}
