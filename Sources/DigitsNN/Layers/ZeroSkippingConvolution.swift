// A convolution computed over the nonzeros of its input, and its gradients over the nonzeros of ∂L/∂y
// (internal to DigitsNN).
//
// Behind ReLU and max-pooling a convolution's input is 40-60% exact zeros, and at least three quarters of its
// ∂L/∂y: pooling sends each window's gradient to one position, ReLU zeros the rest. Each nonzero input
// x̃[c, h, w] adds x̃[c, h, w] · W[o, c, p, q] to y[o, i, j] wherever h = i·sh + p, w = j·sw + q; each nonzero
// g = ∂L/∂y[o, i, j] adds
//
//     g · x̃[c, i·sh + p, j·sw + q]   to ∂L/∂W[o, c, p, q]   and   g · W[o, c, p, q]   to ∂L/∂x̃[c, i·sh + p, j·sw + q]
//
// for every (c, p, q). A zero adds nothing, so summing over the nonzeros alone is exact.
// With the image stored channels last inside its zero padding, x̃[i·sh + p, j·sw + q, c] for q in 0..<KW and
// c in 0..<C is one run of KW·C floats, and every sum above is a `Kernels.combineRows` over a list of nonzeros.

import DigitsTensor

/// The channels-last layout the zero-skipping kernels work in, for one convolution geometry.
///
/// A sample is its padded image x̃ [Hp, Wp, C] (rows, columns, channels; zeros in the padding), followed by
/// `paddedRun − run` spare floats. Kernel row p sees the run of `run` = KW·C floats that starts p·`rowStride`
/// after the field of output (i, j) (`fieldOffsets`). The kernels handle runs `paddedRun` long (a multiple of
/// 8), and kernel rows are stored that long with zeros after the first `run` floats, so the extra floats read
/// next to a run meet zero weights (and the spare floats keep the last run's extra reads inside the sample).
struct ChannelsLastLayout {
    let geometry: ConvolutionGeometry
    /// Hp = (OH − 1)·sh + KH, the padded rows a kernel reads.
    let paddedHeight: Int
    /// Wp = (OW − 1)·sw + KW, the padded columns a kernel reads.
    let paddedWidth: Int
    /// KW·C: the floats of one kernel row at one position.
    let run: Int
    /// `run` rounded up to a multiple of 8.
    let paddedRun: Int

    init(_ g: ConvolutionGeometry) {
        geometry = g
        paddedHeight = (g.outputHeight - 1) * g.strideHeight + g.kernelHeight
        paddedWidth = (g.outputWidth - 1) * g.strideWidth + g.kernelWidth
        run = g.kernelWidth * g.channels
        paddedRun = (run + 7) / 8 * 8
    }

    /// Wp·C: the floats between one padded row and the next.
    var rowStride: Int { paddedWidth * geometry.channels }
    /// The floats one sample occupies: the padded image and the spare floats the last run's padding reads.
    var sampleSize: Int { paddedHeight * rowStride + paddedRun - run }
    /// The floats of one kernel in this layout: KH runs of `paddedRun`.
    var kernelSize: Int { geometry.kernelHeight * paddedRun }

    /// Where the receptive field of each output (i, j) starts, x̃[i·sh, j·sw, 0], at index i·OW + j of `offsets`.
    func fieldOffsets(into offsets: UnsafeMutablePointer<Int32>) {
        let g = geometry
        for i in 0..<g.outputHeight {
            for j in 0..<g.outputWidth {
                offsets[i * g.outputWidth + j] = Int32(truncatingIfNeeded: (i * g.strideHeight * paddedWidth + j * g.strideWidth) * g.channels)
            }
        }
    }

    /// x̃ [Hp, Wp, C] for one sample x [C, H, W]: x[c, h, w] at (h + pt, w + pl, c), zeros elsewhere
    /// (input pixels no output reads are left out).
    func pack(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let g = geometry
        let C = g.channels
        out.update(repeating: 0, count: sampleSize)
        let rows = 0 ..< min(g.height, paddedHeight - g.padTop), columns = 0 ..< min(g.width, paddedWidth - g.padLeft)
        for h in rows {
            let line = out + ((h + g.padTop) * paddedWidth + g.padLeft) * C
            for c in 0..<C {
                let source = x + (c * g.height + h) * g.width
                for w in columns { line[w * C + c] = source[w] }
            }
        }
    }

