public import NIOCore

/// Writes and reads MQTT control packets of one protocol version.
public struct MQTTCodec: Sendable {
    public let version: MQTTVersion
    /// The largest packet this side accepts (the fixed header included); a larger one is an error, not a wait.
    public var maximumPacketSize: Int

    public init(version: MQTTVersion, maximumPacketSize: Int = 1 << 20) {
        self.version = version
        self.maximumPacketSize = maximumPacketSize
    }

    var v5: Bool { version == .v5 }

    // MARK: - writing

    public func write(_ packet: MQTTPacket, to buffer: inout ByteBuffer) {
        var body = ByteBuffer()
        let flags = writeBody(packet, into: &body)
        buffer.writeInteger(packet.type << 4 | flags)
        buffer.writeVariableByteInteger(body.readableBytes)
        buffer.writeBuffer(&body)
    }

    /// The variable header and payload; returns the fixed header's flags.
    private func writeBody(_ packet: MQTTPacket, into b: inout ByteBuffer) -> UInt8 {
        switch packet {
        case .connect(let c): writeConnect(c, into: &b)
        case .connack(let a):
            b.writeInteger(UInt8(a.sessionPresent ? 1 : 0))
            b.writeInteger(a.code)
            if v5 { a.properties.write(to: &b) }
        case .publish(let p):
            b.writeMQTTString(p.topic)
            if p.qos != .atMostOnce { b.writeInteger(p.packetID ?? 0) }
            if v5 { p.properties.write(to: &b) }
            b.writeBytes(p.payload)
            return (p.duplicate ? 0x08 : 0) | p.qos.rawValue << 1 | (p.retain ? 1 : 0)
        case .puback(let a), .pubrec(let a), .pubcomp(let a): writeAcknowledgement(a, into: &b)
        case .pubrel(let a):
            writeAcknowledgement(a, into: &b)
            return 0x02
        case .subscribe(let s):
            b.writeInteger(s.packetID)
            if v5 { s.properties.write(to: &b) }
            for f in s.filters {
                b.writeMQTTString(f.filter)
                b.writeInteger(f.qos.rawValue | (v5 ? f.options << 2 : 0))
            }
            return 0x02
        case .suback(let a), .unsuback(let a):
            b.writeInteger(a.packetID)
            if v5 { a.properties.write(to: &b) }
            if v5 || packet.type == 9 { b.writeBytes(a.codes) }
        case .unsubscribe(let u):
            b.writeInteger(u.packetID)
            if v5 { u.properties.write(to: &b) }
            for f in u.filters { b.writeMQTTString(f) }
            return 0x02
        case .pingreq, .pingresp: break
        case .disconnect(let d), .auth(let d):
            // 5.0 lets a normal disconnect without properties be empty; 3.1.1's always is.
            if v5 && (d.reason != 0 || !d.properties.isEmpty) {
                b.writeInteger(d.reason)
                d.properties.write(to: &b)
            }
        }
        return 0
    }

    private func writeConnect(_ c: MQTTConnect, into b: inout ByteBuffer) {
        b.writeMQTTString("MQTT")
        b.writeInteger(version.rawValue)
        var flags: UInt8 = c.cleanStart ? 0x02 : 0
        if let will = c.will { flags |= 0x04 | will.qos.rawValue << 3 | (will.retain ? 0x20 : 0) }
        if c.password != nil { flags |= 0x40 }
        if c.username != nil { flags |= 0x80 }
        b.writeInteger(flags)
        b.writeInteger(c.keepAliveSeconds)
        if v5 { c.properties.write(to: &b) }
        b.writeMQTTString(c.clientID)
        if let will = c.will {
            if v5 { will.properties.write(to: &b) }
            b.writeMQTTString(will.topic)
            b.writeMQTTBinary(will.payload)
        }
        if let username = c.username { b.writeMQTTString(username) }
        if let password = c.password { b.writeMQTTBinary(password) }
    }

    private func writeAcknowledgement(_ a: MQTTAcknowledgement, into b: inout ByteBuffer) {
        b.writeInteger(a.packetID)
        // 5.0 may leave out a success reason without properties.
        if v5 && (a.reason != 0 || !a.properties.isEmpty) {
            b.writeInteger(a.reason)
            a.properties.write(to: &b)
        }
    }

