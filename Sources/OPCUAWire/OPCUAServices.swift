// The service requests and responses the client uses (OPC 10000-4, chapter 5; their encoding ids from the
// specification's NodeIds.csv). Requests are written, responses read.

public struct OPCUARequestHeader: Sendable, OPCUAEncodable {
    public var authenticationToken: OPCUANodeID
    /// Ticks.
    public var timestamp: Int64
    public var requestHandle: UInt32
    public var timeoutHint: UInt32

    public init(authenticationToken: OPCUANodeID = .null, timestamp: Int64, requestHandle: UInt32, timeoutHint: UInt32)
    {
        self.authenticationToken = authenticationToken
        self.timestamp = timestamp
        self.requestHandle = requestHandle
        self.timeoutHint = timeoutHint
    }

    public func encode(to w: inout OPCUAWriter) {
        w.write(authenticationToken)
        w.write(timestamp)
        w.write(requestHandle)
        w.write(UInt32(0))  // no diagnostics
        w.write(String?.none)  // audit entry id
        w.write(timeoutHint)
        w.write(OPCUAExtensionObject.empty)
    }
}

public struct OPCUAResponseHeader: Sendable, OPCUADecodable {
    public var timestamp: Int64
    public var requestHandle: UInt32
    public var serviceResult: OPCUAStatusCode

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        timestamp = try r.read()
        requestHandle = try r.read()
        serviceResult = try r.read()
        _ = try OPCUADiagnosticInfo(from: &r)
        _ = try r.readArray { (r: inout OPCUAReader) throws(OPCUAWireError) in try r.readString() }
        _ = try r.read(OPCUAExtensionObject.self)
    }
}

/// A request: its header comes first, its encoding id before it on the wire.
public protocol OPCUARequest: OPCUAStructure, Sendable {
    associatedtype Response: OPCUAResponse
    var header: OPCUARequestHeader { get set }
    /// The fields after the header.
    func encodeBody(to w: inout OPCUAWriter)
}

/// A response: its header first.
public protocol OPCUAResponse: OPCUAStructure, Sendable {
    var header: OPCUAResponseHeader { get }
    init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError)
}

extension OPCUARequest {
    /// The message body: encoding id, header, fields.
    public func encodeMessage(to w: inout OPCUAWriter) {
        w.write(OPCUANodeID.numeric(Self.binaryEncodingID))
        w.write(header)
        encodeBody(to: &w)
    }
}

/// The answer to any request that failed as a whole.
public struct OPCUAServiceFault: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 397
    public let header: OPCUAResponseHeader
    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
    }
}

// MARK: - Secure channel

public enum OPCUASecurityMode: Int32, Sendable {
    case none = 1, sign = 2, signAndEncrypt = 3
}

public struct OPCUAOpenSecureChannelRequest: OPCUARequest {
    public typealias Response = OPCUAOpenSecureChannelResponse
    public static let binaryEncodingID: UInt32 = 446
    public var header: OPCUARequestHeader
    /// 0 issue, 1 renew.
    public var requestType: Int32
    public var securityMode: OPCUASecurityMode
    public var clientNonce: [UInt8]?
    /// Milliseconds.
    public var requestedLifetime: UInt32

    public init(
        header: OPCUARequestHeader, renew: Bool, securityMode: OPCUASecurityMode, clientNonce: [UInt8]?,
        requestedLifetime: UInt32
    ) {
        self.header = header
        self.requestType = renew ? 1 : 0
        self.securityMode = securityMode
        self.clientNonce = clientNonce
        self.requestedLifetime = requestedLifetime
    }

    public func encodeBody(to w: inout OPCUAWriter) {
        w.write(UInt32(0))  // protocol version
        w.write(requestType)
        w.write(securityMode.rawValue)
        w.write(bytes: clientNonce)
        w.write(requestedLifetime)
    }
}

public struct OPCUAOpenSecureChannelResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 449
    public let header: OPCUAResponseHeader
    public var channelID: UInt32
    public var tokenID: UInt32
    public var revisedLifetime: UInt32
    public var serverNonce: [UInt8]

    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        _ = try r.read(UInt32.self)  // protocol version
        channelID = try r.read()
        tokenID = try r.read()
        _ = try r.read(Int64.self)  // created at
        revisedLifetime = try r.read()
        serverNonce = try r.readByteString() ?? []
    }
}

public struct OPCUACloseSecureChannelRequest: OPCUARequest {
    public typealias Response = OPCUAServiceFault
    public static let binaryEncodingID: UInt32 = 452
    public var header: OPCUARequestHeader
    public init(header: OPCUARequestHeader) { self.header = header }
    public func encodeBody(to w: inout OPCUAWriter) {}
}

