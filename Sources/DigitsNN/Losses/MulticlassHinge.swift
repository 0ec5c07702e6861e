// The multiclass hinge (SVM) loss, Weston–Watkins form: a sum over the wrong classes.

import DigitsTensor

/// Multiclass hinge loss (Weston–Watkins): for scores s and true class t,
///   L_i = Σ_{j≠t} max(0, s_j − s_t + Δ),   averaged over the batch: L = 1/N Σ_i L_i.
/// With Δ = 1. Every wrong class j whose margin is violated (s_j − s_t + Δ > 0) contributes
///   ∂L/∂s_j = +1/N   and   ∂L/∂s_t = −1/N.
/// The L2 penalty λ Σ W² of the linear SVM is added separately (`L2Penalty`).
public struct MulticlassHinge: Loss {
    /// The margin Δ.
    public var margin: Float

    /// A hinge loss with margin Δ (1 by default).
    public init(margin: Float = 1) { self.margin = margin }

    public func evaluate(_ output: Tensor, labels: [Int]) -> LossResult {
        let n = output.rows, c = output.columns
        precondition(labels.count == n, "MulticlassHinge: \(labels.count) labels for \(n) outputs")
        var grad = Tensor(shape: output.shape)
        var total: Double = 0
        output.withUnsafeBufferPointer { s in
            grad.withUnsafeMutableBufferPointer { g in
                for r in 0..<n {
                    let t = labels[r]
                    let st = s[r * c + t]
                    for j in 0..<c where j != t {
                        let violation = s[r * c + j] - st + margin        // s_j − s_t + Δ
                        if violation > 0 {
                            total += Double(violation)                    // max(0, ·)
                            g[r * c + j] += 1 / Float(n)
                            g[r * c + t] -= 1 / Float(n)
                        }
                    }
                }
            }
        }
        return LossResult(value: Float(total / Double(n)), gradient: grad)
    }
}
