/// Why a reading was rejected. `reason` is a stable code (for dead letters and metrics); `message` says exactly what.
public struct ReadingError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable {
        case malformed = "malformed_json"
        case missingField = "missing_field"
        case wrongType = "wrong_type"
        case notANumber = "not_a_number"
        case notFinite = "not_finite"
        case badTimestamp = "bad_timestamp"
        case futureTimestamp = "future_timestamp"
        case unknownMachine = "unknown_machine"
        case missingVariable = "missing_variable"
        case outOfRange = "out_of_range"
        case unknownProduct = "unknown_product"
        case badState = "bad_state"
    }

    public let reason: Reason
    public let message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}
