// Softmax and categorical cross-entropy, fused so that both are stable and the gradient is simple.

import DigitsTensor

/// Softmax, p_j = e^(s_j) / Σ_k e^(s_k), computed stably as e^(s_j − m) / Σ_k e^(s_k − m) with m = max_k s_k.
///
/// Applies to each row of `scores` [N, classes] in place.
public func softmaxRows(_ scores: inout Tensor) {
    let c = scores.columns, rows = scores.rows
    scores.withUnsafeMutableBufferPointer { p in
        for r in 0..<rows {
            let row = p.baseAddress! + r * c
            var m = row[0]
            for j in 1..<c { m = max(m, row[j]) }
            var z: Float = 0
            for j in 0..<c { row[j] = exp(row[j] - m); z += row[j] }   // e^(s_j − m)
            let invZ = 1 / z
            for j in 0..<c { row[j] *= invZ }                          // / Σ e^(s_k − m)
        }
    }
}

/// Softmax followed by categorical cross-entropy on one-hot targets y (the labels as indices).
///
/// For one sample with scores s and true class t:
///   L = −Σ_j y_j log p_j = −log p_t = logsumexp(s) − s_t,   logsumexp(s) = m + log Σ_k e^(s_k − m).
/// Over a batch of N the loss is the mean, and the gradient is
///   ∂L/∂s = (p − y) / N.
public struct SoftmaxCrossEntropy: Loss {
    /// Label smoothing ε: the target is (1 − ε)·y + ε/classes. Zero gives plain cross-entropy.
    public var labelSmoothing: Float

    /// A softmax cross-entropy loss, optionally with label smoothing.
    public init(labelSmoothing: Float = 0) { self.labelSmoothing = labelSmoothing }

    public func evaluate(_ output: Tensor, labels: [Int]) -> LossResult {
        let n = output.rows, c = output.columns
        precondition(labels.count == n, "SoftmaxCrossEntropy: \(labels.count) labels for \(n) outputs")
        var grad = output
        var total: Double = 0
        let eps = labelSmoothing
        grad.withUnsafeMutableBufferPointer { p in
            for r in 0..<n {
                let s = p.baseAddress! + r * c
                let t = labels[r]
                var m = s[0]
                for j in 1..<c { m = max(m, s[j]) }
                var z: Float = 0
                for j in 0..<c { z += exp(s[j] - m) }
                let logSumExp = m + log(z)                                   // logsumexp(s)
                // L = −Σ_j y_j (s_j − logsumexp(s)); y = one-hot (smoothed when ε > 0)
                var loss: Float = 0
                for j in 0..<c {
                    let y = (j == t ? 1 - eps : 0) + eps / Float(c)
                    let logP = s[j] - logSumExp
                    if y != 0 { loss -= y * logP }
                    s[j] = (exp(logP) - y) / Float(n)                      // ∂L/∂s_j = (p_j − y_j) / N
                }
                total += Double(loss)
            }
        }
        return LossResult(value: Float(total / Double(n)), gradient: grad)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
