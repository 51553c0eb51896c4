/// Checks decoded readings against a process configuration: known machine, every variable present and inside its
/// valid range, a known product, a timestamp not absurdly in the future.
public struct ReadingValidator: Sendable {
    public let config: ProcessConfig
    private let machines: Set<String>
    private let products: Set<String>
    /// The same, found by their bytes (`KnownTexts`: no hashing of the whole text; the machine's id hashed per
    /// reading was about 1 % of the pipeline worker). Texts it cannot hold (not plain ASCII) are looked for in the
    /// sets.
    public let knownMachines: KnownTexts
    private let knownProducts: KnownTexts
    /// The process's variables' names and valid ranges, in the config's order (iterating the variables copied each
    /// one's settings, and looking each up by name compared it with the names before it: 2 % of the pipeline's
    /// worker in a profile).
    private let variableNames: [String]
    private let validRanges: [ClosedRange<Double>?]
    /// How far ahead of the local clock a timestamp may be (clock skew between machines).
    public var allowedFutureMilliseconds: Int64

    public init(config: ProcessConfig, allowedFutureMilliseconds: Int64 = 5 * 60_000) {
        self.config = config
        self.machines = Set(config.machineIDs)
        self.products = Set(config.products.map(\.name))
        self.knownMachines = KnownTexts(config.machineIDs)
        self.knownProducts = KnownTexts(config.products.map(\.name))
        self.variableNames = config.variables.map(\.name)
        self.validRanges = config.variables.map(\.validRange)
        self.allowedFutureMilliseconds = allowedFutureMilliseconds
    }

    /// Throws the first problem found. `now` (ms since the epoch) enables the future-timestamp check. Returns the
    /// machine's place in `knownMachines` (nil for an id found in the set: not plain ASCII), which the pipeline keeps
    /// its state by, so the id is looked up once per reading.
    @discardableResult
    public func validate(_ reading: Reading, now: Int64? = nil) throws(ReadingError) -> Int? {
        let place = knownMachines.index(of: reading.machine)
        guard place != nil || machines.contains(reading.machine) else {
            throw ReadingError(
                .unknownMachine, "machine '\(reading.machine)' is not in process config '\(config.process)'")
        }
        if let now, reading.timestamp > now + allowedFutureMilliseconds {
            throw ReadingError(
                .futureTimestamp,
                "ts \(Timestamp.format(reading.timestamp)) is \((reading.timestamp - now) / 1000) s ahead of this clock"
            )
        }
        if let product = reading.product, !products.isEmpty, !knownProducts.contains(product),
            !products.contains(product)
        {
            throw ReadingError(
                .unknownProduct,
                "product '\(product)' is not one of \(config.products.map(\.name).joined(separator: ", "))")
        }
        // Variables are only measured while a machine runs; other states may omit them.
        let needsAll = reading.state == .running
        for k in variableNames.indices {
            guard let value = reading.value(variableNames[k], at: k) else {
                if needsAll {
                    throw ReadingError(
                        .missingVariable, "values.\(variableNames[k]) is missing (machine \(reading.machine))")
                }
                continue
            }
            if let range = validRanges[k], !range.contains(value), needsAll || value != 0 {
                throw ReadingError(
                    .outOfRange,
                    "values.\(variableNames[k]) = \(value) is outside its valid range \(range.lowerBound)...\(range.upperBound)"
                )
            }
        }
        return place
    }
}
