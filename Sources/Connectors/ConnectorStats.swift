import Synchronization

/// What a connector has done, read by the command's summary and its metrics; updated as batches are written.
public final class ConnectorStats: Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// Messages (or polls, or notifications) received.
        public var received = 0
        /// Readings written to the readings topic.
        public var readings = 0
        /// Messages set aside on the dead-letters topic, by reason.
        public var deadLetters: [String: Int] = [:]
        /// Connections made (the first and every reconnection).
        public var connections = 0
        /// Setpoint writes by state (sending, written, confirmed, unconfirmed, refused).
        public var setpointWrites: [String: Int] = [:]
        /// The last connection or protocol error, as logged.
        public var lastError: String?
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }
}
