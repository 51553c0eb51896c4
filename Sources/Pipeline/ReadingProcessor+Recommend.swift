import Optimizer
import Plant
import Topics

extension ReadingProcessor {
    /// Feeds the machine's optimizer context and, for live readings (not older than the settings' maximum age by
    /// the wall clock `wall`), at most once per recommendation interval of the machine's own time, asks for a
    /// recommendation: emitted on the recommendations topic, and in closed loop also carried out on the setpoints
    /// topic when the guardrails pass. The reading's time is the optimizer's "now". Replaying history (a new worker,
    /// a backlog) rebuilds the contexts but recommends nothing for the past: no one can act on it.
    mutating func recommend(
        _ reading: Reading, tracker: inout MachineTracker, now wall: Int64, into out: inout [PipelineOutput],
        events: inout ProcessorEvents
    ) {
        // Taken out and put back: a copy would leave the stored one referencing the same storage, and the first
        // change to `r` would copy it (a copy and a release per reading in a profile).
        guard var r = recommender.take() else { return }
        defer { recommender = r }
        if tracker.optimizerModel != r.label || tracker.optimizer == nil {
            tracker.optimizer = MachineContext(machine: reading.machine, problem: r.problem)
            tracker.optimizerModel = r.label
        }
        guard tracker.optimizer!.observe(reading, model: r.optimizer.model, problem: r.problem) else { return }
        if let age = settings.recommendationMaxAgeMilliseconds, wall - reading.timestamp > age { return }
        guard
            RecommendationCadence.isDue(
                last: tracker.lastRecommendation, now: reading.timestamp,
                interval: settings.recommendationIntervalMilliseconds)
        else { return }
        let now = reading.timestamp
        tracker.lastRecommendation = now
        switch r.optimizer.recommend(updating: &tracker.optimizer!, now: now) {
        case .hold(let hold):
            if hold.kind == .modelNotFinite || hold.kind == .notConverged {
                events.optimizerProblems[hold.kind.rawValue, default: 0] += 1
                events.lastOptimizerProblem = hold.description
            }
        case .recommend(let recommendation):
            let key = Array(reading.machine.utf8)
            var applied = false
            if closedLoop {
                let change = recommendation.setpointChange
                let violations = Guardrails.violations(
                    of: change, problem: r.problem, context: tracker.optimizer!, now: now)
                if violations.isEmpty {
                    let record = SetpointRecord(change, by: "closed_loop", recommendation: recommendation.id, at: now)
                        .encoded()
                    out.append(PipelineOutput(topic: settings.setpointsTopic, key: key, value: record, timestamp: now))
                    tracker.optimizer!.setpointsChanged(
                        recommendation.changes.map { c in
                            (r.problem.controls.firstIndex { $0.name == c.variable }!, c.to)
                        },
                        at: now)
                    for name in recommendation.maintenance {
                        if let a = r.problem.maintenance.firstIndex(where: { $0.name == name }) {
                            tracker.optimizer!.maintained(a)
                        }
                    }
                    events.setpointChanges += 1
                    applied = true
                } else {
                    events.optimizerProblems["guardrail", default: 0] += 1
                    events.lastOptimizerProblem = "guardrail: " + violations.joined(separator: "; ")
                }
            }
            tracker.lastAdvice = recommendation.explanation
            out.append(
                PipelineOutput(
                    topic: settings.recommendationsTopic, key: key,
                    value: recommendation.record(mode: applied ? "closed_loop" : "advisory").encoded(), timestamp: now))
            events.recommendations += 1
        }
    }
}
