// A trainable parameter: a value, a gradient of the same shape, and a stable name.

import DigitsTensor

/// A trainable tensor with its gradient and a stable name such as `layers.0.weight`.
///
/// Checkpoints, exporters and optimizers all identify a parameter by `name`.
public final class Parameter {
    /// The stable name, `layers.<index>.<role>`, set when the layer is placed in a model.
    public var name: String
    /// The current value.
    public var value: Tensor
    /// ∂L/∂value from the latest backward pass; same shape as `value`.
    public var gradient: Tensor
    /// Whether an L2 penalty / weight decay applies (weights yes, biases no).
    public let decays: Bool

    /// A parameter holding `value`, with a zero gradient.
    public init(name: String, value: Tensor, decays: Bool) {
        self.name = name
        self.value = value
        self.gradient = Tensor(shape: value.shape)
        self.decays = decays
    }
}

/// Whether a model runs for training (caches for backward, dropout on) or for evaluation.
public enum Mode: Sendable {
    /// Training: layers keep what backward needs.
    case training
    /// Evaluation: no caches, deterministic.
    case evaluation
}
