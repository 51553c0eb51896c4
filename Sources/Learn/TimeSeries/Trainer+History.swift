extension Trainer {
    /// Trains a model of histories: each row's inputs become its unit's window (`history.window`) up to that row,
    /// the splits keep units whole, and the model file records the window so that `evaluate`, serving and the
    /// pipeline build the same inputs. The table's derived features are computed from each reading first (recorded
    /// in `history.derived`), so the window may hold them. `data`'s target is per row (a capped remaining life, or an event within a
    /// horizon); `units` and `time` name and order each row's history.
    public static func train(
        history data: TabularData, units: [String], time: [Double], history: ModelFile.HistorySpec,
        spec: TrainingSpec, metadata: ModelFile.Metadata, onEpoch: (EpochLog) -> Void = { _ in }
    ) throws -> TrainingResult {
        // Derived features are computed per reading before the window, which may hold them like any variable.
        var history = history
        let (data, derived) = try data.derivingColumns()
        if !derived.isEmpty { history.derived = derived }
        let windowed = try data.windowed(history.window, units: units, time: time)
        var spec = spec
        if !spec.convolutionFilters.isEmpty || !spec.recurrentUnits.isEmpty {
            guard history.window.layout == .sequence, windowed.numericNames.count == history.window.featureCount,
                windowed.categoricalNames.isEmpty
            else {
                throw LearnError(
                    "convolution and recurrent layers take a sequence window as their only input: use the sequence layout and no inputs outside the window"
                )
            }
            spec.sequenceChannels = history.window.variables.count
        }
        var result = try train(windowed, spec: spec, metadata: metadata, onEpoch: onEpoch)
        result.model.description.history = history
        // The raw variables' distributions too: the live readings the drift checks compare are raw, not windows.
        var reference = result.model.description.reference ?? [:]
        for (name, column) in zip(data.numericNames, data.numeric) where reference[name] == nil {
            reference[name] = ReferenceDistribution(column)
        }
        result.model.description.reference = reference
        var parameters = result.model.description.metadata.hyperparameters
        parameters["window"] = "\(history.window.length)"
        parameters["window_layout"] = history.window.layout.rawValue
        if history.window.layout == .statistics {
            parameters["window_statistics"] = history.window.statistics.map(\.rawValue).joined(separator: ",")
        }
        if let cap = history.cap { parameters["rul_cap"] = "\(cap)" }
        result.model.description.metadata.hyperparameters = parameters
        return result
    }
}

extension ModelFile.HistorySpec {
    /// The model's numeric inputs (`names`, the preprocessing's order) at every row: window features computed from
    /// the raw variables (and the variables derived from them), other inputs as given. `raw` returns a raw column by input name.
    public func numericInputs(
        _ names: [String], units: [String], time: [Double], raw: (String) throws -> [Double]
    ) throws -> [[Double]] {
        let variables = try WindowVariables(self)
        let features = try WindowedSeries.features(
            window, units: units, time: time, columns: variables.columns(raw: variables.raw.map(raw)))
        return try HistoryInputs(names, window: window).sources.map { source in
            switch source {
            case .window(let f): features[f]
            case .raw(let name): try raw(name)
            }
        }
    }

    /// For each unit, in order of first appearance, the row of its newest reading.
    public func lastRows(units: [String], time: [Double]) throws -> [(unit: String, row: Int)] {
        try WindowedSeries.orderedUnits(units: units, time: time).map { ($0.unit, $0.rows.last!) }
    }
}
