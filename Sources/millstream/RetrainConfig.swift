import Foundation
import Yams

/// `retrain.yaml`: where the readings are, which model is retrained and how, the gates a challenger passes, the server
/// that scores it in shadow, and what starts a retraining under `--watch` (docs/lifecycle.md).
struct RetrainConfig: Decodable {
    var bus: String
    /// The process config (YAML) the readings are checked against; default: the built-in milling process.
    var process: String?
    var registry = "./models"
    /// The registered model a run produces a challenger of.
    var model: String
    /// Where each run keeps its files, its state (to resume) and its log: WORK/RUN/.
    var work = "./retrain"
    var snapshot = Snapshot()
    /// The newest share of the snapshot's time range, held out: both the challenger and the champion are measured on
    /// it, and neither was trained on it.
    var holdout = 0.2
    /// `millstream train` options (besides --data, --name and --registry), e.g. the task and its horizon.
    var train: [String]
    /// The column of events in the snapshot that a "fails within" model is measured against.
    var event = "failure"
    var mlflow: String?
    var gate = Gate()
    /// The Millstream server that scores the challenger in shadow and holds the evidence (token: $MILLSTREAM_TOKEN).
    var server: String?
    var shadow = Shadow()
    var triggers = Triggers()

    struct Snapshot: Decodable {
        var labels: String?
        var since: String?
        var until: String?
        var minRows: Int?
        var minFailures: Int?
        var maxGap: String?

        enum CodingKeys: String, CodingKey {
            case labels, since, until
            case minRows = "min_rows"
            case minFailures = "min_failures"
            case maxGap = "max_gap"
        }
    }

    /// The offline gate: the challenger goes to shadow only when its hold-out `metric` is at least the champion's
    /// plus `minGain` (negative: a tolerance).
    struct Gate: Decodable {
        var metric = "pr_auc"
        var minGain = 0.0

        enum CodingKeys: String, CodingKey {
            case metric
            case minGain = "min_gain"
        }

