import Primitives
import Testing

@testable import Learn

/// Backpropagation checked against central finite differences on tiny networks.
@Suite struct GradientTests {
    /// The loss of `model` on (x, y), for finite differences.
    func lossValue(_ model: Sequential, _ x: Tensor, _ y: Tensor, _ loss: any Loss) -> Double {
        var rng = RandomSource(seed: 0)
        var out = x
        for layer in model.layers { out = layer.forward(out, training: true, rng: &rng) }
        return loss.evaluate(output: out, target: y, weights: nil).value
    }

    func check(
        _ layers: [any Layer], loss: any Loss, y: Tensor, inputs: Int = 3, tolerance: Double = 2e-3,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let model = try Sequential(layers, inputSize: inputs, seed: 7)
        var rng = RandomSource(seed: 3)
        let x = Tensor(rows: y.rows, columns: inputs, scalars: (0..<y.rows * inputs).map { _ in Float(rng.normal()) })
        if let fused = loss.fusedActivation, let last = model.layers.last as? Dense, last.activation == fused {
            last.gradientIsPreActivation = true
        }
        // Analytic gradients.
        var forwardRng = RandomSource(seed: 0)
        var out = x
        for layer in model.layers { out = layer.forward(out, training: true, rng: &forwardRng) }
        var g = loss.evaluate(output: out, target: y, weights: nil).gradient
        for layer in model.layers.reversed() { g = layer.backward(g) }
        let h: Float = 1e-2
        for p in model.parameters where p.trainable {
            let analytic = p.gradient
            for i in p.value.indices {
                let original = p.value[i]
                p.value[i] = original + h
                let plus = lossValue(model, x, y, loss)
                p.value[i] = original - h
                let minus = lossValue(model, x, y, loss)
                p.value[i] = original
                let numeric = (plus - minus) / Double(2 * h)
                #expect(
                    abs(numeric - Double(analytic[i])) < tolerance * max(1, abs(numeric)),
                    "\(p.name)[\(i)]: numeric \(numeric), analytic \(analytic[i])", sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: [Activation.linear, .relu, .leakyRelu, .gelu, .tanh, .sigmoid])
    func denseActivations(_ activation: Activation) throws {
        try check(
            [Dense(4, activation: activation), Dense(2)], loss: MeanSquaredError(),
            y: Tensor([[0.5, -1], [1, 0], [0, 2], [-0.5, 0.1]]))
    }

    @Test func sigmoidWithBinaryCrossEntropy() throws {
        try check(
            [Dense(5, activation: .tanh), Dense(1, activation: .sigmoid)], loss: BinaryCrossEntropy(),
            y: Tensor([[1], [0], [1], [0], [1]]))
    }

    @Test func multiLabelSigmoidsWithBinaryCrossEntropy() throws {
        try check(
            [Dense(5, activation: .relu), Dense(3, activation: .sigmoid)], loss: BinaryCrossEntropy(),
            y: Tensor([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]]))
    }

    @Test func softmaxWithSparseCategoricalCrossEntropy() throws {
        try check(
            [Dense(4, activation: .relu), Dense(3, activation: .softmax)], loss: SparseCategoricalCrossEntropy(),
            y: Tensor([[0], [2], [1], [2]]))
    }

    @Test func softmaxJacobianWithMSE() throws {
        try check([Dense(3, activation: .softmax)], loss: MeanSquaredError(), y: Tensor([[1, 0, 0], [0, 0.5, 0.5]]))
    }

    @Test func batchNormalization() throws {
        try check(
            [Dense(4), BatchNormalization(), Dense(2, activation: .tanh)], loss: Huber(delta: 0.5),
            y: Tensor([[0.5, -1], [1, 0], [0, 2], [-0.5, 0.1], [0.3, 0.3]]), tolerance: 5e-3)
    }
}

@Suite struct LossTests {
    @Test func binaryCrossEntropyByHand() {
        // -(ln 0.8 + ln(1 - 0.4)) / 2 = (0.22314 + 0.51083) / 2
        let (value, gradient) = BinaryCrossEntropy().evaluate(
            output: Tensor([[0.8], [0.4]]), target: Tensor([[1], [0]]), weights: nil)
        #expect(abs(value - 0.366985) < 1e-5)
        let expected: [Float] = [(0.8 - 1) / 2, 0.4 / 2]
        #expect(gradient.scalars == expected)
        // Class weights scale each sample; the mean is still over the batch size (Keras's reduction).
        let weighted = BinaryCrossEntropy().evaluate(
            output: Tensor([[0.8], [0.4]]), target: Tensor([[1], [0]]), weights: [3, 1]
        ).value
        #expect(abs(weighted - (3 * 0.223144 + 0.510826) / 2) < 1e-5)
    }

