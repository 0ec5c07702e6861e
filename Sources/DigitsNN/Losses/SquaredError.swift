// Squared error against scaled one-hot targets: the from-scratch sigmoid network's objective.

import DigitsTensor

/// Half the squared error between outputs o and one-hot targets t scaled to (`off`, `on`), e.g. (0.01, 0.99):
///   L = 1/(2N) Σ_i Σ_j (t_ij − o_ij)²,   ∂L/∂o = (o − t) / N.
/// For one sample this is the classic rule "output error = target − output", sent back through
/// the transposed weights; a gradient-descent step subtracts lr·(o − t), i.e. adds lr·(t − o).
public struct SquaredError: Loss {
    /// The target value for the true class.
    public var on: Float
    /// The target value for the other classes.
    public var off: Float

    /// Squared error against one-hot targets with `on` / `off` values (0.99 / 0.01 by default).
    public init(on: Float = 0.99, off: Float = 0.01) { self.on = on; self.off = off }

    public func evaluate(_ output: Tensor, labels: [Int]) -> LossResult {
        let n = output.rows
        let target = Tensor.oneHot(labels, classes: output.columns, on: on, off: off)
        var grad = output
        var total: Double = 0
        grad.withUnsafeMutableBufferPointer { o in
            target.withUnsafeBufferPointer { t in
                for i in o.indices {
                    let e = o[i] - t[i]                    // o − t (the negated output error)
                    total += Double(e * e)
                    o[i] = e / Float(n)                     // ∂L/∂o = (o − t) / N
                }
            }
        }
        return LossResult(value: Float(total / (2 * Double(n))), gradient: grad)
    }
}