    /// dx [C, H, W] for one sample from its gradient in this layout: the inverse of `pack` on the pixels it
    /// copies, zero for the pixels no output reads.
    func unpack(_ dx̃: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let g = geometry
        let C = g.channels
        dx.update(repeating: 0, count: g.imageSize)
        let rows = 0 ..< min(g.height, paddedHeight - g.padTop), columns = 0 ..< min(g.width, paddedWidth - g.padLeft)
        for h in rows {
            let line = dx̃ + ((h + g.padTop) * paddedWidth + g.padLeft) * C
            for c in 0..<C {
                let target = dx + (c * g.height + h) * g.width
                for w in columns { target[w] = line[w * C + c] }
            }
        }
    }

    /// Calls body(o, c, p, q, i) for every weight W[o, c, p, q] of O kernels, i being its index in W [O, C, KH, KW].
    @inline(__always)
    private func forEachWeight(outputs O: Int, _ body: (_ o: Int, _ c: Int, _ p: Int, _ q: Int, _ index: Int) -> Void) {
        let g = geometry
        for o in 0..<O {
            for c in 0..<g.channels {
                for p in 0..<g.kernelHeight {
                    for q in 0..<g.kernelWidth { body(o, c, p, q, ((o * g.channels + c) * g.kernelHeight + p) * g.kernelWidth + q) }
                }
            }
        }
    }

    /// Where W[o, c, p, q] sits in W̃ [O, KH, paddedRun] (`packKernels`).
    @inline(__always)
    private func kernelIndex(_ o: Int, _ c: Int, _ p: Int, _ q: Int) -> Int {
        o * kernelSize + p * paddedRun + q * geometry.channels + c
    }

    /// W̃ [O, KH, paddedRun]: W̃[o, p, q·C + c] = W[o, c, p, q] for W [O, C, KH, KW], zeros after each run.
    func packKernels(_ w: UnsafePointer<Float>, outputs O: Int, into out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: O * kernelSize)
        forEachWeight(outputs: O) { o, c, p, q, i in out[kernelIndex(o, c, p, q)] = w[i] }
    }

    /// The floats before the first row of a transposed kernel (`packTransposedKernels`): the forward pass
    /// addresses Wᵀ from (OW − 1)·sw·C rows before it.
    func transposedMargin(outputs O: Int) -> Int {
        (geometry.outputWidth - 1) * geometry.strideWidth * geometry.channels * O
    }

    /// Wᵀ [KH·KW·C, O] after `transposedMargin` zeros: Wᵀ[(p·KW + q)·C + c, o] = W[o, c, p, q]. Returns where Wᵀ starts.
    func packTransposedKernels(_ w: UnsafePointer<Float>, outputs O: Int, into out: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        let g = geometry
        let margin = transposedMargin(outputs: O)
        out.update(repeating: 0, count: margin)
        let wt = out + margin
        forEachWeight(outputs: O) { o, c, p, q, i in wt[((p * g.kernelWidth + q) * g.channels + c) * O + o] = w[i] }
        return wt
    }

    /// dW [O, C, KH, KW] = Σ_k sums[k] over `count` kernel-layout sums [O, KH, paddedRun] (adding k = 0, 1, …).
    func unpackKernels(_ sums: UnsafePointer<Float>, count: Int, outputs O: Int, into dw: UnsafeMutablePointer<Float>) {
        forEachWeight(outputs: O) { o, c, p, q, i in
            let at = kernelIndex(o, c, p, q)
            var total = sums[at]
            for k in 1..<max(1, count) { total += sums[k * O * kernelSize + at] }
            dw[i] = total
        }
    }
}

enum ZeroSkippingConvolution {
    /// Samples per partial weight gradient: the batch's ∂L/∂W is summed group by group, in group order,
    /// so the result is the same whatever the number of threads.
    static let groupSize = 8

    /// The list of nonzeros one sample needs at most: one RowTerm per output or per padded input.
    static func termCount(_ layout: ChannelsLastLayout, outputs O: Int) -> Int {
        max(O * layout.geometry.outputPixels, layout.paddedHeight * layout.rowStride)
    }