    @Test func sparseCategoricalCrossEntropyByHand() {
        let (value, _) = SparseCategoricalCrossEntropy().evaluate(
            output: Tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]), target: Tensor([[0], [2]]), weights: nil)
        #expect(abs(value - (0.356675 + 0.223144) / 2) < 1e-5)
    }

    @Test func meanSquaredErrorAndHuberByHand() {
        #expect(
            abs(
                MeanSquaredError().evaluate(output: Tensor([[1, 2]]), target: Tensor([[0, 4]]), weights: nil).value
                    - 2.5) < 1e-9)
        // |d| = 0.5 -> 0.125 (quadratic); |d| = 3 -> 1 * (3 - 0.5) = 2.5 (linear); mean over outputs.
        #expect(
            abs(Huber().evaluate(output: Tensor([[0.5, 3]]), target: Tensor([[0, 0]]), weights: nil).value - 1.3125)
                < 1e-9)
    }
}

@Suite struct OptimizerTests {
    func parameter(_ value: [Float], gradient: [Float]) -> Parameter {
        let p = Parameter(name: "p", shape: [value.count], value: value)
        p.gradient = gradient
        return p
    }

    @Test func sgdWithMomentumByHand() {
        let p = parameter([1], gradient: [0.5])
        let sgd = SGD(learningRate: Constant(0.1), momentum: 0.9)
        sgd.update([p], step: 0)  // v = -0.05; w = 0.95
        #expect(abs(p.value[0] - 0.95) < 1e-7)
        sgd.update([p], step: 1)  // v = 0.9 * -0.05 - 0.05 = -0.095; w = 0.855
        #expect(abs(p.value[0] - 0.855) < 1e-6)
    }

    @Test func adamFirstStepMovesByTheLearningRate() {
        // At step 1, m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps) ~ lr * sign(g).
        let p = parameter([1, 1], gradient: [0.5, -2])
        Adam(learningRate: Constant(0.01)).update([p], step: 0)
        #expect(abs(p.value[0] - 0.99) < 1e-5 && abs(p.value[1] - 1.01) < 1e-5)
    }

    @Test func adamWDecaysWeightsBeforeTheStep() {
        let p = parameter([2], gradient: [0])
        AdamW(learningRate: Constant(0.1), weightDecay: 0.5).update([p], step: 0)
        #expect(abs(p.value[0] - 1.9) < 1e-6)  // 2 - 2 * 0.5 * 0.1, and a zero gradient moves nothing
    }

    @Test func schedules() {
        #expect(ExponentialDecay(initial: 1, decaySteps: 10, decayRate: 0.5).rate(step: 10) == 0.5)
        #expect(ExponentialDecay(initial: 1, decaySteps: 10, decayRate: 0.5, staircase: true).rate(step: 15) == 0.5)
        #expect(abs(CosineDecay(initial: 1, decaySteps: 100).rate(step: 50) - 0.5) < 1e-6)
        #expect(CosineDecay(initial: 1, decaySteps: 100, alpha: 0.1).rate(step: 500) == 0.1)
        #expect(PiecewiseConstant(boundaries: [10, 20], values: [1, 0.5, 0.1]).rate(step: 15) == 0.5)
    }
}
