// A trainable parameter: a value, a gradient of the same shape, and a stable name.

import DigitsTensor

/// A trainable tensor with its gradient and a stable name such as `layers.0.weight`.
///
/// Checkpoints, exporters and optimizers all identify a parameter by `name`.
public final class Parameter {
    /// The stable name, `layers.<index>.<role>`, set when the layer is placed in a model.
    public var name: String
    /// The current value.
    public var value: Tensor
    /// Whether an L2 penalty / weight decay applies (weights yes, biases no).
    public let decays: Bool

    private var storedGradient: Tensor
    private var storedRows: [Int]?
    // A gradient held as factors (see `setOuterProductGradient`), not yet written into `storedGradient`.
    private var factorTerms: [RowTerm] = []
    private var factorVector: [Float] = []
    private var holdsFactors = false

    /// ∂L/∂value from the latest backward pass; same shape as `value`.
    public var gradient: Tensor {
        get { writeFactors(); return storedGradient }
        _modify { writeFactors(); yield &storedGradient }
        set { holdsFactors = false; storedGradient = newValue }
    }

    /// When set, the gradient is zero outside these rows of `value` (its first dimension), in increasing
    /// order, and the memory of the other rows is stale: a layer that skips zero inputs says so, and plain
    /// SGD and RMSprop then update only these rows. `densifyGradient()` writes the zeros for rules that need
    /// every entry.
    public var gradientRows: [Int]? {
        get { writeFactors(); return storedRows }
        set { writeFactors(); storedRows = newValue }
    }

    /// A parameter holding `value`, with a zero gradient.
    public init(name: String, value: Tensor, decays: Bool) {
        self.name = name
        self.value = value
        self.storedGradient = Tensor(shape: value.shape)
        self.decays = decays
    }

    /// Makes `gradient` complete: zeros the rows outside `gradientRows`, then clears it.
    public func densifyGradient() {
        guard let rows = gradientRows else { return }
        storedRows = nil
        let rowCount = value.shape.first ?? 1
        let width = value.count / max(rowCount, 1)
        storedGradient.withUnsafeMutableBufferPointer { g in
            var next = 0
            for r in 0..<rowCount {
                if next < rows.count && rows[next] == r { next += 1; continue }
                (g.baseAddress! + r * width).update(repeating: 0, count: width)
            }
        }
    }

    /// Sets the gradient to an outer product given by its factors: row `terms[t].row` of ∂L/∂value is
    /// `terms[t].scale · vector`, every other row is zero. The rows must be distinct and increasing, and
    /// `vector` as long as a row.
    ///
    /// One sample's gradient of a dense layer is such a product, ∂L/∂W = x ⊗ g, with a term for each nonzero
    /// input. Kept as factors it costs nothing to form: plain SGD applies it to the weights directly
    /// (`withGradientFactors`), and it is written out, row by row as scale · vector, only when somebody reads
    /// `gradient` or `gradientRows`.
    public func setOuterProductGradient(terms: UnsafeBufferPointer<RowTerm>, vector: UnsafeBufferPointer<Float>) {
        let rowCount = value.shape.first ?? 1
        precondition(vector.count * rowCount == value.count,
                     "Parameter \(name): a factor of \(vector.count) values does not span a row of \(value.shape)")
        factorTerms.removeAll(keepingCapacity: true)
        factorTerms.append(contentsOf: terms)
        factorVector.removeAll(keepingCapacity: true)
        factorVector.append(contentsOf: vector)
        holdsFactors = true
    }

    /// Calls `body` with the factors of the gradient (the terms and the vector given to
    /// `setOuterProductGradient`) when it is held as factors, and returns its result; nil otherwise.
    public func withGradientFactors<R>(_ body: (UnsafeBufferPointer<RowTerm>, UnsafeBufferPointer<Float>) -> R) -> R? {
        guard holdsFactors else { return nil }
        return factorTerms.withUnsafeBufferPointer { terms in factorVector.withUnsafeBufferPointer { body(terms, $0) } }
    }

    /// Writes a gradient held as factors into `storedGradient`: each listed row is scale · vector (the other
    /// rows are left stale and `storedRows` lists the written ones).
    private func writeFactors() {
        guard holdsFactors else { return }
        holdsFactors = false
        let width = factorVector.count
        storedGradient.withUnsafeMutableBufferPointer { g in
            factorVector.withUnsafeBufferPointer { v in
                for term in factorTerms {
                    let row = g.baseAddress! + Int(term.row) * width
                    for j in 0..<width { row[j] = term.scale * v[j] }   // ∂L/∂W[k] = x[k]·g
                }
            }
        }
        storedRows = factorTerms.map { Int($0.row) }
    }
}

/// Whether a model runs for training (caches for backward, dropout on) or for evaluation.
public enum Mode: Sendable {
    /// Training: layers keep what backward needs.
    case training
    /// Evaluation: no caches, deterministic.
    case evaluation
}
