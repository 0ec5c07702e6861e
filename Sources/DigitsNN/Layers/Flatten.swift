// Flatten: [N, d1, d2, ...] → [N, d1·d2·...]. No arithmetic, only a new shape.

import DigitsTensor

/// Reshapes each sample to a vector: [N, ...] → [N, features]. Backward restores the input shape.
public final class Flatten: Layer {
    private var inputShape: [Int] = []

    /// A flatten layer.
    public init() {}

    public var parameters: [Parameter] { [] }
    public var spec: LayerSpec { .flatten }
    public func outputShape(for inputShape: [Int]) -> [Int] { [inputShape[0], inputShape.dropFirst().reduce(1, *)] }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        if mode == .training { inputShape = x.shape }
        return x.reshaped(outputShape(for: x.shape))
    }

    public func backward(_ g: Tensor, needsInputGradient: Bool) -> Tensor {
        g.reshaped(inputShape)
    }
}
