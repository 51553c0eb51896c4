import Dispatch

/// Runs blocking work (waiting for a child process, reading its pipe to the end) on a Dispatch thread, so async tests
/// do not hold the cooperative pool's few threads (two on a two-core machine) while other tests need them.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
