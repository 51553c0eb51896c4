import Primitives

/// A layer of a Sequential model: built for an input width, it maps a batch forward and gradients backward.
///
/// Layers keep what `backward` needs from the last `forward`, so one layer object serves one training loop at a
/// time; serving uses the immutable `InferenceModel` made from a trained model.
public protocol Layer: AnyObject {
    /// Creates the weights for inputs `inputSize` wide; returns the output width.
    func build(inputSize: Int, index: Int, rng: inout RandomSource) -> Int
    func forward(_ input: Tensor, training: Bool, rng: inout RandomSource) -> Tensor
    /// Given dL/d(output), fills the parameters' gradients and returns dL/d(input).
    func backward(_ gradient: Tensor) -> Tensor
    var parameters: [Parameter] { get }
    /// The layer's settings, for the model file.
    var configuration: LayerConfiguration { get }
}

/// A layer's settings as stored in `model.json`.
public enum LayerConfiguration: Sendable, Codable, Equatable {
    case dense(units: Int, activation: Activation, useBias: Bool)
    case dropout(rate: Float)
    case batchNormalization(momentum: Float, epsilon: Float)
    case conv1D(filters: Int, kernelSize: Int, channels: Int, padding: Conv1D.Padding, activation: Activation)
    case gru(units: Int, channels: Int, returnSequences: Bool)

    enum CodingKeys: String, CodingKey {
        case type, units, activation, useBias = "use_bias", rate, momentum, epsilon, filters
        case kernelSize = "kernel_size", channels, padding, returnSequences = "return_sequences"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "dense":
            self = .dense(
                units: try c.decode(Int.self, forKey: .units),
                activation: try c.decode(Activation.self, forKey: .activation),
                useBias: try c.decodeIfPresent(Bool.self, forKey: .useBias) ?? true)
        case "dropout": self = .dropout(rate: try c.decode(Float.self, forKey: .rate))
        case "batch_normalization":
            self = .batchNormalization(
                momentum: try c.decodeIfPresent(Float.self, forKey: .momentum) ?? 0.99,
                epsilon: try c.decodeIfPresent(Float.self, forKey: .epsilon) ?? 1e-3)
        case "conv1d":
            self = .conv1D(
                filters: try c.decode(Int.self, forKey: .filters),
                kernelSize: try c.decode(Int.self, forKey: .kernelSize),
                channels: try c.decode(Int.self, forKey: .channels),
                padding: try c.decodeIfPresent(Conv1D.Padding.self, forKey: .padding) ?? .valid,
                activation: try c.decode(Activation.self, forKey: .activation))
        case "gru":
            self = .gru(
                units: try c.decode(Int.self, forKey: .units), channels: try c.decode(Int.self, forKey: .channels),
                returnSequences: try c.decodeIfPresent(Bool.self, forKey: .returnSequences) ?? false)
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: c,
                debugDescription:
                    "unknown layer type '\(other)' (known: dense, dropout, batch_normalization, conv1d, gru)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .dense(let units, let activation, let useBias):
            try c.encode("dense", forKey: .type)
            try c.encode(units, forKey: .units)
            try c.encode(activation, forKey: .activation)
            try c.encode(useBias, forKey: .useBias)
        case .dropout(let rate):
            try c.encode("dropout", forKey: .type)
            try c.encode(rate, forKey: .rate)
        case .batchNormalization(let momentum, let epsilon):
            try c.encode("batch_normalization", forKey: .type)
            try c.encode(momentum, forKey: .momentum)
            try c.encode(epsilon, forKey: .epsilon)
        case .conv1D(let filters, let kernelSize, let channels, let padding, let activation):
            try c.encode("conv1d", forKey: .type)
            try c.encode(filters, forKey: .filters)
            try c.encode(kernelSize, forKey: .kernelSize)
            try c.encode(channels, forKey: .channels)
            try c.encode(padding, forKey: .padding)
            try c.encode(activation, forKey: .activation)
        case .gru(let units, let channels, let returnSequences):
            try c.encode("gru", forKey: .type)
            try c.encode(units, forKey: .units)
            try c.encode(channels, forKey: .channels)
            try c.encode(returnSequences, forKey: .returnSequences)
        }
    }

    /// A new, unbuilt layer with these settings.
    public func makeLayer() -> any Layer {
        switch self {
        case .dense(let units, let activation, let useBias): Dense(units, activation: activation, useBias: useBias)
        case .dropout(let rate): Dropout(rate)
        case .batchNormalization(let momentum, let epsilon): BatchNormalization(momentum: momentum, epsilon: epsilon)
        case .conv1D(let filters, let kernelSize, let channels, let padding, let activation):
            Conv1D(
                filters: filters, kernelSize: kernelSize, channels: channels, padding: padding, activation: activation)
        case .gru(let units, let channels, let returnSequences):
            GRU(units: units, channels: channels, returnSequences: returnSequences)
        }
    }
}
