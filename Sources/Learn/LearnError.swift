/// A problem with a model, its data or its files; the message names the argument or file and what is expected.
public struct LearnError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
