import Primitives

/// A stack of layers, trained with `fit` and used with `predict`, as in Keras.
public final class Sequential {
    public let layers: [any Layer]
    public private(set) var inputSize: Int = 0
    public private(set) var outputSize: Int = 0
    private var rng: RandomSource

    /// Builds the layers for inputs `inputSize` wide; weights are initialized from `seed`.
    public init(_ layers: [any Layer], inputSize: Int, seed: UInt64 = 0) throws {
        guard !layers.isEmpty else { throw LearnError("a model needs at least one layer") }
        guard inputSize > 0 else { throw LearnError("inputSize must be at least 1, got \(inputSize)") }
        self.layers = layers
        self.rng = RandomSource(seed: seed)
        self.inputSize = inputSize
        var width = inputSize
        for (i, layer) in layers.enumerated() { width = layer.build(inputSize: width, index: i, rng: &rng) }
        outputSize = width
    }

    /// Every parameter, in layer order (the model file's order).
    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    public var configurations: [LayerConfiguration] { layers.map(\.configuration) }

    /// The model's output for each row of `x` (inference: dropout off, batch statistics from training).
    public func predict(_ x: Tensor, batchSize: Int = 1024) -> Tensor {
        precondition(x.columns == inputSize, "predict: inputs have \(x.columns) columns, the model takes \(inputSize)")
        if x.rows <= batchSize {
            var batch = x
            for layer in layers { batch = layer.forward(batch, training: false, rng: &rng) }
            return batch
        }
        var out = Tensor(rows: x.rows, columns: outputSize)
        var start = 0
        while start < x.rows {
            let end = min(x.rows, start + batchSize)
            var batch = x.gathering(rows: start..<end)
            for layer in layers { batch = layer.forward(batch, training: false, rng: &rng) }
            out.scalars.replaceSubrange(start * outputSize..<end * outputSize, with: batch.scalars)
            start = end
        }
        return out
    }

    /// Trains the model. Returns the history of the loss and metrics per epoch.
    @discardableResult
    public func fit(
        x: Tensor, y: Tensor, loss: any Loss, optimizer: any Optimizer, options: FitOptions = .init(),
        onEpoch: (EpochLog) -> Void = { _ in }
    ) throws -> History {
        try options.validate()
        guard x.columns == inputSize else {
            throw LearnError("training inputs have \(x.columns) columns, the model takes \(inputSize)")
        }
        guard x.rows == y.rows, x.rows > 0 else {
            throw LearnError("x has \(x.rows) rows and y has \(y.rows); they must match and not be empty")
        }
        try prepareHead(for: loss)
        let (trainX, trainY, validation) = try Self.holdOut(x, y, options: options)
        let weights: [Float]? = options.classWeight.map { table in
            (0..<trainY.rows).map { table[Int(trainY.scalars[$0 * trainY.columns])] ?? 1 }
        }
        var shuffler = RandomSource(seed: options.seed ^ 0x5EED_5A17)
        var order = Array(0..<trainX.rows)
        var history = History()
        var step = 0
        var stopper = options.earlyStopping.map { Stopper(rule: $0) }
        let parameters = self.parameters
        for epoch in 0..<options.epochs {
            let started = ContinuousClock.now
            if options.shuffle { order.shuffle(using: &shuffler) }
            var log = try trainEpoch(
                epoch, order: order, x: trainX, y: trainY, weights: weights, loss: loss, optimizer: optimizer,
                options: options, step: &step)
            if let (vx, vy) = validation { measure(&log, vx, vy, loss: loss) }
            log.duration = ContinuousClock.now - started
            history.epochs.append(log)
            onEpoch(log)
            if try stopper?.stops(after: log, epoch: epoch, parameters: parameters) == true {
                history.stoppedEarly = true
                break
            }
        }
        if let stopper, stopper.rule.restoreBestWeights, let best = stopper.best {
            for (p, w) in zip(parameters, best.weights) { p.value = w }
            history.bestEpoch = best.epoch + 1
        }
        return history
    }

    /// A loss with a fused activation (cross-entropy on a sigmoid or softmax) takes its gradient before the last
    /// layer's activation.
    private func prepareHead(for loss: any Loss) throws {
        if let fused = loss.fusedActivation {
            guard let last = layers.last as? Dense, last.activation == fused else {
                throw LearnError("\(loss.name) expects the last layer to be Dense with activation \(fused.rawValue)")
            }
            last.gradientIsPreActivation = true
        } else if let last = layers.last as? Dense {
            last.gradientIsPreActivation = false
        }
    }

