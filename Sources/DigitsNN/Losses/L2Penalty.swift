// The L2 penalty λ Σ W², added to a loss to keep weights small (the linear SVM's regulariser).

import DigitsTensor

/// The L2 penalty R = λ Σ_k w_k² over every parameter that decays (weights, not biases).
/// Its gradient ∂R/∂w = 2λw is added to each such parameter's gradient.
public struct L2Penalty {
    /// The strength λ.
    public var lambda: Float

    /// An L2 penalty of strength λ.
    public init(lambda: Float) { self.lambda = lambda }

    /// Adds 2λw to each decaying parameter's gradient and returns R = λ Σ w².
    @discardableResult
    public func apply(to parameters: [Parameter]) -> Float {
        guard lambda != 0 else { return 0 }
        var r: Double = 0
        for p in parameters where p.decays {
            p.densifyGradient()
            p.value.withUnsafeBufferPointer { w in
                r += w.reduce(0.0) { $0 + Double($1 * $1) }                       // Σ w²
                p.gradient.withUnsafeMutableBufferPointer { g in
                    Kernels.axpy(w.count, alpha: 2 * lambda, w.baseAddress!, g.baseAddress!)  // g += 2λw
                }
            }
        }
        return Float(Double(lambda) * r)
    }
}