    /// y [O, OH·OW] for one sample from its packed input x̃, with Wᵀ from `packTransposedKernels` and bias b:
    ///
    ///     y[o, i, j] = b[o] + Σ_p Σ_{(q, c): x̃[i·sh + p, j·sw + q, c] ≠ 0} x̃[i·sh + p, j·sw + q, c] · Wᵀ[(p·KW + q)·C + c, o]
    ///
    /// The nonzeros of x̃ are listed once, in order, with `marks` [Hp·Wp + 1] saying where each pixel's begin,
    /// so that the nonzeros under kernel row p at (i, j) are one stretch of the list. Each output adds its
    /// terms to the bias in the order (p, q, c). `work` holds y channels last, [OH·OW, O], before it is transposed.
    static func forward(packedInput x̃: UnsafePointer<Float>, _ layout: ChannelsLastLayout, transposedKernels wt: UnsafePointer<Float>,
                        bias b: UnsafePointer<Float>, outputs O: Int, terms: UnsafeMutablePointer<RowTerm>,
                        marks: UnsafeMutablePointer<Int32>, work: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let geo = layout.geometry
        let (C, KH, KW, OH, OW, P) = (geo.channels, geo.kernelHeight, geo.kernelWidth, geo.outputHeight, geo.outputWidth, geo.outputPixels)
        let (Hp, Wp, sh, sw) = (layout.paddedHeight, layout.paddedWidth, geo.strideHeight, geo.strideWidth)
        var e = 0
        for h in 0..<Hp {
            let line = x̃ + h * layout.rowStride
            for w in 0..<Wp {
                marks[h * Wp + w] = Int32(truncatingIfNeeded: e)
                for c in 0..<C {
                    let v = line[w * C + c]
                    terms[e] = RowTerm(scale: v, row: Int32(truncatingIfNeeded: w * C + c))   // a row of Wᵀ, from j·sw·C on
                    e &+= Kernels.nonzeroCount(v)
                }
            }
        }
        marks[Hp * Wp] = Int32(truncatingIfNeeded: e)
        for i in 0..<OH {
            var j = 0
            while j < OW {
                let out = work + (i * OW + j) * O
                if O % 8 == 0 && O <= 32 {
                    // Two neighbouring outputs at once where there are two: twice the independent sums in flight.
                    let count = j + 1 < OW ? 2 : 1
                    @inline(__always) func sums(_ O: Int) {   // O a constant in each case below
                        fieldSums(count: count, terms: terms, marks: marks + (i * sh * Wp + j * sw), markStride: Wp, markStep: sw,
                                  runPixels: KW, rows: KH, kernels: wt - j * sw * C * O, kernelStep: sw * C * O, rowStride: KW * C * O,
                                  outputs: O, bias: b, into: out)
                    }
                    switch O {
                    case 32: sums(32)
                    case 24: sums(24)
                    case 16: sums(16)
                    default: sums(8)
                    }
                    j += count
                    continue
                }
                for p in 0..<KH {
                    let pixel = (i * sh + p) * Wp + j * sw
                    let start = Int(marks[pixel]), end = Int(marks[pixel + KW])
                    Kernels.combineRows(count: end - start, terms: terms + start, stride: O, base: wt + (p * KW - j * sw) * C * O,
                                        width: O, initial: p == 0 ? b : UnsafePointer(out), out: out)
                }
                j += 1
            }
        }
        for o in 0..<O {
            let row = y + o * P
            for k in 0..<P { row[k] = work[k * O + o] }
        }
    }

