/// A problem with the tokens file or a token: what and where.
public struct TokenError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
