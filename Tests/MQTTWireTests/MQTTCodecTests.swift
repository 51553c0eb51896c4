import MQTTWire
import NIOCore
import Testing

/// MQTT packets against the byte examples of the specifications (OASIS MQTT 3.1.1 and 5.0), round trips of every
/// packet in both versions, and the malformed packets a broker or a device may send.
@Suite struct MQTTCodecTests {
    static func bytes(_ packet: MQTTPacket, _ version: MQTTVersion) -> [UInt8] {
        var buffer = ByteBuffer()
        MQTTCodec(version: version).write(packet, to: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func read(_ bytes: [UInt8], _ version: MQTTVersion) throws -> MQTTPacket? {
        var buffer = ByteBuffer(bytes: bytes)
        return try MQTTCodec(version: version).read(from: &buffer)
    }

    /// The remaining-length table of both specifications (section 2.2.3 of 3.1.1, 1.5.5 of 5.0).
    @Test func variableByteIntegersMatchTheTable() throws {
        let table: [(Int, [UInt8])] = [
            (0, [0x00]), (127, [0x7F]), (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]), (16_384, [0x80, 0x80, 0x01]),
            (2_097_151, [0xFF, 0xFF, 0x7F]), (2_097_152, [0x80, 0x80, 0x80, 0x01]),
            (268_435_455, [0xFF, 0xFF, 0xFF, 0x7F]),
        ]
        for (value, encoded) in table {
            var b = ByteBuffer()
            b.writeVariableByteInteger(value)
            #expect(Array(b.readableBytesView) == encoded, "\(value)")
            #expect(try b.readVariableByteInteger() == value)
        }
        var five = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(throws: MQTTWireError.self) { try five.readVariableByteInteger() }
    }

    /// 3.1.1, 3.1.2.10: the CONNECT variable header example (user name, password, will QoS 1, will, clean session;
    /// keep alive 10 s).
    @Test func connectMatchesTheExample() throws {
        let connect = MQTTConnect(
            clientID: "m07", cleanStart: true, keepAliveSeconds: 10, username: "u", password: [0x70],
            will: .init(topic: "w", payload: [0x21], qos: .atLeastOnce))
        let b = Self.bytes(.connect(connect), .v311)
        #expect(b[0] == 0x10)
        #expect(Array(b[2..<12]) == [0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0xCE, 0x00, 0x0A])
        // Payload: client id, will topic, will message, user name, password; each with its length.
        #expect(
            Array(b[12...])
                == [
                    0x00, 0x03, 0x6D, 0x30, 0x37, 0x00, 0x01, 0x77, 0x00, 0x01, 0x21, 0x00, 0x01, 0x75, 0x00, 0x01,
                    0x70,
                ])
        #expect(Int(b[1]) == b.count - 2)
        #expect(try Self.read(b, .v311) == .connect(connect))
    }

