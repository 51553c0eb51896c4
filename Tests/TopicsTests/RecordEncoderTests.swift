import Foundation
import Testing
import Topics

/// `RecordEncoder` beyond the records: nested containers, the state options the pipeline's checkpoints use, and
/// values read back by Foundation's decoder exactly as they were.
@Suite struct RecordEncoderTests {
    /// A value with what checkpoints hold: nested keyed and unkeyed containers (written by hand, as the OEE ring
    /// writes its buckets), dictionaries by text and by Int64, optionals, arrays of numbers and of arrays, the
    /// smaller integer types, Float and Date.
    struct State: Codable, Equatable {
        var name = "plant1/line1/m07 \"quoted\"\n"
        var values: [Double] = [
            0.1, 1.0 / 3, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1551, -42.8, 2_097_152.5,
        ]
        var counts: [Int] = [0, -1, .max, .min]
        var byName: [String: [Double]] = ["rpm": [1, 2], "torque_nm": []]
        var byBucket: [Int64: Inner] = [29_943_678: Inner(), -3: Inner(note: nil, flags: [true, false])]
        var windows: [[Double]] = [[1, 2, 3], [], [4.5]]
        var absent: Double? = nil
        var present: String? = "x"
        var small: UInt8 = 200
        var huge: UInt64 = .max
        var signed: Int8 = -100
        var single: Float = 0.1
        var when = Date(timeIntervalSinceReferenceDate: 817_000_000.125)
        var ring = Ring(minutes: 60, pairs: [(7, Inner()), (8, Inner(note: "late", flags: []))])
    }

    struct Inner: Codable, Equatable {
        var note: String? = "n"
        var flags: [Bool] = [true]
    }

    /// Encodes its pairs through a nested unkeyed container, and a nested keyed one after it.
    struct Ring: Codable, Equatable {
        var minutes: Int
        var pairs: [(Int64, Inner)]

        enum CodingKeys: String, CodingKey { case minutes, pairs, tail }
        enum TailKeys: String, CodingKey { case count, last }

        init(minutes: Int, pairs: [(Int64, Inner)]) {
            self.minutes = minutes
            self.pairs = pairs
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            minutes = try c.decode(Int.self, forKey: .minutes)
            var list = try c.nestedUnkeyedContainer(forKey: .pairs)
            pairs = []
            while !list.isAtEnd { pairs.append((try list.decode(Int64.self), try list.decode(Inner.self))) }
            let tail = try c.nestedContainer(keyedBy: TailKeys.self, forKey: .tail)
            #expect(try tail.decode(Int.self, forKey: .count) == pairs.count)
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(minutes, forKey: .minutes)
            var list = c.nestedUnkeyedContainer(forKey: .pairs)
            for (k, v) in pairs {
                try list.encode(k)
                try list.encode(v)
            }
            var tail = c.nestedContainer(keyedBy: TailKeys.self, forKey: .tail)
            try tail.encode(pairs.count, forKey: .count)
            try tail.encodeIfPresent(pairs.last?.0, forKey: .last)
        }

        static func == (a: Ring, b: Ring) -> Bool {
            a.minutes == b.minutes && a.pairs.map(\.0) == b.pairs.map(\.0) && a.pairs.map(\.1) == b.pairs.map(\.1)
        }
    }

    static func stateDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return decoder
    }

    @Test func stateReadsBackAsItWasAndAsFoundationWritesIt() throws {
        let state = State()
        let ours = try RecordEncoder.encode(state, options: .state)
        let back = try Self.stateDecoder().decode(State.self, from: Data(ours))
        #expect(back == state, "\(String(decoding: ours, as: UTF8.self))")
        // Negative zero keeps its sign (Equatable does not tell).
        #expect(back.values[2].sign == .minus)
        // The same JSON as Foundation's encoder writes, key for key (nil left out, not null).
        let theirs = try JSONEncoder().encode(state)
        let parsedOurs = try JSONSerialization.jsonObject(with: Data(ours)) as? NSDictionary
        let parsedTheirs = try JSONSerialization.jsonObject(with: theirs) as? NSDictionary
        #expect(parsedOurs != nil && parsedOurs == parsedTheirs)
        #expect(parsedOurs?["absent"] == nil)
    }

    @Test func nestedContainersCloseWhereTheirParentMovesOn() throws {
        let ring = Ring(minutes: 5, pairs: [(1, Inner(note: nil, flags: []))])
        let text = String(decoding: try RecordEncoder.encode(ring, options: .state), as: UTF8.self)
        #expect(text == #"{"minutes":5,"pairs":[1,{"flags":[]}],"tail":{"count":1,"last":1}}"#)
        // As records: nil written as null.
        let records = String(decoding: try RecordEncoder.encode(ring), as: UTF8.self)
        #expect(records == #"{"minutes":5,"pairs":[1,{"note":null,"flags":[]}],"tail":{"count":1,"last":1}}"#)
        // Nested in an array, and the array's next element after it.
        let two = String(decoding: try RecordEncoder.encode([ring, ring], options: .state), as: UTF8.self)
        #expect(two == "[" + text + "," + text + "]")
    }

    @Test func nonFiniteNumbersAsTheStateAndTheRecordsWriteThem() throws {
        let values: [Double] = [.nan, .infinity, -.infinity, 1]
        let state = try RecordEncoder.encode(values, options: .state)
        #expect(String(decoding: state, as: UTF8.self) == #"["NaN","Infinity","-Infinity",1]"#)
        let back = try Self.stateDecoder().decode([Double].self, from: Data(state))
        #expect(back[0].isNaN && back[1] == .infinity && back[2] == -.infinity && back[3] == 1)
        // Inside a structure too (the numbers go through the keyed container's own call).
        struct One: Codable { var risk: Double }
        let one = try RecordEncoder.encode(One(risk: -.infinity), options: .state)
        #expect(try Self.stateDecoder().decode(One.self, from: Data(one)).risk == -.infinity)
        // Records: null, which readers reject.
        #expect(String(decoding: try RecordEncoder.encode(values), as: UTF8.self) == "[null,null,null,1]")
    }

    /// Every finite double, by random bit patterns, reads back to the same bits.
    @Test func numbersReadBackToTheSameBits() throws {
        var generator = SystemRandomNumberGenerator()
        var values: [Double] = []
        while values.count < 20_000 {
            let v = Double(bitPattern: generator.next())
            if v.isFinite { values.append(v) }
        }
        // Numbers as a plant writes them: few decimals, and integers.
        for i in 0..<5_000 {
            values.append(Double(Int.random(in: -10_000_000...10_000_000)) / [1, 10, 100, 1e4][i % 4])
        }
        let bytes = try RecordEncoder.encode(values, options: .state)
        let back = try Self.stateDecoder().decode([Double].self, from: Data(bytes))
        #expect(back.count == values.count)
        let differing = zip(values, back).filter { $0.bitPattern != $1.bitPattern }
        #expect(differing.isEmpty, "\(differing.prefix(5))")
    }
}