    // MARK: - reading

    /// Reads one packet if the buffer holds a whole one (nil: wait for more bytes); a malformed packet is an error.
    public func read(from buffer: inout ByteBuffer) throws(MQTTWireError) -> MQTTPacket? {
        var peek = buffer
        guard let first: UInt8 = peek.readInteger() else { return nil }
        let length: Int
        do {
            length = try peek.readVariableByteInteger()
        } catch {
            // Cut short: wait for more; longer than 4 bytes: malformed.
            if peek.readableBytes == 0 && buffer.readableBytes < 5 { return nil }
            throw error
        }
        let header = buffer.readableBytes - peek.readableBytes
        guard header + length <= maximumPacketSize else {
            throw MQTTWireError(
                "a packet of \(header + length) bytes is larger than the maximum (\(maximumPacketSize))")
        }
        guard var body = peek.readSlice(length: length) else { return nil }
        buffer.moveReaderIndex(forwardBy: header + length)
        let packet = try readBody(type: first >> 4, flags: first & 0x0F, &body)
        guard body.readableBytes == 0 else {
            throw MQTTWireError("\(body.readableBytes) bytes left over at the end of a packet of type \(first >> 4)")
        }
        return packet
    }

    private func readBody(type: UInt8, flags: UInt8, _ b: inout ByteBuffer) throws(MQTTWireError) -> MQTTPacket {
        func requireFlags(_ expected: UInt8) throws(MQTTWireError) {
            guard flags == expected else {
                throw MQTTWireError("packet type \(type) must have flags \(expected), has \(flags)")
            }
        }
        switch type {
        case 1:
            try requireFlags(0)
            return .connect(try readConnect(&b))
        case 2:
            try requireFlags(0)
            let acknowledge: UInt8 = try b.readMQTTInteger()
            guard acknowledge & 0xFE == 0 else { throw MQTTWireError("CONNACK's reserved bits are set") }
            let code: UInt8 = try b.readMQTTInteger()
            return .connack(
                MQTTConnAck(
                    sessionPresent: acknowledge == 1, code: code, properties: v5 ? try .read(from: &b) : []))
        case 3: return .publish(try readPublish(flags: flags, &b))
        case 4, 5, 7:
            try requireFlags(0)
            let a = try readAcknowledgement(&b)
            return type == 4 ? .puback(a) : type == 5 ? .pubrec(a) : .pubcomp(a)
        case 6:
            try requireFlags(2)
            return .pubrel(try readAcknowledgement(&b))
        case 8:
            try requireFlags(2)
            return .subscribe(try readSubscribe(&b))
        case 9, 11:
            try requireFlags(0)
            let id: UInt16 = try b.readMQTTInteger()
            let properties: MQTTProperties = v5 ? try .read(from: &b) : []
            let codes = b.readBytes(length: b.readableBytes) ?? []
            let ack = MQTTSubAck(packetID: id, codes: codes, properties: properties)
            return type == 9 ? .suback(ack) : .unsuback(ack)
        case 10:
            try requireFlags(2)
            let id: UInt16 = try b.readMQTTInteger()
            let properties: MQTTProperties = v5 ? try .read(from: &b) : []
            var filters: [String] = []
            while b.readableBytes > 0 { filters.append(try b.readMQTTString()) }
            guard !filters.isEmpty else { throw MQTTWireError("UNSUBSCRIBE without a topic filter") }
            return .unsubscribe(MQTTUnsubscribe(packetID: id, filters: filters, properties: properties))
        case 12, 13:
            try requireFlags(0)
            return type == 12 ? .pingreq : .pingresp
        case 14, 15:
            try requireFlags(0)
            guard type == 14 || v5 else { throw MQTTWireError("AUTH is an MQTT 5.0 packet") }
            var d = MQTTDisconnect()
            if v5 && b.readableBytes > 0 {
                d.reason = try b.readMQTTInteger()
                if b.readableBytes > 0 { d.properties = try .read(from: &b) }
            }
            return type == 14 ? .disconnect(d) : .auth(d)
        default:
            throw MQTTWireError("packet type \(type) is reserved")
        }
    }

