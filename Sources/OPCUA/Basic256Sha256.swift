import Crypto
import CryptoExtras
import Foundation
import OPCUAWire
import SwiftASN1
import X509

/// SecurityPolicy Basic256Sha256 in mode SignAndEncrypt (OPC 10000-7; chunks as OPC 10000-6, 6.7): OPN chunks
/// signed with RSA PKCS#1 v1.5 SHA-256 by the sender's key and encrypted with RSA-OAEP (SHA-1) to the receiver's;
/// the others signed with HMAC-SHA256 and encrypted with AES-256-CBC under keys that P_SHA256 derives from the two
/// OPN nonces.
struct Basic256Sha256Security: ChunkSecurity {
    let clientCertificateDER: [UInt8]
    let clientKey: _RSA.Signing.PrivateKey
    /// The key in PEM: `_RSA.Encryption` keys are not Sendable, so the decrypting key is made where it is used
    /// (OPN answers only).
    let clientKeyPEM: String
    let server: ServerKeys?
    let endpoint: String

    /// The server's certificate and its keys.
    struct ServerKeys: Sendable {
        let certificateDER: [UInt8]
        let verifying: _RSA.Signing.PublicKey
        var keyBytes: Int { verifying.keySizeInBits / 8 }

        init(der: [UInt8], endpoint: String) throws {
            let certificate: Certificate
            do { certificate = try Certificate(derEncoded: der) } catch {
                throw OPCUAError("\(endpoint): the server certificate is not an X.509 certificate: \(error)")
            }
            guard let key = _RSA.Signing.PublicKey(certificate.publicKey) else {
                throw OPCUAError("\(endpoint): the server certificate's key is not RSA (Basic256Sha256 needs RSA)")
            }
            certificateDER = der
            verifying = key
        }

        /// The encrypting key (not Sendable: made where it is used).
        func encrypting() throws -> _RSA.Encryption.PublicKey {
            try _RSA.Encryption.PublicKey(derRepresentation: verifying.derRepresentation)
        }
    }

    var policyURI: String { OPCUASecurityPolicyURI.basic256Sha256 }
    var mode: OPCUASecurityMode { .signAndEncrypt }
    var serverCertificate: [UInt8]? { server?.certificateDER }

    /// `serverCertificate`: the one the server's endpoint presents; when a trusted certificate is configured, the two
    /// must be the same.
    init(certificate: OPCUAClientCertificate, serverCertificate: [UInt8], endpoint: String) throws {
        self.endpoint = endpoint
        do {
            clientCertificateDER = try PEMDocument(pemString: certificate.certificatePEM).derBytes
            _ = try Certificate(derEncoded: clientCertificateDER)
        } catch {
            throw OPCUAError("the client certificate is not a PEM X.509 certificate: \(error)")
        }
        do {
            clientKey = try _RSA.Signing.PrivateKey(pemRepresentation: certificate.privateKeyPEM)
            _ = try _RSA.Encryption.PrivateKey(pemRepresentation: certificate.privateKeyPEM)
            clientKeyPEM = certificate.privateKeyPEM
        } catch {
            throw OPCUAError("the client private key is not a PEM RSA key (2048 bits or more): \(error)")
        }
        if let pem = certificate.trustedServerCertificatePEM {
            let trusted: [UInt8]
            do { trusted = try PEMDocument(pemString: pem).derBytes } catch {
                throw OPCUAError("the trusted server certificate is not PEM: \(error)")
            }
            guard trusted == serverCertificate else {
                throw OPCUAError(
                    "\(endpoint) presents a certificate (SHA-1 thumbprint \(Self.thumbprint(serverCertificate))) that is "
                        + "not the trusted one (\(Self.thumbprint(trusted))); BadCertificateUntrusted")
            }
        }
        server = try ServerKeys(der: serverCertificate, endpoint: endpoint)
    }

    static func thumbprint(_ der: [UInt8]) -> String {
        Insecure.SHA1.hash(data: der).map { String(format: "%02x", $0) }.joined()
    }

    private func requireServer() throws -> ServerKeys {
        guard let server else {
            throw OPCUAError("\(endpoint): Basic256Sha256 needs the server's certificate (server_certificate)")
        }
        return server
    }

    var asymmetricHeader: OPCUAAsymmetricHeader {
        OPCUAAsymmetricHeader(
            securityPolicyURI: policyURI, senderCertificate: clientCertificateDER,
            receiverCertificateThumbprint: server.map { Array(Insecure.SHA1.hash(data: $0.certificateDER)) })
    }

    func makeNonce() -> [UInt8] { (0..<32).map { _ in UInt8.random(in: 0...255) } }

    func keys(clientNonce: [UInt8], serverNonce: [UInt8]) throws -> SymmetricKeys? {
        guard serverNonce.count == 32 else {
            throw OPCUAError("\(endpoint): the server's nonce has \(serverNonce.count) bytes, not 32")
        }
        let client = Self.pSHA256(secret: serverNonce, seed: clientNonce, count: 80)
        let server = Self.pSHA256(secret: clientNonce, seed: serverNonce, count: 80)
        return SymmetricKeys(
            clientSigning: Array(client[0..<32]), clientEncrypting: Array(client[32..<64]),
            clientIV: Array(client[64..<80]), serverSigning: Array(server[0..<32]),
            serverEncrypting: Array(server[32..<64]), serverIV: Array(server[64..<80]))
    }