        init() {}
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            metric = try c.decodeIfPresent(String.self, forKey: .metric) ?? metric
            minGain = try c.decodeIfPresent(Double.self, forKey: .minGain) ?? minGain
        }
    }

    struct Shadow: Decodable {
        /// How long the challenger may shadow before the run stops waiting.
        var timeout = "24h"
        var poll = "60s"
        /// When the timeout passes without a verdict: keep (the challenger stays in shadow; decide on the dashboard)
        /// or reject.
        var onTimeout = "keep"

        enum CodingKeys: String, CodingKey {
            case timeout, poll
            case onTimeout = "on_timeout"
        }

        init() {}
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            timeout = try c.decodeIfPresent(String.self, forKey: .timeout) ?? timeout
            poll = try c.decodeIfPresent(String.self, forKey: .poll) ?? poll
            onTimeout = try c.decodeIfPresent(String.self, forKey: .onTimeout) ?? onTimeout
        }
    }

    /// What starts a run under `retrain --watch`.
    struct Triggers: Decodable {
        /// A run at least this often (e.g. 24h); none: no schedule.
        var every: String?
        /// A drift alert on the production version's features (the server's drift checks).
        var drift = true
        /// With `drift`: retrain only when a feature's PSI is above this (default: the server's alert, PSI 0.25 or a
        /// KS gap). Slowly wandering variables (a hall's temperatures) differ day to day by more than the alert's
        /// threshold; a retraining waits for a larger shift (docs/lifecycle.md).
        var driftPSI: Double?
        /// With `drift`: a run starts only once the drift has lasted this long in plant time (the readings' clock,
        /// from the server's drift checks), so the snapshot holds enough of the new regime. Set it to at least the
        /// hold-out's span, or the challenger is judged on the old regime (docs/lifecycle.md). None: at once.
        var driftFor: String?
        /// The champion's rolling live F1 this far below its test F1.
        var f1Drop: Double?
        /// Requests on `retrain-requests` (POST /api/models/NAME/retrain).
        var requests = true
        /// No new run sooner than this after the last one started (a drift that persists does not retrain in a loop).
        var cooldown = "1h"
        var check = "30s"

        enum CodingKeys: String, CodingKey {
            case every, drift, requests, cooldown, check
            case f1Drop = "f1_drop"
            case driftPSI = "drift_psi"
            case driftFor = "drift_for"
        }

        init() {}
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            every = try c.decodeIfPresent(String.self, forKey: .every)
            drift = try c.decodeIfPresent(Bool.self, forKey: .drift) ?? drift
            driftPSI = try c.decodeIfPresent(Double.self, forKey: .driftPSI)
            driftFor = try c.decodeIfPresent(String.self, forKey: .driftFor)
            f1Drop = try c.decodeIfPresent(Double.self, forKey: .f1Drop)
            requests = try c.decodeIfPresent(Bool.self, forKey: .requests) ?? requests
            cooldown = try c.decodeIfPresent(String.self, forKey: .cooldown) ?? cooldown
            check = try c.decodeIfPresent(String.self, forKey: .check) ?? check
        }
    }

    enum CodingKeys: String, CodingKey {
        case bus, process, registry, model, work, snapshot, holdout, train, event, mlflow, gate, server, shadow,
            triggers
    }

    // Every key but bus, model and train may be left out: the defaults above.
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bus = try c.decode(String.self, forKey: .bus)
        model = try c.decode(String.self, forKey: .model)
        train = try c.decode([String].self, forKey: .train)
        process = try c.decodeIfPresent(String.self, forKey: .process)
        registry = try c.decodeIfPresent(String.self, forKey: .registry) ?? registry
        work = try c.decodeIfPresent(String.self, forKey: .work) ?? work
        snapshot = try c.decodeIfPresent(Snapshot.self, forKey: .snapshot) ?? snapshot
        holdout = try c.decodeIfPresent(Double.self, forKey: .holdout) ?? holdout
        event = try c.decodeIfPresent(String.self, forKey: .event) ?? event
        mlflow = try c.decodeIfPresent(String.self, forKey: .mlflow)
        gate = try c.decodeIfPresent(Gate.self, forKey: .gate) ?? gate
        server = try c.decodeIfPresent(String.self, forKey: .server)
        shadow = try c.decodeIfPresent(Shadow.self, forKey: .shadow) ?? shadow
        triggers = try c.decodeIfPresent(Triggers.self, forKey: .triggers) ?? triggers
    }

    static func load(_ path: String) throws -> RetrainConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandError("cannot read the retrain config \(path)")
        }
        let config: RetrainConfig
        do {
            config = try YAMLDecoder().decode(RetrainConfig.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw CommandError("\(path): \(Self.path(context.codingPath + [key])) is missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw CommandError("\(path): \(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            throw CommandError("\(path): \(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw CommandError("\(path): \(error)")
        }
        try config.check(path)
        return config
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    func check(_ path: String) throws {
        guard holdout > 0 && holdout < 0.9 else { throw CommandError("\(path): holdout must be above 0 and below 0.9") }
        guard ["f1", "pr_auc", "roc_auc", "precision", "recall"].contains(gate.metric) else {
            throw CommandError("\(path): gate.metric must be f1, pr_auc, roc_auc, precision or recall")
        }
        guard ["keep", "reject"].contains(shadow.onTimeout) else {
            throw CommandError("\(path): shadow.on_timeout must be keep or reject")
        }
        for reserved in ["--data", "--name", "--registry", "--mlflow"] where train.contains(reserved) {
            throw CommandError("\(path): train: \(reserved) is set by retrain itself")
        }
        _ = try parseDuration(shadow.timeout, option: "shadow.timeout")
        _ = try parseDuration(shadow.poll, option: "shadow.poll")
        _ = try parseDuration(triggers.cooldown, option: "triggers.cooldown")
        _ = try parseDuration(triggers.check, option: "triggers.check")
        if let every = triggers.every { _ = try parseDuration(every, option: "triggers.every") }
        if let span = triggers.driftFor { _ = try parseDuration(span, option: "triggers.drift_for") }
    }
}
