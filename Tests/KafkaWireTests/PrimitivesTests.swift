import KafkaWire
import NIOCore
import Testing

@Suite struct PrimitivesTests {
    func bytes(_ write: (inout ByteBuffer) -> Void) -> [UInt8] {
        var b = ByteBuffer()
        write(&b)
        return Array(b.readableBytesView)
    }

    @Test func varintsAsTheProtocolDefinesThem() throws {
        #expect(bytes { $0.writeUnsignedVarint(0) } == [0x00])
        #expect(bytes { $0.writeUnsignedVarint(127) } == [0x7F])
        #expect(bytes { $0.writeUnsignedVarint(128) } == [0x80, 0x01])
        #expect(bytes { $0.writeUnsignedVarint(300) } == [0xAC, 0x02])
        // Zigzag: 0, -1, 1, -2, 2 -> 0, 1, 2, 3, 4.
        #expect([0, -1, 1, -2, 2].map { v in bytes { $0.writeVarint(Int32(v)) } } == [[0], [1], [2], [3], [4]])
        #expect(bytes { $0.writeVarint(Int32.max) } == [0xFE, 0xFF, 0xFF, 0xFF, 0x0F])
        #expect(bytes { $0.writeVarlong(-1) } == [0x01])
        for v: Int64 in [0, -1, 1, Int64.max, Int64.min, 1_764_000_000_123, -86_400_000] {
            var b = ByteBuffer()
            b.writeVarlong(v)
            #expect(try b.readVarlong("v") == v)
        }
        for v: Int32 in [0, -1, 63, -64, 64, Int32.min, Int32.max] {
            var b = ByteBuffer()
            b.writeVarint(v)
            #expect(try b.readVarint("v") == v)
        }
        // The sizes the record batch reserves and prefixes before writing are the sizes written, at every boundary.
        for shift in 0..<32 {
            for v: Int32 in [Int32(truncatingIfNeeded: 1 << shift), Int32(truncatingIfNeeded: (1 << shift) - 1)] {
                for x in [v, 0 &- v, v &- 1] {
                    var b = ByteBuffer()
                    #expect(ByteBuffer.varintSize(x) == b.writeVarint(x))
                }
            }
        }
        for shift in 0..<64 {
            for x: Int64 in [
                Int64(truncatingIfNeeded: 1 << shift), 0 &- Int64(truncatingIfNeeded: 1 << shift), Int64.min,
            ] {
                var b = ByteBuffer()
                #expect(ByteBuffer.varlongSize(x) == b.writeVarlong(x))
            }
        }
        var short = ByteBuffer(bytes: [0x80])
        #expect(throws: KafkaWireError("truncated Kafka message: no room for the test's varint")) {
            try short.readUnsignedVarint("the test's varint")
        }
        var long = ByteBuffer(bytes: [0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
        #expect { try long.readUnsignedVarint("x") } throws: { "\($0)".contains("more than 5 bytes") }
    }

    @Test func stringsArraysAndTaggedFields() throws {
        var b = ByteBuffer()
        b.writeCompactString("héllo")
        b.writeCompactString(nil)
        b.writeKafkaString("millstream")
        b.writeKafkaString(nil)
        b.writeArrayCount(3, compact: true)
        b.writeArrayCount(nil, compact: false)
        #expect(try b.readCompactString("a") == "héllo")
        #expect(try b.readCompactString("b", nullable: true) == nil)
        #expect(try b.readKafkaString("c") == "millstream")
        #expect(try b.readKafkaString("d", nullable: true) == nil)
        #expect(try b.readArrayCount("e", compact: true) == 3)
        #expect(try b.readArrayCount("f", compact: false) == nil)
        // A count is checked against the bytes left, so garbage cannot ask for a huge allocation.
        var huge = ByteBuffer()
        huge.writeArrayCount(1_000_000, compact: true)
        #expect { try huge.readArrayCount("g", compact: true) } throws: {
            "\($0)" == "g: 1000000 elements announced, 0 bytes left"
        }
        // Tagged fields: unknown tags are skipped, known ones handed over.
        var t = ByteBuffer(bytes: [0x02, 0x01, 0x02, 0xAB, 0xCD, 0x05, 0x01, 0x2A, 0x99])
        var seen: [UInt32] = []
        try t.readTaggedFields("test") { tag, field in
            seen.append(tag)
            return true
        }
        #expect(seen == [1, 5] && t.readableBytes == 1)
        var unordered = ByteBuffer(bytes: [0x02, 0x05, 0x00, 0x01, 0x00])
        #expect { try unordered.readTaggedFields("test") } throws: { "\($0)".contains("not in increasing order") }
    }

    @Test func requestHeaderBytes() {
        let header = RequestHeader(apiKey: .apiVersions, apiVersion: 3, correlationID: 7, clientID: "ms")
        #expect(bytes { header.write(to: &$0) } == [0x00, 0x12, 0x00, 0x03, 0, 0, 0, 7, 0x00, 0x02, 0x6D, 0x73, 0x00])
        // v1 header (non-flexible request version): no tagged fields.
        #expect(
            bytes { RequestHeader(apiKey: .apiVersions, apiVersion: 0, correlationID: 7, clientID: nil).write(to: &$0) }
                == [0x00, 0x12, 0, 0, 0, 0, 0, 7, 0xFF, 0xFF])
    }

    @Test func apiVersionsRoundTripAndVersionChoice() throws {
        let response = ApiVersionsResponse(
            apiKeys: [
                .init(apiKey: ApiKey.produce.rawValue, minVersion: 3, maxVersion: 11),
                .init(apiKey: ApiKey.fetch.rawValue, minVersion: 4, maxVersion: 17),
            ], throttleTimeMs: 5)
        for version: Int16 in [0, 1, 2, 3] {
            var b = ByteBuffer()
            response.write(to: &b, version: version)
            var decoded = try ApiVersionsResponse.read(from: &b, version: version)
            if version == 0 { decoded.throttleTimeMs = 5 }
            #expect(decoded == response)
            #expect(b.readableBytes == 0)
        }
        #expect(response.version(of: .produce, supported: 0...9) == 9)
        #expect(response.version(of: .fetch, supported: 0...3) == nil)
        #expect(response.version(of: .metadata, supported: 0...12) == nil)
        // A v3 body with a broker's tagged features (tag 0, 1) after the throttle time: skipped.
        var b = ByteBuffer()
        response.write(to: &b, version: 3)
        b.moveWriterIndex(to: b.writerIndex - 1)
        b.writeBytes([0x02, 0x00, 0x01, 0x00, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(try ApiVersionsResponse.read(from: &b, version: 3).apiKeys.count == 2)
        #expect(KafkaErrorCode.named(6).name == "NOT_LEADER_OR_FOLLOWER" && KafkaErrorCode.named(6).retriable)
        #expect(KafkaErrorCode.named(999).name == "UNKNOWN_ERROR_CODE_999")
    }
}
