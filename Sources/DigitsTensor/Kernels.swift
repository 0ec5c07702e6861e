// Elementwise kernels and reductions on raw buffers: the loops every layer shares.
//
// Each kernel works on `UnsafeMutablePointer<Float>` ranges so that layers can call it on a
// tensor's storage without copies. Loops are written over SIMD8 lanes with a scalar tail;
// the compiler turns them into AVX (or NEON) instructions.

#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// Shared elementwise kernels and reductions.
public enum Kernels {
    /// √x in each lane, correctly rounded as IEEE 754 requires (so bit for bit `Float.squareRoot()`).
    ///
    /// On x86 it is two SSE square-root instructions; Swift's own `SIMD8.squareRoot()` calls the C library's
    /// `sqrtf` once per lane there, several times slower.
    @inlinable
    public static func squareRoot(_ x: SIMD8<Float>) -> SIMD8<Float> {
        #if arch(x86_64)
        return SIMD8(lowHalf: _mm_sqrt_ps(x.lowHalf), highHalf: _mm_sqrt_ps(x.highHalf))
        #else
        return x.squareRoot()
        #endif
    }

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

    /// out[j] = initial[j] + Σ_i terms[i].scale · base[terms[i].row·stride + j] for j in 0..<width (initial = 0
    /// when nil).
    ///
    /// A weighted sum of `count` rows gathered from `base`: the zero-skipping dense kernels use it with the
    /// rows of W for the nonzero inputs of a sample, and with the rows of ∂L/∂y for the samples where an
    /// input is nonzero; the zero-skipping convolution gradients with image rows and kernel rows. Works 64
    /// columns at a time (then 32, 16, 8, 1) with the partial sums held in registers; for each j the terms are
    /// added in the order i = 0, 1, 2, …. `out` may be `initial` (an in-place sum).
    @inlinable
    public static func combineRows(count: Int, terms: UnsafePointer<RowTerm>, stride: Int,
                                   base: UnsafePointer<Float>, width: Int,
                                   initial: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        var j = 0
        while j + 64 <= width {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
            if let initial {
                let q = initial + j
                a0 = load(q); a1 = load(q + 8); a2 = load(q + 16); a3 = load(q + 24)
                a4 = load(q + 32); a5 = load(q + 40); a6 = load(q + 48); a7 = load(q + 56)
            }
            for i in 0..<count {
                let s = V(repeating: terms[i].scale)
                let p = base + Int(terms[i].row) * stride + j
                // a += s·w as fused multiply-adds (one rounding each).
                a0 = a0.mulAdd(s, load(p)); a1 = a1.mulAdd(s, load(p + 8))
                a2 = a2.mulAdd(s, load(p + 16)); a3 = a3.mulAdd(s, load(p + 24))
                a4 = a4.mulAdd(s, load(p + 32)); a5 = a5.mulAdd(s, load(p + 40))
                a6 = a6.mulAdd(s, load(p + 48)); a7 = a7.mulAdd(s, load(p + 56))
            }
            let o = out + j
            store(a0, o); store(a1, o + 8); store(a2, o + 16); store(a3, o + 24)
            store(a4, o + 32); store(a5, o + 40); store(a6, o + 48); store(a7, o + 56)
            j += 64
        }
        if j + 32 <= width {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            if let initial { let q = initial + j; a0 = load(q); a1 = load(q + 8); a2 = load(q + 16); a3 = load(q + 24) }
            for i in 0..<count {
                let s = V(repeating: terms[i].scale)
                let p = base + Int(terms[i].row) * stride + j
                a0 = a0.mulAdd(s, load(p)); a1 = a1.mulAdd(s, load(p + 8))
                a2 = a2.mulAdd(s, load(p + 16)); a3 = a3.mulAdd(s, load(p + 24))
            }
            let o = out + j
            store(a0, o); store(a1, o + 8); store(a2, o + 16); store(a3, o + 24)
            j += 32
        }
        if j + 16 <= width {
            var a0 = V(), a1 = V()
            if let initial { a0 = load(initial + j); a1 = load(initial + j + 8) }
            for i in 0..<count {
                let s = V(repeating: terms[i].scale)
                let p = base + Int(terms[i].row) * stride + j
                a0 = a0.mulAdd(s, load(p)); a1 = a1.mulAdd(s, load(p + 8))
            }
            store(a0, out + j); store(a1, out + j + 8)
            j += 16
        }
        while j + 8 <= width {
            var a = initial.map { load($0 + j) } ?? V()
            for i in 0..<count { a = a.mulAdd(V(repeating: terms[i].scale), load(base + Int(terms[i].row) * stride + j)) }
            store(a, out + j)
            j += 8
        }
        while j < width {
            var a = initial?[j] ?? 0
            for i in 0..<count { a += terms[i].scale * base[Int(terms[i].row) * stride + j] }
            out[j] = a
            j += 1
        }
    }

