/// The shortest decimal that reads back as a double, written as Swift's `description` writes it: a prediction's
/// features are written with full precision (means, products of readings), eight numbers a record, and through the
/// standard library's `Double.write(to:)` they were 8.8 % of the pipeline worker in a profile (`_Float64ToASCII`
/// 5 %, the rest its text stream). Here they take 36 ns a number against the standard library's 50 ns (same
/// machine, same loop).
///
/// Exact, in 128-bit integers: a double v = m·2^e has for neighbours the doubles above and below it, and any decimal
/// nearer to v than halfway to them reads back as v (at exactly halfway only when m is even: ties go to even). Scaled
/// by 10^j to 17 or 18 digits, that interval is [low, high] in whole numbers; the decimal with the fewest digits is
/// the multiple of the largest power of ten in it, and of those the one nearest v (ties to even, as Swift). Scaled
/// by 10^j = 5^j·2^j, the 2^j is a shift, so 4m·5^j fits 128 bits for v down to 1e-11; smaller, larger (from 2^53,
/// where doubles are whole numbers) and subnormal values are left to the standard library (`write` returns nil).
/// TopicRecordTests hold this to `description` on millions of values.
enum ShortestDecimal {
    // Literal tables: the optimizer makes them static objects, read without a `swift_once` check per call (a table
    // built by `map` cost one, 13 % of the time).
    static let fives: [UInt64] = [
        1, 5, 25, 125, 625, 3125, 15625, 78125, 390625, 1_953_125, 9_765_625, 48_828_125, 244_140_625,
        1_220_703_125, 6_103_515_625, 30_517_578_125, 152_587_890_625, 762_939_453_125, 3_814_697_265_625,
        19_073_486_328_125, 95_367_431_640_625, 476_837_158_203_125, 2_384_185_791_015_625, 11_920_928_955_078_125,
        59_604_644_775_390_625, 298_023_223_876_953_125, 1_490_116_119_384_765_625, 7_450_580_596_923_828_125,
    ]
    static let tens: [UInt64] = [
        1, 10, 100, 1000, 10000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000,
        100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000,
        10_000_000_000_000_000, 100_000_000_000_000_000, 1_000_000_000_000_000_000, 10_000_000_000_000_000_000,
    ]
    /// "00" to "99", two bytes each.
    static let pairs: StaticString =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    /// `value` (positive) as `digits·10^exponent`, `digits` having `count` digits: the fewest digits that read back
    /// as `value`, and of those the nearest. Nil for a value outside 1e-11 ..< 2^53 or subnormal.
    @inline(__always)
    static func decimal(_ value: Double) -> (digits: UInt64, exponent: Int, count: Int)? {
        let bits = value.bitPattern
        let biased = Int(truncatingIfNeeded: bits >> 52) & 0x7FF
        let fraction = bits & (1 << 52 - 1)
        let k = biased - 1023  // floor(log2 value)
        guard biased != 0, k < 53 else { return nil }
        let m = UInt128(fraction | 1 << 52)
        let d = (k * 78913) >> 18  // floor(k·log10 2): floor(log10 value) is d or d + 1
        let j = 16 - d  // value·10^j has 17 or 18 digits before the point
        guard j >= 0, j < fives.count else { return nil }
        let s = 2 - (k - 52) - j  // value·10^j = 4m·5^j / 2^s
        let p = UInt128(fives[j])
        let mid = 4 &* m &* p
        let upper = (4 &* m &+ 2) &* p
        // The neighbour below is half as far at the bottom of a binade (but for the smallest normal one).
        let lower = (fraction == 0 && biased > 1 ? 4 &* m &- 1 : 4 &* m &- 2) &* p
        let mask: UInt128 = (1 << s) &- 1
        let inclusive = fraction & 1 == 0
        let low = UInt64(truncatingIfNeeded: inclusive ? (lower &+ mask) >> s : (lower >> s) &+ 1)
        let high = UInt64(truncatingIfNeeded: inclusive ? upper >> s : ((upper &+ mask) >> s) &- 1)
        // The most trailing zeros a whole number in [low, high] can have, with `high` and the value's whole part
        // divided by ten as they go: by a constant, a multiplication (a division by a power of ten held in a
        // variable was a 64-bit divide, most of the time).
        let whole = UInt64(truncatingIfNeeded: mid >> s)
        var t = 0
        var scale: UInt64 = 1
        var highScaled = high
        var q = whole
        while t < 18 {
            let next = highScaled / 10
            guard next &* (scale &* 10) >= low else { break }
            highScaled = next
            q /= 10
            t += 1
            scale &*= 10
        }
        // The multiple of `scale` below the value or the one above, whichever is nearer (and in the interval):
        // twice the distance to the one below against the step.
        let below = q &* scale
        let twice = (UInt128(whole &- below) << s &+ (mid & mask)) << 1
        let step = UInt128(scale) << s
        var up = twice > step || (twice == step && q & 1 == 1)
        if up && below &+ scale > high { up = false }
        if !up && below < low { up = true }
        if up { q &+= 1 }
        // The whole part's digits less the zeros dropped; one more when rounding up reached a power of ten.
        var count = (whole >= 100_000_000_000_000_000 ? 18 : 17) - t
        if q >= tens[count] { count += 1 }
        return (q, t - j, count)
    }