    /// P_SHA256 (RFC 5246, 5): HMAC chains of the secret over the seed.
    static func pSHA256(secret: [UInt8], seed: [UInt8], count: Int) -> [UInt8] {
        let key = SymmetricKey(data: secret)
        var a = seed
        var out: [UInt8] = []
        while out.count < count {
            a = Array(HMAC<SHA256>.authenticationCode(for: a, using: key))
            out += HMAC<SHA256>.authenticationCode(for: a + seed, using: key)
        }
        return Array(out[0..<count])
    }

    func maxPlaintext(asymmetric: Bool, headerSize: Int, sendBufferSize: Int) -> Int {
        if asymmetric {
            guard let server else { return 0 }
            let blocks = (sendBufferSize - headerSize) / server.keyBytes
            return blocks * (server.keyBytes - 42) - clientKey.keySizeInBits / 8 - 1
        }
        let blocks = (sendBufferSize - headerSize) / 16
        return blocks * 16 - 32 - 1
    }

    func seal(header: [UInt8], plaintext: [UInt8], asymmetric: Bool, keys: SymmetricKeys?) throws -> [UInt8] {
        if asymmetric { return try sealAsymmetric(header: header, plaintext: plaintext) }
        guard let keys else { throw OPCUAError("\(endpoint): no keys for the secure channel's token") }
        let padded = Self.padded(plaintext, signatureSize: 32, block: 16, extraPadding: false)
        // AES-CBC without padding keeps the length: the chunk is the header, the padded plaintext and the signature.
        let sized = header.withSize(header.count + padded.count + 32)
        let signature = HMAC<SHA256>.authenticationCode(
            for: sized + padded, using: SymmetricKey(data: keys.clientSigning))
        let encrypted = try AES._CBC.encrypt(
            padded + Array(signature), using: SymmetricKey(data: keys.clientEncrypting),
            iv: try AES._CBC.IV(ivBytes: keys.clientIV), noPadding: true)
        return sized + encrypted
    }

    private func sealAsymmetric(header: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
        let server = try requireServer()
        let signatureSize = clientKey.keySizeInBits / 8
        let plainBlock = server.keyBytes - 42
        let padded = Self.padded(
            plaintext, signatureSize: signatureSize, block: plainBlock, extraPadding: server.keyBytes > 256)
        let blocks = (padded.count + signatureSize) / plainBlock
        let sized = header.withSize(header.count + blocks * server.keyBytes)
        let signature = try clientKey.signature(for: sized + padded, padding: .insecurePKCS1v1_5)
        let toEncrypt = padded + Array(signature.rawRepresentation)
        var encrypted: [UInt8] = []
        encrypted.reserveCapacity(blocks * server.keyBytes)
        let encrypting = try server.encrypting()
        for b in 0..<blocks {
            encrypted += try encrypting.encrypt(
                toEncrypt[(b * plainBlock)..<((b + 1) * plainBlock)], padding: .PKCS1_OAEP)
        }
        return sized + encrypted
    }

    /// The plaintext, its padding (each byte the padding's size, the size byte included) so that with the signature
    /// it fills whole blocks.
    static func padded(_ plaintext: [UInt8], signatureSize: Int, block: Int, extraPadding: Bool) -> [UInt8] {
        let sizeBytes = extraPadding ? 2 : 1
        var pad = (plaintext.count + signatureSize + sizeBytes) % block
        if pad != 0 { pad = block - pad }
        var out = plaintext + [UInt8](repeating: UInt8(pad & 0xFF), count: pad + 1)
        if extraPadding { out.append(UInt8(pad >> 8)) }
        return out
    }

    func open(chunk: [UInt8], headerSize: Int, asymmetric: Bool, keys: SymmetricKeys?) throws -> [UInt8] {
        let header = Array(chunk[0..<headerSize])
        let body = chunk[headerSize...]
        if asymmetric { return try openAsymmetric(header: header, body: body) }
        guard let keys else { throw OPCUAError("\(endpoint): a message under a token with no keys") }
        guard body.count % 16 == 0, body.count >= 48 else {
            throw OPCUAError("\(endpoint): an encrypted chunk of \(body.count) bytes is not whole AES blocks")
        }
        let plain = [UInt8](
            try AES._CBC.decrypt(
                body, using: SymmetricKey(data: keys.serverEncrypting), iv: try AES._CBC.IV(ivBytes: keys.serverIV),
                noPadding: true))
        let signed = header + plain[0..<(plain.count - 32)]
        guard
            HMAC<SHA256>.isValidAuthenticationCode(
                plain[(plain.count - 32)...], authenticating: signed, using: SymmetricKey(data: keys.serverSigning))
        else { throw OPCUAError("\(endpoint): a message's signature does not verify (BadSecurityChecksFailed)") }
        return try Self.unpadded(Array(plain[0..<(plain.count - 32)]), extraPadding: false, endpoint: endpoint)
    }

