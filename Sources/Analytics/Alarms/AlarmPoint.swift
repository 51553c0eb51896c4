/// One alarm condition on one machine (a class, and for SPC a variable), conditioned as ISA-18.2 asks: an on-delay
/// before it is raised, an off-delay and a deadband before it returns to normal, and suppression by design (machine
/// state, start-up, first-out) that is counted rather than silent. It yields one alarm per episode of the condition,
/// not one per reading.
///
/// Deterministic in the readings' own timestamps and Codable: the pipeline keeps it in its checkpointed state, so a
/// restarted worker raises exactly the alarms the uninterrupted run would have raised.
public struct AlarmPoint: Sendable, Codable, Equatable {
    public enum Phase: Sendable, Codable, Equatable {
        case normal
        /// The condition holds; the on-delay runs since then.
        case pending(since: Int64)
        /// Raised (annunciated) at `raised`.
        case active(raised: Int64)
        /// Raised at `raised`; the condition has been absent since `since` (the off-delay runs).
        case returning(raised: Int64, since: Int64)
        /// The condition holds while the class is suppressed; counted once, at `since`.
        case suppressed(since: Int64)
    }

    /// What a reading did to the point: at most one event per reading.
    public enum Event: Sendable, Equatable {
        case raised(at: Int64)
        /// Returned to normal: the condition was absent for the off-delay (reason nil), or a suppression took it out
        /// of service (reason says which).
        case cleared(raised: Int64, at: Int64, reason: String?)
        /// Would have been raised at `at`, but the class was suppressed for `reason`.
        case suppressed(at: Int64, reason: String)
    }

    public private(set) var phase: Phase = .normal

    public init() {}

    /// At normal: no condition pending, raised, returning or suppressed. An absent condition leaves such a point
    /// as it is, with no event, whatever the suppression, so a caller may skip feeding it one.
    public var isNormal: Bool { phase == .normal }

    /// Raised and not yet returned to normal.
    public var isActive: Bool {
        switch phase {
        case .active, .returning: true
        default: false
        }
    }

    /// Whether an analog value is in alarm: at or above `limit` to raise, above `limit - deadband` to stay.
    public func condition(value: Double, limit: Double, deadband: Double) -> Bool {
        isActive ? value > limit - deadband : value >= limit
    }

    /// A suppression in force for this reading.
    public struct Suppression: Sendable, Equatable {
        public var reason: String
        /// Whether an alarm already active returns to normal (machine state, start-up) or stays (first-out: the
        /// alarms raised before the first one are not consequences of it).
        public var clearsActive: Bool

        public init(_ reason: String, clearsActive: Bool) {
            self.reason = reason
            self.clearsActive = clearsActive
        }
    }

    /// Feeds the condition at reading time `t` (milliseconds) under `alarmClass`'s delays.
    public mutating func update(
        condition: Bool, at t: Int64, class alarmClass: AlarmClass, suppression: Suppression? = nil
    ) -> Event? {
        let onDelay = Int64(alarmClass.onDelaySeconds * 1000)
        let offDelay = Int64(alarmClass.offDelaySeconds * 1000)
        if let suppression {
            switch phase {
            case .active(let raised), .returning(let raised, _):
                guard suppression.clearsActive else { return next(condition, t, onDelay, offDelay) }
                phase = condition ? .suppressed(since: t) : .normal
                return .cleared(raised: raised, at: t, reason: suppression.reason)
            case .normal, .pending:
                guard condition else {
                    phase = .normal
                    return nil
                }
                phase = .suppressed(since: t)
                return .suppressed(at: t, reason: suppression.reason)
            case .suppressed:
                if !condition { phase = .normal }
                return nil
            }
        }
        return next(condition, t, onDelay, offDelay)
    }

    private mutating func next(_ condition: Bool, _ t: Int64, _ onDelay: Int64, _ offDelay: Int64) -> Event? {
        switch phase {
        case .normal, .suppressed:
            guard condition else {
                phase = .normal
                return nil
            }
            if onDelay <= 0 {
                phase = .active(raised: t)
                return .raised(at: t)
            }
            phase = .pending(since: t)
            return nil
        case .pending(let since):
            guard condition else {
                phase = .normal
                return nil
            }
            guard t - since >= onDelay else { return nil }
            phase = .active(raised: t)
            return .raised(at: t)
        case .active(let raised):
            guard !condition else { return nil }
            if offDelay <= 0 {
                phase = .normal
                return .cleared(raised: raised, at: t, reason: nil)
            }
            phase = .returning(raised: raised, since: t)
            return nil
        case .returning(let raised, let since):
            if condition {
                phase = .active(raised: raised)
                return nil
            }
            guard t - since >= offDelay else { return nil }
            phase = .normal
            return .cleared(raised: raised, at: t, reason: nil)
        }
    }
}
