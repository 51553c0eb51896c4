import Crypto
import Foundation

/// The keys of encryption at rest (AES-256-GCM, swift-crypto): each has a number; the newest encrypts, every one
/// decrypts, so rotating is adding a key (`millstream keys new`) and old data stays readable.
///
/// From the environment: `MILLSTREAM_DATA_KEYS_FILE` names a file of lines `ID BASE64` (`#` starts a comment), or
/// `MILLSTREAM_DATA_KEYS` holds `ID:BASE64` entries separated by commas. The last entry is the one new data uses. With
/// neither, nothing is encrypted.
public struct Keyring: Sendable {
    public let keys: [UInt32: SymmetricKey]
    /// The key new data is encrypted with.
    public let current: UInt32
    /// Where the keys came from, for messages (never the keys).
    public let source: String

    public init(keys: [(UInt32, SymmetricKey)], source: String) throws(KeyringError) {
        guard let last = keys.last else { throw KeyringError("\(source) holds no key") }
        var map: [UInt32: SymmetricKey] = [:]
        for (id, key) in keys {
            guard key.bitCount == 256 else {
                throw KeyringError("\(source): key \(id) is \(key.bitCount / 8) bytes; AES-256 keys are 32 bytes")
            }
            guard map[id] == nil else { throw KeyringError("\(source): key \(id) is there twice") }
            map[id] = key
        }
        self.keys = map
        self.current = last.0
        self.source = source
    }

    /// Parses `ID BASE64` or `ID:BASE64` entries, one a line or separated by commas.
    public static func parse(_ text: String, source: String) throws(KeyringError) -> Keyring {
        var keys: [(UInt32, SymmetricKey)] = []
        // A comment runs from # to the end of its line; entries are separated by line breaks or commas.
        let entries = text.split(separator: "\n")
            .flatMap {
                ($0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").split(
                    separator: ",")
            }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        for (n, entry) in entries.enumerated() {
            let parts = entry.split(whereSeparator: { $0 == " " || $0 == ":" || $0 == "\t" })
            guard parts.count == 2, let id = UInt32(parts[0]), id > 0, let bytes = Data(base64Encoded: String(parts[1]))
            else {
                throw KeyringError(
                    "\(source): entry \(n + 1) is not 'ID BASE64' (a number from 1, then 32 bytes in base64)")
            }
            keys.append((id, SymmetricKey(data: bytes)))
        }
        return try Keyring(keys: keys, source: source)
    }