    private func openAsymmetric(header: [UInt8], body: ArraySlice<UInt8>) throws -> [UInt8] {
        var r = OPCUAReader(.init(bytes: header[12...]))
        let security = try OPCUAAsymmetricHeader(from: &r)
        guard let certificate = security.senderCertificate else {
            throw OPCUAError("\(endpoint): the OpenSecureChannel answer carries no server certificate")
        }
        let server = try requireServer()
        // The server must be the one trusted: its certificate's first DER bytes are the same document.
        guard certificate.starts(with: server.certificateDER) else {
            throw OPCUAError(
                "\(endpoint): the server signed with a certificate other than the trusted one (BadCertificateInvalid)")
        }
        let keyBytes = clientKey.keySizeInBits / 8
        guard body.count % keyBytes == 0 else {
            throw OPCUAError("\(endpoint): an encrypted OPN answer of \(body.count) bytes is not whole RSA blocks")
        }
        var plain: [UInt8] = []
        var i = body.startIndex
        let decrypting = try _RSA.Encryption.PrivateKey(pemRepresentation: clientKeyPEM)
        while i < body.endIndex {
            plain += try decrypting.decrypt(body[i..<(i + keyBytes)], padding: .PKCS1_OAEP)
            i += keyBytes
        }
        let signatureSize = server.keyBytes
        guard plain.count > signatureSize else { throw OPCUAError("\(endpoint): an OPN answer too short to be signed") }
        let signed = plain[0..<(plain.count - signatureSize)]
        let signature = _RSA.Signing.RSASignature(rawRepresentation: plain[(plain.count - signatureSize)...])
        let original = header.withSize(header.count + body.count)
        guard server.verifying.isValidSignature(signature, for: original + signed, padding: .insecurePKCS1v1_5) else {
            throw OPCUAError("\(endpoint): the OpenSecureChannel answer's signature does not verify")
        }
        return try Self.unpadded(Array(signed), extraPadding: server.keyBytes > 256, endpoint: endpoint)
    }

    static func unpadded(_ padded: [UInt8], extraPadding: Bool, endpoint: String) throws -> [UInt8] {
        guard let last = padded.last else { throw OPCUAError("\(endpoint): an empty chunk") }
        var size = Int(last)
        var tail = 1
        if extraPadding, padded.count >= 2 {
            size = Int(last) << 8 | Int(padded[padded.count - 2])
            tail = 2
        }
        guard size + tail <= padded.count else { throw OPCUAError("\(endpoint): a chunk's padding is malformed") }
        return Array(padded[0..<(padded.count - size - tail)])
    }

    func clientSignature(serverCertificate: [UInt8]?, serverNonce: [UInt8]?) throws -> OPCUASignatureData {
        let certificate = serverCertificate ?? server?.certificateDER ?? []
        let signature = try clientKey.signature(for: certificate + (serverNonce ?? []), padding: .insecurePKCS1v1_5)
        return OPCUASignatureData(
            algorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            signature: Array(signature.rawRepresentation))
    }

    func verifyServerSignature(_ signature: OPCUASignatureData, clientNonce: [UInt8]) throws {
        let server = try requireServer()
        guard let bytes = signature.signature,
            server.verifying.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: bytes), for: clientCertificateDER + clientNonce,
                padding: .insecurePKCS1v1_5)
        else {
            throw OPCUAError(
                "\(endpoint): the server's CreateSession signature does not verify (BadApplicationSignatureInvalid)")
        }
    }
}

/// A password for a UserNameIdentityToken under an encrypting policy: its length, the password and the server's
/// nonce, encrypted with RSA-OAEP (SHA-1) to the server's certificate.
enum PasswordEncryption {
    static func encrypt(
        password: [UInt8], serverNonce: [UInt8], policyURI: String, serverCertificate: [UInt8]?, endpoint: String
    ) throws -> ([UInt8], String) {
        guard policyURI == OPCUASecurityPolicyURI.basic256Sha256 else {
            throw OPCUAError("\(endpoint) asks for passwords under \(policyURI), which Millstream does not speak")
        }
        guard let serverCertificate else {
            throw OPCUAError("\(endpoint) asks for an encrypted password but sent no certificate to encrypt it to")
        }
        let server = try Basic256Sha256Security.ServerKeys(der: serverCertificate, endpoint: endpoint)
        var plain = OPCUAWriter()
        plain.write(UInt32(password.count + serverNonce.count))
        plain.buffer.writeBytes(password + serverNonce)
        let bytes = Array(plain.buffer.readableBytesView)
        let block = server.keyBytes - 42
        var out: [UInt8] = []
        var i = 0
        let encrypting = try server.encrypting()
        while i < bytes.count {
            out += try encrypting.encrypt(bytes[i..<Swift.min(bytes.count, i + block)], padding: .PKCS1_OAEP)
            i += block
        }
        return (out, "http://www.w3.org/2001/04/xmlenc#rsa-oaep")
    }
}