// MARK: - Discovery and sessions

/// A server's or client's description of itself.
public struct OPCUAApplicationDescription: Sendable, OPCUACodable {
    public var applicationURI: String?
    public var productURI: String?
    public var applicationName: OPCUALocalizedText
    /// 0 server, 1 client.
    public var applicationType: Int32
    public var discoveryURLs: [String?]

    public init(applicationURI: String, productURI: String, applicationName: String) {
        self.applicationURI = applicationURI
        self.productURI = productURI
        self.applicationName = OPCUALocalizedText(applicationName)
        self.applicationType = 1
        self.discoveryURLs = []
    }

    public func encode(to w: inout OPCUAWriter) {
        w.write(applicationURI)
        w.write(productURI)
        w.write(applicationName)
        w.write(applicationType)
        w.write(String?.none)  // gateway server
        w.write(String?.none)  // discovery profile
        w.write(discoveryURLs) { $0.write($1) }
    }

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        applicationURI = try r.readString()
        productURI = try r.readString()
        applicationName = try r.read()
        applicationType = try r.read()
        _ = try r.readString()
        _ = try r.readString()
        discoveryURLs = try r.readArray { (r: inout OPCUAReader) throws(OPCUAWireError) in try r.readString() }
    }
}

/// How a user may prove who they are at an endpoint.
public struct OPCUAUserTokenPolicy: Sendable, OPCUADecodable {
    public var policyID: String?
    /// 0 anonymous, 1 user name, 2 certificate, 3 issued token.
    public var tokenType: Int32
    /// The policy that protects the token (a password); nil or empty: the endpoint's.
    public var securityPolicyURI: String?

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        policyID = try r.readString()
        tokenType = try r.read()
        _ = try r.readString()
        _ = try r.readString()
        securityPolicyURI = try r.readString()
    }
}

public struct OPCUAEndpointDescription: Sendable, OPCUADecodable {
    public var endpointURL: String?
    public var server: OPCUAApplicationDescription
    public var serverCertificate: [UInt8]?
    public var securityMode: Int32
    public var securityPolicyURI: String?
    public var userIdentityTokens: [OPCUAUserTokenPolicy]
    public var transportProfileURI: String?
    public var securityLevel: UInt8

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        endpointURL = try r.readString()
        server = try r.read()
        serverCertificate = try r.readByteString()
        securityMode = try r.read()
        securityPolicyURI = try r.readString()
        userIdentityTokens = try r.readArray(of: OPCUAUserTokenPolicy.self)
        transportProfileURI = try r.readString()
        securityLevel = try r.read()
    }
}

public struct OPCUAGetEndpointsRequest: OPCUARequest {
    public typealias Response = OPCUAGetEndpointsResponse
    public static let binaryEncodingID: UInt32 = 428
    public var header: OPCUARequestHeader
    public var endpointURL: String

    public init(header: OPCUARequestHeader, endpointURL: String) {
        self.header = header
        self.endpointURL = endpointURL
    }

    public func encodeBody(to w: inout OPCUAWriter) {
        w.write(endpointURL)
        w.write([String]?.none) { $0.write($1) }
        w.write([String]?.none) { $0.write($1) }
    }
}

public struct OPCUAGetEndpointsResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 431
    public let header: OPCUAResponseHeader
    public var endpoints: [OPCUAEndpointDescription]

    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        endpoints = try r.readArray(of: OPCUAEndpointDescription.self)
    }
}

/// An algorithm's URI and a signature made with it.
public struct OPCUASignatureData: Sendable, OPCUACodable {
    public var algorithm: String?
    public var signature: [UInt8]?

    public init(algorithm: String? = nil, signature: [UInt8]? = nil) {
        self.algorithm = algorithm
        self.signature = signature
    }

    public func encode(to w: inout OPCUAWriter) {
        w.write(algorithm)
        w.write(bytes: signature)
    }

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        algorithm = try r.readString()
        signature = try r.readByteString()
    }
}

public struct OPCUACreateSessionRequest: OPCUARequest {
    public typealias Response = OPCUACreateSessionResponse
    public static let binaryEncodingID: UInt32 = 461
    public var header: OPCUARequestHeader
    public var client: OPCUAApplicationDescription
    public var endpointURL: String
    public var sessionName: String
    public var clientNonce: [UInt8]?
    public var clientCertificate: [UInt8]?
    /// Milliseconds.
    public var requestedSessionTimeout: Double

