/// What a caller may do. Each role includes everything the roles before it may do.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    /// Reads the plant, the models and the metrics.
    case viewer
    /// Also acknowledges and clears alerts, approves and rejects recommendations.
    case `operator`
    /// Also promotes and rolls back models and changes the process configuration.
    case engineer
    /// Also manages users and tokens.
    case admin

    var rank: Int { Role.allCases.firstIndex(of: self)! }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }

    /// Parses a role name, naming the valid ones on failure.
    public init(parsing text: String) throws {
        guard let role = Role(rawValue: text.lowercased()) else {
            throw TokenError(
                "unknown role '\(text)'; roles are \(Role.allCases.map(\.rawValue).joined(separator: ", "))",
                kind: .invalidRequest)
        }
        self = role
    }
}

/// Who made a request: the token's name and role.
public struct Identity: Sendable, Equatable {
    public var tokenID: String
    public var name: String
    public var role: Role

    public init(tokenID: String, name: String, role: Role) {
        self.tokenID = tokenID
        self.name = name
        self.role = role
    }
}
