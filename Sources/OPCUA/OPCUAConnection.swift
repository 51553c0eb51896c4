import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
public import OPCUAWire

/// A session with an OPC UA server over the binary protocol: Hello/Acknowledge, a secure channel (None or
/// Basic256Sha256 sign and encrypt), then CreateSession and ActivateSession as the configured user. Services are
/// requests answered by their responses; a server's refusal (a ServiceFault, a bad service result) is an error
/// naming the service and the status. The channel's token is renewed before its lifetime ends.
public final class OPCUAConnection: Sendable {
    public let options: OPCUAClientOptions
    let channel: any Channel
    let security: any ChunkSecurity
    let state: NIOLockedValueBox<State>

    struct State {
        var authenticationToken = OPCUANodeID.null
        var requestHandle: UInt32 = 0
        var renewAt: ContinuousClock.Instant
        var renewing = false
        var renewals = 0
        var closed = false
    }

    /// How many times the channel's token was renewed.
    public var renewals: Int { state.withLockedValue { $0.renewals } }

    public var endpoint: String { options.endpointURL }
    public var isActive: Bool { channel.isActive }

    init(options: OPCUAClientOptions, channel: any Channel, security: any ChunkSecurity) {
        self.options = options
        self.channel = channel
        self.security = security
        self.state = NIOLockedValueBox(State(renewAt: .now + options.channelLifetime * 0.75))
    }

    /// Connects, opens the secure channel and activates a session; every refusal is an error naming the endpoint
    /// and what was refused. Under Basic256Sha256 the server's endpoints are asked for first (on a channel without
    /// security, as discovery is): its certificate must be the trusted one, or, with none configured, is taken as
    /// it is (trust on first use: `serverCertificateThumbprint` says which).
    public static func connect(_ options: OPCUAClientOptions) async throws -> OPCUAConnection {
        let security: any ChunkSecurity
        switch options.security {
        case .none: security = NoSecurity()
        case .basic256Sha256(let certificate):
            let offered = try await endpoints(options)
            guard
                let endpoint = offered.first(where: {
                    $0.securityPolicyURI == OPCUASecurityPolicyURI.basic256Sha256
                        && $0.securityMode == OPCUASecurityMode.signAndEncrypt.rawValue
                }), let serverCertificate = endpoint.serverCertificate
            else {
                throw OPCUAError(
                    "\(options.endpointURL) offers no Basic256Sha256 SignAndEncrypt endpoint (it offers "
                        + Self.describe(offered) + ")")
            }
            security = try Basic256Sha256Security(
                certificate: certificate, serverCertificate: serverCertificate, endpoint: options.endpointURL)
        }
        let connection = try await open(options, security)
        do {
            try await connection.createSession()
            return connection
        } catch {
            try? await connection.channel.close()
            throw error
        }
    }

    /// The server's endpoints (GetEndpoints on a channel without security).
    public static func endpoints(_ options: OPCUAClientOptions) async throws -> [OPCUAEndpointDescription] {
        var plain = options
        plain.security = .none
        let connection = try await open(plain, NoSecurity())
        do {
            let endpoints = try await connection.send(
                OPCUAGetEndpointsRequest(header: connection.header(), endpointURL: options.endpointURL)
            ).endpoints
            await connection.close()
            return endpoints
        } catch {
            await connection.close()
            throw error
        }
    }

    /// The SHA-1 thumbprint of the server's certificate (hex), under a secure policy.
    public var serverCertificateThumbprint: String? {
        security.serverCertificate.map(Basic256Sha256Security.thumbprint)
    }

    static func describe(_ endpoints: [OPCUAEndpointDescription]) -> String {
        let modes = ["", "None", "Sign", "SignAndEncrypt"]
        return endpoints.map {
            ($0.securityPolicyURI?.split(separator: "#").last.map(String.init) ?? "?") + " "
                + (0..<4 ~= Int($0.securityMode) ? modes[Int($0.securityMode)] : "mode \($0.securityMode)")
        }.joined(separator: ", ")
    }

