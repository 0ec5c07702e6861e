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
                            Self.update(w.baseAddress!, mi, vi, g.baseAddress!, n, shrink: shrink, eta: learningRate,
                                        beta1: beta1, beta2: beta2, correction1: correction1, correction2: correction2,
                                        epsilon: epsilon)
                        }
                    }
                }
            }
        }
    }

    /// w ← s·w;  m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;  w ← w − η (m / c₁) / (√(v / c₂) + ε), over `n`
    /// values, eight at a time: the same operations in the same order as one at a time, so the same bits.
    @inline(__always)
    private static func update(_ w: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                               _ g: UnsafePointer<Float>, _ n: Int, shrink: Float, eta: Float, beta1: Float, beta2: Float,
                               correction1: Float, correction2: Float, epsilon: Float) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ x: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: V.self) }
        let (s, b1, b2, c1, c2) = (V(repeating: shrink), V(repeating: beta1), V(repeating: beta2), V(repeating: correction1), V(repeating: correction2))
        let (oneMinusB1, oneMinusB2, e, eps) = (V(repeating: 1 - beta1), V(repeating: 1 - beta2), V(repeating: eta), V(repeating: epsilon))
        var i = 0
        while i + 8 <= n {
            let gi = load(g + i)
            let mi = b1 * load(m + i) + oneMinusB1 * gi                   // m ← β₁ m + (1 − β₁) g
            let vi = b2 * load(v + i) + oneMinusB2 * gi * gi              // v ← β₂ v + (1 − β₂) g²
            let wi = load(w + i) * s                                      // w ← s w (AdamW's shrink)
            store(mi, m + i); store(vi, v + i)
            store(wi - e * (mi / c1) / (Kernels.squareRoot(vi / c2) + eps), w + i)   // w ← w − η m̂ / (√v̂ + ε)
            i += 8
        }
        while i < n {
            w[i] *= shrink
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            w[i] -= eta * (m[i] / correction1) / ((v[i] / correction2).squareRoot() + epsilon)
            i += 1
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
