import Foundation

/// This process's CPU time so far, every thread's, user and system apart. The system part is mostly the kernel's work
/// for the process's writes and reads, which the machines' shared disk makes the noisiest part.
struct ProcessCPU {
    var user: Double
    var system: Double
    var total: Double { user + system }

    static func now() -> ProcessCPU {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return ProcessCPU(
            user: Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
            system: Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6)
    }

    static func - (a: ProcessCPU, b: ProcessCPU) -> ProcessCPU {
        ProcessCPU(user: a.user - b.user, system: a.system - b.system)
    }
}