    /// The training rows and the validation data: given, or the last fraction of the rows (Keras takes it before
    /// shuffling).
    static func holdOut(_ x: Tensor, _ y: Tensor, options: FitOptions) throws -> (Tensor, Tensor, (Tensor, Tensor)?) {
        guard options.validationData == nil && options.validationSplit > 0 else {
            return (x, y, options.validationData)
        }
        let count = Int((Double(x.rows) * options.validationSplit).rounded(.down))
        guard count > 0 && count < x.rows else {
            throw LearnError("validationSplit \(options.validationSplit) leaves no training or no validation rows")
        }
        let cut = x.rows - count
        return (
            x.gathering(rows: 0..<cut), y.gathering(rows: 0..<cut),
            (x.gathering(rows: cut..<x.rows), y.gathering(rows: cut..<x.rows))
        )
    }

    /// One pass over the training rows in `order`, a step per batch.
    private func trainEpoch(
        _ epoch: Int, order: [Int], x: Tensor, y: Tensor, weights: [Float]?, loss: any Loss, optimizer: any Optimizer,
        options: FitOptions, step: inout Int
    ) throws -> EpochLog {
        let classification = loss.fusedActivation != nil
        let parameters = self.parameters
        var totalLoss = 0.0
        var correct = 0
        var start = 0
        while start < order.count {
            let end = min(order.count, start + options.batchSize)
            let indices = order[start..<end]
            var batch = x.gathering(rows: indices)
            for layer in layers { batch = layer.forward(batch, training: true, rng: &rng) }
            let target = y.gathering(rows: indices)
            let w = weights.map { all in indices.map { all[$0] } }
            let (value, gradient) = loss.evaluate(output: batch, target: target, weights: w)
            guard value.isFinite else {
                throw LearnError(
                    "the loss became \(value) at epoch \(epoch + 1), step \(step + 1): lower the learning rate or check the data for extreme values"
                )
            }
            totalLoss += value * Double(indices.count)
            if classification { correct += Self.correctCount(batch, target) }
            var g = gradient
            for layer in layers.reversed() { g = layer.backward(g) }
            optimizer.update(parameters, step: step)
            step += 1
            start = end
        }
        var log = EpochLog(epoch: epoch + 1, epochs: options.epochs, values: ["loss": totalLoss / Double(order.count)])
        if classification { log.values["accuracy"] = Double(correct) / Double(order.count) }
        return log
    }

    /// The validation figures of an epoch.
    private func measure(_ log: inout EpochLog, _ vx: Tensor, _ vy: Tensor, loss: any Loss) {
        let classification = loss.fusedActivation != nil
        let output = predict(vx)
        log.values["val_loss"] = loss.evaluate(output: output, target: vy, weights: nil).value
        if classification {
            log.values["val_accuracy"] = Double(Self.correctCount(output, vy)) / Double(vx.rows)
        }
        if classification && output.columns == 1 {
            // Ranking quality of the rare class: a steadier guide than the loss when labels are noisy.
            log.values["val_pr_auc"] = BinaryMetrics.averagePrecision(
                scores: output.scalars, labels: vy.scalars.map { Int($0) })
        }
    }

    /// Early stopping: the best epoch so far (and its weights, when they are to be restored).
    struct Stopper {
        let rule: EarlyStopping
        var best: (value: Double, epoch: Int, weights: [[Float]])?

        /// Whether training stops after this epoch: no improvement by minDelta for `patience` epochs.
        mutating func stops(after log: EpochLog, epoch: Int, parameters: [Parameter]) throws -> Bool {
            guard let current = log.values[rule.monitor] else {
                throw LearnError(
                    "early stopping monitors '\(rule.monitor)', which is not logged (logged: \(log.values.keys.sorted().joined(separator: ", ")))"
                )
            }
            let better =
                rule.mode == .min
                ? current < (best?.value ?? .infinity) - rule.minDelta
                : current > (best?.value ?? -.infinity) + rule.minDelta
            if better {
                best = (current, epoch, rule.restoreBestWeights ? parameters.map(\.value) : [])
                return false
            }
            guard let b = best else { return false }
            return epoch - b.epoch >= rule.patience
        }
    }