    /// out = b + Σ_p Σ_{t in row p's stretch} t.scale · kernels[p·rowStride + t.row·O ..< + O] for O = `outputs`
    /// (8, 16, 24 or 32) held in registers across all `rows` kernel rows: `Kernels.combineRows` row by row,
    /// in the same order, without storing and reloading the sums between rows. Row p's stretch of `terms`
    /// runs from marks[p·markStride] to marks[p·markStride + runPixels].
    ///
    /// With `count` 2, also the next output along the row, whose marks start `markStep` later, whose kernels
    /// `kernelStep` floats earlier and whose sums go `outputs` floats after `out`: the two outputs' terms are
    /// taken in step (each output's in its own order), so that a multiply-add need not wait for the one before.
    @inline(__always)
    private static func fieldSums(count: Int, terms: UnsafePointer<RowTerm>, marks: UnsafePointer<Int32>, markStride: Int,
                                  markStep: Int, runPixels: Int, rows: Int, kernels: UnsafePointer<Float>, kernelStep: Int,
                                  rowStride: Int, outputs O: Int, bias b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        typealias Sums = (V, V, V, V)
        let start: Sums = (load(b), O > 8 ? load(b + 8) : V(), O > 16 ? load(b + 16) : V(), O > 24 ? load(b + 24) : V())
        var a = start, c = start
        /// s += t.scale · w[t.row·O ..< + O], for the O outputs.
        @inline(__always) func add(_ s: inout Sums, _ t: RowTerm, _ base: UnsafePointer<Float>) {
            let k = V(repeating: t.scale), w = base + Int(t.row) * O
            s.0 = s.0.mulAdd(k, load(w))
            if O > 8 { s.1 = s.1.mulAdd(k, load(w + 8)) }
            if O > 16 { s.2 = s.2.mulAdd(k, load(w + 16)) }
            if O > 24 { s.3 = s.3.mulAdd(k, load(w + 24)) }
        }
        for p in 0..<rows {
            let first = Int(marks[p * markStride]), end = Int(marks[p * markStride + runPixels])
            let base = kernels + p * rowStride
            if count == 1 {
                for t in first..<end { add(&a, terms[t], base) }
                continue
            }
            let second = Int(marks[p * markStride + markStep]), secondEnd = Int(marks[p * markStride + markStep + runPixels])
            let secondBase = base - kernelStep
            let both = min(end - first, secondEnd - second)
            for k in 0..<both {
                add(&a, terms[first + k], base)
                add(&c, terms[second + k], secondBase)
            }
            for t in (first + both)..<end { add(&a, terms[t], base) }
            for t in (second + both)..<secondEnd { add(&c, terms[t], secondBase) }
        }
        @inline(__always) func put(_ s: Sums, _ o: UnsafeMutablePointer<Float>) {
            store(s.0, o)
            if O > 8 { store(s.1, o + 8) }
            if O > 16 { store(s.2, o + 16) }
            if O > 24 { store(s.3, o + 24) }
        }
        put(a, out)
        if count == 2 { put(c, out + O) }
    }

    /// For one sample with gradient g = ∂L/∂y [O, OH·OW] and packed input x̃: adds its ∂L/∂W, in kernel
    /// layout [O, KH, paddedRun], to `weightSum`; and, when `kernels` (W̃) and `inputGradient` are given,
    /// writes its ∂L/∂x [C, H, W] there (through ∂L/∂x̃ in `work`, `layout.sampleSize` floats).
    ///
    /// ∂L/∂W[o, p, ·] += Σ_{(i,j): g[o,i,j] ≠ 0} g[o, i, j] · x̃[run of (i, j), row p]      (terms listed by o)
    /// ∂L/∂x̃[run of (i, j), row p] += Σ_{o: g[o,i,j] ≠ 0} g[o, i, j] · W̃[o, p, ·]           (terms listed by (i, j))
    static func backward(sample g: UnsafePointer<Float>, packedInput x̃: UnsafePointer<Float>, _ layout: ChannelsLastLayout,
                         offsets: UnsafePointer<Int32>, outputs O: Int, terms: UnsafeMutablePointer<RowTerm>,
                         weightSum: UnsafeMutablePointer<Float>, kernels: UnsafePointer<Float>?,
                         inputGradient dx: UnsafeMutablePointer<Float>?, work dx̃: UnsafeMutablePointer<Float>) {
        let geo = layout.geometry
        let (P, KH) = (geo.outputPixels, geo.kernelHeight)
        let (width, rowStride, kernelSize) = (layout.paddedRun, layout.rowStride, layout.kernelSize)
        for o in 0..<O {
            // The nonzeros of g[o] with where their fields start: every value is written, the count moves past
            // the nonzero ones only; eight zeros in a row are skipped at once.
            let row = g + o * P
            var count = 0, k = 0
            while k < P {
                let stop = min(k + 8, P)
                if stop - k == 8 && all(UnsafeRawPointer(row + k).loadUnaligned(as: SIMD8<Float>.self) .== 0) { k = stop; continue }
                while k < stop {
                    terms[count] = RowTerm(scale: row[k], row: offsets[k])
                    count &+= Kernels.nonzeroCount(row[k])
                    k += 1
                }
            }
            if count == 0 { continue }
            if width == 8 && KH <= 8 {
                // Runs of one vector (a first layer): every kernel row at once, KH sums in flight instead of one.
                shortRunSums(count: count, terms: terms, rows: KH, rowStride: rowStride, base: x̃, into: weightSum + o * kernelSize)
                continue
            }
            for p in 0..<KH {
                let sum = weightSum + o * kernelSize + p * width
                Kernels.combineRows(count: count, terms: terms, stride: 1, base: x̃ + p * rowStride, width: width,
                                    initial: sum, out: sum)
            }
        }
        guard let W̃ = kernels, let dx else { return }
        dx̃.update(repeating: 0, count: layout.sampleSize)
        for k in 0..<P {
            var count = 0
            for o in 0..<O {
                let v = g[o * P + k]
                terms[count] = RowTerm(scale: v, row: Int32(truncatingIfNeeded: o))
                count &+= Kernels.nonzeroCount(v)
            }
            if count == 0 { continue }
            let field = dx̃ + Int(offsets[k])
            for p in 0..<KH {
                let run = field + p * rowStride
                Kernels.combineRows(count: count, terms: terms, stride: kernelSize, base: W̃ + p * width, width: width,
                                    initial: run, out: run)
            }
        }
        layout.unpack(dx̃, into: dx)
    }

