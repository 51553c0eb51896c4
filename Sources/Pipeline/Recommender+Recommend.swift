import Optimizer
import Plant
import Topics

extension Recommender {
    /// Feeds the machine's optimizer context and, for live readings (not older than the settings' maximum age by
    /// the wall clock `wall`), at most once per recommendation interval of the machine's own time, asks for a
    /// recommendation: emitted on the recommendations topic, and in closed loop also carried out on the setpoints
    /// topic when the guardrails pass. The reading's time is the optimizer's "now". Replaying history (a new worker,
    /// a backlog) rebuilds the contexts but recommends nothing for the past: no one can act on it.
    ///
    /// Called in place through the processor's optional (`recommender?.recommend`): binding it to a variable, even
    /// one taken out with `take()`, copied the optimizer and its model and destroyed the copy, per reading (3.4 % of
    /// the worker in a profile).
    mutating func recommend(
        _ reading: Reading, tracker: inout MachineTracker, now wall: Int64, closedLoop: Bool,
        into out: inout [PipelineOutput], events: inout ProcessorEvents
    ) {
        if tracker.optimizerModel != label || tracker.optimizer == nil {
            tracker.optimizer = MachineContext(machine: reading.machine, problem: optimizer.problem)
            tracker.optimizerModel = label
        }
        guard tracker.optimizer!.observe(reading, model: optimizer.model, problem: optimizer.problem) else { return }
        if let age = settings.recommendationMaxAgeMilliseconds, wall - reading.timestamp > age { return }
        guard
            RecommendationCadence.isDue(
                last: tracker.lastRecommendation, now: reading.timestamp,
                interval: settings.recommendationIntervalMilliseconds)
        else { return }
        let now = reading.timestamp
        tracker.lastRecommendation = now
        switch optimizer.recommend(updating: &tracker.optimizer!, now: now) {
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
                    of: change, problem: optimizer.problem, context: tracker.optimizer!, now: now)
                if violations.isEmpty {
                    let record = SetpointRecord(change, by: "closed_loop", recommendation: recommendation.id, at: now)
                        .encoded()
                    out.append(PipelineOutput(topic: settings.setpointsTopic, key: key, value: record, timestamp: now))
                    tracker.optimizer!.setpointsChanged(
                        recommendation.changes.map { c in
                            (optimizer.problem.controls.firstIndex { $0.name == c.variable }!, c.to)
                        },
                        at: now)
                    for name in recommendation.maintenance {
                        if let a = optimizer.problem.maintenance.firstIndex(where: { $0.name == name }) {
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
