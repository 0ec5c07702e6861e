// Dense (fully connected) layer: y = x·W + b, with kernels that skip zero inputs.

import DigitsTensor

/// A fully connected layer, y = x·W + b.
///
/// Shapes: x [N, inputs], W [inputs, outputs] (row k holds input k's weights to every output),
/// b [outputs], y [N, outputs].
/// Backward, with g = ∂L/∂y:  ∂L/∂W = xᵀ·g,  ∂L/∂b = Σ_n g[n],  ∂L/∂x = g·Wᵀ.
///
/// Most MNIST pixels are zero, so when a batch is sparse (at most `sparseDensityLimit` of its inputs
/// nonzero) the forward pass adds only the rows of W of nonzero inputs, y[n] = b + Σ_{k: x[n,k]≠0} x[n,k]·W[k],
/// and the weight gradient is computed only for rows k that some sample lights up,
/// ∂L/∂W[k] = Σ_n x[n,k]·g[n]. Both are the same sums as the dense products, term for term, in a fixed order.
/// A dense batch goes through BLAS, except in a layer with at most `narrowOutputLimit` outputs (a classifier's
/// last layer), whose products are too narrow for it: there each y[n,j] is a dot product of x[n] with
/// column j of W, and ∂L/∂W, ∂L/∂x are summed by `Kernels.transposedProduct` and `Kernels.combineRows`.
public final class Dense: Layer {
    /// Number of input features.
    public let inputs: Int
    /// Number of output features.
    public let outputs: Int
    /// W, shape [inputs, outputs].
    public let weight: Parameter
    /// b, shape [outputs].
    public let bias: Parameter
    /// The largest fraction of nonzero inputs for which the zero-skipping kernels are used
    /// (0 forces the dense BLAS path everywhere, 1 forces the sparse one). A single sample, however dense,
    /// and very small products use them too, and very small products skip BLAS for ∂L/∂x, unless the
    /// limit is 0.
    public var sparseDensityLimit: Float = 0.3
    /// Layers with at most this many outputs run dense batches through their own narrow kernels rather than
    /// BLAS (unless `sparseDensityLimit` is 0, which keeps BLAS).
    public static let narrowOutputLimit = 16

    private var input = Tensor(shape: [0])
    private var inputWasSparse = false
    // The nonzeros of the last sparse input, as lists kept from call to call.
    // By sample (forward): sample r's entries, each an input k and the value x[r,k], in increasing k; those
    // with k in chunk c (inputs c·inputsPerChunk ..< (c+1)·inputsPerChunk) are entryMark[r·(chunks+1) + c]
    // ..< entryMark[r·(chunks+1) + c + 1]. Each part of the batch lists its samples in its own region (the
    // part of samples a..<b begins at a·inputs + p).
    // By input (built by a training forward of several samples, for the weight gradient): input k owns
    // entries columnStart[k]..<columnStart[k+1], each a sample r and the value x[r,k], samples in
    // increasing order.
    private let entryMark = ScratchBuffer<Int>()
    /// The number of chunks of `inputsPerChunk` inputs (the last one may be shorter).
    private var chunks: Int { (inputs + Self.inputsPerChunk - 1) / Self.inputsPerChunk }
    /// The rows of W (inputs) a sample's sum takes at a time: 96 rows of a 64-column block are 24 KB, which
    /// (copied out of W) stay in the first-level cache while every sample of the task adds its terms from them.
    private static let inputsPerChunk = 96
    private let entries = ScratchBuffer<RowTerm>()
    private let columnStart = ScratchBuffer<Int>()
    private let columnEntries = ScratchBuffer<RowTerm>()
    private let partCount = ScratchBuffer<Int32>()     // [part, input]: a part's count of nonzeros of each input
    private let partCursor = ScratchBuffer<Int>()      // [part, input]: the next entry of a part in each input's list
    private var columnListsBuilt = false
    private let packedChunks = ScratchBuffer<Float>()     // per forward task: one chunk of a column block of W
    private let chunkTermCounts = ScratchBuffer<Int>()    // per forward task: its samples' terms in each chunk
    private let gradientBlocks = ScratchBuffer<Float>()  // ∂L/∂y by 64-column blocks, for the weight gradient
    private var lastForwardWasDense = false            // then the next one counts the nonzeros before listing them
    private let transposedWeight = ScratchBuffer<Float>()  // Wᵀ [outputs, inputs], for the narrow kernels

