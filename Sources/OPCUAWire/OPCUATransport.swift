public import NIOCore

/// OPC UA Connection Protocol and secure conversation framing (OPC 10000-6, 6.7 and 7.1): every message starts with a
/// three-letter type, a chunk flag (F final, C continued, A abort) and the message size.
public enum OPCUAMessageType: String, Sendable {
    case hello = "HEL"
    case acknowledge = "ACK"
    case error = "ERR"
    case reverseHello = "RHE"
    case openSecureChannel = "OPN"
    case message = "MSG"
    case closeSecureChannel = "CLO"
}

/// One chunk off the wire: its type, flag and what follows the 8-byte header.
public struct OPCUAChunk: Sendable {
    public var type: OPCUAMessageType
    /// `F`, `C` or `A`.
    public var flag: UInt8
    public var body: ByteBuffer

    public init(type: OPCUAMessageType, flag: UInt8 = UInt8(ascii: "F"), body: ByteBuffer) {
        self.type = type
        self.flag = flag
        self.body = body
    }

    /// The chunk with its header.
    public func write(to out: inout ByteBuffer) {
        out.writeString(type.rawValue)
        out.writeInteger(flag)
        out.writeInteger(UInt32(8 + body.readableBytes), endianness: .little)
        var body = body
        out.writeBuffer(&body)
    }
}

/// Splits the byte stream into chunks; a chunk larger than `maximumChunkSize` or of an unknown type is an error.
public struct OPCUAChunkDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = OPCUAChunk
    public var maximumChunkSize: Int

    public init(maximumChunkSize: Int = 1 << 20) { self.maximumChunkSize = maximumChunkSize }

    public mutating func decode(buffer: inout ByteBuffer) throws -> OPCUAChunk? {
        guard buffer.readableBytes >= 8,
            let size = buffer.getInteger(at: buffer.readerIndex + 4, endianness: .little, as: UInt32.self)
        else { return nil }
        guard let typeText = buffer.getString(at: buffer.readerIndex, length: 3),
            let type = OPCUAMessageType(rawValue: typeText)
        else {
            let head = buffer.getBytes(at: buffer.readerIndex, length: 4) ?? []
            throw OPCUAWireError("not an OPC UA message: it starts with bytes \(head)")
        }
        guard size >= 8, size <= maximumChunkSize else {
            throw OPCUAWireError("a \(type.rawValue) chunk of \(size) bytes (the limit is \(maximumChunkSize))")
        }
        guard buffer.readableBytes >= Int(size) else { return nil }
        let flag = buffer.getInteger(at: buffer.readerIndex + 3, as: UInt8.self)!
        buffer.moveReaderIndex(forwardBy: 8)
        let body = buffer.readSlice(length: Int(size) - 8)!
        return OPCUAChunk(type: type, flag: flag, body: body)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> OPCUAChunk? {
        try decode(buffer: &buffer)
    }
}

/// The client's first message: its buffer sizes and the endpoint it wants.
public struct OPCUAHello: Sendable, OPCUAEncodable {
    public var receiveBufferSize: UInt32
    public var sendBufferSize: UInt32
    /// 0: no limit.
    public var maxMessageSize: UInt32
    public var maxChunkCount: UInt32
    public var endpointURL: String

    public init(
        receiveBufferSize: UInt32 = 65_536, sendBufferSize: UInt32 = 65_536, maxMessageSize: UInt32 = 0,
        maxChunkCount: UInt32 = 0, endpointURL: String
    ) {
        self.receiveBufferSize = receiveBufferSize
        self.sendBufferSize = sendBufferSize
        self.maxMessageSize = maxMessageSize
        self.maxChunkCount = maxChunkCount
        self.endpointURL = endpointURL
    }

    public func encode(to w: inout OPCUAWriter) {
        w.write(UInt32(0))  // protocol version
        w.write(receiveBufferSize)
        w.write(sendBufferSize)
        w.write(maxMessageSize)
        w.write(maxChunkCount)
        w.write(endpointURL)
    }
}

/// The server's answer to Hello: the sizes that hold for the connection.
public struct OPCUAAcknowledge: Sendable, OPCUADecodable {
    public var protocolVersion: UInt32
    public var receiveBufferSize: UInt32
    public var sendBufferSize: UInt32
    public var maxMessageSize: UInt32
    public var maxChunkCount: UInt32

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        protocolVersion = try r.read()
        receiveBufferSize = try r.read()
        sendBufferSize = try r.read()
        maxMessageSize = try r.read()
        maxChunkCount = try r.read()
    }
}

/// The server's last word before it closes the connection.
public struct OPCUATransportError: Sendable, OPCUADecodable {
    public var status: OPCUAStatusCode
    public var reason: String?

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        status = try r.read()
        reason = try r.readString()
    }
}

/// The asymmetric security header of OPN chunks: the policy, the sender's certificate, the thumbprint of the
/// receiver's.
public struct OPCUAAsymmetricHeader: Sendable, OPCUACodable {
    public var securityPolicyURI: String
    public var senderCertificate: [UInt8]?
    public var receiverCertificateThumbprint: [UInt8]?

    public init(securityPolicyURI: String, senderCertificate: [UInt8]?, receiverCertificateThumbprint: [UInt8]?) {
        self.securityPolicyURI = securityPolicyURI
        self.senderCertificate = senderCertificate
        self.receiverCertificateThumbprint = receiverCertificateThumbprint
    }

    public func encode(to w: inout OPCUAWriter) {
        w.write(securityPolicyURI)
        w.write(bytes: senderCertificate)
        w.write(bytes: receiverCertificateThumbprint)
    }

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        securityPolicyURI = try r.readString() ?? ""
        senderCertificate = try r.readByteString()
        receiverCertificateThumbprint = try r.readByteString()
    }
}

/// The security policies' URIs.
public enum OPCUASecurityPolicyURI {
    public static let none = "http://opcfoundation.org/UA/SecurityPolicy#None"
    public static let basic256Sha256 = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
}

/// A response body: its encoding id, then the structure; a ServiceFault in place of any response.
public enum OPCUAResponseBody<R: OPCUAResponse>: Sendable {
    case response(R)
    case fault(OPCUAServiceFault)

    public init(decoding body: ByteBuffer) throws(OPCUAWireError) {
        var r = OPCUAReader(body)
        let typeID = try OPCUANodeID(from: &r)
        let header = try OPCUAResponseHeader(from: &r)
        switch typeID {
        case .numeric(R.binaryEncodingID): self = .response(try R(header: header, body: &r))
        case .numeric(OPCUAServiceFault.binaryEncodingID):
            self = .fault(try OPCUAServiceFault(header: header, body: &r))
        default:
            throw OPCUAWireError("a response of type \(typeID) where \(R.self) (i=\(R.binaryEncodingID)) was expected")
        }
    }
}
