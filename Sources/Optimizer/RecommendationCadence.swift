/// When the optimizer is asked about a machine: at most once per interval of the machine's own time, whether it
/// then recommends or holds. The pipeline worker and the evaluation both follow it.
public enum RecommendationCadence {
    /// Five minutes: the pipeline worker's default and the evaluation's.
    public static let defaultIntervalMilliseconds: Int64 = 300_000

    public static func isDue(last: Int64?, now: Int64, interval: Int64) -> Bool {
        guard let last else { return true }
        return now - last >= interval
    }
}