    static func correctCount(_ output: Tensor, _ target: Tensor) -> Int {
        var correct = 0
        for r in 0..<output.rows {
            let predicted: Int
            if output.columns == 1 {
                predicted = output.scalars[r] >= 0.5 ? 1 : 0
            } else {
                var arg = 0
                for c in 1..<output.columns where output[r, c] > output[r, arg] { arg = c }
                predicted = arg
            }
            if predicted == Int(target.scalars[r * target.columns]) { correct += 1 }
        }
        return correct
    }
}

/// How to train.
public struct FitOptions {
    public var epochs: Int
    public var batchSize: Int
    /// Fraction of the data (the last rows, as Keras) held out for validation; ignored when `validationData` is set.
    public var validationSplit: Double
    public var validationData: (Tensor, Tensor)?
    public var shuffle: Bool
    /// Seeds the shuffling; the weights are seeded when the model is built. Same seeds, same model.
    public var seed: UInt64
    /// Weight per class label (rare failures weigh more).
    public var classWeight: [Int: Float]?
    public var earlyStopping: EarlyStopping?

    public init(
        epochs: Int = 10, batchSize: Int = 32, validationSplit: Double = 0, validationData: (Tensor, Tensor)? = nil,
        shuffle: Bool = true, seed: UInt64 = 0, classWeight: [Int: Float]? = nil, earlyStopping: EarlyStopping? = nil
    ) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.validationSplit = validationSplit
        self.validationData = validationData
        self.shuffle = shuffle
        self.seed = seed
        self.classWeight = classWeight
        self.earlyStopping = earlyStopping
    }

    func validate() throws {
        guard epochs >= 1 else { throw LearnError("epochs must be at least 1, got \(epochs)") }
        guard batchSize >= 1 else { throw LearnError("batch size must be at least 1, got \(batchSize)") }
        guard (0..<1).contains(validationSplit) else {
            throw LearnError("validation split must be in 0..<1, got \(validationSplit)")
        }
    }
}

/// Stops training when a logged value stops improving, optionally restoring the best epoch's weights.
public struct EarlyStopping: Sendable {
    public enum Mode: Sendable { case min, max }
    public var monitor: String
    public var patience: Int
    public var minDelta: Double
    public var mode: Mode
    public var restoreBestWeights: Bool

    public init(
        monitor: String = "val_loss", patience: Int = 5, minDelta: Double = 0, mode: Mode? = nil,
        restoreBestWeights: Bool = true
    ) {
        self.monitor = monitor
        self.patience = patience
        self.minDelta = minDelta
        self.mode =
            mode ?? (monitor.hasSuffix("accuracy") || monitor.hasSuffix("auc") || monitor.hasSuffix("f1") ? .max : .min)
        self.restoreBestWeights = restoreBestWeights
    }
}

/// What one epoch measured.
public struct EpochLog: Sendable {
    public var epoch: Int
    public var epochs: Int
    public var values: [String: Double]
    public var duration: Duration = .zero
    /// Which network of an ensemble (n of total), if any.
    public var member: (Int, Int)?

    /// Keras's progress line: "Epoch 3/20 - 0.12s - accuracy: 0.9700 - loss: 0.0812 - val_loss: 0.0915".
    public var line: String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
        let order = ["loss", "accuracy", "val_loss", "val_accuracy"]
        let keys = values.keys.sorted { (order.firstIndex(of: $0) ?? 99, $0) < (order.firstIndex(of: $1) ?? 99, $1) }
        let parts = keys.map { "\($0): \(formatted(values[$0]!, 4))" }
        let prefix = member.map { "Model \($0.0)/\($0.1) " } ?? ""
        return prefix + "Epoch \(epoch)/\(epochs) - \(formatted(seconds, 2))s - " + parts.joined(separator: " - ")
    }
}

/// Every epoch's log, and where training stopped.
public struct History: Sendable {
    public var epochs: [EpochLog] = []
    public var stoppedEarly = false
    /// The epoch whose weights were restored by early stopping.
    public var bestEpoch: Int?

    public init() {}
}

func formatted(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if let dot = text.firstIndex(of: "."), !text.contains("e") {
        let have = text.distance(from: dot, to: text.endIndex) - 1
        if have < decimals { text += String(repeating: "0", count: decimals - have) }
    }
    return text
}
