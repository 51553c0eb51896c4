import CJemalloc

#if canImport(Glibc)
    import Glibc
#endif

/// The memory allocator the process runs on. Millstream's executables link jemalloc (Debian libjemalloc2): the
/// pipeline worker allocates a few small objects per reading that live as long as a poll's batch, and glibc's malloc
/// spent its time consolidating and unlinking them when a batch was freed (`malloc_consolidate`, `unlink_chunk`,
/// `_int_free`: 4 % of the worker in a profile). With jemalloc the worker used about 5 % less CPU a reading
/// (docs/benchmarks.md, "Pipeline end to end").
///
/// Importing this module links jemalloc ahead of the C library, so every `malloc` in the process, the Swift
/// runtime's among them, is jemalloc's.
public enum Allocator {
    /// "jemalloc 5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c" when the process's `malloc` is jemalloc's,
    /// "glibc malloc" otherwise.
    public static var description: String {
        guard isJemalloc else { return "glibc malloc" }
        var version: UnsafePointer<CChar>?
        var size = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &size, nil, 0) == 0, let version else { return "jemalloc" }
        return "jemalloc " + String(cString: version)
    }

    /// Whether the process's `malloc` (as the dynamic linker resolves it for every library) is jemalloc's.
    public static var isJemalloc: Bool {
        #if canImport(Glibc)
            guard let jemalloc = dlopen("libjemalloc.so.2", RTLD_LAZY | RTLD_NOLOAD) else { return false }
            defer { dlclose(jemalloc) }
            guard let own = dlsym(jemalloc, "malloc") else { return false }
            return dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc") == own
        #else
            return false
        #endif
    }
}
