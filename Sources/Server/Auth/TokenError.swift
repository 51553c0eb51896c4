/// A problem with the tokens file or a token: what and where, and whose it is to fix.
public struct TokenError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// What the caller asked for is not valid (a token name, a role): the caller's to fix (HTTP 400).
        case invalidRequest
        /// The tokens file or the audit log cannot be read or written, or is not a tokens file: the server's (500).
        case storage
    }

    public let kind: Kind
    public let message: String
    public init(_ message: String, kind: Kind) {
        self.message = message
        self.kind = kind
    }
    public var description: String { message }
}
