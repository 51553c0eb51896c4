/// A problem that stops the optimizer from being built or used: the message names what and where.
public struct OptimizerError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
