#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open file descriptor, closed when the last reference goes away.
///
/// - Important: readers keep a reference while they `pread`, so retention may unlink a segment that is being read
///   without closing the descriptor under the reader (or handing its number to another file).
final class FileRef: Sendable {
    let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { _ = Glibc.close(fd) }

    static func open(_ path: String, writable: Bool, create: Bool = false) throws -> FileRef {
        var flags = writable ? O_RDWR : O_RDONLY
        if create { flags |= O_CREAT }
        flags |= O_CLOEXEC
        let fd = Glibc.open(path, flags, 0o644)
        guard fd >= 0 else { throw EventLogError.posix("open", path: path, errno: errno) }
        return FileRef(fd: fd, path: path)
    }

    func size() throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw EventLogError.posix("stat", path: path, errno: errno) }
        return Int64(st.st_size)
    }

    /// When the file was last written, in ms since the epoch.
    func modifiedMilliseconds() throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw EventLogError.posix("stat", path: path, errno: errno) }
        return Int64(st.st_mtim.tv_sec) * 1000 + Int64(st.st_mtim.tv_nsec) / 1_000_000
    }

    /// Reads up to `count` bytes at `offset` into `buffer` (resized); returns the bytes read (short at end of file).
    func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws -> Int {
        if buffer.count < count { buffer = [UInt8](repeating: 0, count: count) }
        var done = 0
        try buffer.withUnsafeMutableBytes { raw in
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n == 0 { break }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw EventLogError.posix("read", path: path, errno: errno)
                }
                done += n
            }
        }
        return done
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw EventLogError.posix("write", path: path, errno: errno)
            }
            done += n
        }
    }

    func truncate(to size: Int64) throws {
        guard ftruncate(fd, off_t(size)) == 0 else { throw EventLogError.posix("truncate", path: path, errno: errno) }
    }

    func sync() throws {
        guard fdatasync(fd) == 0 else { throw EventLogError.posix("fsync", path: path, errno: errno) }
    }
}

/// Small POSIX helpers for directories.
enum FileSystem {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates `path` and its missing parents.
    static func makeDirectory(_ path: String) throws {
        if isDirectory(path) { return }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if !isDirectory(prefix) {
                if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                    throw EventLogError.posix("create directory", path: prefix, errno: errno)
                }
            }
            prefix += "/"
        }
    }

    static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw EventLogError.posix("list", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw EventLogError.posix("delete", path: path, errno: errno)
        }
    }

    static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw EventLogError.posix("rename", path: from, errno: errno) }
    }

    /// fsyncs a directory so that a created, renamed or deleted entry survives a crash.
    static func syncDirectory(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw EventLogError.posix("open", path: path, errno: errno) }
        defer { _ = Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw EventLogError.posix("fsync", path: path, errno: errno) }
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let tmp = path + ".tmp"
        let file = try FileRef.open(tmp, writable: true, create: true)
        try file.truncate(to: 0)
        try bytes.withUnsafeBytes { try file.write($0, at: 0) }
        try file.sync()
        try rename(tmp, path)
        try syncDirectory(parent(of: path))
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        let file = try FileRef.open(path, writable: false)
        let size = Int(try file.size())
        var buffer: [UInt8] = []
        let n = try file.read(at: 0, count: size, into: &buffer)
        return Array(buffer[0..<n])
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
