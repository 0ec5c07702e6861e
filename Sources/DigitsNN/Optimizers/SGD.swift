// Stochastic gradient descent, with optional momentum and Nesterov momentum.

import DigitsTensor

/// Gradient descent, w ← w − η·g.
///
/// With momentum μ > 0 (PyTorch's form):  v ← μ·v + g;  w ← w − η·v.
/// With Nesterov momentum:                 v ← μ·v + g;  w ← w − η·(g + μ·v).
public final class SGD: Optimizer {
    public var learningRate: Float
    /// The momentum μ (0 for plain gradient descent).
    public let momentum: Float
    /// Whether the Nesterov form is used.
    public let nesterov: Bool
    private var velocity = SlotStore()

    /// Gradient descent with step size η and optional (Nesterov) momentum μ.
    public init(learningRate: Float, momentum: Float = 0, nesterov: Bool = false) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
    }

    public func step(_ parameters: [Parameter]) {
        let eta = learningRate, mu = momentum
        for (index, p) in parameters.enumerated() {
            if mu == 0, p.withGradientFactors({ stepFactors(p, terms: $0, vector: $1) }) != nil {
                continue                                                            // one sample's x ⊗ g, never written out
            }
            if mu == 0, let rows = p.gradientRows {
                stepRows(p, rows: rows)                                             // only rows with a gradient
                continue
            }
            p.densifyGradient()
            let n = p.value.count
            p.gradient.withUnsafeBufferPointer { g in
                p.value.withUnsafeMutableBufferPointer { w in
                    if mu == 0 {
                        for i in 0..<n { w[i] -= eta * g[i] }                       // w ← w − η g
                        return
                    }
                    velocity.withSlot(index, count: n) { v in
                        for i in 0..<n {
                            v[i] = mu * v[i] + g[i]                                  // v ← μ v + g
                            w[i] -= eta * (nesterov ? g[i] + mu * v[i] : v[i])      // w ← w − η v  (or η(g + μ v))
                        }
                    }
                }
            }
        }
    }

    /// `velocity` (v), one buffer per parameter, once a step with momentum has been taken; nothing for plain descent.
    public var state: OptimizerState {
        OptimizerState(buffers: velocity.contents.isEmpty ? [:] : ["velocity": velocity.contents])
    }

    /// Takes over a saved `velocity` (none for plain gradient descent).
    public func restore(_ state: OptimizerState, parameters: [Parameter]) throws {
        let buffers = try state.buffers(roles: momentum == 0 ? [] : ["velocity"], parameters: parameters, optimizer: "SGD")
        velocity.contents = buffers["velocity"] ?? []
    }

    /// w ← w − η g for a gradient held as an outer product: on row k of a term, g = scale·v, so
    /// w[k] ← w[k] − η·(scale·v), each product rounded as in the written-out gradient (the same bits as
    /// writing it out and taking `stepRows`); the other rows do not move.
    private func stepFactors(_ p: Parameter, terms: UnsafeBufferPointer<RowTerm>, vector: UnsafeBufferPointer<Float>) {
        typealias V = SIMD8<Float>
        let width = vector.count, v = vector.baseAddress!
        let a = V(repeating: -learningRate)
        p.value.withUnsafeMutableBufferPointer { wb in
            for term in terms {
                let w = wb.baseAddress! + Int(term.row) * width
                let s = V(repeating: term.scale)
                var j = 0
                while j + 8 <= width {
                    let g = s * UnsafeRawPointer(v + j).loadUnaligned(as: V.self)
                    let wj = UnsafeRawPointer(w + j).loadUnaligned(as: V.self)
                    UnsafeMutableRawPointer(w + j).storeBytes(of: wj + a * g, as: V.self)
                    j += 8
                }
                while j < width { w[j] += -learningRate * (term.scale * v[j]); j += 1 }
            }
        }
    }

    /// w ← w − η g on the listed rows; the gradient is zero on the others, which therefore do not move.
    private func stepRows(_ p: Parameter, rows: [Int]) {
        let width = p.value.count / max(p.value.shape.first ?? 1, 1)
        p.gradient.withUnsafeBufferPointer { g in
            p.value.withUnsafeMutableBufferPointer { w in
                for r in rows {
                    Kernels.axpy(width, alpha: -learningRate, g.baseAddress! + r * width, w.baseAddress! + r * width)
                }
            }
        }
    }
}
