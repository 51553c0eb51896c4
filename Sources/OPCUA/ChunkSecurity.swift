import OPCUAWire

/// The keys of one secure channel token (OPC 10000-6, 6.7.5): what this side signs and encrypts with, and what the
/// server does.
struct SymmetricKeys: Sendable {
    var clientSigning: [UInt8]
    var clientEncrypting: [UInt8]
    var clientIV: [UInt8]
    var serverSigning: [UInt8]
    var serverEncrypting: [UInt8]
    var serverIV: [UInt8]
}

/// How a secure channel protects its chunks. A chunk is its header (type, flag, size, channel id, security header),
/// then the plaintext (sequence header and body), then padding and signature when signed, the part after the
/// security header encrypted when encrypted. OPN chunks use the asymmetric algorithms, the others the symmetric ones
/// with the keys the OPN's nonces gave.
protocol ChunkSecurity: Sendable {
    var policyURI: String { get }
    var mode: OPCUASecurityMode { get }
    var asymmetricHeader: OPCUAAsymmetricHeader { get }
    /// A fresh nonce for OPN or CreateSession (empty when the policy has none).
    func makeNonce() -> [UInt8]
    func keys(clientNonce: [UInt8], serverNonce: [UInt8]) throws -> SymmetricKeys?
    /// The most plaintext one chunk of `sendBufferSize` bytes can carry after a header of `headerSize` bytes.
    func maxPlaintext(asymmetric: Bool, headerSize: Int, sendBufferSize: Int) -> Int
    /// The chunk: `header` (its size field still zero) and `plaintext`, signed and encrypted as the policy says.
    func seal(header: [UInt8], plaintext: [UInt8], asymmetric: Bool, keys: SymmetricKeys?) throws -> [UInt8]
    /// The plaintext of a received chunk whose header (up to the end of its security header) is `headerSize`
    /// bytes; an error when its signature does not verify.
    func open(chunk: [UInt8], headerSize: Int, asymmetric: Bool, keys: SymmetricKeys?) throws -> [UInt8]
    /// The client's signature in ActivateSession over the server's certificate and nonce.
    func clientSignature(serverCertificate: [UInt8]?, serverNonce: [UInt8]?) throws -> OPCUASignatureData
    /// Checks the server's signature in CreateSession over this client's certificate and nonce.
    func verifyServerSignature(_ signature: OPCUASignatureData, clientNonce: [UInt8]) throws
    /// The server's certificate, once known (from the endpoint or the OPN).
    var serverCertificate: [UInt8]? { get }
}

/// SecurityPolicy None: chunks as they are.
struct NoSecurity: ChunkSecurity {
    var policyURI: String { OPCUASecurityPolicyURI.none }
    var mode: OPCUASecurityMode { .none }
    var asymmetricHeader: OPCUAAsymmetricHeader {
        OPCUAAsymmetricHeader(
            securityPolicyURI: policyURI, senderCertificate: nil, receiverCertificateThumbprint: nil)
    }
    var serverCertificate: [UInt8]? { nil }

    func makeNonce() -> [UInt8] { [] }
    func keys(clientNonce: [UInt8], serverNonce: [UInt8]) -> SymmetricKeys? { nil }
    func maxPlaintext(asymmetric: Bool, headerSize: Int, sendBufferSize: Int) -> Int { sendBufferSize - headerSize }

    func seal(header: [UInt8], plaintext: [UInt8], asymmetric: Bool, keys: SymmetricKeys?) -> [UInt8] {
        header.withSize(header.count + plaintext.count) + plaintext
    }

    func open(chunk: [UInt8], headerSize: Int, asymmetric: Bool, keys: SymmetricKeys?) -> [UInt8] {
        Array(chunk[headerSize...])
    }

    func clientSignature(serverCertificate: [UInt8]?, serverNonce: [UInt8]?) -> OPCUASignatureData {
        OPCUASignatureData()
    }

    func verifyServerSignature(_ signature: OPCUASignatureData, clientNonce: [UInt8]) {}
}

extension [UInt8] {
    /// The chunk header with its size field (bytes 4 to 7, little endian) set to `size`.
    func withSize(_ size: Int) -> [UInt8] {
        var out = self
        let n = UInt32(size)
        for i in 0..<4 { out[4 + i] = UInt8(truncatingIfNeeded: n >> (8 * UInt32(i))) }
        return out
    }
}
