/// Where each numeric input of a history model comes from: a feature of its unit's window, or a value of the newest
/// reading (inputs outside the window). One map for evaluate, serving and the pipeline, so they cannot disagree.
public struct HistoryInputs: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// Index into the window's features (`WindowSpec.featureNames`).
        case window(Int)
        /// A variable of the newest reading, outside the window.
        case raw(String)
    }

    public let window: WindowSpec
    /// One source per numeric input, in the preprocessing's order.
    public let sources: [Source]

    /// `names` are the model's numeric inputs (`Preprocessing.numericInputs`).
    public init(_ names: [String], window: WindowSpec) {
        self.window = window
        let index = Dictionary(uniqueKeysWithValues: window.featureNames.enumerated().map { ($1, $0) })
        sources = names.map { name in index[name].map(Source.window) ?? .raw(name) }
    }

    /// The inputs that are not window features.
    public var rawNames: [String] {
        sources.compactMap {
            if case .raw(let name) = $0 { return name }
            return nil
        }
    }

    /// Writes the inputs into `out` (one per source) from `features` (the window's, `window.featureCount` values)
    /// and `raw`; false if a raw input is missing.
    public func fill(
        _ out: inout [Double], features: [Double], raw: (String) -> Double?
    ) -> Bool {
        for (i, source) in sources.enumerated() {
            switch source {
            case .window(let f): out[i] = features[f]
            case .raw(let name):
                guard let v = raw(name) else { return false }
                out[i] = v
            }
        }
        return true
    }
}
