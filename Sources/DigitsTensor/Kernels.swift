// Elementwise kernels and reductions on raw buffers: the loops every layer shares.
//
// Each kernel works on `UnsafeMutablePointer<Float>` ranges so that layers can call it on a
// tensor's storage without copies. Loops are written over SIMD8 lanes with a scalar tail;
// the compiler turns them into AVX (or NEON) instructions.

/// Shared elementwise kernels and reductions.
public enum Kernels {
    /// y[i] += alpha · x[i] for i in 0..<n.
    @inlinable
    public static func axpy(_ n: Int, alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        var i = 0
        let a = SIMD8<Float>(repeating: alpha)
        while i + 8 <= n {
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: yv + a * xv, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { y[i] += alpha * x[i]; i += 1 }
    }

    /// Adds the row vector `bias` (length `columns`) to each of the `rows` rows of `matrix`.
    @inlinable
    public static func addRowVector(_ matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int, _ bias: UnsafePointer<Float>) {
        for r in 0..<rows { axpy(columns, alpha: 1, bias, matrix + r * columns) }
    }

    /// out[c] = Σ_r matrix[r, c]: the column sums of a rows×columns matrix (a bias gradient).
    @inlinable
    public static func columnSums(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: columns)
        for r in 0..<rows { axpy(columns, alpha: 1, matrix + r * columns, out) }
    }

    /// The index of the largest of the n values at `x` (the first one on ties).
    @inlinable
    public static func argmax(_ x: UnsafePointer<Float>, _ n: Int) -> Int {
        var best = 0
        var bestValue = x[0]
        for i in 1..<n where x[i] > bestValue { best = i; bestValue = x[i] }
        return best
    }

    /// The sum of the n values at `x`, accumulated in Double.
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
        var s: Double = 0
        for i in 0..<n { s += Double(x[i]) }
        return s
    }
}

extension Tensor {
    /// One-hot rows: row i holds `on` at column `labels[i]` and `off` elsewhere; shape [labels.count, classes].
    public static func oneHot(_ labels: [Int], classes: Int, on: Float = 1, off: Float = 0) -> Tensor {
        var t = Tensor(shape: [labels.count, classes], repeating: off)
        for (i, y) in labels.enumerated() {
            precondition(y >= 0 && y < classes, "oneHot: label \(y) outside 0..<\(classes)")
            t.storage[i * classes + y] = on
        }
        return t
    }

    /// The index of the largest element in each row of a [rows, columns] tensor.
    public func argmaxRows() -> [Int] {
        let n = columns
        return withUnsafeBufferPointer { p in
            (0..<rows).map { r in Kernels.argmax(p.baseAddress! + r * n, n) }
        }
    }
}
