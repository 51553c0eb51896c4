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
            var out: [LogRecord] = []
            #expect(RecordBatch.decode(raw, header: header, from: 43, into: &out))
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
}