    /// The keyring the environment names, or nil when it names none.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(KeyringError) -> Keyring?
    {
        if let path = environment["MILLSTREAM_DATA_KEYS_FILE"], !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw KeyringError("MILLSTREAM_DATA_KEYS_FILE=\(path) cannot be read")
            }
            return try parse(text, source: "MILLSTREAM_DATA_KEYS_FILE=\(path)")
        }
        if let text = environment["MILLSTREAM_DATA_KEYS"], !text.isEmpty {
            return try parse(text, source: "MILLSTREAM_DATA_KEYS")
        }
        return nil
    }

    /// What every store says when it finds encrypted data and no keys.
    public static let keysNeeded =
        "set MILLSTREAM_DATA_KEYS_FILE (or MILLSTREAM_DATA_KEYS) to the keys it was written with"

    /// This process's keyring, read from the environment once.
    public static func process() throws(KeyringError) -> Keyring? { try processKeyring.get() }
    private static let processKeyring = Result { () throws(KeyringError) -> Keyring? in try fromEnvironment() }

    /// A new random key.
    public static func newKey() -> SymmetricKey { SymmetricKey(size: .bits256) }

    func key(_ id: UInt32, for what: String) throws(KeyringError) -> SymmetricKey {
        guard let key = keys[id] else {
            throw KeyringError(
                "\(what) was encrypted with key \(id), which \(source) does not hold (it holds "
                    + "\(keys.keys.sorted().map(String.init).joined(separator: ", ")))")
        }
        return key
    }

    // MARK: - Sealing

    /// `[key id, u32 LE][nonce, 12][ciphertext][tag, 16]`: what `seal` makes and `open` reads.
    public static let overhead = 4 + 12 + 16

    /// Encrypts `plaintext` with the current key; `context` (say, what the bytes are) is authenticated, not stored,
    /// so sealed bytes moved to another role do not open.
    public func seal(_ plaintext: some DataProtocol, context: some DataProtocol) -> [UInt8] {
        let (key, combined) = sealCombined(plaintext, context: context)
        var out: [UInt8] = []
        out.reserveCapacity(4 + combined.count)
        withUnsafeBytes(of: key.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: combined)
        return out
    }

    /// `seal` in two parts, the key id and AES-GCM's nonce, ciphertext and tag, so a caller can append them where it
    /// likes without another copy (the log's batches).
    public func sealCombined(_ plaintext: some DataProtocol, context: some DataProtocol) -> (
        key: UInt32, combined: Data
    ) {
        do {
            let box = try AES.GCM.seal(
                plaintext, using: keys[current]!, nonce: AES.GCM.Nonce(), authenticating: context)
            return (current, box.combined!)  // a 12-byte nonce always combines
        } catch {
            // AES-GCM seals any input with a 256-bit key and a fresh nonce; only a broken crypto library gets here.
            preconditionFailure("AES-GCM sealing failed: \(error)")
        }
    }

    /// Decrypts what `seal` made with the same `context`; `what` names the data in the error.
    public func open(_ sealed: some Collection<UInt8>, context: some DataProtocol, what: String) throws(KeyringError)
        -> [UInt8]
    {
        Array(try openData(Data(sealed), context: context, what: what))
    }

    /// `open` into Data, without a copy to an array (the log decodes records straight from it).
    public func openData(_ sealed: Data, context: some DataProtocol, what: String) throws(KeyringError) -> Data {
        guard sealed.count >= Self.overhead else {
            throw KeyringError("\(what) is too short to be encrypted data (\(sealed.count) bytes)")
        }
        let s = sealed.startIndex
        let id =
            UInt32(sealed[s]) | UInt32(sealed[s + 1]) << 8 | UInt32(sealed[s + 2]) << 16 | UInt32(sealed[s + 3]) << 24
        let key = try key(id, for: what)
        do {
            return try AES.GCM.open(
                AES.GCM.SealedBox(combined: sealed[(s + 4)...]), using: key, authenticating: context)
        } catch {
            throw KeyringError(
                "\(what) does not decrypt with key \(id) of \(source): that key is not the one it was written with, "
                    + "or the data was altered")
        }
    }
}

/// A keyring that cannot be read or a datum that cannot be decrypted: what and where.
public struct KeyringError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Whole files encrypted at rest: `MSEF` then `Keyring.seal`'s bytes. Plain files read as they are, so a store that
/// starts encrypting keeps its older files readable.
public enum SealedFile {
    public static let magic: [UInt8] = Array("MSEF".utf8)

    public static func isSealed(_ bytes: some Collection<UInt8>) -> Bool { bytes.starts(with: magic) }

    /// The bytes to write: sealed with the keyring's current key, or as they are without a keyring.
    public static func seal(_ plaintext: [UInt8], keyring: Keyring?, context: String) -> [UInt8] {
        guard let keyring else { return plaintext }
        return magic + keyring.seal(plaintext, context: Array(context.utf8))
    }

    /// The plaintext of bytes read from `path`: opened if sealed (which needs the keyring), else as they are.
    public static func open(_ bytes: [UInt8], keyring: Keyring?, context: String, path: String) throws(KeyringError)
        -> [UInt8]
    {
        guard isSealed(bytes) else { return bytes }
        guard let keyring else {
            throw KeyringError(
                "\(path) is encrypted: \(Keyring.keysNeeded)")
        }
        return try keyring.open(bytes.dropFirst(magic.count), context: Array(context.utf8), what: path)
    }
}
