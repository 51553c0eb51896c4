import Foundation
import Learn
import Plant
import Registry
import Synchronization

/// Drift of one model's inputs and predictions: each feature's live values against the training data's
/// distribution (PSI over deciles, Kolmogorov-Smirnov), and the live risks against those on the validation rows.
struct DriftReport: Sendable {
    struct Feature: Sendable {
        var name: String
        var psi: Double?
        var ks: Double?
        var pValue: Double?
        var liveCount: Int
        var liveMean: Double
        var referenceMean: Double
        var drifted: Bool
    }

    /// PSI above this (or a KS gap above `ksThreshold` with p < 0.001) flags a feature.
    static let psiThreshold = 0.25
    static let ksThreshold = 0.2

    var model: String
    var features: [Feature]
    var prediction: Feature?
    var time: String
    /// The plant-time span (ms) of the live readings compared: where the plant stood when the check ran, whatever
    /// the wall clock (a server reading history catches up in minutes on days of readings).
    var span: ClosedRange<Int64>?

    static func feature(_ name: String, reference: ReferenceDistribution, live: [Double]) -> Feature? {
        guard live.count >= 100 else { return nil }
        let psi = reference.psi(live)
        let ks = reference.ks(live)
        let drifted =
            (psi ?? 0) > psiThreshold || ((ks?.statistic ?? 0) > ksThreshold && (ks?.pValue ?? 1) < 0.001)
        let refMean = reference.sample.isEmpty ? 0 : reference.sample.reduce(0, +) / Double(reference.sample.count)
        return Feature(
            name: name, psi: psi, ks: ks?.statistic, pValue: ks?.pValue, liveCount: live.count,
            liveMean: live.reduce(0, +) / Double(live.count), referenceMean: refMean, drifted: drifted)
    }

    var json: [String: Any] {
        func row(_ f: Feature) -> [String: Any] {
            [
                "feature": f.name, "psi": f.psi as Any? ?? NSNull(), "ks": f.ks as Any? ?? NSNull(),
                "p_value": f.pValue as Any? ?? NSNull(), "live_count": f.liveCount, "live_mean": f.liveMean,
                "reference_mean": f.referenceMean, "drifted": f.drifted,
            ]
        }
        return [
            "model": model, "time": time, "features": features.map(row),
            "prediction": prediction.map(row) ?? NSNull(),
            "drifted": features.contains { $0.drifted } || prediction?.drifted == true,
            "window_from": span.map { Timestamp.format($0.lowerBound) as Any } ?? NSNull(),
            "window_to": span.map { Timestamp.format($0.upperBound) as Any } ?? NSNull(),
        ]
    }
}

/// Computes drift reports for the models the view has seen predict, with references from their model files.
final class DriftMonitor: Sendable {
    typealias References = (features: [String: ReferenceDistribution], prediction: ReferenceDistribution?)
    let registry: ModelRegistry
    /// Each version's references, read from its model file once (a version's training data does not change).
    private let cache = Mutex<[String: References]>([:])

    init(registry: ModelRegistry) { self.registry = registry }

    private func references(of label: String) -> References? {
        if let hit = cache.withLock({ $0[label] }) { return hit }
        // Not found is not cached: the version may be registered later.
        guard let reference = try? ModelReference(label), let (file, _) = try? registry.load(reference) else {
            return nil
        }
        let found = (file.description.reference ?? [:], file.description.predictionReference)
        cache.withLock { $0[label] = found }
        return found
    }

    func reports(
        values: [String: [Double]], risks: [String: [Double]], span: ClosedRange<Int64>? = nil, now: Date = Date()
    ) -> [DriftReport] {
        var out: [DriftReport] = []
        for (label, liveRisks) in risks.sorted(by: { $0.key < $1.key }) {
            guard let refs = references(of: label) else { continue }
            var features: [DriftReport.Feature] = []
            for (name, ref) in refs.features.sorted(by: { $0.key < $1.key }) {
                if let live = values[name], let f = DriftReport.feature(name, reference: ref, live: live) {
                    features.append(f)
                }
            }
            let prediction = refs.prediction.flatMap {
                DriftReport.feature("prediction", reference: $0, live: liveRisks)
            }
            guard !features.isEmpty || prediction != nil else { continue }
            out.append(
                DriftReport(
                    model: label, features: features, prediction: prediction,
                    time: ISO8601DateFormatter().string(from: now), span: span))
        }
        return out
    }
}
