public import OPCUAWire

/// Where and how to connect: the endpoint, the secure channel's policy, who the user is.
public struct OPCUAClientOptions: Sendable {
    /// `opc.tcp://host:4840/path`.
    public var endpointURL: String
    public var host: String
    public var port: Int
    public var security: OPCUASecurity
    public var identity: OPCUAIdentity
    /// This client's application URI (the certificate's subjectAltName URI must be the same under a secure policy).
    public var applicationURI: String
    public var sessionName: String
    public var connectTimeout: Duration
    /// How long a request may wait for its answer (a publish request waits longer: see `OPCUASubscription`).
    public var requestTimeout: Duration
    public var sessionTimeout: Duration
    /// The secure channel's lifetime; the token is renewed at three quarters of it.
    public var channelLifetime: Duration

    public init(
        endpointURL: String, security: OPCUASecurity = .none, identity: OPCUAIdentity = .anonymous,
        applicationURI: String = "urn:millstream:connect", sessionName: String = "millstream"
    ) throws(OPCUAError) {
        guard endpointURL.hasPrefix("opc.tcp://") else {
            throw OPCUAError("'\(endpointURL)' is not an opc.tcp://HOST[:PORT][/PATH] endpoint")
        }
        let rest = endpointURL.dropFirst("opc.tcp://".count)
        let authority = rest.prefix { $0 != "/" }
        var host = String(authority)
        var port = 4840
        if authority.hasPrefix("[") {  // [::1]:4840
            guard let close = authority.firstIndex(of: "]") else {
                throw OPCUAError("'\(endpointURL)': an IPv6 address without ]")
            }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()) else {
                    throw OPCUAError("'\(endpointURL)': the port is not a number")
                }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                throw OPCUAError("'\(endpointURL)': the port is not a number from 1 to 65535")
            }
            port = p
        }
        guard !host.isEmpty else { throw OPCUAError("'\(endpointURL)' names no host") }
        self.endpointURL = endpointURL
        self.host = host
        self.port = port
        self.security = security
        self.identity = identity
        self.applicationURI = applicationURI
        self.sessionName = sessionName
        self.connectTimeout = .seconds(5)
        self.requestTimeout = .seconds(10)
        self.sessionTimeout = .seconds(60)
        self.channelLifetime = .seconds(3600)
    }
}

/// The secure channel's security policy and mode.
public enum OPCUASecurity: Sendable {
    /// No signing, no encryption (SecurityPolicy None).
    case none
    /// SecurityPolicy Basic256Sha256, messages signed and encrypted, with this client's certificate and key and the
    /// server certificate it trusts.
    case basic256Sha256(OPCUAClientCertificate)

    public var policyURI: String {
        switch self {
        case .none: "http://opcfoundation.org/UA/SecurityPolicy#None"
        case .basic256Sha256: "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
        }
    }
}

/// A client's application instance certificate and private key (PEM files), and the server certificate it trusts
/// (nil: whichever certificate the server's endpoint presents, as a first connection does; its thumbprint is logged).
public struct OPCUAClientCertificate: Sendable {
    public var certificatePEM: String
    public var privateKeyPEM: String
    public var trustedServerCertificatePEM: String?

    public init(certificatePEM: String, privateKeyPEM: String, trustedServerCertificatePEM: String? = nil) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.trustedServerCertificatePEM = trustedServerCertificatePEM
    }
}

/// Who the session's user is.
public enum OPCUAIdentity: Sendable {
    case anonymous
    case userName(String, password: String)
}

/// An OPC UA failure: what and where; `status` when the server said it with a status code.
public struct OPCUAError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let status: OPCUAStatusCode?
    /// Whether a new connection may succeed (a lost server, a timeout) rather than failing the same way (a refused
    /// user, a bad configuration).
    public let retriable: Bool

    public init(_ message: String, status: OPCUAStatusCode? = nil, retriable: Bool = false) {
        self.message = message
        self.status = status
        self.retriable = retriable
    }

    public var description: String { message }
}