    /// True when dense batches go through the narrow kernels instead of BLAS.
    private var usesNarrowKernels: Bool { sparseDensityLimit > 0 && outputs <= Self.narrowOutputLimit }

    /// A dense layer with weights drawn by `initializer` from `rng` and a zero bias.
    public init(inputs: Int, outputs: Int, initializer: WeightInitializer, rng: inout SeededGenerator) {
        self.inputs = inputs
        self.outputs = outputs
        let w = initializer.draw(shape: [inputs, outputs], fanIn: inputs, fanOut: outputs, rng: &rng)
        weight = Parameter(name: "weight", value: w, decays: true)
        bias = Parameter(name: "bias", value: Tensor(shape: [outputs]), decays: false)
    }

    public var parameters: [Parameter] { [weight, bias] }
    public var spec: LayerSpec { .dense(inputs: inputs, outputs: outputs) }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.dropFirst().reduce(1, *) == inputs,
                     "Dense(\(inputs)→\(outputs)): input shape \(inputShape) has the wrong feature count")
        return [inputShape[0], outputs]
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let n = x.rows
        precondition(x.columns == inputs, "Dense(\(inputs)→\(outputs)): got input \(x.shape)")
        var y = Tensor.unfilled(shape: [n, outputs])   // every path below writes all of y
        guard sparseDensityLimit > 0 else {
            denseForward(x, into: &y, mode: mode)
            return y
        }
        // Zero-skipping kernels for sparse batches, for products too small to be worth a BLAS call, and for
        // one sample (a matrix-vector product reads all of W; the kernel reads only the rows it needs).
        let small = isSmallProduct(batch: n) || n == 1
        if !small && lastForwardWasDense {
            // A dense batch usually follows a dense one: one quick count spares it the listing pass.
            let nonzeros = x.withUnsafeBufferPointer { Kernels.countNonzeros($0.baseAddress!, $0.count) }
            if Float(nonzeros) > sparseDensityLimit * Float(x.count) {
                denseForward(x, into: &y, mode: mode)
                return y
            }
        }
        let byInput = mode == .training && n > 1
        let parts = Parallel.partCount(n, workPerItem: inputs * outputs / 4)
        let (inputs, outputs) = (self.inputs, self.outputs)
        let chunks = self.chunks, marksPerSample = chunks + 1
        let marks = entryMark.reserve(n * marksPerSample)
        let capacity = n * inputs + parts
        let terms = entries.reserve(capacity)
        let counts = partCount.reserve(parts * inputs), cursors = partCursor.reserve(parts * inputs)
        x.withUnsafeBufferPointer { px in
            let X = px.baseAddress!
            // First pass, each part over its samples: list each sample's nonzeros in the part's region
            // (training: and count the part's nonzeros of each input).
            Parallel.forEachPart(parts, of: n) { p, samples in
                var e = samples.lowerBound * inputs + p
                for r in samples {
                    let mark = marks + r * marksPerSample
                    let xr = X + r * inputs
                    var chunk = 0, chunkStart = 0
                    // Eight inputs at a time, skipped when all are zero (most of a digit's border);
                    // otherwise each is written at e, and e moves on past the nonzero ones (no branch to
                    // mispredict). The region's one spare entry takes the last sample's trailing write.
                    var k = 0
                    while k < inputs {
                        if k == chunkStart { mark[chunk] = e; chunk += 1; chunkStart += Self.inputsPerChunk }
                        let stop = min(k + 8, inputs)
                        if stop - k < 8 || any(UnsafeRawPointer(xr + k).loadUnaligned(as: SIMD8<Float>.self) .!= 0) {
                            while k < stop {
                                let v = xr[k]
                                terms[e] = RowTerm(scale: v, row: Int32(k))
                                e += Kernels.nonzeroCount(v)
                                k += 1
                            }
                        }
                        k = stop
                    }
                    mark[chunks] = e
                }
                if byInput { Kernels.countNonzerosByColumn(X + samples.lowerBound * inputs, rows: samples.count, columns: inputs, into: counts + p * inputs) }
            }
        }
        var total = 0
        for r in 0..<n { total += marks[r * marksPerSample + chunks] - marks[r * marksPerSample] }
        let sparse = small || Float(total) <= sparseDensityLimit * Float(max(x.count, 1))
        guard sparse else {
            denseForward(x, into: &y, mode: mode)
            return y
        }
        lastForwardWasDense = false
        columnListsBuilt = byInput
        if mode == .training {
            input = x
            inputWasSparse = true
        }
        let columnTerms = columnEntries.reserve(byInput ? total : 1)
        if byInput {
            // Where each part's entries go in each input's list: inputs in order, parts in order within one.
            let columnStarts = columnStart.reserve(inputs + 1)
            var running = 0
            for k in 0..<inputs {
                columnStarts[k] = running
                for p in 0..<parts {
                    cursors[p * inputs + k] = running
                    running += Int(counts[p * inputs + k])
                }
            }
            columnStarts[inputs] = running
            // Second pass, the same parts: file each part's entries into each input's list.
            Parallel.forEachPart(parts, of: n) { p, samples in
                let cursor = cursors + p * inputs
                for r in samples {
                    for e in marks[r * marksPerSample]..<marks[r * marksPerSample + chunks] {
                        let k = Int(terms[e].row)
                        columnTerms[cursor[k]] = RowTerm(scale: terms[e].scale, row: Int32(r))
                        cursor[k] += 1
                    }
                }
            }
        }
        // Third pass: y[r] = b + Σ_{k: x[r,k]≠0} x[r,k]·W[k], by 64-column block of W and within a block by
        // chunk of `inputsPerChunk` inputs, each chunk's partial sums added into y (the same additions in the
        // same order as one sum). The blocks are shared out among the tasks first, then the samples. A chunk
        // that the task's samples read twice per row or more is copied out of W first (96 rows of 64 columns,
        // 24 KB, that then stay in the first-level cache): read in place, its rows lie `outputs` floats apart,
        // and with 512 outputs all of them fall in a few of that cache's sets. (A layer of at most 64 outputs
        // reads whole rows, one after the other, and one sample reads each row once: no copy pays there.)
        let blockCount = (outputs + 63) / 64
        let blockGroups = min(parts, blockCount), sampleGroups = max(1, parts / blockGroups)
        let tasks = blockGroups * sampleGroups
        let packed = packedChunks.reserve(tasks * Self.inputsPerChunk * 64)
        let usedCounts = chunkTermCounts.reserve(tasks * chunks)
        weight.value.withUnsafeBufferPointer { pw in
            bias.value.withUnsafeBufferPointer { pb in
                y.withUnsafeMutableBufferPointer { py in
                    let (W, b, Y) = (pw.baseAddress!, pb.baseAddress!, py.baseAddress!)
                    Parallel.forEachPart(tasks, of: tasks) { task, _ in
                        let (group, share) = (task / sampleGroups, task % sampleGroups)
                        let samples = n * share / sampleGroups ..< n * (share + 1) / sampleGroups
                        let copy = packed + task * Self.inputsPerChunk * 64
                        let used = usedCounts + task * chunks   // the task's samples' terms in each chunk
                        for c in 0..<chunks {
                            used[c] = 0
                            for r in samples { used[c] += marks[r * marksPerSample + c + 1] - marks[r * marksPerSample + c] }
                        }
                        for block in blockCount * group / blockGroups ..< blockCount * (group + 1) / blockGroups {
                            let j = block * 64, width = min(64, outputs - j)
                            for c in 0..<chunks {
                                guard c == 0 || used[c] > 0 else { continue }
                                let rows = c * Self.inputsPerChunk ..< min(inputs, (c + 1) * Self.inputsPerChunk)
                                var base = W + j, stride = outputs
                                if outputs > 64 && used[c] >= 2 * rows.count {
                                    for k in rows { (copy + (k - rows.lowerBound) * 64).update(from: W + k * outputs + j, count: width) }
                                    base = UnsafePointer(copy - rows.lowerBound * 64)   // row k of the block at base + 64k
                                    stride = 64
                                }
                                for r in samples {
                                    let mark = marks + r * marksPerSample, out = Y + r * outputs + j
                                    guard c == 0 || mark[c + 1] > mark[c] else { continue }
                                    Kernels.combineRows(count: mark[c + 1] - mark[c], terms: terms + mark[c], stride: stride,
                                                        base: base, width: width, initial: c == 0 ? b + j : UnsafePointer(out),
                                                        out: out)
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// y = b + x·W for dense batches: through BLAS, or for a narrow layer as y[r,j] = b[j] + x[r]·Wᵀ[j].
    private func denseForward(_ x: Tensor, into y: inout Tensor, mode: Mode) {
        let n = x.rows
        let (inputs, outputs) = (self.inputs, self.outputs)
        let narrow = usesNarrowKernels
        let WT = narrow ? transposeWeight() : nil
        x.withUnsafeBufferPointer { px in
            weight.value.withUnsafeBufferPointer { pw in
                bias.value.withUnsafeBufferPointer { pb in
                    y.withUnsafeMutableBufferPointer { py in
                        let (X, W, b, Y) = (px.baseAddress!, pw.baseAddress!, pb.baseAddress!, py.baseAddress!)
                        if let WT {
                            Parallel.forEachRange(n, workPerItem: inputs * outputs) { rows in
                                Kernels.productWithTransposed(X, lda: inputs, rows: rows, WT, ldb: inputs, bRows: outputs,
                                                              length: inputs, into: Y, ldc: outputs)
                                for r in rows { for j in 0..<outputs { Y[r * outputs + j] += b[j] } }
                            }
                            return
                        }
                        for r in 0..<n { (Y + r * outputs).update(from: b, count: outputs) }  // y = b
                        BLAS.gemm(transposeA: false, transposeB: false, m: n, n: outputs, k: inputs,  // y += x·W
                                  a: X, lda: inputs, b: W, ldb: outputs, beta: 1, c: Y, ldc: outputs)
                    }
                }
            }
        }
        columnListsBuilt = false
        lastForwardWasDense = true
        if mode == .training {
            input = x
            inputWasSparse = false
        }
    }

    public func backward(_ g: Tensor, needsInputGradient: Bool) -> Tensor {
        let n = g.rows
        let (inputs, outputs) = (self.inputs, self.outputs)
        precondition(input.rows == n && g.columns == outputs, "Dense.backward: gradient \(g.shape) does not match the last forward")
        g.withUnsafeBufferPointer { pg in
            if inputWasSparse {
                sparseWeightGradient(pg.baseAddress!, batch: n)
            } else {
                let narrow = usesNarrowKernels
                input.withUnsafeBufferPointer { px in
                    weight.gradient.withUnsafeMutableBufferPointer { pdw in
                        let (X, G, dW) = (px.baseAddress!, pg.baseAddress!, pdw.baseAddress!)
                        // ∂L/∂W = xᵀ · g   [inputs, outputs]
                        if narrow {
                            Parallel.forEachRange((inputs + 15) / 16, workPerItem: 16 * n * outputs) { blocks in
                                Kernels.transposedProduct(X, lda: inputs, columns: blocks.lowerBound * 16 ..< min(inputs, blocks.upperBound * 16),
                                                          G, ldb: outputs, bColumns: outputs, rows: n, into: dW, ldc: outputs)
                            }
                        } else {
                            BLAS.gemm(transposeA: true, transposeB: false, m: inputs, n: outputs, k: n,
                                      a: X, lda: inputs, b: G, ldb: outputs, c: dW, ldc: outputs)
                        }
                    }
                }
                weight.gradientRows = nil
            }
            bias.gradient.withUnsafeMutableBufferPointer { pdb in
                // ∂L/∂b = Σ_n g[n]
                Kernels.columnSums(pg.baseAddress!, rows: n, columns: outputs, into: pdb.baseAddress!)
            }
        }
        guard needsInputGradient else { return Tensor(shape: [0]) }
        // ∂L/∂x = g · Wᵀ   [N, inputs]
        var dx = Tensor.unfilled(shape: [n, inputs])   // every path below writes all of ∂L/∂x
        let small = isSmallProduct(batch: n)
        let WT = usesNarrowKernels && !small ? transposeWeight() : nil
        g.withUnsafeBufferPointer { pg in
            weight.value.withUnsafeBufferPointer { pw in
                dx.withUnsafeMutableBufferPointer { pdx in
                    let (G, W, DX) = (pg.baseAddress!, pw.baseAddress!, pdx.baseAddress!)
                    if sparseDensityLimit > 0 && small {
                        // A product too small to be worth a BLAS call (one sample of a small layer):
                        // ∂L/∂x[r,k] = g[r] · W[k], one dot product each. (A limit of 0 forces BLAS here too.)
                        for r in 0..<n {
                            for k in 0..<inputs { DX[r * inputs + k] = Kernels.dot(outputs, G + r * outputs, W + k * outputs) }
                        }
                        return
                    }
                    if let WT {
                        // A narrow layer: ∂L/∂x[r] = Σ_j g[r,j]·Wᵀ[j], a weighted sum of the rows of Wᵀ.
                        Parallel.forEachRange(n, workPerItem: inputs * outputs) { rows in
                            withUnsafeTemporaryAllocation(of: RowTerm.self, capacity: outputs) { terms in
                                for r in rows {
                                    for j in 0..<outputs { terms[j] = RowTerm(scale: G[r * outputs + j], row: Int32(j)) }
                                    Kernels.combineRows(count: outputs, terms: terms.baseAddress!, stride: inputs, base: WT,
                                                        width: inputs, initial: nil, out: DX + r * inputs)
                                }
                            }
                        }
                        return
                    }
                    BLAS.gemm(transposeA: false, transposeB: true, m: n, n: inputs, k: outputs,
                              a: G, lda: outputs, b: W, ldb: outputs, c: DX, ldc: inputs)
                }
            }
        }
        return dx.reshaped(input.shape)
    }

    /// Wᵀ [outputs, inputs], copied out of W into `transposedWeight`.
    private func transposeWeight() -> UnsafePointer<Float> {
        let (inputs, outputs) = (self.inputs, self.outputs)
        let WT = transposedWeight.reserve(inputs * outputs)
        weight.value.withUnsafeBufferPointer { Kernels.transpose($0.baseAddress!, rows: inputs, columns: outputs, into: WT) }
        return UnsafePointer(WT)
    }

    /// True when a batch of `n` makes products too small to be worth a BLAS call (n·inputs·outputs ≤ 2¹⁶).
    private func isSmallProduct(batch n: Int) -> Bool { n * inputs * outputs <= 1 << 16 }

    /// Copies rows `rows` of W [inputs, outputs] into its column blocks at `out`, block after block: block b
    /// holds W[k, 64b ..< 64b + 64] at (b·inputs + k)·64 (the last block's rows padded to 64, padding unread).
    private static func copyColumnBlocks(_ matrix: UnsafePointer<Float>, rows: Range<Int>, rowCount: Int, columns: Int,
                                         into out: UnsafeMutablePointer<Float>) {
        for j in stride(from: 0, to: columns, by: 64) {
            let width = min(64, columns - j), block = out + (j / 64) * rowCount * 64
            for k in rows { (block + k * 64).update(from: matrix + k * columns + j, count: width) }
        }
    }

    /// ∂L/∂W[k] = Σ_n x[n,k]·g[n] for the inputs k that are nonzero somewhere in the batch, from the lists
    /// the forward pass made; the other rows are zero and are left unwritten, which `weight.gradientRows`
    /// records. For one sample, ∂L/∂W = x ⊗ g is handed to the weight as its factors (the nonzero inputs and
    /// g), which plain SGD applies without writing the product out.
    private func sparseWeightGradient(_ g: UnsafePointer<Float>, batch n: Int) {
        let outputs = self.outputs
        if !columnListsBuilt {
            // One sample: its nonzero inputs are the rows, ∂L/∂W[k] = x[k]·g, kept as the factors of x ⊗ g.
            precondition(n == 1, "Dense.backward: the last forward pass did not list its nonzeros by input")
            let (e0, e1) = (entryMark.pointer[0], entryMark.pointer[chunks])
            weight.setOuterProductGradient(terms: UnsafeBufferPointer(start: entries.pointer + e0, count: e1 - e0),
                                           vector: UnsafeBufferPointer(start: g, count: outputs))
            return
        }
        weight.gradient.withUnsafeMutableBufferPointer { pdw in
            let dW = pdw.baseAddress!
            let starts = columnStart.pointer, terms = columnEntries.pointer
            // ∂L/∂y read in 64-column blocks, block by block (each 64 of the n rows' columns, laid out
            // contiguously so that a block stays in the first-level cache while every row of W uses it).
            let gBlocks = gradientBlocks.reserve((outputs + 63) / 64 * n * 64)
            Parallel.forEachRange(n, workPerItem: outputs, minimumWork: 1 << 14) { rows in
                Self.copyColumnBlocks(g, rows: rows, rowCount: n, columns: outputs, into: gBlocks)
            }
            Parallel.forEachBalancedRange(inputs, starts: starts, minimumTotal: 4096) { ks in
                for j in stride(from: 0, to: outputs, by: 64) {
                    let block = UnsafePointer(gBlocks + (j / 64) * n * 64)
                    for k in ks where starts[k + 1] > starts[k] {
                        let e0 = starts[k]
                        // ∂L/∂W[k] = Σ_n x[n,k]·g[n]
                        Kernels.combineRows(count: starts[k + 1] - e0, terms: terms + e0, stride: 64, base: block,
                                            width: min(64, outputs - j), initial: nil, out: dW + k * outputs + j)
                    }
                }
            }
            weight.gradientRows = (0..<inputs).filter { starts[$0 + 1] > starts[$0] }
        }
    }
}
