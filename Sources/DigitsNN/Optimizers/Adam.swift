// Adam: momentum on the gradient and on its square, both corrected for their zero start.

import DigitsTensor

/// Adam (Kingma & Ba, 2015), at step t = 1, 2, …:
///   m ← β₁·m + (1 − β₁)·g
///   v ← β₂·v + (1 − β₂)·g²
///   m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
///   w ← w − η·m̂ / (√v̂ + ε)
/// The paper's defaults: η = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
///
/// With a weight decay λ > 0 it is AdamW (Loshchilov & Hutter, 2019): each weight that decays (not biases
/// or batch-norm scales) first shrinks, w ← w − η·λ·w, and then takes the Adam step. Unlike an L2 term in
/// the loss, the decay is not divided by √v̂, so every weight shrinks at the same rate.
public final class Adam: Optimizer {
    public var learningRate: Float
    /// β₁, the decay of the first moment m.
    public let beta1: Float
    /// β₂, the decay of the second moment v.
    public let beta2: Float
    /// ε, keeps the division finite.
    public let epsilon: Float
    /// λ, AdamW's decoupled weight decay per unit of learning rate (0: plain Adam).
    public let weightDecay: Float
    /// The number of steps taken, t.
    public private(set) var t = 0
    private var m = SlotStore()
    private var v = SlotStore()

    /// Adam with the paper's defaults unless given; AdamW when `weightDecay` is above 0.
    public init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0) {
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
            let shrink = p.decays ? 1 - learningRate * weightDecay : 1             // w ← w − η λ w (AdamW)
            p.gradient.withUnsafeBufferPointer { g in
                p.value.withUnsafeMutableBufferPointer { w in
                    m.withSlot(index, count: n) { mi in
                        v.withSlot(index, count: n) { vi in
                            for i in 0..<n {
                                w[i] *= shrink
                                mi[i] = beta1 * mi[i] + (1 - beta1) * g[i]          // m ← β₁ m + (1 − β₁) g
                                vi[i] = beta2 * vi[i] + (1 - beta2) * g[i] * g[i]   // v ← β₂ v + (1 − β₂) g²
                                let mHat = mi[i] / correction1                     // m̂
                                let vHat = vi[i] / correction2                     // v̂
                                w[i] -= learningRate * mHat / (vHat.squareRoot() + epsilon)
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Adam {
    /// The moments `m` and `v`, one buffer each per parameter, and t, once a step has been taken.
    public var state: OptimizerState {
        OptimizerState(buffers: m.contents.isEmpty ? [:] : ["m": m.contents, "v": v.contents], step: t)
    }

    /// Takes over saved moments `m` and `v` and the step count t.
    public func restore(_ state: OptimizerState, parameters: [Parameter]) throws {
        guard state.step >= 0 else { throw OptimizerStateError("the saved Adam step count \(state.step) is negative") }
        let buffers = try state.buffers(roles: ["m", "v"], parameters: parameters, optimizer: "Adam")
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
