import Learn
import Logging
import Registry

/// Loads the worker's models from the registry, and again when a newer version is promoted (between batches: no
/// reading is scored twice or by half a model).
struct ModelLoader {
    let registry: ModelRegistry?
    let model: String?
    let alarmModel: String?
    private var loadedVersion: Int?
    private var loadedAlarmVersion: Int?

    init(options: PipelineWorker.Options) throws {
        registry = try options.registry.map { try ModelRegistry(root: $0) }
        model = options.model
        alarmModel = options.alarmModel
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
    }
}
