// A serialisable description of each layer, from which a network is rebuilt when a model file is loaded.

import DigitsTensor

/// What a layer is, without its weights: enough to rebuild it. Stored as JSON in model files.
public enum LayerSpec: Codable, Equatable, Sendable {
    /// `Dense(inputs → outputs)`.
    case dense(inputs: Int, outputs: Int)
    /// ReLU activation.
    case relu
    /// Sigmoid activation.
    case sigmoid
    /// Tanh activation.
    case tanh
    /// Flattens [N, ...] to [N, features].
    case flatten

    /// Builds the layer, drawing its initial weights (if any) with `initializer` from `rng`.
    public func makeLayer(initializer: WeightInitializer, rng: inout SeededGenerator) -> Layer {
        switch self {
        case .dense(let inputs, let outputs):
            return Dense(inputs: inputs, outputs: outputs, initializer: initializer, rng: &rng)
        case .relu: return ReLU()
        case .sigmoid: return Sigmoid()
        case .tanh: return Tanh()
        case .flatten: return Flatten()
        }
    }

    /// A short human-readable name, e.g. `Dense(784→512)`.
    public var displayName: String {
        switch self {
        case .dense(let i, let o): return "Dense(\(i)→\(o))"
        case .relu: return "ReLU"
        case .sigmoid: return "Sigmoid"
        case .tanh: return "Tanh"
        case .flatten: return "Flatten"
        }
    }
}
