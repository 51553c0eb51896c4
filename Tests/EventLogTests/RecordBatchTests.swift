import Primitives
import Testing

@testable import EventLog

@Suite struct RecordBatchTests {
    @Test func roundTripWithKeysHeadersAndNegativeDeltas() {
        let records = [
            Record(key: nil, value: [], timestamp: 5_000),
            Record(key: [], value: [1, 2, 3], headers: [RecordHeader(name: "trace", value: [9])], timestamp: 4_000),
            Record(key: Array("m1".utf8), value: [UInt8](repeating: 7, count: 300), timestamp: 6_000),
        ]
        var buffer: [UInt8] = []
        RecordBatch.encode(records, baseOffset: 42, into: &buffer)
        buffer.withUnsafeBytes { raw in
            guard case .success(let header) = RecordBatch.parseHeader(raw) else {
                Issue.record("header must parse")
                return
            }
            #expect(header.length == buffer.count)
            #expect(header.baseOffset == 42 && header.count == 3)
            #expect(header.maxTimestamp == 6_000)
            #expect(RecordBatch.crcMatches(raw, header: header))
            var out: [ConsumedRecord] = []
            #expect(RecordBatch.decode(raw, header: header, from: 43, topic: "t", partition: 0, into: &out))
            #expect(out.map(\.offset) == [43, 44])
            #expect(out[0].key == [] && out[0].headers == records[1].headers && out[0].timestamp == 4_000)
            #expect(out[1].value == records[2].value)
        }
        buffer[buffer.count - 1] ^= 1
        buffer.withUnsafeBytes { raw in
            if case .success(let header) = RecordBatch.parseHeader(raw) {
                #expect(!RecordBatch.crcMatches(raw, header: header))
            }
        }
    }

    /// Every length and time delta at the edges of a varint's sizes round-trips (the batch is sized before it is
    /// written, and a wrong size stops the process).
    @Test func roundTripAtTheVarintEdges() {
        let lengths = [0, 1, 127, 128, 16_383, 16_384, 200_000]
        let deltas: [Int64] = [0, -1, 63, -64, 64, 8_191, 8_192, -1_000_000_000_000, Int64.max / 4]
        var records: [Record] = []
        for (n, length) in lengths.enumerated() {
            let name = String(repeating: "h", count: length % 300)
            records.append(
                Record(
                    key: n % 2 == 0 ? nil : [UInt8](repeating: 3, count: length),
                    value: [UInt8](repeating: UInt8(n), count: length),
                    headers: [RecordHeader(name: name, value: [UInt8](repeating: 5, count: length))],
                    timestamp: 1_000 + deltas[n % deltas.count]))
        }
        for (n, delta) in deltas.enumerated() {
            records.append(Record(key: [UInt8(n)], value: [1], timestamp: 1_000 + delta))
        }
        var buffer: [UInt8] = [9, 9]  // after other bytes, as in the log's scratch
        RecordBatch.encode(records, baseOffset: 7, into: &buffer)
        buffer.removeFirst(2)
        buffer.withUnsafeBytes { raw in
            guard case .success(let header) = RecordBatch.parseHeader(raw) else {
                Issue.record("header must parse")
                return
            }
            #expect(header.length == buffer.count && RecordBatch.crcMatches(raw, header: header))
            var out: [ConsumedRecord] = []
            #expect(RecordBatch.decode(raw, header: header, from: 7, topic: "t", partition: 0, into: &out))
            #expect(out.count == records.count)
            for (a, b) in zip(records, out) {
                #expect(a.key == b.key && a.value == b.value && a.headers == b.headers && a.timestamp == b.timestamp)
            }
        }
    }

    /// Keys that repeat (shared by the decoder among a batch's records), more of them than it keeps at once, keys of
    /// the same length that differ in one byte, empty keys and none: each record reads back with its own key.
    @Test func repeatedKeysReadBackAsWritten() {
        var keys: [[UInt8]?] = [nil, []]
        for n in 0..<6 { keys.append(Array("plant1/line1/m0\(n)".utf8)) }
        var records: [Record] = []
        for n in 0..<200 {
            let key = keys[(n * 7 + n / 13) % keys.count]
            records.append(Record(key: key, value: [UInt8(n % 256)], timestamp: Int64(n)))
        }
        var buffer: [UInt8] = []
        RecordBatch.encode(records, baseOffset: 0, into: &buffer)
        buffer.withUnsafeBytes { raw in
            guard case .success(let header) = RecordBatch.parseHeader(raw) else {
                Issue.record("header must parse")
                return
            }
            var out: [ConsumedRecord] = []
            #expect(RecordBatch.decode(raw, header: header, from: 0, topic: "t", partition: 0, into: &out))
            #expect(out.map(\.key) == records.map(\.key))
        }
    }
}