    /// sums[p·8 ..< p·8 + 8] += Σ_t terms[t].scale · base[terms[t].row + p·rowStride ..< + 8] for p in 0..<rows
    /// (at most 8): the weight gradient's sums for runs of 8 floats, each row's terms added in list order (the
    /// same sums as one `Kernels.combineRows` per row), all rows in one pass over the list.
    private static func shortRunSums(count: Int, terms: UnsafePointer<RowTerm>, rows: Int, rowStride: Int,
                                     base: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        @inline(__always) func run(_ rows: Int) {   // rows a constant in each case below
            var s = (load(sums), rows > 1 ? load(sums + 8) : V(), rows > 2 ? load(sums + 16) : V(), rows > 3 ? load(sums + 24) : V(),
                     rows > 4 ? load(sums + 32) : V(), rows > 5 ? load(sums + 40) : V(), rows > 6 ? load(sums + 48) : V(),
                     rows > 7 ? load(sums + 56) : V())
            for t in 0..<count {
                let k = V(repeating: terms[t].scale), x = base + Int(terms[t].row)
                s.0 = s.0.mulAdd(k, load(x))
                if rows > 1 { s.1 = s.1.mulAdd(k, load(x + rowStride)) }
                if rows > 2 { s.2 = s.2.mulAdd(k, load(x + 2 * rowStride)) }
                if rows > 3 { s.3 = s.3.mulAdd(k, load(x + 3 * rowStride)) }
                if rows > 4 { s.4 = s.4.mulAdd(k, load(x + 4 * rowStride)) }
                if rows > 5 { s.5 = s.5.mulAdd(k, load(x + 5 * rowStride)) }
                if rows > 6 { s.6 = s.6.mulAdd(k, load(x + 6 * rowStride)) }
                if rows > 7 { s.7 = s.7.mulAdd(k, load(x + 7 * rowStride)) }
            }
            store(s.0, sums)
            if rows > 1 { store(s.1, sums + 8) }
            if rows > 2 { store(s.2, sums + 16) }
            if rows > 3 { store(s.3, sums + 24) }
            if rows > 4 { store(s.4, sums + 32) }
            if rows > 5 { store(s.5, sums + 40) }
            if rows > 6 { store(s.6, sums + 48) }
            if rows > 7 { store(s.7, sums + 56) }
        }
        switch rows {
        case 5: run(5)
        case 3: run(3)
        case 1: run(1)
        case 2: run(2)
        case 4: run(4)
        case 6: run(6)
        case 7: run(7)
        default: run(8)
        }
    }
}