    public init(
        header: OPCUARequestHeader, client: OPCUAApplicationDescription, endpointURL: String, sessionName: String,
        clientNonce: [UInt8]?, clientCertificate: [UInt8]?, requestedSessionTimeout: Double
    ) {
        self.header = header
        self.client = client
        self.endpointURL = endpointURL
        self.sessionName = sessionName
        self.clientNonce = clientNonce
        self.clientCertificate = clientCertificate
        self.requestedSessionTimeout = requestedSessionTimeout
    }

    public func encodeBody(to w: inout OPCUAWriter) {
        w.write(client)
        w.write(String?.none)  // server URI
        w.write(endpointURL)
        w.write(sessionName)
        w.write(bytes: clientNonce)
        w.write(bytes: clientCertificate)
        w.write(requestedSessionTimeout)
        w.write(UInt32(0))  // max response message size: no limit
    }
}

public struct OPCUACreateSessionResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 464
    public let header: OPCUAResponseHeader
    public var sessionID: OPCUANodeID
    public var authenticationToken: OPCUANodeID
    public var revisedSessionTimeout: Double
    public var serverNonce: [UInt8]?
    public var serverCertificate: [UInt8]?
    public var serverEndpoints: [OPCUAEndpointDescription]
    public var serverSignature: OPCUASignatureData

    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        sessionID = try r.read()
        authenticationToken = try r.read()
        revisedSessionTimeout = try r.readDouble()
        serverNonce = try r.readByteString()
        serverCertificate = try r.readByteString()
        serverEndpoints = try r.readArray(of: OPCUAEndpointDescription.self)
        _ = try r.readArray(of: OPCUASignatureData.self)  // software certificates: same layout
        serverSignature = try r.read()
        _ = try r.read(UInt32.self)
    }
}

public struct OPCUAAnonymousIdentityToken: Sendable, OPCUAEncodable, OPCUAStructure {
    public static let binaryEncodingID: UInt32 = 321
    public var policyID: String?
    public init(policyID: String?) { self.policyID = policyID }
    public func encode(to w: inout OPCUAWriter) { w.write(policyID) }
}

public struct OPCUAUserNameIdentityToken: Sendable, OPCUAEncodable, OPCUAStructure {
    public static let binaryEncodingID: UInt32 = 324
    public var policyID: String?
    public var userName: String
    /// The password, or its encryption under the token's security policy.
    public var password: [UInt8]
    /// The encryption's algorithm URI; nil when the password is sent as it is.
    public var encryptionAlgorithm: String?

    public init(policyID: String?, userName: String, password: [UInt8], encryptionAlgorithm: String?) {
        self.policyID = policyID
        self.userName = userName
        self.password = password
        self.encryptionAlgorithm = encryptionAlgorithm
    }

    public func encode(to w: inout OPCUAWriter) {
        w.write(policyID)
        w.write(userName)
        w.write(bytes: password)
        w.write(encryptionAlgorithm)
    }
}

public struct OPCUAActivateSessionRequest: OPCUARequest {
    public typealias Response = OPCUAActivateSessionResponse
    public static let binaryEncodingID: UInt32 = 467
    public var header: OPCUARequestHeader
    public var clientSignature: OPCUASignatureData
    public var userIdentityToken: OPCUAExtensionObject
    public var userTokenSignature: OPCUASignatureData

    public init(
        header: OPCUARequestHeader, clientSignature: OPCUASignatureData, userIdentityToken: OPCUAExtensionObject,
        userTokenSignature: OPCUASignatureData = OPCUASignatureData()
    ) {
        self.header = header
        self.clientSignature = clientSignature
        self.userIdentityToken = userIdentityToken
        self.userTokenSignature = userTokenSignature
    }

    public func encodeBody(to w: inout OPCUAWriter) {
        w.write(clientSignature)
        w.write([OPCUASignatureData]())  // software certificates
        w.write(["en"]) { $0.write($1) }
        w.write(userIdentityToken)
        w.write(userTokenSignature)
    }
}

public struct OPCUAActivateSessionResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 470
    public let header: OPCUAResponseHeader
    public var serverNonce: [UInt8]?

    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        serverNonce = try r.readByteString()
        _ = try r.readArray(of: OPCUAStatusCode.self)
        _ = try r.readArray(of: OPCUADiagnosticInfo.self)
    }
}

public struct OPCUACloseSessionRequest: OPCUARequest {
    public typealias Response = OPCUACloseSessionResponse
    public static let binaryEncodingID: UInt32 = 473
    public var header: OPCUARequestHeader
    public init(header: OPCUARequestHeader) { self.header = header }
    public func encodeBody(to w: inout OPCUAWriter) { w.write(true) }  // delete the subscriptions
}

public struct OPCUACloseSessionResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 476
    public let header: OPCUAResponseHeader
    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
    }
}
