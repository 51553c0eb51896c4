import RealModule

/// Updates parameters from their gradients. One optimizer instance trains one model (it keeps per-parameter slots).
public protocol Optimizer: AnyObject {
    var schedule: any LearningRateSchedule { get }
    /// Applies one step to every trainable parameter (`step` counts from 0).
    func update(_ parameters: [Parameter], step: Int)
    var configuration: [String: Double] { get }
}

/// Stochastic gradient descent with optional (Nesterov) momentum, as Keras: v = m v - lr g; w += v.
public final class SGD: Optimizer {
    public let schedule: any LearningRateSchedule
    public let momentum: Float
    public let nesterov: Bool

    public init(learningRate: some LearningRateSchedule = Constant(0.01), momentum: Float = 0, nesterov: Bool = false) {
        precondition(momentum >= 0 && momentum < 1, "SGD: momentum must be in 0..<1, got \(momentum)")
        self.schedule = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
    }

    public func update(_ parameters: [Parameter], step: Int) {
        let lr = schedule.rate(step: step)
        for p in parameters where p.trainable {
            if momentum == 0 {
                for i in p.value.indices { p.value[i] -= lr * p.gradient[i] }
                continue
            }
            if p.slot1.isEmpty { p.slot1 = [Float](repeating: 0, count: p.value.count) }
            let (m, nesterov) = (momentum, self.nesterov)
            p.value.withUnsafeMutableBufferPointer { w in
                p.gradient.withUnsafeBufferPointer { g in
                    p.slot1.withUnsafeMutableBufferPointer { v in
                        for i in w.indices {
                            v[i] = m * v[i] - lr * g[i]
                            w[i] += nesterov ? m * v[i] - lr * g[i] : v[i]
                        }
                    }
                }
            }
        }
    }

    public var configuration: [String: Double] {
        ["learning_rate": Double(schedule.rate(step: 0)), "momentum": Double(momentum), "nesterov": nesterov ? 1 : 0]
    }
}

/// Adam (Kingma and Ba) with Keras's defaults and bias correction folded into the step size.
public class Adam: Optimizer {
    public let schedule: any LearningRateSchedule
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float

    public init(
        learningRate: some LearningRateSchedule = Constant(0.001), beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-7
    ) {
        precondition(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "Adam: betas must be in 0..<1")
        self.schedule = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// Weight decay applied before the Adam step (AdamW); 0 for Adam.
    var decay: Float { 0 }

    public func update(_ parameters: [Parameter], step: Int) {
        let lr = schedule.rate(step: step)
        let t = Float(step + 1)
        let alpha = lr * (1 - Float.pow(beta2, t)).squareRoot() / (1 - Float.pow(beta1, t))
        let (beta1, beta2, epsilon) = (self.beta1, self.beta2, self.epsilon)
        let wd = decay * lr
        for p in parameters where p.trainable {
            if p.slot1.isEmpty {
                p.slot1 = [Float](repeating: 0, count: p.value.count)
                p.slot2 = [Float](repeating: 0, count: p.value.count)
            }
            p.value.withUnsafeMutableBufferPointer { w in
                p.gradient.withUnsafeBufferPointer { g in
                    p.slot1.withUnsafeMutableBufferPointer { m in
                        p.slot2.withUnsafeMutableBufferPointer { v in
                            for i in w.indices {
                                w[i] -= w[i] * wd
                                m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
                                w[i] -= alpha * m[i] / (v[i].squareRoot() + epsilon)
                            }
                        }
                    }
                }
            }
        }
    }

    public var configuration: [String: Double] {
        [
            "learning_rate": Double(schedule.rate(step: 0)), "beta_1": Double(beta1), "beta_2": Double(beta2),
            "epsilon": Double(epsilon),
        ]
    }
}

/// Adam with decoupled weight decay (Loshchilov and Hutter); Keras's default decay 0.004.
public final class AdamW: Adam {
    public let weightDecay: Float

    public init(
        learningRate: some LearningRateSchedule = Constant(0.001), weightDecay: Float = 0.004, beta1: Float = 0.9,
        beta2: Float = 0.999, epsilon: Float = 1e-7
    ) {
        precondition(weightDecay >= 0, "AdamW: weight decay must not be negative, got \(weightDecay)")
        self.weightDecay = weightDecay
        super.init(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    override var decay: Float { weightDecay }

    public override var configuration: [String: Double] {
        super.configuration.merging(["weight_decay": Double(weightDecay)]) { $1 }
    }
}
