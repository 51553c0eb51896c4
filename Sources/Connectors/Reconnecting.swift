import Logging
import MQTT
import OPCUA
import ServiceLifecycle

/// Runs `session` until cancelled, and again after each failure once a backoff has passed; the failure is logged
/// with the endpoint and kept as the stats' last error. A broker that refuses the very first connection for good
/// (credentials, a filter it refuses) ends it with that error: a configuration to fix, not to retry.
func reconnecting(
    _ what: String, endpoint: String, stats: ConnectorStats, logger: Logger, backoff start: Backoff,
    _ session: @escaping @Sendable (inout Backoff) async throws -> Void
) async throws {
    try await cancelWhenGracefulShutdown {
        var backoff = start
        while !Task.isCancelled {
            do {
                try await session(&backoff)
            } catch let error as MQTTError where !error.retriable && stats.snapshot.connections == 0 {
                throw error
            } catch let error as OPCUAError where !error.retriable && stats.snapshot.connections == 0 {
                throw error
            } catch {
                if Task.isCancelled { return }
                let delay = backoff.next()
                stats.update { $0.lastError = "\(error)" }
                logger.warning(
                    "\(what) lost its session; reconnecting",
                    metadata: ["endpoint": "\(endpoint)", "error": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
            }
        }
    }
}

/// Exponential backoff with full jitter between reconnection attempts: 100 ms doubling to 30 s.
public struct Backoff: Sendable {
    public var initial: Duration = .milliseconds(100)
    public var maximum: Duration = .seconds(30)
    private var attempt = 0

    public init() {}

    public mutating func next() -> Duration {
        let ceiling = min(maximum, initial * (1 << min(attempt, 20)))
        attempt += 1
        return ceiling * Double.random(in: 0.5...1.0)
    }

    public mutating func reset() { attempt = 0 }

}