    /// A connection with an open secure channel (no session yet).
    static func open(_ options: OPCUAClientOptions, _ security: any ChunkSecurity) async throws -> OPCUAConnection {
        let endpoint = options.endpointURL
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(options.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(OPCUAChunkDecoder()))
                        try channel.pipeline.syncOperations.addHandler(
                            OPCUAClientHandler(endpoint: endpoint, security: security))
                    }
                }
                .connect(host: options.host, port: options.port).get()
        } catch {
            throw OPCUAError("cannot connect to OPC UA server \(endpoint): \(error)", retriable: true)
        }
        let connection = OPCUAConnection(options: options, channel: channel, security: security)
        do {
            try await connection.handshake()
            return connection
        } catch {
            try? await channel.close()
            throw error
        }
    }

    private func handshake() async throws {
        let ack = channel.eventLoop.makePromise(of: OPCUAAcknowledge.self)
        let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(options.connectTimeout)) { [endpoint] in
            ack.fail(OPCUAError("no Acknowledge from \(endpoint) within the connect timeout", retriable: true))
        }
        try await channel.writeAndFlush(OPCUACommand.hello(OPCUAHello(endpointURL: endpoint), ack))
        _ = try await ack.futureResult.get()
        deadline.cancel()
        try await openSecureChannel(renew: false)
    }

    /// OPN: issues (or renews) the channel's token and installs its keys.
    func openSecureChannel(renew: Bool) async throws {
        let clientNonce = security.makeNonce()
        let request = OPCUAOpenSecureChannelRequest(
            header: header(), renew: renew, securityMode: security.mode, clientNonce: clientNonce,
            requestedLifetime: UInt32(options.channelLifetime.milliseconds))
        var w = OPCUAWriter()
        request.encodeMessage(to: &w)
        let answer = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try await channel.writeAndFlush(
            OPCUACommand.open(w.buffer, answer, timeout: TimeAmount(options.requestTimeout)))
        let response = try Self.response(
            OPCUAOpenSecureChannelRequest.self, try await answer.futureResult.get(), endpoint)
        let keys = try security.keys(clientNonce: clientNonce, serverNonce: response.serverNonce)
        try await channel.writeAndFlush(
            OPCUACommand.established(channelID: response.channelID, tokenID: response.tokenID, keys: keys))
        let lifetime = Duration.milliseconds(Int64(response.revisedLifetime))
        state.withLockedValue {
            $0.renewAt = .now + lifetime * 0.75
            if renew { $0.renewals += 1 }
            $0.renewing = false
        }
    }

    private func createSession() async throws {
        let nonce = security.makeNonce()
        let created = try await send(
            OPCUACreateSessionRequest(
                header: header(),
                client: OPCUAApplicationDescription(
                    applicationURI: options.applicationURI, productURI: "urn:millstream",
                    applicationName: "Millstream"),
                endpointURL: endpoint, sessionName: options.sessionName, clientNonce: nonce.isEmpty ? nil : nonce,
                clientCertificate: security.asymmetricHeader.senderCertificate,
                requestedSessionTimeout: options.sessionTimeout.milliseconds))
        try security.verifyServerSignature(created.serverSignature, clientNonce: nonce)
        state.withLockedValue { $0.authenticationToken = created.authenticationToken }
        let token = try identityToken(created)
        _ = try await send(
            OPCUAActivateSessionRequest(
                header: header(),
                clientSignature: try security.clientSignature(
                    serverCertificate: created.serverCertificate, serverNonce: created.serverNonce),
                userIdentityToken: token))
    }

    /// The user's token, under the policy the server's endpoint names for that kind of token.
    private func identityToken(_ created: OPCUACreateSessionResponse) throws -> OPCUAExtensionObject {
        guard
            let endpoint = created.serverEndpoints.first(where: {
                $0.securityPolicyURI == security.policyURI && $0.securityMode == security.mode.rawValue
            })
        else {
            throw OPCUAError(
                "\(self.endpoint) offers no endpoint with security \(security.policyURI.split(separator: "#").last ?? "") "
                    + "(it offers \(Self.describe(created.serverEndpoints))): configure security to match")
        }
        let policies = endpoint.userIdentityTokens
        switch options.identity {
        case .anonymous:
            guard let policy = policies.first(where: { $0.tokenType == 0 }) else {
                throw OPCUAError("\(self.endpoint) does not allow anonymous users: configure a user name and password")
            }
            return OPCUAExtensionObject(OPCUAAnonymousIdentityToken(policyID: policy.policyID))
        case .userName(let user, let password):
            guard let policy = policies.first(where: { $0.tokenType == 1 }) else {
                throw OPCUAError("\(self.endpoint) does not take user names and passwords at this endpoint")
            }
            let uri = policy.securityPolicyURI.flatMap { $0.isEmpty ? nil : $0 } ?? security.policyURI
            if uri == OPCUASecurityPolicyURI.none {
                return OPCUAExtensionObject(
                    OPCUAUserNameIdentityToken(
                        policyID: policy.policyID, userName: user, password: Array(password.utf8),
                        encryptionAlgorithm: nil))
            }
            let certificate = created.serverCertificate ?? security.serverCertificate
            let (secret, algorithm) = try PasswordEncryption.encrypt(
                password: Array(password.utf8), serverNonce: created.serverNonce ?? [], policyURI: uri,
                serverCertificate: certificate, endpoint: self.endpoint)
            return OPCUAExtensionObject(
                OPCUAUserNameIdentityToken(
                    policyID: policy.policyID, userName: user, password: secret, encryptionAlgorithm: algorithm))
        }
    }

    func header() -> OPCUARequestHeader {
        let (token, handle) = state.withLockedValue {
            $0.requestHandle &+= 1
            return ($0.authenticationToken, $0.requestHandle)
        }
        return OPCUARequestHeader(
            authenticationToken: token,
            timestamp: OPCUADateTime.ticks(unixMilliseconds: Int64(Date().timeIntervalSince1970 * 1000)),
            requestHandle: handle, timeoutHint: UInt32(options.requestTimeout.milliseconds))
    }

    static func response<R: OPCUARequest>(_: R.Type, _ body: ByteBuffer, _ endpoint: String) throws -> R.Response {
        let what = String(describing: R.self).replacingOccurrences(of: "OPCUA", with: "").replacingOccurrences(
            of: "Request", with: "")
        let decoded: OPCUAResponseBody<R.Response>
        do { decoded = try OPCUAResponseBody<R.Response>(decoding: body) } catch {
            throw OPCUAError("\(endpoint): the answer to \(what) is malformed: \(error)")
        }
        switch decoded {
        case .fault(let fault):
            throw OPCUAError(
                "\(endpoint) refused \(what): \(fault.header.serviceResult)", status: fault.header.serviceResult,
                retriable: Self.retriable(fault.header.serviceResult))
        case .response(let r):
            guard !r.header.serviceResult.isBad else {
                throw OPCUAError(
                    "\(endpoint) refused \(what): \(r.header.serviceResult)", status: r.header.serviceResult,
                    retriable: Self.retriable(r.header.serviceResult))
            }
            return r
        }
    }

    /// Statuses a new session may cure (the session or channel was lost, the server is busy).
    static func retriable(_ s: OPCUAStatusCode) -> Bool {
        [0x8025_0000, 0x8022_0000, 0x800A_0000, 0x8031_0000, 0x800C_0000, 0x800E_0000, 0x8056_0000, 0x8079_0000]
            .contains(s.rawValue & 0xFFFF_0000)
    }

    /// Sends a request and returns its response (the header filled in here).
    public func send<R: OPCUARequest>(_ request: R, timeout: Duration? = nil) async throws -> R.Response {
        try await renewIfDue()
        var request = request
        request.header = header()
        var w = OPCUAWriter()
        request.encodeMessage(to: &w)
        let answer = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let what = String(describing: R.self).replacingOccurrences(of: "OPCUA", with: "")
        // A write that cannot happen (the connection is gone) fails the answer too: the handler never saw it.
        channel.writeAndFlush(
            OPCUACommand.request(w.buffer, answer, timeout: TimeAmount(timeout ?? options.requestTimeout), what: what)
        ).whenFailure { [endpoint] error in
            answer.fail(OPCUAError("\(endpoint): the connection is closed (\(error))", retriable: true))
        }
        // A cancelled caller stops waiting (the answer, if it comes, is dropped).
        return try await withTaskCancellationHandler {
            try Self.response(R.self, try await answer.futureResult.get(), endpoint)
        } onCancel: {
            answer.fail(CancellationError())
        }
    }

    private func renewIfDue() async throws {
        let due = state.withLockedValue { s -> Bool in
            guard !s.renewing, ContinuousClock.now >= s.renewAt else { return false }
            s.renewing = true
            return true
        }
        if due { try await openSecureChannel(renew: true) }
    }

    /// Reads the nodes' values (with source and server times).
    public func read(_ nodes: [OPCUANodeID], attribute: OPCUAAttribute = .value) async throws -> [OPCUADataValue] {
        try await send(
            OPCUAReadRequest(header: header(), nodes: nodes.map { OPCUAReadValueID($0, attribute) })
        ).results
    }

    /// Writes values; one status per value.
    public func write(_ values: [(OPCUANodeID, OPCUAVariant)]) async throws -> [OPCUAStatusCode] {
        try await write(values.map { OPCUAWriteValue($0.0, $0.1) })
    }

    /// Writes values with their times; one status per value.
    public func write(_ values: [OPCUAWriteValue]) async throws -> [OPCUAStatusCode] {
        try await send(OPCUAWriteRequest(header: header(), values: values)).results
    }

    /// The server's namespace array (Server.NamespaceArray, i=2255): index to URI.
    public func namespaces() async throws -> [String] {
        guard case .array(_, let uris, _)? = try await read([.numeric(2255)]).first?.value else {
            throw OPCUAError("\(endpoint): the server's namespace array (i=2255) is not an array")
        }
        return uris.map { if case .string(let s) = $0 { s ?? "" } else { "" } }
    }

    /// The node's hierarchical references, all of them (following continuation points).
    public func browse(_ node: OPCUANodeID) async throws -> [OPCUAReferenceDescription] {
        var result = try await send(OPCUABrowseRequest(header: header(), nodes: [OPCUABrowseDescription(nodeID: node)]))
            .results.first
        var references: [OPCUAReferenceDescription] = []
        while let r = result {
            guard !r.status.isBad else {
                throw OPCUAError("\(endpoint): browsing \(node): \(r.status)", status: r.status)
            }
            references += r.references
            guard let point = r.continuationPoint, !point.isEmpty else { break }
            result = try await send(OPCUABrowseNextRequest(header: header(), continuationPoints: [point])).results.first
        }
        return references
    }

    /// Ends the session and the channel, then the connection.
    public func close() async {
        let already = state.withLockedValue { s -> Bool in
            defer { s.closed = true }
            return s.closed
        }
        if !already, channel.isActive {
            _ = try? await send(OPCUACloseSessionRequest(header: header()), timeout: .seconds(2))
            var w = OPCUAWriter()
            OPCUACloseSecureChannelRequest(header: header()).encodeMessage(to: &w)
            try? await channel.writeAndFlush(OPCUACommand.close(w.buffer))
        }
        try? await channel.close()
    }
}