    /// Writes `value` (finite) at `p` (room for `JSONWriter.longestNumber`) as its `description`: plain from 1e-4
    /// to below 1e16 ("5272.409286813607", "0.00012", "308.0"), otherwise with an exponent ("8.24e-05"). Nil, with
    /// nothing written, where `decimal` is nil.
    static func write(_ value: Double, to p: UnsafeMutablePointer<UInt8>) -> Int? {
        guard let (digits, exponent, count) = decimal(abs(value)) else { return nil }
        var n = 0
        if value < 0 {
            p[0] = UInt8(ascii: "-")
            n = 1
        }
        // The digits, most significant first, at `at`: eight at a time from the end, each eight as four pairs (one
        // digit at a time, each waiting on the division before it, was most of the time).
        @inline(__always) func put(_ at: UnsafeMutablePointer<UInt8>) {
            var v = digits
            var end = count
            while end > 8 {
                eight(UInt32(truncatingIfNeeded: v % 100_000_000), to: at + end - 8)
                v /= 100_000_000
                end -= 8
            }
            var small = UInt32(truncatingIfNeeded: v)
            while end > 1 {
                pair(small % 100, to: at + end - 2)
                small /= 100
                end -= 2
            }
            if end == 1 { at[0] = UInt8(truncatingIfNeeded: 48 &+ small) }
        }
        let e = count - 1 + exponent  // the first digit's power of ten
        if e < -4 {
            // d.ddde-XX: the digits one place right, the first moved before the point. (Below 2^53 no exponent is
            // positive, and from 1e-11 it has two digits.)
            put(p + n + 1)
            p[n] = p[n + 1]
            if count > 1 {
                p[n + 1] = UInt8(ascii: ".")
                n += count + 1
            } else {
                n += 1
            }
            p[n] = UInt8(ascii: "e")
            p[n + 1] = UInt8(ascii: "-")
            pair(UInt32(-e), to: p + n + 2)
            return n + 4
        }
        if e < 0 {
            // 0.000ddd
            p[n] = UInt8(ascii: "0")
            p[n + 1] = UInt8(ascii: ".")
            n += 2
            for _ in 0..<(-e - 1) {
                p[n] = UInt8(ascii: "0")
                n += 1
            }
            put(p + n)
            return n + count
        }
        if count <= e + 1 {
            // A whole number: ddd000.0
            put(p + n)
            n += count
            for _ in 0..<(e + 1 - count) {
                p[n] = UInt8(ascii: "0")
                n += 1
            }
            p[n] = UInt8(ascii: ".")
            p[n + 1] = UInt8(ascii: "0")
            return n + 2
        }
        // ddd.ddd: the digits one place right, the whole part moved back before the point.
        put(p + n + 1)
        for k in 0...e { p[n + k] = p[n + k + 1] }
        p[n + e + 1] = UInt8(ascii: ".")
        return n + count + 1
    }

    @inline(__always) static func pair(_ n: UInt32, to p: UnsafeMutablePointer<UInt8>) {
        let from = pairs.utf8Start + Int(n) &* 2
        p[0] = from[0]
        p[1] = from[1]
    }

    /// Eight digits, leading zeros included.
    @inline(__always) static func eight(_ n: UInt32, to p: UnsafeMutablePointer<UInt8>) {
        let high = n / 10000
        let low = n % 10000
        pair(high / 100, to: p)
        pair(high % 100, to: p + 2)
        pair(low / 100, to: p + 4)
        pair(low % 100, to: p + 6)
    }
}
