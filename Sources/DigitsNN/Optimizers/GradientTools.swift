// Gradient-norm clipping and an exponential moving average of the weights: two helpers that sit around
// the optimizer's step.

import DigitsTensor

/// Gradient-norm clipping over all parameters together:
///   ‖g‖ = √(Σ_parameters Σ_i g_i²);   if ‖g‖ > c:  g ← g · c / ‖g‖
/// so one exploding batch cannot throw the weights far, while the direction of the step is kept.
public enum GradientClipping {
    /// Scales every gradient so that their joint L2 norm is at most `maxNorm`; returns the norm before clipping.
    @discardableResult
    public static func clip(_ parameters: [Parameter], maxNorm: Float) -> Float {
        var sum: Double = 0
        for p in parameters {
            p.densifyGradient()
            p.gradient.withUnsafeBufferPointer { g in
                for v in g { sum += Double(v) * Double(v) }
            }
        }
        let norm = Float(sum.squareRoot())
        if norm > maxNorm, norm.isFinite {
            let scale = maxNorm / norm
            for p in parameters {
                p.gradient.withUnsafeMutableBufferPointer { g in
                    for i in g.indices { g[i] *= scale }
                }
            }
        }
        return norm
    }
}

/// An exponential moving average of the weights (and of buffers such as batch norm's running statistics),
/// updated after every step t (from 0):
///   w̄ ← d_t·w̄ + (1 − d_t)·w,   d_t = min(d, (1 + t)/(10 + t))
/// Evaluating with w̄ instead of w averages out the last steps' noise; d = 0.999 averages over about the
/// last 1/(1 − d) = 1000 steps.
public final class WeightAverage {
    /// d, the weight of the old average.
    public let decay: Float
    /// The averages, one per tracked tensor, in the order given at creation.
    public private(set) var averages: [Tensor]
    private let tracked: [Parameter]

    /// Starts an average of `tracked` at their current values.
    public init(of tracked: [Parameter], decay: Float) {
        precondition(decay >= 0 && decay < 1, "WeightAverage: decay must be in [0, 1), got \(decay)")
        self.decay = decay
        self.tracked = tracked
        self.averages = tracked.map(\.value)
    }

    /// w̄ ← d_t·w̄ + (1 − d_t)·w for every tracked tensor, after update number `step` (from 0) of the run,
    /// with d_t = min(d, (1 + t)/(10 + t)): early in a run the average follows the weights closely, so that it
    /// does not stay near the random initial weights for the first thousands of steps.
    public func update(step t: Int) {
        let d = min(decay, Float(1 + t) / Float(10 + t))
        for (k, p) in tracked.enumerated() {
            p.value.withUnsafeBufferPointer { w in
                averages[k].withUnsafeMutableBufferPointer { a in
                    for i in a.indices { a[i] = d * a[i] + (1 - d) * w[i] }
                }
            }
        }
    }

    /// Exchanges the tracked tensors' values with the averages: call once to evaluate with w̄, again to go back.
    public func swap() {
        for (k, p) in tracked.enumerated() {
            let current = p.value
            p.value = averages[k]
            averages[k] = current
        }
    }

    /// Replaces the averages (e.g. when resuming); throws nothing, but the shapes must match the tracked tensors.
    public func restore(_ saved: [Tensor]) {
        precondition(saved.count == averages.count && zip(saved, averages).allSatisfy { $0.shape == $1.shape },
                     "WeightAverage.restore: the saved averages do not match the tracked tensors")
        averages = saved
    }
}
