// Matrix products through BLAS: OpenBLAS on Linux, Accelerate on Apple systems.
//
// Every product in digits goes through `gemm` here, so the one place to read (or to swap the
// library) is this file. A plain triple loop, `referenceGEMM`, is kept beside it as the
// definition and as the oracle that tests compare the fast path against.

import Foundation
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Matrix products on row-major `Float` buffers.
public enum BLAS {
    /// C = alpha · op(A) · op(B) + beta · C, all row-major.
    ///
    /// Shapes: op(A) is m×k, op(B) is k×n, C is m×n. `op(X)` is X or Xᵀ as `transposeA` / `transposeB` say;
    /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
    ///
    /// Results do not depend on the thread count: C is cut into fixed tiles (by shape alone), each tile is
    /// one single-threaded library call, and threads only share out whole tiles. A multi-threaded BLAS
    /// may split the sum over k between threads, which changes the rounding with the thread count.
    public static func gemm(
        transposeA: Bool, transposeB: Bool,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        _ = libraryIsSingleThreaded
        let rowBounds = tileBounds(m, minimum: 64)
        if rowBounds.count > 2 {
            // Tiles of rows of C: rows i of op(A) start at a + i·lda (or a + i when transposed).
            Parallel.forEachRange(rowBounds.count - 1, workPerItem: m / (rowBounds.count - 1) * n * k) { tiles in
                for t in tiles {
                    let i0 = rowBounds[t], rows = rowBounds[t + 1] - i0
                    call(transposeA, transposeB, rows, n, k, alpha, transposeA ? a + i0 : a + i0 * lda, lda,
                         b, ldb, beta, c + i0 * ldc, ldc)
                }
            }
            return
        }
        let columnBounds = tileBounds(n, minimum: 128)
        if columnBounds.count > 2 {
            // Tiles of columns of C when C has too few rows to cut: columns j of op(B) start at b + j (or b + j·ldb
            // when transposed).
            Parallel.forEachRange(columnBounds.count - 1, workPerItem: m * n / (columnBounds.count - 1) * k) { tiles in
                for t in tiles {
                    let j0 = columnBounds[t], columns = columnBounds[t + 1] - j0
                    call(transposeA, transposeB, m, columns, k, alpha, a, lda,
                         transposeB ? b + j0 * ldb : b + j0, ldb, beta, c + j0, ldc)
                }
            }
            return
        }
        call(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// Where the fixed tiles of a dimension of `count` rows or columns begin, and `count` at the end: as many
    /// tiles as hold at least `minimum` each, at most 8, of nearly equal sizes (boundaries on multiples of 8),
    /// so that the threads given whole tiles get nearly equal work. A function of the shape only.
    static func tileBounds(_ count: Int, minimum: Int) -> [Int] {
        let tiles = max(1, min(8, count / minimum))
        return (0...tiles).map { t in t == tiles ? count : (count * t / tiles + 4) / 8 * 8 }
    }

    /// One call to the library with its own threading (`threads` of them), as other programs use it:
    /// the reference rate for benchmarks. Unlike `gemm`, its rounding may change with the thread count.
    public static func libraryGEMM(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int
    ) {
        _ = libraryIsSingleThreaded
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(threads))
        defer { openblas_set_num_threads(1) }
        #endif
        call(transposeA, transposeB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
    }

    /// One single-threaded library call.
    @inline(__always)
    private static func call(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                             _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                             _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        var beta = beta
        if beta == 0 {
            // C = 0 first, then C += alpha·op(A)·op(B): the same sums, but the zeroing is a plain memset, where
            // OpenBLAS's own beta pass (sgemm_beta) took 14% of a lenet5 epoch.
            for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            beta = 1
        }
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Keeps the library's own threads off: digits shares out tiles itself (see `gemm`).
    private static let libraryIsSingleThreaded: Void = {
        #if !canImport(Accelerate)
        openblas_set_num_threads(1)
        #endif
    }()

    /// The definition of `gemm` as a plain triple loop: the oracle tests compare `gemm` against.
    public static func referenceGEMM(
        transposeA: Bool, transposeB: Bool,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Double = 0
                for p in 0..<k {
                    let aip = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bpj = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(aip) * Double(bpj)
                }
                let old = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * Float(sum) + old
            }
        }
    }

    nonisolated(unsafe) private static var configuredThreads = 0

    /// Sets how many threads digits may use, for its products and its own loops.
    public static func setThreads(_ count: Int) {
        configuredThreads = max(1, count)
    }

    /// The number of threads in use: as set by `setThreads`, else one per core.
    public static var threads: Int {
        configuredThreads > 0 ? configuredThreads : ProcessInfo.processInfo.activeProcessorCount
    }
}

extension Tensor {
    /// The matrix product op(a) · op(b) of two rank-2 tensors, with op = transpose where asked.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul: rank-2 tensors expected, got \(a.shape) and \(b.shape)")
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (k2, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        precondition(k == k2, "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        var c = Tensor(shape: [m, n])
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                              a: pa.baseAddress!, lda: a.shape[1],
                              b: pb.baseAddress!, ldb: b.shape[1],
                              c: pc.baseAddress!, ldc: n)
                }
            }
        }
        return c
    }
}
