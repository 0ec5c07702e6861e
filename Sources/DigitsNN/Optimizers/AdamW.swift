// AdamW: Adam with the weight decay taken out of the gradient and applied to the weights directly.

import DigitsTensor

/// AdamW (Loshchilov & Hutter, 2019), at step t = 1, 2, …, for each parameter that decays (weights, not
/// biases or batch-norm scales):
///   w ← w − η·λ·w                                  (decoupled weight decay)
///   m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
///   w ← w − η·m̂ / (√v̂ + ε),   m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
/// Unlike an L2 term in the loss, the decay is not divided by √v̂, so every weight shrinks at the same rate.
/// Defaults as PyTorch's: η = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-8, λ = 0.01.
public final class AdamW: Optimizer {
    public var learningRate: Float
    /// λ, the decay rate per unit of learning rate.
    public let weightDecay: Float
    /// β₁, the decay of the first moment m.
    public let beta1: Float
    /// β₂, the decay of the second moment v.
    public let beta2: Float
    /// ε, keeps the division finite.
    public let epsilon: Float
    /// The number of steps taken, t.
    public private(set) var t = 0
    var m = SlotStore()
    var v = SlotStore()

    /// AdamW with PyTorch's defaults unless given.
    public init(learningRate: Float = 0.001, weightDecay: Float = 0.01, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public func step(_ parameters: [Parameter]) {
        t += 1
        let correction1 = 1 - pow(beta1, Float(t))                    // 1 − β₁ᵗ
        let correction2 = 1 - pow(beta2, Float(t))                    // 1 − β₂ᵗ
        for (index, p) in parameters.enumerated() {
            p.densifyGradient()
            let n = p.value.count
            let shrink = p.decays ? 1 - learningRate * weightDecay : 1  // w ← w − η λ w
            p.gradient.withUnsafeBufferPointer { g in
                p.value.withUnsafeMutableBufferPointer { w in
                    m.withSlot(index, count: n) { mi in
                        v.withSlot(index, count: n) { vi in
                            for i in 0..<n {
                                w[i] *= shrink
                                mi[i] = beta1 * mi[i] + (1 - beta1) * g[i]          // m ← β₁ m + (1 − β₁) g
                                vi[i] = beta2 * vi[i] + (1 - beta2) * g[i] * g[i]   // v ← β₂ v + (1 − β₂) g²
                                w[i] -= learningRate * (mi[i] / correction1) / ((vi[i] / correction2).squareRoot() + epsilon)
                            }
                        }
                    }
                }
            }
        }
    }
}

extension AdamW {
    /// The moments `m` and `v`, one buffer each per parameter, and t, once a step has been taken.
    public var state: OptimizerState {
        OptimizerState(buffers: m.contents.isEmpty ? [:] : ["m": m.contents, "v": v.contents], step: t)
    }

    /// Takes over saved moments `m` and `v` and the step count t.
    public func restore(_ state: OptimizerState, parameters: [Parameter]) throws {
        guard state.step >= 0 else { throw OptimizerStateError("the saved AdamW step count \(state.step) is negative") }
        let buffers = try state.buffers(roles: ["m", "v"], parameters: parameters, optimizer: "AdamW")
        m.contents = buffers["m"] ?? []
        v.contents = buffers["v"] ?? []
        t = state.step
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
