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
    /// When set, the gradient is zero outside these rows of `value` (its first dimension) and the
    /// memory of the other rows is stale: a layer that skips zero inputs says so, and plain SGD then
    /// updates only these rows. `densifyGradient()` writes the zeros for rules that need every entry.
    public var gradientRows: [Int]?

    /// A parameter holding `value`, with a zero gradient.
    public init(name: String, value: Tensor, decays: Bool) {
        self.name = name
        self.value = value
        self.gradient = Tensor(shape: value.shape)
        self.decays = decays
    }

    /// Makes `gradient` complete: zeros the rows outside `gradientRows`, then clears it.
    public func densifyGradient() {
        guard let rows = gradientRows else { return }
        gradientRows = nil
        let rowCount = value.shape.first ?? 1
        let width = value.count / max(rowCount, 1)
        gradient.withUnsafeMutableBufferPointer { g in
            var next = 0
            for r in 0..<rowCount {
                if next < rows.count && rows[next] == r { next += 1; continue }
                (g.baseAddress! + r * width).update(repeating: 0, count: width)
            }
        }
    }
}

/// Whether a model runs for training (caches for backward, dropout on) or for evaluation.
public enum Mode: Sendable {
    /// Training: layers keep what backward needs.
    case training
    /// Evaluation: no caches, deterministic.
    case evaluation
}
