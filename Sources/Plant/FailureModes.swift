/// The AI4I 2020 failure modes; a product can fail in several at once.
public struct FailureModes: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Tool wear failure.
    public static let twf = FailureModes(rawValue: 1)
    /// Heat dissipation failure.
    public static let hdf = FailureModes(rawValue: 2)
    /// Power failure.
    public static let pwf = FailureModes(rawValue: 4)
    /// Overstrain failure.
    public static let osf = FailureModes(rawValue: 8)
    /// Random failure.
    public static let rnf = FailureModes(rawValue: 16)

    public static let all: [(FailureModes, String)] = [
        (.twf, "TWF"), (.hdf, "HDF"), (.pwf, "PWF"), (.osf, "OSF"), (.rnf, "RNF"),
    ]

    public var names: [String] { Self.all.filter { contains($0.0) }.map(\.1) }
    public var description: String { isEmpty ? "none" : names.joined(separator: "+") }
}
