// Dropout: in training, silence each unit at random and rescale the survivors; in evaluation, pass through.

import DigitsTensor

/// Inverted dropout with rate p:
///
///     training:    y = x ⊙ m,  m[i] = 1/(1 − p) with probability 1 − p, else 0  (drawn afresh each forward)
///     evaluation:  y = x
///
/// so E[y] = x in both modes. Any shape; each element has its own draw.
/// Backward: ∂L/∂x = ∂L/∂y ⊙ m with the mask of the latest training forward.
/// The masks come from the layer's own `SeededGenerator`, so the same seed gives the same masks.
public final class Dropout: RandomLayer {
    /// p, the probability that a unit is dropped in training.
    public let rate: Float
    /// The generator the masks are drawn from (saved in checkpoints).
    public var generator: SeededGenerator
    private var mask = Tensor(shape: [0])      // m of the latest training forward

    /// A dropout layer dropping each unit with probability `rate` (0 ≤ rate < 1), its masks drawn from `seed`.
    public init(rate: Float, seed: UInt64) {
        precondition(rate >= 0 && rate < 1, "Dropout: rate must be in [0, 1), got \(rate)")
        self.rate = rate
        generator = SeededGenerator(seed: seed)
    }

    /// None: dropout has no parameters.
    public var parameters: [Parameter] { [] }
    /// `.dropout` with this layer's rate (the seed is drawn again when the spec is built).
    public var spec: LayerSpec { .dropout(rate: rate) }
    /// The input shape: dropout keeps shapes.
    public func outputShape(for inputShape: [Int]) -> [Int] { inputShape }

    /// y = x ⊙ m in `.training` mode (a fresh mask m), y = x in `.evaluation` mode.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        guard mode == .training else { return x }                   // evaluation: identity
        let keep = 1 - rate                                          // P(m[i] ≠ 0) = 1 − p
        let scale = 1 / keep                                         // kept units × 1/(1 − p)
        mask.resize(x.shape)
        var y = x
        mask.withUnsafeMutableBufferPointer { m in
            y.withUnsafeMutableBufferPointer { y in
                for i in 0..<y.count {
                    m[i] = generator.nextUniform() < keep ? scale : 0       // m[i] ~ (1/(1−p))·Bernoulli(1 − p)
                    y[i] *= m[i]                                     // y = x ⊙ m
                }
            }
        }
        return y
    }

    /// ∂L/∂x = ∂L/∂y ⊙ m.
    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor {
        precondition(dy.shape == mask.shape, "Dropout.backward: gradient \(dy.shape) does not match the last training forward \(mask.shape)")
        guard needsInputGradient else { return Tensor(shape: [0]) }
        var dx = dy
        mask.withUnsafeBufferPointer { m in
            dx.withUnsafeMutableBufferPointer { d in
                for i in 0..<d.count { d[i] *= m[i] }                // ∂y/∂x = m
            }
        }
        return dx
    }
}
