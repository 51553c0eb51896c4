import Foundation

extension Timestamp {
    /// The wall clock in milliseconds since the Unix epoch (UTC), as readings and records carry time.
    public static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
