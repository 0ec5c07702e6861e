// The Loss protocol: a loss returns its value and its gradient together.

import DigitsTensor

/// A loss's mean value over the batch and its gradient with respect to the network's output.
public struct LossResult {
    /// L, averaged over the batch.
    public var value: Float
    /// ∂L/∂output, same shape as the output.
    public var gradient: Tensor
}

/// A training objective over a batch of outputs and integer class labels.
public protocol Loss {
    /// L and ∂L/∂output for `output` of shape [N, classes] and `labels` (N class indices).
    func evaluate(_ output: Tensor, labels: [Int]) -> LossResult
}
