import Learn
import Logging
import Registry

/// Loads the worker's models from the registry, and again when a newer version is promoted (between batches: no
/// reading is scored twice or by half a model).
struct ModelLoader {
    let registry: ModelRegistry?
    let model: String?
    let alarmModel: String?
    let shadow: String?
    private var loadedVersion: Int?
    private var loadedAlarmVersion: Int?
    /// The challenger in shadow ("failure@v4"), or the one that could not be scored (not tried again).
    private var loadedShadow: String?

    init(options: PipelineWorker.Options) throws {
        registry = try options.registry.map { try ModelRegistry(root: $0) }
        model = options.model
        alarmModel = options.alarmModel
        shadow = options.shadow
    }

    /// The version `name` resolves to (its production version unless it names one), when it is not the loaded one.
    private func newer(_ name: String?, than loaded: Int?) throws -> (ModelFile, ModelVersion)? {
        guard let registry, let name else { return nil }
        let reference = try ModelReference(name.contains("@") ? name : name + "@production")
        guard let version = try? registry.resolve(reference), version.version != loaded else { return nil }
        return (try registry.load(ModelReference("\(version.name)@v\(version.version)")).0, version)
    }

    mutating func reload(into processor: inout ReadingProcessor, stats: PipelineStats, logger: Logger) throws {
        if let (file, version) = try newer(model, than: loadedVersion) {
            try processor.use(model: file, name: version.name, version: version.version)
            loadedVersion = version.version
            if let problem = processor.recommenderProblem { logger.warning("\(problem)") }
            stats.update { $0.model = processor.modelLabel }
        }
        if let (file, version) = try newer(alarmModel, than: loadedAlarmVersion) {
            try processor.use(forecaster: file, name: version.name, version: version.version)
            loadedAlarmVersion = version.version
            logger.info("failure alarms from \(version.name)@v\(version.version)")
        }
        try reloadShadow(into: &processor, stats: stats, logger: logger)
    }

    /// Follows the shadow reference (by default the model's `challenger` alias): a new version starts scoring, a
    /// removed alias (the challenger promoted or rejected) stops it. A challenger that is the champion is not scored
    /// twice; one the pipeline cannot score is logged once and left out.
    private mutating func reloadShadow(
        into processor: inout ReadingProcessor, stats: PipelineStats, logger: Logger
    ) throws {
        guard let registry, let shadow else { return }
        let label = (try? registry.resolve(ModelReference(shadow))).map { "\($0.name)@v\($0.version)" }
        guard let label, label != processor.modelLabel else {
            if loadedShadow != nil {
                try processor.use(shadow: nil, name: "", version: 0)
                logger.info("shadow scoring of \(loadedShadow!) stopped (\(shadow) names no other version now)")
                loadedShadow = nil
                stats.update { $0.shadow = nil }
            }
            return
        }
        guard label != loadedShadow else { return }
        loadedShadow = label
        do {
            let (file, version) = try registry.load(ModelReference(label))
            try processor.use(shadow: file, name: version.name, version: version.version)
            logger.info("\(label) scores in shadow beside \(processor.modelLabel ?? "no production model")")
            stats.update { $0.shadow = label }
        } catch {
            try processor.use(shadow: nil, name: "", version: 0)
            logger.warning("\(label) cannot be scored in shadow: \(error)")
            stats.update { $0.shadow = nil }
        }
    }
}
