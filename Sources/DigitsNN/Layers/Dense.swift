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

    private var input = Tensor(shape: [0])
    private var inputWasSparse = false
    // The nonzeros of the last sparse input, as lists. By sample (forward): sample r owns entries
    // rowStart[r]..<rowStart[r+1], each the input k, the offset of its row of W (k·outputs, or k·64 into
    // a block of `blockedWeight`) and the value x[r,k].
    // By input (backward): input k owns entries columnStart[k]..<columnStart[k+1], each the offset
    // r·outputs of its row of ∂L/∂y and the value x[r,k].
    private var rowStart: [Int] = []
    private var columnStart: [Int] = []
    private var columnCount: [Int] = []
    private var entryOffset: [Int32] = []
    private var blockedWeight: [Float] = []
    private var entryInput: [Int32] = []   // the input k of each by-sample entry
    private var entryValue: [Float] = []
    private var columnEntryOffset: [Int32] = []
    private var columnEntryValue: [Float] = []

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
        var y = Tensor(shape: [n, outputs])
        let nonzeros = x.withUnsafeBufferPointer { p in Kernels.countNonzeros(p.baseAddress!, p.count) }
        // Zero-skipping kernels for sparse batches, for products too small to be worth a BLAS call, and for
        // one sample (a matrix-vector product reads all of W; the kernel reads only the rows it needs).
        let small = n * inputs * outputs <= 1 << 16 || n == 1
        let sparse = sparseDensityLimit > 0 && (small || Float(nonzeros) <= sparseDensityLimit * Float(max(x.count, 1)))
        x.withUnsafeBufferPointer { px in
            weight.value.withUnsafeBufferPointer { pw in
                bias.value.withUnsafeBufferPointer { pb in
                    y.withUnsafeMutableBufferPointer { py in
                        let (X, W, b, Y) = (px.baseAddress!, pw.baseAddress!, pb.baseAddress!, py.baseAddress!)
                        if sparse {
                            // A large batch first copies W's 64-column blocks out whole (`blockedWeight`): a
                            // block read in place is 64 of every row's `outputs` columns, a stride that maps all
                            // its cache lines onto a few cache sets.
                            let blocked = outputs > 64 && n >= 64
                            if blocked { self.copyColumnBlocks(W) }
                            let rowStride = blocked ? 64 : outputs
                            self.gatherRowNonzeros(X, batch: n, total: nonzeros, rowStride: rowStride)
                            self.blockedWeight.withUnsafeBufferPointer { pbw in
                            self.rowStart.withUnsafeBufferPointer { start in
                                self.entryOffset.withUnsafeBufferPointer { off in
                                    self.entryValue.withUnsafeBufferPointer { val in
                                        let inputs = self.inputs
                                        Parallel.forEachRange(n, workPerItem: inputs * outputs / 4) { rows in
                                            // Column blocks outermost, so a block of W stays in cache across samples.
                                            for j in stride(from: 0, to: outputs, by: 64) {
                                                let block = blocked ? pbw.baseAddress! + (j / 64) * inputs * 64 : W + j
                                                for r in rows {
                                                    let e0 = start[r]
                                                    // y[n] = b + Σ_{k: x[n,k]≠0} x[n,k]·W[k]
                                                    Kernels.combineRows(count: start[r + 1] - e0, scales: val.baseAddress! + e0,
                                                                        offsets: off.baseAddress! + e0, base: block,
                                                                        width: min(64, outputs - j), initial: b + j,
                                                                        out: Y + r * outputs + j)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                            }
                        } else {
                            for r in 0..<n { (Y + r * outputs).update(from: b, count: outputs) }  // y = b
                            BLAS.gemm(transposeA: false, transposeB: false, m: n, n: outputs, k: inputs,  // y += x·W
                                      a: X, lda: inputs, b: W, ldb: outputs, beta: 1, c: Y, ldc: outputs)
                        }
                    }
                }
            }
        }
        if mode == .training {
            input = x
            inputWasSparse = sparse
        }
        return y
    }

    public func backward(_ g: Tensor, needsInputGradient: Bool) -> Tensor {
        let n = g.rows
        precondition(input.rows == n && g.columns == outputs, "Dense.backward: gradient \(g.shape) does not match the last forward")
        g.withUnsafeBufferPointer { pg in
            if inputWasSparse {
                sparseWeightGradient(pg.baseAddress!, batch: n)
            } else {
                input.withUnsafeBufferPointer { px in
                    weight.gradient.withUnsafeMutableBufferPointer { pdw in
                        // ∂L/∂W = xᵀ · g   [inputs, outputs]
                        BLAS.gemm(transposeA: true, transposeB: false, m: inputs, n: outputs, k: n,
                                  a: px.baseAddress!, lda: inputs, b: pg.baseAddress!, ldb: outputs,
                                  c: pdw.baseAddress!, ldc: outputs)
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
        var dx = Tensor(shape: [n, inputs])
        g.withUnsafeBufferPointer { pg in
            weight.value.withUnsafeBufferPointer { pw in
                dx.withUnsafeMutableBufferPointer { pdx in
                    let (G, W, DX) = (pg.baseAddress!, pw.baseAddress!, pdx.baseAddress!)
                    if sparseDensityLimit > 0 && n * inputs * outputs <= 1 << 16 {
                        // A product too small to be worth a BLAS call (one sample of a small layer):
                        // ∂L/∂x[r,k] = g[r] · W[k], one dot product each. (A limit of 0 forces BLAS here too.)
                        for r in 0..<n {
                            for k in 0..<inputs { DX[r * inputs + k] = Kernels.dot(outputs, G + r * outputs, W + k * outputs) }
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

    /// Copies W's columns in blocks of 64 into `blockedWeight`, block after block: block b holds
    /// W[k, 64b ..< 64b + 64] at k·64 (the last block's rows padded to 64).
    private func copyColumnBlocks(_ W: UnsafePointer<Float>) {
        let blocks = (outputs + 63) / 64
        if blockedWeight.count != blocks * inputs * 64 { blockedWeight = [Float](repeating: 0, count: blocks * inputs * 64) }
        blockedWeight.withUnsafeMutableBufferPointer { p in
            let out = p.baseAddress!
            for b in 0..<blocks {
                let j = b * 64, width = min(64, outputs - j)
                for k in 0..<inputs { (out + (b * inputs + k) * 64).update(from: W + k * outputs + j, count: width) }
            }
        }
    }

    /// Lists the nonzeros of x [n, inputs] by sample: offsets k·`rowStride` (the row of input k in W, or in
    /// a block of `blockedWeight`) and values x[r,k]. `total` is the number of nonzeros in x, already
    /// counted by `forward`.
    private func gatherRowNonzeros(_ X: UnsafePointer<Float>, batch n: Int, total: Int, rowStride: Int) {
        if rowStart.count != n + 1 { rowStart = [Int](repeating: 0, count: n + 1) }
        if entryOffset.count < total {
            entryOffset = [Int32](repeating: 0, count: total)
            entryValue = [Float](repeating: 0, count: total)
            entryInput = [Int32](repeating: 0, count: total)
        }
        rowStart.withUnsafeMutableBufferPointer { start in
            entryOffset.withUnsafeMutableBufferPointer { off in
                entryValue.withUnsafeMutableBufferPointer { val in
                entryInput.withUnsafeMutableBufferPointer { input in
                    var e = 0
                    for r in 0..<n {
                        start[r] = e
                        let xr = X + r * inputs
                        for k in 0..<inputs where xr[k] != 0 {
                            off[e] = Int32(k * rowStride); val[e] = xr[k]; input[e] = Int32(k); e += 1
                        }
                    }
                    start[n] = e
                }
                }
            }
        }
    }

    /// ∂L/∂W[k] = Σ_n x[n,k]·g[n] for the inputs k that are nonzero somewhere in the batch; the other
    /// rows are zero and are left unwritten, which `weight.gradientRows` records.
    private func sparseWeightGradient(_ g: UnsafePointer<Float>, batch n: Int) {
        if n == 1 {
            // One sample: its nonzero inputs are the rows, ∂L/∂W[k] = x[k]·g.
            var rows: [Int] = []
            rows.reserveCapacity(rowStart[1])
            entryInput.withUnsafeBufferPointer { input in
                entryValue.withUnsafeBufferPointer { val in
                    weight.gradient.withUnsafeMutableBufferPointer { pdw in
                        var zero: Int32 = 0
                        for e in 0..<rowStart[1] {
                            let k = Int(input[e])
                            rows.append(k)
                            Kernels.combineRows(count: 1, scales: val.baseAddress! + e, offsets: &zero, base: g,
                                                width: outputs, initial: nil, out: pdw.baseAddress! + k * outputs)
                        }
                    }
                }
            }
            weight.gradientRows = rows
            return
        }
        if columnCount.count != inputs {
            columnCount = [Int](repeating: 0, count: inputs)
            columnStart = [Int](repeating: 0, count: inputs + 1)
        }
        let total = rowStart[n]
        if columnEntryOffset.count < total {
            columnEntryOffset = [Int32](repeating: 0, count: total)
            columnEntryValue = [Float](repeating: 0, count: total)
        }
        var rows: [Int] = []
        // Regroup the forward pass's lists by input column (a counting sort), samples in increasing order.
        rowStart.withUnsafeBufferPointer { rstart in
            entryInput.withUnsafeBufferPointer { input in
                entryValue.withUnsafeBufferPointer { rval in
                    columnCount.withUnsafeMutableBufferPointer { count in
                        count.update(repeating: 0)
                        for e in 0..<total { count[Int(input[e])] += 1 }
                        columnStart.withUnsafeMutableBufferPointer { start in
                            start[0] = 0
                            for k in 0..<inputs { start[k + 1] = start[k] + count[k] }
                            columnEntryOffset.withUnsafeMutableBufferPointer { coff in
                                columnEntryValue.withUnsafeMutableBufferPointer { cval in
                                    var fill = Array(start.prefix(inputs))
                                    for r in 0..<n {
                                        for e in rstart[r]..<rstart[r + 1] {
                                            let k = Int(input[e])
                                            coff[fill[k]] = Int32(r * outputs); cval[fill[k]] = rval[e]; fill[k] += 1
                                        }
                                    }
                                }
                            }
                        }
                        rows = (0..<inputs).filter { count[$0] > 0 }
                    }
                }
            }
        }
        columnCount.withUnsafeBufferPointer { count in
            columnStart.withUnsafeBufferPointer { start in
                columnEntryOffset.withUnsafeBufferPointer { coff in
                    columnEntryValue.withUnsafeBufferPointer { cval in
                        weight.gradient.withUnsafeMutableBufferPointer { pdw in
                            let dW = pdw.baseAddress!
                            Parallel.forEachBalancedRange(count, minimumTotal: 4096) { ks in
                                for k in ks where count[k] > 0 {
                                    let e0 = start[k]
                                    // ∂L/∂W[k] = Σ_n x[n,k]·g[n]
                                    Kernels.combineRows(count: start[k + 1] - e0, scales: cval.baseAddress! + e0,
                                                        offsets: coff.baseAddress! + e0, base: g, width: outputs,
                                                        initial: nil, out: dW + k * outputs)
                                }
                            }
                        }
                    }
                }
            }
        }
        weight.gradientRows = rows
    }
}
