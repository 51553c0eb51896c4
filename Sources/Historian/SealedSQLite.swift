import AtRest
import CSQLiteSeal
import Foundation
import Synchronization

/// Encryption at rest of SQLite historian files: the VFS of CSQLiteSeal seals every page of the database and of its
/// WAL with AES-256-GCM (swift-crypto, through `Keyring`), the page's position in its file authenticated with it. A
/// page keeps its last 32 bytes (SQLite's reserved space) for the key id, nonce and tag, so pages keep their size and
/// SQLite's own crash recovery (the WAL's checksums over the plaintext) works unchanged.
enum SealedSQLite {
    /// Database path -> the keyring its pages are sealed with.
    private static let keyrings = Mutex<[String: Keyring]>([:])
    private static let registered = Mutex(false)

    /// Seals the database at `path` (an absolute path, as SQLite names it) from now on in this process.
    static func enable(_ keyring: Keyring, path: String) {
        keyrings.withLock { $0[path] = keyring }
        registered.withLock { done in
            if !done {
                _ = millstream_seal_register(seal, open)
                done = true
            }
        }
        millstream_seal_path(path)
    }

    /// Forgets the keyring of `path` in this process: its pages no longer decrypt here.
    static func disable(path: String) {
        _ = keyrings.withLock { $0.removeValue(forKey: path) }
    }

    /// The path SQLite passes to its VFS for `path`: absolute, symbolic links resolved.
    static func canonical(_ path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let directory = url.deletingLastPathComponent().resolvingSymlinksInPath()
        return directory.appendingPathComponent(url.lastPathComponent).path
    }

    static func keyring(_ path: UnsafePointer<CChar>?) -> Keyring? {
        guard let path else { return nil }
        let name = String(cString: path)
        return keyrings.withLock { $0[name] }
    }

    /// The authenticated data of a page: where it is (the WAL's pages apart from the database's).
    static func context(_ wal: Int32, _ position: Int64) -> [UInt8] {
        var bytes = Array("millstream-historian".utf8) + [wal != 0 ? 1 : 0]
        withUnsafeBytes(of: position.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Writes `n` sealed bytes to `out` and key id, nonce and tag to the 32-byte `trailer`.
    static let seal: millstream_seal_fn = { path, wal, plain, n, position, out, trailer in
        guard let keyring = SealedSQLite.keyring(path), let plain, let out, let trailer else { return 1 }
        let count = Int(n)
        let (key, combined) = keyring.sealCombined(
            UnsafeRawBufferPointer(start: plain, count: count), context: SealedSQLite.context(wal, position))
        combined.withUnsafeBytes { c in
            withUnsafeBytes(of: key.littleEndian) {
                trailer.update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: 4)
            }
            (trailer + 4).update(from: c.bindMemory(to: UInt8.self).baseAddress!, count: 12)
            out.update(from: c.bindMemory(to: UInt8.self).baseAddress! + 12, count: count)
            (trailer + 16).update(from: c.bindMemory(to: UInt8.self).baseAddress! + 12 + count, count: 16)
        }
        return 0
    }

    /// Decrypts `n` bytes sealed by `seal` into `out`; nonzero when the key is missing or the page was altered.
    static let open: millstream_open_fn = { path, wal, sealed, n, position, trailer, out in
        guard let keyring = SealedSQLite.keyring(path), let sealed, let trailer, let out else { return 1 }
        var box = Data(capacity: Int(n) + 32)
        box.append(trailer, count: 16)  // key id, nonce
        box.append(sealed, count: Int(n))
        box.append(trailer + 16, count: 16)  // tag
        guard
            let plain = try? keyring.openData(
                box, context: SealedSQLite.context(wal, position), what: "historian page")
        else { return 2 }
        plain.withUnsafeBytes { out.update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: Int(n)) }
        return 0
    }

    /// The last sealed read or write error (names the file and the page), if any.
    static var lastError: String { String(cString: millstream_seal_last_error()) }

    /// True when the file at `path` starts as a plain SQLite database.
    static func isPlainSQLite(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 16)) ?? Data()
        return head == Data("SQLite format 3\0".utf8)
    }

    /// Reserves the trailer in every page of a new database; `connection` is GRDB's sqlite3 handle.
    static func reserve(_ connection: OpaquePointer?) {
        guard let connection else { return }
        _ = millstream_seal_reserve(UnsafeMutableRawPointer(connection))
    }
}