    /// 3.1.1, 3.8.3 and 3.9.3: the SUBSCRIBE and SUBACK payload examples; 3.12-3.14: PINGREQ, PINGRESP, DISCONNECT.
    @Test func subscribeSubackAndTheEmptyPacketsMatchTheExamples() throws {
        let subscribe = MQTTSubscribe(
            packetID: 10, filters: [.init("a/b", qos: .atLeastOnce), .init("c/d", qos: .exactlyOnce)])
        #expect(
            Self.bytes(.subscribe(subscribe), .v311)
                == [0x82, 14, 0x00, 0x0A, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x01, 0x00, 0x03, 0x63, 0x2F, 0x64, 0x02])
        let suback = MQTTSubAck(packetID: 10, codes: [0x00, 0x02, 0x80])
        #expect(Self.bytes(.suback(suback), .v311) == [0x90, 5, 0x00, 0x0A, 0x00, 0x02, 0x80])
        #expect(Self.bytes(.pingreq, .v311) == [0xC0, 0x00])
        #expect(Self.bytes(.pingresp, .v5) == [0xD0, 0x00])
        #expect(Self.bytes(.disconnect(MQTTDisconnect()), .v311) == [0xE0, 0x00])
        #expect(Self.bytes(.disconnect(MQTTDisconnect()), .v5) == [0xE0, 0x00])
        #expect(
            try Self.read(
                [0x82, 14, 0x00, 0x0A, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x01, 0x00, 0x03, 0x63, 0x2F, 0x64, 0x02], .v311)
                == .subscribe(subscribe))
    }

    /// A QoS 1 PUBLISH: fixed header 0x32 (QoS 1), topic, packet id, payload; in 5.0 the property length follows the
    /// packet id.
    @Test func publishHasTheSpecifiedLayout() throws {
        let p = MQTTPublish(topic: "a/b", payload: [1, 2], qos: .atLeastOnce, retain: true, packetID: 7)
        #expect(Self.bytes(.publish(p), .v311) == [0x33, 9, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x07, 1, 2])
        var v5 = p
        v5.properties = [(MQTTProperties.topicAlias, .twoByteInteger(3))]
        #expect(
            Self.bytes(.publish(v5), .v5) == [
                0x33, 13, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x07, 3, 0x23, 0x00, 0x03, 1, 2,
            ])
    }

    /// Every packet survives a write and a read, in both versions (5.0 with properties of every type).
    @Test func everyPacketRoundTrips() throws {
        let properties: MQTTProperties = [
            (MQTTProperties.payloadFormat, .byte(1)), (MQTTProperties.messageExpiry, .fourByteInteger(60)),
            (MQTTProperties.contentType, .utf8("application/json")), (0x09, .binary([1, 2, 3])),
            (0x0B, .variableByteInteger(300)), (MQTTProperties.userProperty, .utf8Pair("site", "plant1")),
            (MQTTProperties.userProperty, .utf8Pair("line", "ä/1")),
        ]
        for version in [MQTTVersion.v311, .v5] {
            let p = version == .v5 ? properties : []
            let packets: [MQTTPacket] = [
                .connect(
                    MQTTConnect(
                        clientID: "millstream-1", cleanStart: false, keepAliveSeconds: 30, username: "plant",
                        password: Array("secret".utf8),
                        will: .init(
                            topic: "state/m07", payload: Array("offline".utf8), qos: .exactlyOnce, retain: true,
                            properties: p),
                        properties: p)),
                .connect(MQTTConnect(clientID: "")),
                .connack(MQTTConnAck(sessionPresent: true, code: 0, properties: p)),
                .publish(
                    MQTTPublish(topic: "plant1/line1/m07", payload: Array(repeating: 7, count: 300), properties: p)),
                .publish(MQTTPublish(topic: "t", payload: [], qos: .exactlyOnce, duplicate: true, packetID: 65_535)),
                .puback(MQTTAcknowledgement(packetID: 1)), .pubrec(MQTTAcknowledgement(packetID: 2)),
                .pubrel(MQTTAcknowledgement(packetID: 3)), .pubcomp(MQTTAcknowledgement(packetID: 4)),
                .subscribe(
                    MQTTSubscribe(
                        packetID: 5, filters: [.init("spBv1.0/plant1/#", qos: .atMostOnce), .init("+/x")], properties: p
                    )),
                .suback(MQTTSubAck(packetID: 5, codes: [0, 1], properties: p)),
                .unsubscribe(MQTTUnsubscribe(packetID: 6, filters: ["a", "b/#"], properties: p)),
                .pingreq, .pingresp,
            ]
            for packet in packets {
                #expect(try Self.read(Self.bytes(packet, version), version) == packet, "\(version) \(packet)")
            }
        }
        // 5.0 only: reasons on acknowledgements and DISCONNECT, AUTH, UNSUBACK codes, subscription options.
        let v5: [MQTTPacket] = [
            .puback(
                MQTTAcknowledgement(
                    packetID: 9, reason: 0x10, properties: [(MQTTProperties.reasonString, .utf8("no subscribers"))])),
            .disconnect(MQTTDisconnect(reason: 0x8E, properties: [(MQTTProperties.reasonString, .utf8("taken over"))])),
            .auth(MQTTDisconnect(reason: 0x18)), .unsuback(MQTTSubAck(packetID: 6, codes: [0, 0x11])),
            .subscribe(MQTTSubscribe(packetID: 5, filters: [.init("a", qos: .atLeastOnce, options: 0b1101)])),
        ]
        for packet in v5 { #expect(try Self.read(Self.bytes(packet, .v5), .v5) == packet, "\(packet)") }
    }

    /// Bytes arrive in pieces: nothing is read until a whole packet is there, then exactly it.
    @Test func partialPacketsWait() throws {
        let whole = Self.bytes(.publish(MQTTPublish(topic: "a/b", payload: Array(repeating: 1, count: 200))), .v5)
        let codec = MQTTCodec(version: .v5)
        for cut in [0, 1, 2, 3, whole.count - 1] {
            var buffer = ByteBuffer(bytes: whole[..<cut])
            #expect(try codec.read(from: &buffer) == nil, "\(cut) bytes")
            #expect(buffer.readableBytes == cut)
        }
        var two = ByteBuffer(bytes: whole + Self.bytes(.pingresp, .v5))
        #expect(try codec.read(from: &two) != nil)
        #expect(try codec.read(from: &two) == .pingresp)
        #expect(two.readableBytes == 0)
    }

    @Test func malformedPacketsAreRefusedWithWhatIsWrong() throws {
        func message(_ bytes: [UInt8], _ version: MQTTVersion = .v311) -> String {
            do {
                _ = try Self.read(bytes, version)
                return "read"
            } catch { return (error as? MQTTWireError)?.message ?? "\(error)" }
        }
        #expect(message([0x00, 0x00]) == "packet type 0 is reserved")
        #expect(message([0xC1, 0x00]) == "packet type 12 must have flags 0, has 1")
        #expect(message([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]) == "PUBLISH with QoS 3")
        #expect(message([0x30, 0x03, 0x00, 0x01, 0x23]) == "the topic name '#' holds a wildcard")
        #expect(message([0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00]) == "PUBLISH with QoS 1 and packet id 0")
        #expect(message([0x20, 0x03, 0x00, 0x00, 0x00]) == "1 bytes left over at the end of a packet of type 2")
        #expect(message([0x82, 0x02, 0x00, 0x01]) == "SUBSCRIBE without a topic filter")
        #expect(message([0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x03]) == "SUBSCRIBE asks QoS 3 for 'a'")
        #expect(
            message([0x10, 0x0A, 0x00, 0x04, 0x4D, 0x51, 0x49, 0x73, 0x04, 0x02, 0x00, 0x3C])
                == "the protocol name is 'MQIs', not 'MQTT'")
        #expect(
            message([0x10, 0x0A, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x3C])
                == "protocol level 5; this side speaks 4")
        #expect(message([0x30, 0x04, 0x00, 0x02, 0xC3, 0x28]) == "a string is not valid UTF-8")
        #expect(message([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]) == "a variable byte integer is longer than 4 bytes")
        #expect(message([0x20, 0x03, 0x00, 0x00, 0x01], .v5) == "the properties claim 1 bytes; 0 are left")
        #expect(message([0x20, 0x05, 0x00, 0x00, 0x02, 0x7F, 0x00], .v5) == "unknown property identifier 0x7f")
        #expect(message([0xF0, 0x00]) == "AUTH is an MQTT 5.0 packet")
        var big = ByteBuffer(bytes: [0x30, 0xFF, 0xFF, 0x7F])
        #expect(throws: MQTTWireError.self) { try MQTTCodec(version: .v5, maximumPacketSize: 1000).read(from: &big) }
    }
}
