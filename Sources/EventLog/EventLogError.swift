#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error from the embedded log. `kind` is for matching; `message` says what happened and where.
public struct EventLogError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for matching (`error.kind == .diskFull`). New kinds may be added.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }
        public var description: String { raw }

        public static let io = Kind("io")
        public static let diskFull = Kind("disk full")
        public static let permissionDenied = Kind("permission denied")
        public static let corrupt = Kind("corrupt")
        public static let inUse = Kind("in use")
        public static let unknownTopic = Kind("unknown topic")
        public static let topicExists = Kind("topic exists")
        public static let invalidArgument = Kind("invalid argument")
        public static let offsetOutOfRange = Kind("offset out of range")
        public static let readOnly = Kind("read only")
        public static let closed = Kind("closed")
        /// Encrypted data without the key it was written with (none given, another, or altered data).
        public static let encrypted = Kind("encrypted")
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// Maps an errno from a file operation to an error naming the operation and the path.
    static func posix(_ operation: String, path: String, errno code: Int32) -> EventLogError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOSPC, EDQUOT:
            return EventLogError(
                .diskFull,
                "\(operation) \(path): \(reason) (no space left; nothing after the last complete batch was kept)")
        case EACCES, EPERM, EROFS:
            return EventLogError(.permissionDenied, "\(operation) \(path): \(reason)")
        default:
            return EventLogError(.io, "\(operation) \(path): \(reason)")
        }
    }

    static func invalid(_ argument: String, _ value: some Any, expected: String) -> EventLogError {
        EventLogError(.invalidArgument, "\(argument) = \(value) is invalid: expected \(expected)")
    }
}
