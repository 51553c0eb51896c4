import NIOCore
import OPCUAWire
import Testing

/// The binary encoding on bytes made by a second implementation: asyncua 2.1.0's `struct_to_binary` and
/// `variant_to_binary` (times 2026-01-01T00:00:00Z and one and two seconds later).
@Suite struct OPCUAWireTests {
    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    static let t0 = OPCUADateTime.ticks(unixMilliseconds: 1_767_225_600_000)

    @Test func aReadRequestAsAsyncuaWritesIt() {
        let request = OPCUAReadRequest(
            header: OPCUARequestHeader(
                authenticationToken: .numeric(1234), timestamp: Self.t0, requestHandle: 7, timeoutHint: 10_000),
            nodes: [OPCUAReadValueID(.string("m01/Torque", ns: 2))])
        var w = OPCUAWriter()
        request.encodeMessage(to: &w)
        #expect(
            Array(w.buffer.readableBytesView)
                == Self.hex(
                    "010077020100d20400008192b17adc010700000000000000ffffffff10270000000000000000000000000002000000010000000302000a0000006d30312f546f727175650d000000ffffffff0000ffffffff"
                ))
    }

    @Test func dataValuesVariantsAndNodeIDs() throws {
        let dv = try OPCUADataValue(decoding: Self.hex("0f0b000000000040444000008c8080961993b17adc01002db293b17adc01"))
        #expect(dv.value == .double(40.5))
        #expect(dv.statusCode.name == "BadSensorFailure" && dv.statusCode.isBad)
        #expect(dv.sourceTimestamp.flatMap(OPCUADateTime.unixMilliseconds) == 1_767_225_601_000)
        #expect(dv.serverTimestamp.flatMap(OPCUADateTime.unixMilliseconds) == 1_767_225_602_000)
        #expect(dv.encodedBytes == Self.hex("0f0b000000000040444000008c8080961993b17adc01002db293b17adc01"))

        let array = try OPCUAVariant(decoding: Self.hex("860300000001000000feffffff03000000"))
        #expect(array == .array(type: 6, [.int32(1), .int32(-2), .int32(3)]))
        #expect(array.encodedBytes == Self.hex("860300000001000000feffffff03000000"))

        let guid = try #require(OPCUANodeID(parsing: "ns=1;g=72962b91-fa75-4ae6-8d28-b404dc7daf63"))
        #expect(guid.encodedBytes == Self.hex("040100912b967275fae64a8d28b404dc7daf63"))
        #expect(guid.description == "ns=1;g=72962b91-fa75-4ae6-8d28-b404dc7daf63")
        for text in ["i=2253", "ns=2;s=m01/Spindle Speed", "ns=3;i=70000", "ns=1;b=AAEC"] {
            let id = try #require(OPCUANodeID(parsing: text))
            #expect(id.description == text)
            #expect(try OPCUANodeID(decoding: id.encodedBytes) == id)
        }
        #expect(OPCUANodeID(parsing: "s=no-namespace") == OPCUANodeID(0, .string("no-namespace")))
        #expect(OPCUANodeID(parsing: "ns=x;i=1") == nil && OPCUANodeID(parsing: "q=1") == nil)
    }

    @Test func malformedDataIsAnErrorNotACrash() {
        // A string past the end, a type that is not built in, an array of 2^31 items.
        #expect(throws: OPCUAWireError.self) { try OPCUAVariant(decoding: [0x0C, 0x10, 0, 0, 0, 0x41]) }
        #expect(throws: OPCUAWireError.self) { try OPCUAVariant(decoding: [0x1F]) }
        #expect(throws: OPCUAWireError.self) { try OPCUAVariant(decoding: [0x86, 0xFF, 0xFF, 0xFF, 0x7F]) }
        #expect(throws: OPCUAWireError.self) { try OPCUANodeID(decoding: [0x07, 0x00]) }
        #expect(throws: OPCUAWireError.self) { try OPCUADataValue(decoding: [0x01]) }
    }

    @Test func chunksAreFramed() throws {
        var hello = OPCUAWriter()
        hello.write(OPCUAHello(endpointURL: "opc.tcp://plc:4840"))
        var out = ByteBuffer()
        OPCUAChunk(type: .hello, body: hello.buffer).write(to: &out)
        #expect(out.getString(at: 0, length: 4) == "HELF")
        #expect(out.getInteger(at: 4, endianness: .little, as: UInt32.self) == UInt32(out.readableBytes))
        var decoder = OPCUAChunkDecoder()
        var partial = out.getSlice(at: 0, length: 10)!
        #expect(try decoder.decode(buffer: &partial) == nil)
        let chunk = try #require(try decoder.decode(buffer: &out))
        #expect(chunk.type == .hello && chunk.body.readableBytes == 20 + 4 + 18)
        var junk = ByteBuffer(bytes: Array("GET / HTTP/1.1\r\n".utf8))
        #expect(throws: OPCUAWireError.self) { try decoder.decode(buffer: &junk) }
    }
}
