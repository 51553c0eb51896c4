import RealModule

/// The learning rate at each optimizer step.
public protocol LearningRateSchedule: Sendable {
    func rate(step: Int) -> Float
}

public struct Constant: LearningRateSchedule {
    public let value: Float
    public init(_ value: Float) {
        precondition(value > 0, "learning rate must be greater than 0, got \(value)")
        self.value = value
    }
    public func rate(step: Int) -> Float { value }
}

/// initial x rate^(step / decaySteps), stepwise with `staircase`.
public struct ExponentialDecay: LearningRateSchedule {
    public let initial: Float, decaySteps: Int, decayRate: Float, staircase: Bool
    public init(initial: Float, decaySteps: Int, decayRate: Float, staircase: Bool = false) {
        precondition(initial > 0 && decaySteps > 0 && decayRate > 0)
        self.initial = initial
        self.decaySteps = decaySteps
        self.decayRate = decayRate
        self.staircase = staircase
    }
    public func rate(step: Int) -> Float {
        var p = Float(step) / Float(decaySteps)
        if staircase { p = p.rounded(.down) }
        return initial * Float.pow(decayRate, p)
    }
}

/// Cosine decay from `initial` to `initial x alpha` over `decaySteps`, then flat.
public struct CosineDecay: LearningRateSchedule {
    public let initial: Float, decaySteps: Int, alpha: Float
    public init(initial: Float, decaySteps: Int, alpha: Float = 0) {
        precondition(initial > 0 && decaySteps > 0 && alpha >= 0 && alpha <= 1)
        self.initial = initial
        self.decaySteps = decaySteps
        self.alpha = alpha
    }
    public func rate(step: Int) -> Float {
        let t = Float(min(step, decaySteps)) / Float(decaySteps)
        let cosine = 0.5 * (1 + Float.cos(.pi * t))
        return initial * ((1 - alpha) * cosine + alpha)
    }
}

/// Constant pieces: `values[i]` until step `boundaries[i]`, then the next.
public struct PiecewiseConstant: LearningRateSchedule {
    public let boundaries: [Int], values: [Float]
    public init(boundaries: [Int], values: [Float]) {
        precondition(values.count == boundaries.count + 1, "PiecewiseConstant: one more value than boundaries")
        self.boundaries = boundaries
        self.values = values
    }
    public func rate(step: Int) -> Float { values[boundaries.firstIndex { step < $0 } ?? boundaries.count] }
}
