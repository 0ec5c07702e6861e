// RMSprop: divide each step by a running root-mean-square of recent gradients.

import DigitsTensor

/// RMSprop (Hinton, 2012):
///   v ← ρ·v + (1 − ρ)·g²
///   w ← w − η·g / (√v + ε)
/// Defaults as in Keras: η = 0.001, ρ = 0.9, ε = 1e-7.
public final class RMSprop: Optimizer {
    public var learningRate: Float
    /// The decay ρ of the running average of g².
    public let rho: Float
    /// ε, keeps the division finite.
    public let epsilon: Float
    private var meanSquare = SlotStore()

    /// RMSprop with step size η, decay ρ and ε.
    public init(learningRate: Float = 0.001, rho: Float = 0.9, epsilon: Float = 1e-7) {
        self.learningRate = learningRate
        self.rho = rho
        self.epsilon = epsilon
    }

    public func step(_ parameters: [Parameter]) {
        let (eta, rho, epsilon) = (learningRate, self.rho, self.epsilon)
        for (index, p) in parameters.enumerated() {
            if let rows = p.gradientRows {
                stepRows(p, index: index, rows: rows)
                continue
            }
            let n = p.value.count
            p.gradient.withUnsafeBufferPointer { gb in
                p.value.withUnsafeMutableBufferPointer { wb in
                    meanSquare.withSlot(index, count: n) { v in
                        let g = gb.baseAddress!, w = wb.baseAddress!
                        // Elementwise, so any split across threads gives the same result.
                        Parallel.forEachRange(n / 8, workPerItem: 8, minimumWork: 1 << 16) { chunks in
                            let i = chunks.lowerBound * 8
                            Self.update(w + i, v + i, g + i, chunks.count * 8, eta: eta, rho: rho, epsilon: epsilon)
                        }
                        let tail = n / 8 * 8
                        Self.update(w + tail, v + tail, g + tail, n - tail, eta: eta, rho: rho, epsilon: epsilon)
                    }
                }
            }
        }
    }

    /// The same update when the gradient is zero outside `rows` (a layer that skipped zero inputs): on the
    /// other rows g = 0, so v ← ρ·v and w stays, and neither g nor w need be read there. Bit for bit the
    /// dense update.
    private func stepRows(_ p: Parameter, index: Int, rows: [Int]) {
        let rowCount = p.value.shape.first ?? 1
        let width = p.value.count / max(rowCount, 1)
        var lit = [Bool](repeating: false, count: rowCount)
        for r in rows { lit[r] = true }
        let (eta, rho, epsilon) = (learningRate, self.rho, self.epsilon)
        let count = p.value.count  // read before the mutable access below: reading p.value inside it is a conflict
        p.gradient.withUnsafeBufferPointer { gb in
            p.value.withUnsafeMutableBufferPointer { wb in
                meanSquare.withSlot(index, count: count) { v in
                    lit.withUnsafeBufferPointer { isLit in
                        let g = gb.baseAddress!, w = wb.baseAddress!
                        Parallel.forEachRange(rowCount, workPerItem: width, minimumWork: 1 << 16) { range in
                            for r in range {
                                let o = r * width
                                if isLit[r] {
                                    Self.update(w + o, v + o, g + o, width, eta: eta, rho: rho, epsilon: epsilon)
                                } else {
                                    Self.decay(v + o, width, rho: rho)                          // v ← ρ v (g = 0)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// v ← ρ v + (1 − ρ) g²;  w ← w − η g / (√v + ε), over `n` values.
    @inline(__always)
    private static func update(_ w: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                               _ n: Int, eta: Float, rho: Float, epsilon: Float) {
        typealias V = SIMD8<Float>
        let (e, r, oneMinusR, eps) = (V(repeating: eta), V(repeating: rho), V(repeating: 1 - rho), V(repeating: epsilon))
        var i = 0
        while i + 8 <= n {
            let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
            var vi = UnsafeRawPointer(v + i).loadUnaligned(as: V.self)
            var wi = UnsafeRawPointer(w + i).loadUnaligned(as: V.self)
            vi = r * vi + oneMinusR * gi * gi                    // v ← ρ v + (1 − ρ) g²
            wi -= e * gi / (Kernels.squareRoot(vi) + eps)      // w ← w − η g / (√v + ε)
            UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: V.self)
            UnsafeMutableRawPointer(w + i).storeBytes(of: wi, as: V.self)
            i += 8
        }
        while i < n {
            v[i] = rho * v[i] + (1 - rho) * g[i] * g[i]
            w[i] -= eta * g[i] / (v[i].squareRoot() + epsilon)
            i += 1
        }
    }

    /// v ← ρ v + (1 − ρ)·0, over `n` values.
    @inline(__always)
    private static func decay(_ v: UnsafeMutablePointer<Float>, _ n: Int, rho: Float) {
        var i = 0
        let r = SIMD8<Float>(repeating: rho), zero = SIMD8<Float>()
        while i + 8 <= n {
            let vi = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(v + i).storeBytes(of: r * vi + zero, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { v[i] = rho * v[i] + 0; i += 1 }
    }

    /// `mean_square` (v), one buffer per parameter, once a step has been taken.
    public var state: OptimizerState {
        OptimizerState(buffers: meanSquare.contents.isEmpty ? [:] : ["mean_square": meanSquare.contents])
    }

    /// Takes over a saved `mean_square`.
    public func restore(_ state: OptimizerState, parameters: [Parameter]) throws {
        meanSquare.contents = try state.buffers(roles: ["mean_square"], parameters: parameters, optimizer: "RMSprop")["mean_square"] ?? []
    }
}
