public import Crypto
import CryptoExtras
import Foundation

/// The hashes SCRAM runs on (swift-crypto's SHA-256 and SHA-512) with the three operations it needs: H, HMAC and
/// Hi (PBKDF2 with HMAC, RFC 8018).
public protocol SCRAMHash: Crypto.HashFunction {
    static var pbkdf2Function: KDF.Insecure.PBKDF2.HashFunction { get }
}

extension Crypto.SHA256: SCRAMHash { public static var pbkdf2Function: KDF.Insecure.PBKDF2.HashFunction { .sha256 } }
extension Crypto.SHA512: SCRAMHash { public static var pbkdf2Function: KDF.Insecure.PBKDF2.HashFunction { .sha512 } }

extension SCRAMHash {
    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] { Array(hash(data: Array(bytes))) }

    /// HMAC (RFC 2104).
    public static func hmac(key: [UInt8], _ message: some Sequence<UInt8>) -> [UInt8] {
        Array(HMAC<Self>.authenticationCode(for: Array(message), using: SymmetricKey(data: key)))
    }

    /// SCRAM's Hi(password, salt, iterations): PBKDF2 with HMAC, one digest long. The broker sets the iterations
    /// (Kafka's minimum is 4,096), so the library's floor for stored passwords does not apply.
    public static func pbkdf2(password: [UInt8], salt: [UInt8], iterations: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: password, salt: salt, using: pbkdf2Function, outputByteCount: Digest.byteCount,
            unsafeUncheckedRounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }
}

/// The client side of SCRAM (RFC 5802) with SHA-256 or SHA-512 (RFC 7677), as Kafka's SASL/SCRAM uses it: no
/// channel binding, no extensions. The password is used as given (SASLprep is the identity for ASCII passwords).
public struct SCRAMClient<H: SCRAMHash>: Sendable {
    public let user: String
    let password: String
    public let nonce: String
    private var clientFirstBare = ""
    private var expectedServerSignature: [UInt8] = []

    /// `nonce` defaults to 24 random printable characters; tests pass the RFC's.
    public init(user: String, password: String, nonce: String? = nil) {
        self.user = user
        self.password = password
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var rng = SystemRandomNumberGenerator()
        self.nonce = nonce ?? String((0..<24).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }

    /// client-first-message: "n,,n=USER,r=NONCE".
    public mutating func clientFirst() -> String {
        let escaped = user.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
        clientFirstBare = "n=\(escaped),r=\(nonce)"
        return "n,," + clientFirstBare
    }

    /// client-final-message for the server's first message ("r=NONCE,s=SALT,i=ITERATIONS").
    public mutating func clientFinal(serverFirst: String) throws -> String {
        var fields: [Character: String] = [:]
        for part in serverFirst.split(separator: ",") where part.count >= 2 && part.dropFirst().first == "=" {
            fields[part.first!] = String(part.dropFirst(2))
        }
        if let error = fields["e"] { throw KafkaError("SCRAM: the broker refused: \(error)") }
        guard let serverNonce = fields["r"], serverNonce.hasPrefix(nonce), serverNonce.count > nonce.count else {
            throw KafkaError("SCRAM: the broker's nonce does not extend ours ('\(serverFirst)')")
        }
        guard let saltText = fields["s"], let salt = Data(base64Encoded: saltText) else {
            throw KafkaError("SCRAM: the broker's salt is missing or not base64 ('\(serverFirst)')")
        }
        guard let iterationText = fields["i"], let iterations = Int(iterationText), iterations >= 1 else {
            throw KafkaError("SCRAM: the broker's iteration count is missing or invalid ('\(serverFirst)')")
        }
        let withoutProof = "c=biws,r=\(serverNonce)"  // biws: base64("n,,")
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let salted = try H.pbkdf2(password: Array(password.utf8), salt: [UInt8](salt), iterations: iterations)
        let clientKey = H.hmac(key: salted, Array("Client Key".utf8))
        let storedKey = H.hash(clientKey)
        let clientSignature = H.hmac(key: storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverKey = H.hmac(key: salted, Array("Server Key".utf8))
        expectedServerSignature = H.hmac(key: serverKey, authMessage)
        return withoutProof + ",p=" + Data(proof).base64EncodedString()
    }

    /// Checks the server's final message ("v=SIGNATURE"): the broker proves it knows the password too.
    public func verify(serverFinal: String) throws {
        if serverFinal.hasPrefix("e=") {
            throw KafkaError("SCRAM: the broker refused: \(serverFinal.dropFirst(2))")
        }
        guard serverFinal.hasPrefix("v="), let signature = Data(base64Encoded: String(serverFinal.dropFirst(2))),
            [UInt8](signature) == expectedServerSignature
        else { throw KafkaError("SCRAM: the broker's signature does not match: it does not know the password") }
    }
}