    private func readConnect(_ b: inout ByteBuffer) throws(MQTTWireError) -> MQTTConnect {
        let name = try b.readMQTTString()
        guard name == "MQTT" else { throw MQTTWireError("the protocol name is '\(name)', not 'MQTT'") }
        let level: UInt8 = try b.readMQTTInteger()
        guard level == version.rawValue else {
            throw MQTTWireError("protocol level \(level); this side speaks \(version.rawValue)")
        }
        let flags: UInt8 = try b.readMQTTInteger()
        guard flags & 0x01 == 0 else { throw MQTTWireError("CONNECT's reserved flag is set") }
        var c = MQTTConnect(clientID: "", cleanStart: flags & 0x02 != 0, keepAliveSeconds: try b.readMQTTInteger())
        if v5 { c.properties = try .read(from: &b) }
        c.clientID = try b.readMQTTString()
        if flags & 0x04 != 0 {
            let willProperties: MQTTProperties = v5 ? try .read(from: &b) : []
            guard let qos = MQTTQoS(rawValue: flags >> 3 & 0x03) else { throw MQTTWireError("the will's QoS is 3") }
            c.will = .init(
                topic: try b.readMQTTString(), payload: try b.readMQTTBinary(), qos: qos, retain: flags & 0x20 != 0,
                properties: willProperties)
        } else if flags & 0x38 != 0 {
            throw MQTTWireError("will QoS or retain set without a will")
        }
        if flags & 0x80 != 0 { c.username = try b.readMQTTString() }
        if flags & 0x40 != 0 { c.password = try b.readMQTTBinary() }
        return c
    }

    private func readPublish(flags: UInt8, _ b: inout ByteBuffer) throws(MQTTWireError) -> MQTTPublish {
        guard let qos = MQTTQoS(rawValue: flags >> 1 & 0x03) else { throw MQTTWireError("PUBLISH with QoS 3") }
        let topic = try b.readMQTTString()
        guard !topic.contains("+") && !topic.contains("#") else {
            throw MQTTWireError("the topic name '\(topic)' holds a wildcard")
        }
        var p = MQTTPublish(
            topic: topic, payload: [], qos: qos, retain: flags & 0x01 != 0, duplicate: flags & 0x08 != 0)
        if qos != .atMostOnce {
            let id: UInt16 = try b.readMQTTInteger()
            guard id != 0 else { throw MQTTWireError("PUBLISH with QoS \(qos.rawValue) and packet id 0") }
            p.packetID = id
        }
        if v5 { p.properties = try .read(from: &b) }
        p.payload = b.readBytes(length: b.readableBytes) ?? []
        return p
    }

    private func readAcknowledgement(_ b: inout ByteBuffer) throws(MQTTWireError) -> MQTTAcknowledgement {
        var a = MQTTAcknowledgement(packetID: try b.readMQTTInteger())
        if v5 && b.readableBytes > 0 {
            a.reason = try b.readMQTTInteger()
            if b.readableBytes > 0 { a.properties = try .read(from: &b) }
        }
        return a
    }

    private func readSubscribe(_ b: inout ByteBuffer) throws(MQTTWireError) -> MQTTSubscribe {
        let id: UInt16 = try b.readMQTTInteger()
        let properties: MQTTProperties = v5 ? try .read(from: &b) : []
        var filters: [MQTTSubscribe.Filter] = []
        while b.readableBytes > 0 {
            let filter = try b.readMQTTString()
            let options: UInt8 = try b.readMQTTInteger()
            guard let qos = MQTTQoS(rawValue: options & 0x03) else {
                throw MQTTWireError("SUBSCRIBE asks QoS 3 for '\(filter)'")
            }
            guard options & (v5 ? 0xC0 : 0xFC) == 0 else {
                throw MQTTWireError("SUBSCRIBE's reserved option bits are set for '\(filter)'")
            }
            filters.append(.init(filter, qos: qos, options: v5 ? options >> 2 : 0))
        }
        guard !filters.isEmpty else { throw MQTTWireError("SUBSCRIBE without a topic filter") }
        return MQTTSubscribe(packetID: id, filters: filters, properties: properties)
    }
}
