/// A malformed or truncated Kafka message: what was being read and why it failed.
public struct KafkaWireError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    static func short(_ what: String) -> KafkaWireError {
        KafkaWireError("truncated Kafka message: no room for \(what)")
    }
}