    /// out[j·rows + i] = a[i·columns + j]: the transpose of the rows×columns matrix at `a`, in blocks of 8×8
    /// (`transposeBlock`), the edges that do not fill a block one value at a time.
    @inlinable
    public static func transpose(_ a: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        let rows8 = rows & ~7, columns8 = columns & ~7
        var i = 0
        while i < rows8 {
            var j = 0
            while j < columns8 { transposeBlock(a + i * columns + j, columns, out + j * rows + i, rows); j += 8 }
            for ii in i..<(i + 8) { for jj in columns8..<columns { out[jj * rows + ii] = a[ii * columns + jj] } }
            i += 8
        }
        for ii in rows8..<rows { for jj in 0..<columns { out[jj * rows + ii] = a[ii * columns + jj] } }
    }

    /// The 8×8 block at `a` (rows `lda` apart) written transposed at `out` (rows `ldo` apart), in registers:
    /// rows interleaved in pairs, then in pairs of pairs, then the 4-wide halves exchanged (each step one
    /// shuffle instruction per row).
    @inlinable @inline(__always)
    public static func transposeBlock(_ a: UnsafePointer<Float>, _ lda: Int, _ out: UnsafeMutablePointer<Float>, _ ldo: Int) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        // Within each 4-wide half: a and b interleaved (first or second pair of each), then pairs of a and b.
        @inline(__always) func interleaveLow(_ a: V, _ b: V) -> V { V(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5]) }
        @inline(__always) func interleaveHigh(_ a: V, _ b: V) -> V { V(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7]) }
        @inline(__always) func pairsLow(_ a: V, _ b: V) -> V { V(a[0], a[1], b[0], b[1], a[4], a[5], b[4], b[5]) }
        @inline(__always) func pairsHigh(_ a: V, _ b: V) -> V { V(a[2], a[3], b[2], b[3], a[6], a[7], b[6], b[7]) }
        @inline(__always) func halves(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> V { V(lowHalf: a, highHalf: b) }
        let r0 = load(a), r1 = load(a + lda), r2 = load(a + 2 * lda), r3 = load(a + 3 * lda)
        let r4 = load(a + 4 * lda), r5 = load(a + 5 * lda), r6 = load(a + 6 * lda), r7 = load(a + 7 * lda)
        let t0 = interleaveLow(r0, r1), t1 = interleaveHigh(r0, r1), t2 = interleaveLow(r2, r3), t3 = interleaveHigh(r2, r3)
        let t4 = interleaveLow(r4, r5), t5 = interleaveHigh(r4, r5), t6 = interleaveLow(r6, r7), t7 = interleaveHigh(r6, r7)
        let u0 = pairsLow(t0, t2), u1 = pairsHigh(t0, t2), u2 = pairsLow(t1, t3), u3 = pairsHigh(t1, t3)
        let u4 = pairsLow(t4, t6), u5 = pairsHigh(t4, t6), u6 = pairsLow(t5, t7), u7 = pairsHigh(t5, t7)
        store(halves(u0.lowHalf, u4.lowHalf), out); store(halves(u1.lowHalf, u5.lowHalf), out + ldo)
        store(halves(u2.lowHalf, u6.lowHalf), out + 2 * ldo); store(halves(u3.lowHalf, u7.lowHalf), out + 3 * ldo)
        store(halves(u0.highHalf, u4.highHalf), out + 4 * ldo); store(halves(u1.highHalf, u5.highHalf), out + 5 * ldo)
        store(halves(u2.highHalf, u6.highHalf), out + 6 * ldo); store(halves(u3.highHalf, u7.highHalf), out + 7 * ldo)
    }

    /// c[r·ldc + o] = Σ_i a[r·lda + i] · b[o·ldb + i] for each r in `rows` and o in 0..<p: C = A·Bᵀ, every entry
    /// the dot product of a row of A with a row of B, `length` terms long.
    ///
    /// For B with few rows (the transposed weights of a classifier's last layer), where a BLAS call is poorly
    /// shaped. Each dot product is summed in eight lanes (lane l takes i ≡ l mod 8, by fused multiply-adds),
    /// then across the lanes, then the tail: the same bits however the rows are shared out.
    @inlinable
    public static func productWithTransposed(_ a: UnsafePointer<Float>, lda: Int, rows: Range<Int>,
                                             _ b: UnsafePointer<Float>, ldb: Int, bRows p: Int, length: Int,
                                             into c: UnsafeMutablePointer<Float>, ldc: Int) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        for r in rows {
            let x = a + r * lda
            // Four rows of B at a time share each load of x (a last group of fewer repeats its last row).
            var o = 0
            while o < p {
                let w0 = b + o * ldb, w1 = b + min(o + 1, p - 1) * ldb
                let w2 = b + min(o + 2, p - 1) * ldb, w3 = b + min(o + 3, p - 1) * ldb
                var s0 = V(), s1 = V(), s2 = V(), s3 = V()
                var i = 0
                while i + 8 <= length {
                    let xv = load(x + i)
                    s0 = s0.mulAdd(xv, load(w0 + i)); s1 = s1.mulAdd(xv, load(w1 + i))
                    s2 = s2.mulAdd(xv, load(w2 + i)); s3 = s3.mulAdd(xv, load(w3 + i))
                    i += 8
                }
                var t0 = s0.sum(), t1 = s1.sum(), t2 = s2.sum(), t3 = s3.sum()
                while i < length {
                    t0 = t0.mulAdd(x[i], w0[i]); t1 = t1.mulAdd(x[i], w1[i])
                    t2 = t2.mulAdd(x[i], w2[i]); t3 = t3.mulAdd(x[i], w3[i])
                    i += 1
                }
                let out = c + r * ldc + o
                out[0] = t0
                if o + 1 < p { out[1] = t1 }
                if o + 2 < p { out[2] = t2 }
                if o + 3 < p { out[3] = t3 }
                o += 4
            }
        }
    }

    /// c[i·ldc + j] = Σ_r a[r·lda + i] · b[r·ldb + j] for each i in `columns` and j in 0..<p: C = Aᵀ·B over the
    /// `rows` rows of A and B.
    ///
    /// For B with few columns (the weight gradient xᵀ·g of a classifier's last layer), where a BLAS call is
    /// poorly shaped. Each entry is summed over r = 0, 1, … in order by fused multiply-adds, so the bits do
    /// not depend on how the columns are shared out. Works on 16 values of i against 4 of j at a time.
    @inlinable
    public static func transposedProduct(_ a: UnsafePointer<Float>, lda: Int, columns: Range<Int>,
                                         _ b: UnsafePointer<Float>, ldb: Int, bColumns p: Int, rows: Int,
                                         into c: UnsafeMutablePointer<Float>, ldc: Int) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, column i: Int, _ j: Int) {
            if j < p { for l in 0..<8 { c[(i + l) * ldc + j] = v[l] } }
        }
        var i = columns.lowerBound
        while i + 8 <= columns.upperBound {
            let wide = i + 16 <= columns.upperBound
            // Four columns of B at a time (a last group of fewer repeats its last column, unstored).
            var j = 0
            while j < p {
                let j1 = min(j + 1, p - 1), j2 = min(j + 2, p - 1), j3 = min(j + 3, p - 1)
                var s0 = V(), s1 = V(), s2 = V(), s3 = V()
                var u0 = V(), u1 = V(), u2 = V(), u3 = V()
                if wide {
                    for r in 0..<rows {
                        let x = a + r * lda + i, g = b + r * ldb
                        let xv = load(x), xw = load(x + 8)
                        let g0 = V(repeating: g[j]), g1 = V(repeating: g[j1]), g2 = V(repeating: g[j2]), g3 = V(repeating: g[j3])
                        s0 = s0.mulAdd(xv, g0); s1 = s1.mulAdd(xv, g1)
                        s2 = s2.mulAdd(xv, g2); s3 = s3.mulAdd(xv, g3)
                        u0 = u0.mulAdd(xw, g0); u1 = u1.mulAdd(xw, g1)
                        u2 = u2.mulAdd(xw, g2); u3 = u3.mulAdd(xw, g3)
                    }
                } else {
                    for r in 0..<rows {
                        let xv = load(a + r * lda + i), g = b + r * ldb
                        s0 = s0.mulAdd(xv, V(repeating: g[j])); s1 = s1.mulAdd(xv, V(repeating: g[j1]))
                        s2 = s2.mulAdd(xv, V(repeating: g[j2])); s3 = s3.mulAdd(xv, V(repeating: g[j3]))
                    }
                }
                store(s0, column: i, j); store(s1, column: i, j + 1); store(s2, column: i, j + 2); store(s3, column: i, j + 3)
                if wide {
                    store(u0, column: i + 8, j); store(u1, column: i + 8, j + 1)
                    store(u2, column: i + 8, j + 2); store(u3, column: i + 8, j + 3)
                }
                j += 4
            }
            i += wide ? 16 : 8
        }
        while i < columns.upperBound {
            for j in 0..<p {
                var t: Float = 0
                for r in 0..<rows { t = t.mulAdd(a[r * lda + i], b[r * ldb + j]) }
                c[i * ldc + j] = t
            }
            i += 1
        }
    }

    /// Writes the `count` bytes b at `from` to `to` as (b / 255 − mean) / deviation: grey levels as intensities
    /// in [0, 1] with the defaults, standardised intensities otherwise. Sixteen zero bytes (most of a digit's
    /// border) are written in one store.
    @inlinable
    public static func levels(_ from: UnsafePointer<UInt8>, _ to: UnsafeMutablePointer<Float>, count: Int,
                              mean: Float = 0, deviation: Float = 1) {
        let zero = SIMD4<Float>(repeating: (0 - mean) / deviation)
        let (m, d) = (SIMD4<Float>(repeating: mean), SIMD4<Float>(repeating: deviation))
        let standardizes = mean != 0 || deviation != 1   // (x − 0) / 1 is x: no second division then
        var i = 0
        while i + 16 <= count {
            let raw = UnsafeRawPointer(from + i), out = UnsafeMutableRawPointer(to + i)
            let allZero = raw.loadUnaligned(as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self) == 0
            for q in 0..<4 {
                var v = zero
                if !allZero {
                    v = fourLevels(raw.loadUnaligned(fromByteOffset: 4 * q, as: UInt32.self)) / 255
                    if standardizes { v = (v - m) / d }
                }
                out.storeBytes(of: v, toByteOffset: 16 * q, as: SIMD4<Float>.self)
            }
            i += 16
        }
        while i < count { to[i] = (Float(from[i]) / 255 - mean) / deviation; i += 1 }
    }

    /// The four bytes of `bytes` (lowest first) as floats. On x86 four SSE2 instructions (widen with zeros twice,
    /// convert); Swift's generic conversion from SIMD4<UInt8> is a function call.
    @inlinable @inline(__always)
    public static func fourLevels(_ bytes: UInt32) -> SIMD4<Float> {
        #if arch(x86_64)
        let zero = _mm_setzero_si128()
        return _mm_cvtepi32_ps(_mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(Int32(bitPattern: bytes)), zero), zero))
        #else
        return SIMD4<Float>(Float(bytes & 0xFF), Float(bytes >> 8 & 0xFF), Float(bytes >> 16 & 0xFF), Float(bytes >> 24))
        #endif
    }

    /// 1 when v ≠ 0 (NaN included), else 0, in integer arithmetic: |v|'s bits plus 2³¹ − 1 reach bit 31
    /// exactly when they are not all zero. Listing loops write every value and advance by this, with no
    /// branch to mispredict.
    @inlinable @inline(__always)
    public static func nonzeroCount(_ v: Float) -> Int {
        Int(((v.bitPattern & 0x7FFF_FFFF) &+ 0x7FFF_FFFF) >> 31)
    }

    /// The number of nonzero values (NaN included) among the n at `x`.
    @inlinable
    public static func countNonzeros(_ x: UnsafePointer<Float>, _ n: Int) -> Int {
        var count = SIMD8<Int32>()
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<UInt32>.self) & 0x7FFF_FFFF
            count &+= SIMD8<Int32>(truncatingIfNeeded: (v &+ 0x7FFF_FFFF) &>> 31)
            i += 8
        }
        var total = Int(count.wrappedSum())
        while i < n { total += nonzeroCount(x[i]); i += 1 }
        return total
    }

    /// Σ_i x[i] · y[i] for i in 0..<n, summed in eight lanes (lane l takes i ≡ l mod 8), then across them.
    @inlinable
    public static func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = acc.sum()
        while i < n { total += x[i] * y[i]; i += 1 }
        return total
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

    /// Σ (x[i] − mean)² over the n values at `x`, accumulated in Double: in eight lanes (lane l takes
    /// i ≡ l mod 8, in order), then across them, then the tail (a batch-norm variance).
    @inlinable
    public static func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, _ n: Int, from mean: Double) -> Double {
        var low = SIMD4<Double>(), high = SIMD4<Double>()
        let m = SIMD4<Double>(repeating: mean)
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let dl = SIMD4<Double>(v.lowHalf) - m, dh = SIMD4<Double>(v.highHalf) - m
            low += dl * dl
            high += dh * dh
            i += 8
        }
        var s = (low + high).sum()
        while i < n { let d = Double(x[i]) - mean; s += d * d; i += 1 }
        return s
    }

    /// (Σ g[i], Σ g[i]·h[i]) over the n values at `g` and `h`, accumulated in Double in eight lanes like
    /// `sum` (a batch-norm backward pass's two sums).
    @inlinable
    public static func sumAndDot(_ g: UnsafePointer<Float>, _ h: UnsafePointer<Float>, _ n: Int) -> (sum: Double, dot: Double) {
        var sumLow = SIMD4<Double>(), sumHigh = SIMD4<Double>(), dotLow = SIMD4<Double>(), dotHigh = SIMD4<Double>()
        var i = 0
        while i + 8 <= n {
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
            let hv = UnsafeRawPointer(h + i).loadUnaligned(as: SIMD8<Float>.self)
            let gl = SIMD4<Double>(gv.lowHalf), gh = SIMD4<Double>(gv.highHalf)
            sumLow += gl
            sumHigh += gh
            dotLow += gl * SIMD4<Double>(hv.lowHalf)
            dotHigh += gh * SIMD4<Double>(hv.highHalf)
            i += 8
        }
        var sum = (sumLow + sumHigh).sum(), dot = (dotLow + dotHigh).sum()
        while i < n { sum += Double(g[i]); dot += Double(g[i]) * Double(h[i]); i += 1 }
        return (sum, dot)
    }

    /// counts[c] = the number of rows r in 0..<rows with x[r, c] ≠ 0, for each column c of the rows×columns
    /// matrix `x` (counts are overwritten).
    @inlinable
    public static func countNonzerosByColumn(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into counts: UnsafeMutablePointer<Int32>) {
        counts.update(repeating: 0, count: columns)
        for r in 0..<rows {
            let row = x + r * columns
            var c = 0
            while c + 8 <= columns {
                let v = UnsafeRawPointer(row + c).loadUnaligned(as: SIMD8<Float>.self)
                let sum = UnsafeRawPointer(counts + c).loadUnaligned(as: SIMD8<Int32>.self)
                    &+ SIMD8<Int32>(repeating: 0).replacing(with: 1, where: v .!= 0)
                UnsafeMutableRawPointer(counts + c).storeBytes(of: sum, as: SIMD8<Int32>.self)
                c += 8
            }
            while c < columns { if row[c] != 0 { counts[c] += 1 }; c += 1 }
        }
    }

    /// x̂ = (x − mean)·inverseStd and y = scale·x̂ + shift for n floats (batch normalisation's forward pass):
    /// each in float, x̂ rounded before it is scaled, 8 at a time.
    public static func normalize(_ x: UnsafePointer<Float>, _ n: Int, mean: Float, inverseStd: Float, scale: Float, shift: Float,
                                 normalized xh: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        let (m, k, a, b) = (V(repeating: mean), V(repeating: inverseStd), V(repeating: scale), V(repeating: shift))
        var i = 0
        while i + 8 <= n {
            let v = (UnsafeRawPointer(x + i).loadUnaligned(as: V.self) - m) * k
            UnsafeMutableRawPointer(xh + i).storeBytes(of: v, as: V.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: a * v + b, as: V.self)
            i += 8
        }
        while i < n {
            let v = (x[i] - mean) * inverseStd
            xh[i] = v
            y[i] = scale * v + shift
            i += 1
        }
    }

    /// dx = factor·(count·g − sum − x̂·dot) for n floats (batch normalisation's input gradient, with
    /// sum = Σ g and dot = Σ g·x̂ over the channel), each in float in that order, 8 at a time.
    public static func normalizeGradient(_ g: UnsafePointer<Float>, normalized xh: UnsafePointer<Float>, _ n: Int, factor: Float,
                                         count: Float, sum: Float, dot: Float, into dx: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        let (k, m, s, d) = (V(repeating: factor), V(repeating: count), V(repeating: sum), V(repeating: dot))
        var i = 0
        while i + 8 <= n {
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: V.self), hv = UnsafeRawPointer(xh + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(dx + i).storeBytes(of: k * (m * gv - s - hv * d), as: V.self)
            i += 8
        }
        while i < n {
            dx[i] = factor * (count * g[i] - sum - xh[i] * dot)
            i += 1
        }
    }

    /// The sum of the n values at `x`, accumulated in Double: in eight lanes (lane l takes i ≡ l mod 8, in
    /// order), then across them, then the tail, so that the adds of one lane do not wait on the others'.
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
        var low = SIMD4<Double>(), high = SIMD4<Double>()
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            low += SIMD4<Double>(v.lowHalf)
            high += SIMD4<Double>(v.highHalf)
            i += 8
        }
        var s = (low + high).sum()
        while i < n { s += Double(x[i]); i += 1 }
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

/// One term of a weighted sum of rows (`Kernels.combineRows`): row `row` of a matrix, times `scale`.
/// Eight bytes, so that a list of them is written and read one term per access.
@frozen
public struct RowTerm: BitwiseCopyable {
    /// The weight of the row.
    public var scale: Float
    /// The row's index.
    public var row: Int32

    /// The term scale · (row `row`).
    @inlinable
    public init(scale: Float, row: Int32) {
        self.scale = scale
        self.row = row
    }
}
