// Conv2D: a 2-D convolution over NCHW batches, lowered by im2col to one matrix product per batch, or run
// by a direct, a Winograd or a zero-skipping kernel where one is faster.

import DigitsTensor

/// When a convolution computes over the nonzeros alone.
public enum ZeroSkipping: Sendable {
    /// Where it pays: a forward pass whose input is at most `inputLimit` nonzero, a backward pass whose ∂L/∂y
    /// is at most `gradientLimit` nonzero (behind ReLU and max-pooling it is at most a quarter). A first layer
    /// (one channel at stride 1, no ∂L/∂x wanted) runs the direct kernel both ways instead: its kernel rows
    /// are too short to fill the registers (a `cnn` epoch: 12.3-14.3 s skipping zeros, 11.6-12.0 s direct).
    case automatic
    /// Always: every forward and backward pass (for tests and benchmarks).
    case always
    /// Never: the matrix products, and the direct kernel of first layers.
    case never

    /// The largest share of nonzeros in the input at which `.automatic` skips zeros in the forward pass.
    public static let inputLimit = 0.8
    /// The largest share of nonzeros in ∂L/∂y at which `.automatic` skips zeros in the backward pass.
    public static let gradientLimit = 0.4

    /// Whether to skip the zeros of `values`, of which `nonzeros` are nonzero, given the limit for `.automatic`.
    func applies(nonzeros: Int, of count: Int, limit: Double) -> Bool {
        switch self {
        case .always: return true
        case .never: return false
        case .automatic: return Double(nonzeros) <= limit * Double(count)
        }
    }
}

/// A 2-D convolution (a cross-correlation, as PyTorch and TensorFlow compute it):
///
///     y[n, o, i, j] = b[o] + Σ_{c, p, q} W[o, c, p, q] · x̃[n, c, i·sh + p, j·sw + q]
///
/// where x̃ is x with the zeros of `padding` around each image and (sh, sw) is the stride.
///
/// Shapes: x [N, C, H, W], W [O, C, KH, KW] (PyTorch's layout), b [O], y [N, O, OH, OW] with
/// OH = ⌊(H + pad_top + pad_bottom − KH) / sh⌋ + 1 and OW alike (see `Padding`).
///
/// Forward as one matrix product: X = im2col(x) [C·KH·KW, N·OH·OW] holds one receptive field per column,
/// Y = W·X [O, N·OH·OW] with W read as [O, C·KH·KW], then y[n, o] = Y[o, columns of n] + b[o].
/// Backward, with g = ∂L/∂y read as G [O, N·OH·OW] (the same column order):
///
///     ∂L/∂W = G·Xᵀ,   ∂L/∂b[o] = Σ_{n,i,j} g[n, o, i, j],   ∂L/∂x = col2im(Wᵀ·G)
///
/// where col2im adds each column back onto the input pixels it was copied from.
/// When X would exceed `columnBudget` elements the batch is processed in chunks of whole samples.
/// The same sums run other ways where those are faster (each agreeing to float rounding): a first layer by
/// `DirectConvolution`, a 3×3 convolution at stride 1 by Winograd's F(2×2, 3×3) and the forward pass of a 5×5
/// one by F(2×2, 5×5) (`allowsWinograd`), and sparse inputs and gradients over their nonzeros alone (`zeroSkipping`).
public final class Conv2D: Layer {
    /// C, the channels of each input image.
    public let inputChannels: Int
    /// O, the number of filters (output channels).
    public let outputChannels: Int
    /// KH, the kernel height.
    public let kernelHeight: Int
    /// KW, the kernel width.
    public let kernelWidth: Int
    /// sh, the vertical step between receptive fields.
    public let strideHeight: Int
    /// sw, the horizontal step between receptive fields.
    public let strideWidth: Int
    /// The zeros added around each input image.
    public let padding: Padding
    /// W, shape [outputChannels, inputChannels, kernelHeight, kernelWidth].
    public let weight: Parameter
    /// b, shape [outputChannels].
    public let bias: Parameter
    /// The most elements the column matrix may hold (default 2²⁰, 4 MiB); a batch whose
    /// C·KH·KW × N·OH·OW matrix is larger runs in chunks of samples, one product per chunk. Chunks of a few
    /// samples keep their columns in the cache between the products that write and read them (`best`'s
    /// backward passes ran 7-8% faster than with 2²⁵, one 58 MB matrix for its widest layer).
    public var columnBudget = 1 << 20
    /// Whether a convolution over one input channel with stride 1 (a first layer) runs the direct kernel
    /// (`DirectConvolution`) instead of im2col and a matrix product; true by default. The results agree to
    /// float rounding; false forces the matrix product, for tests and benchmarks.
    public var allowsDirectKernel = true
    /// When the layer skips the zeros of its input (forward) and of ∂L/∂y (backward) with the kernels of
    /// `ZeroSkippingConvolution` instead of running the matrix products; `.automatic` by default. The results
    /// agree to float rounding.
    public var zeroSkipping = ZeroSkipping.automatic
    /// Whether a 3×3 convolution at stride 1 over more than one input channel runs Winograd's F(2×2, 3×3)
    /// (`WinogradTiling`: 16 products per 2×2 block of outputs instead of 36) instead of the kernels above:
    /// its forward pass always, its backward pass unless ∂L/∂y is sparse enough for `zeroSkipping`; true by
    /// default. Likewise the forward pass of a 5×5 convolution at stride 1 over more than one input channel,
    /// with 8, 16, 24 or 32 outputs, runs F(2×2, 5×5) (`Winograd5x5`: 36 products per 2×2 block instead of 100).
    /// The results agree to float rounding.
    public var allowsWinograd = true
    /// The most floats the transformed tiles of one chunk of samples may hold, input and output together
    /// (default 2¹⁸, 1 MiB): Winograd runs a batch in chunks small enough to stay in the cache between
    /// the transforms and the products (for `best`, single-threaded, 2¹⁸ gave the shortest step of 2¹⁷ to 2²³).
    public var winogradBudget = 1 << 18

    private var input = Tensor(shape: [0])                  // x of the latest training forward
    private var trainingGeometry: ConvolutionGeometry?      // its sizes
    private let columns = ScratchBuffer<Float>()            // X, then ∂L/∂X in backward
    private let product = ScratchBuffer<Float>()            // Y = W·X, then G in backward
    private let transposedGradient = ScratchBuffer<Float>() // backward: (∂L/∂W)ᵀ = X·Gᵀ [C·KH·KW, O]
    private var columnsHold: Range<Int>?                    // the training samples whose X `columns` holds
    private let kernelScratch = ScratchBuffer<Float>()      // zero skipping: Wᵀ; or W̃ and one ∂L/∂W sum per group
    private let sampleScratch = ScratchBuffer<Float>()      // and per thread or group: one sample's x̃, y or ∂L/∂x̃
    private let termScratch = ScratchBuffer<RowTerm>()      // and per thread or group: one sample's list of nonzeros
    private let offsetScratch = ScratchBuffer<Int32>()      // where each output's receptive field starts in x̃
    private let markScratch = ScratchBuffer<Int32>()        // zero-skipping forward: where each pixel's nonzeros begin

    /// A convolution with weights drawn by `initializer` from `rng` (fan-in C·KH·KW, fan-out O·KH·KW)
    /// and a zero bias.
    public init(inputChannels: Int, outputChannels: Int, kernelSize: (height: Int, width: Int),
                stride: (height: Int, width: Int) = (1, 1), padding: Padding = .valid,
                initializer: WeightInitializer, rng: inout SeededGenerator) {
        precondition(inputChannels > 0 && outputChannels > 0, "Conv2D: channel counts must be positive")
        precondition(kernelSize.height > 0 && kernelSize.width > 0, "Conv2D: kernel size must be positive, got \(kernelSize)")
        precondition(stride.height > 0 && stride.width > 0, "Conv2D: stride must be positive, got \(stride)")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        (kernelHeight, kernelWidth) = kernelSize
        (strideHeight, strideWidth) = stride
        self.padding = padding
        let area = kernelHeight * kernelWidth
        let w = initializer.draw(shape: [outputChannels, inputChannels, kernelHeight, kernelWidth],
                                 fanIn: inputChannels * area, fanOut: outputChannels * area, rng: &rng)
        weight = Parameter(name: "weight", value: w, decays: true)
        bias = Parameter(name: "bias", value: Tensor(shape: [outputChannels]), decays: false)
    }

    /// A convolution with a square `kernelSize`×`kernelSize` kernel and the same stride on both axes.
    public convenience init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1,
                            padding: Padding = .valid, initializer: WeightInitializer, rng: inout SeededGenerator) {
        self.init(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: (kernelSize, kernelSize),
                  stride: (stride, stride), padding: padding, initializer: initializer, rng: &rng)
    }

    /// The weight and the bias.
    public var parameters: [Parameter] { [weight, bias] }

    /// `.conv2d` with this layer's sizes.
    public var spec: LayerSpec {
        .conv2d(inputChannels: inputChannels, outputChannels: outputChannels,
                kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                strideHeight: strideHeight, strideWidth: strideWidth, padding: padding)
    }

    /// [N, O, OH, OW] for an input [N, C, H, W].
    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == 4 && inputShape[1] == inputChannels,
                     "Conv2D(\(inputChannels)→\(outputChannels)): input shape \(inputShape) is not [N, \(inputChannels), H, W]")
        let geo = geometry(height: inputShape[2], width: inputShape[3])
        return [inputShape[0], outputChannels, geo.outputHeight, geo.outputWidth]
    }

    /// y = W ∗ x + b for a batch x [N, C, H, W]; keeps x (and its columns) in `.training` mode.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = outputShape(for: x.shape)
        let geo = geometry(height: x.shape[2], width: x.shape[3])
        let (n, O, K, P) = (x.shape[0], outputChannels, geo.patchSize, geo.outputPixels)
        let direct = allowsDirectKernel && DirectConvolution.applies(to: geo) && zeroSkipping != .always
        if !direct && usesWinograd(geo) {
            let y = winogradForward(x, geo)
            remember(x, geo, mode: mode)
            return y
        }
        if !direct && usesWinograd5x5(geo) {
            let y = winograd5x5Forward(x, geo)
            remember(x, geo, mode: mode)
            return y
        }
        if !direct && n > 0 && zeroSkipping != .never {
            let nonzeros = x.withUnsafeBufferPointer { Kernels.countNonzeros($0.baseAddress!, $0.count) }
            if zeroSkipping.applies(nonzeros: nonzeros, of: x.count, limit: ZeroSkipping.inputLimit) {
                let y = zeroSkippingForward(x, geo)
                remember(x, geo, mode: mode)
                return y
            }
        }
        if direct {
            var y = Tensor.unfilled(shape: shape)   // the direct kernel writes every output
            x.withUnsafeBufferPointer { px in
                weight.value.withUnsafeBufferPointer { pw in
                    bias.value.withUnsafeBufferPointer { pb in
                        y.withUnsafeMutableBufferPointer { py in
                            let (x, W, b, y) = (px.baseAddress!, pw.baseAddress!, pb.baseAddress!, py.baseAddress!)
                            Parallel.forEachRange(n, workPerItem: O * P * K) { range in
                                DirectConvolution.forward(x + range.lowerBound * geo.imageSize, samples: range.count, geo,
                                                          weights: W, bias: b, outputs: O, into: y + range.lowerBound * O * P)
                            }
                        }
                    }
                }
            }
            remember(x, geo, mode: mode)
            return y
        }
        let chunk = samplesPerChunk(geo, batch: n)
        let X = columns.reserve(K * chunk * P)
        let Y = product.reserve(O * chunk * P)
        var y = Tensor.unfilled(shape: shape)   // each chunk writes all of its samples' y
        var held: Range<Int>?
        if n == 0 { return y }
        x.withUnsafeBufferPointer { px in
            weight.value.withUnsafeBufferPointer { pw in
                bias.value.withUnsafeBufferPointer { pb in
                    y.withUnsafeMutableBufferPointer { py in
                        let (x, W, b, y) = (px.baseAddress!, pw.baseAddress!, pb.baseAddress!, py.baseAddress!)
                        for start in stride(from: 0, to: n, by: chunk) {
                            let samples = start ..< min(n, start + chunk)
                            let ld = samples.count * P
                            lower(x, samples: samples, geo, into: X)                   // X = im2col(x[samples])
                            BLAS.gemm(transposeA: false, transposeB: false, m: O, n: ld, k: K,  // Y = W · X
                                      a: W, lda: K, b: X, ldb: ld, c: Y, ldc: ld)
                            Parallel.forEachRange(samples.count, workPerItem: O * P) { range in
                                for s in range {
                                    for o in 0..<O {
                                        let row = y + ((start + s) * O + o) * P, column = Y + o * ld + s * P
                                        let bo = b[o]
                                        for p in 0..<P { row[p] = column[p] + bo }   // y[n, o, p] = Y[o, (n, p)] + b[o]
                                    }
                                }
                            }
                            held = samples
                        }
                    }
                }
            }
        }
        remember(x, geo, mode: mode, columns: held)
        return y
    }

    /// In `.training` mode keeps x and its sizes for `backward`, with the samples whose columns X `columns`
    /// holds (nil when the pass made none); in any mode forgets columns the pass did not make.
    private func remember(_ x: Tensor, _ geo: ConvolutionGeometry, mode: Mode, columns held: Range<Int>? = nil) {
        if mode == .training {
            input = x
            trainingGeometry = geo
        }
        columnsHold = mode == .training ? held : nil
    }

    /// Given g = ∂L/∂y of the latest training forward: ∂L/∂W = G·Xᵀ, ∂L/∂b = Σ g, and ∂L/∂x = col2im(Wᵀ·G) when asked.
    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor {
        guard let geo = trainingGeometry else { preconditionFailure("Conv2D.backward: no training forward to differentiate") }
        let (n, O, K, P) = (input.shape[0], outputChannels, geo.patchSize, geo.outputPixels)
        precondition(dy.shape == [n, O, geo.outputHeight, geo.outputWidth],
                     "Conv2D.backward: gradient \(dy.shape) does not match the last forward's output [\(n), \(O), \(geo.outputHeight), \(geo.outputWidth)]")
        if n == 0 {
            weight.gradient.zero()
            bias.gradient.zero()
            return Tensor(shape: needsInputGradient ? input.shape : [0])
        }
        let direct = allowsDirectKernel && DirectConvolution.applies(to: geo) && !needsInputGradient && zeroSkipping != .always
        if !direct {
            // A sparse ∂L/∂y (behind ReLU and max-pooling) goes over its nonzeros even where Winograd applies:
            // `alexnet`'s epoch took 64.8 s with Winograd both ways against 40.7 s with the zero-skipping kernels.
            let nonzeros = dy.withUnsafeBufferPointer { Kernels.countNonzeros($0.baseAddress!, $0.count) }
            if zeroSkipping.applies(nonzeros: nonzeros, of: dy.count, limit: ZeroSkipping.gradientLimit) {
                return zeroSkippingBackward(dy, geo, needsInputGradient: needsInputGradient)
            }
            if usesWinograd(geo) {
                return winogradBackward(dy, geo, needsInputGradient: needsInputGradient)
            }
        }
        if direct {
            // ∂L/∂W as a sum over samples of each sample's own ∂L/∂W, added in sample order.
            let partial = columns.reserve(n * O * K)
            columnsHold = nil
            dy.withUnsafeBufferPointer { pdy in
                input.withUnsafeBufferPointer { px in
                    weight.gradient.withUnsafeMutableBufferPointer { pdw in
                        let (dy, x, dW) = (pdy.baseAddress!, px.baseAddress!, pdw.baseAddress!)
                        biasGradient(dy, samples: n, pixels: P)
                        Parallel.forEachRange(n, workPerItem: O * P * K) { range in
                            let s = range.lowerBound
                            DirectConvolution.weightGradient(x + s * geo.imageSize, samples: range.count, geo,
                                                             outputGradient: dy + s * O * P, outputs: O, into: partial + s * O * K)
                        }
                        dW.update(from: partial, count: O * K)
                        for s in 1..<n { Kernels.axpy(O * K, alpha: 1, partial + s * O * K, dW) }   // dW += dW_s
                    }
                }
            }
            return Tensor(shape: [0])
        }
        let chunk = samplesPerChunk(geo, batch: n)
        let X = columns.reserve(K * chunk * P)
        let G = product.reserve(O * chunk * P)
        let dWT = transposedGradient.reserve(K * O)
        var dx = Tensor(shape: needsInputGradient ? input.shape : [0])
        dy.withUnsafeBufferPointer { pdy in
            let dy = pdy.baseAddress!
            biasGradient(dy, samples: n, pixels: P)
            input.withUnsafeBufferPointer { px in
                weight.value.withUnsafeBufferPointer { pw in
                    weight.gradient.withUnsafeMutableBufferPointer { pdw in
                        dx.withUnsafeMutableBufferPointer { pdx in
                            let (x, W, dW) = (px.baseAddress!, pw.baseAddress!, pdw.baseAddress!)
                            // Chunks last to first: the last one's X may still be held from forward.
                            var start = (n - 1) / chunk * chunk
                            var first = true
                            while start >= 0 {
                                let samples = start ..< min(n, start + chunk)
                                let ld = samples.count * P
                                if columnsHold != samples { lower(x, samples: samples, geo, into: X) }  // X = im2col(x[samples])
                                Parallel.forEachRange(samples.count, workPerItem: O * P) { range in
                                    for s in range {
                                        for o in 0..<O {                                          // G[o, (n, p)] = g[n, o, p]
                                            (G + o * ld + s * P).update(from: dy + ((start + s) * O + o) * P, count: P)
                                        }
                                    }
                                }
                                // (∂L/∂W)ᵀ (+)= X · Gᵀ: the same sums as ∂L/∂W = G · Xᵀ, but a product whose long
                                // side (the batch's pixels) is A's rows, which BLAS runs about twice as fast here.
                                BLAS.gemm(transposeA: false, transposeB: true, m: K, n: O, k: ld,
                                          a: X, lda: ld, b: G, ldb: ld, beta: first ? 0 : 1, c: dWT, ldc: O)
                                if needsInputGradient {
                                    BLAS.gemm(transposeA: true, transposeB: false, m: K, n: ld, k: O,  // ∂L/∂X = Wᵀ · G, over X
                                              a: W, lda: K, b: G, ldb: ld, c: X, ldc: ld)
                                    columnsHold = nil
                                    let dx = pdx.baseAddress!
                                    Parallel.forEachRange(samples.count, workPerItem: K * P) { range in
                                        for s in range {                                          // ∂L/∂x[n] = col2im(∂L/∂X[n])
                                            Im2Col.raise(X + s * P, leadingDimension: ld, geo, into: dx + (start + s) * geo.imageSize)
                                        }
                                    }
                                }
                                first = false
                                start -= chunk
                            }
                            Kernels.transpose(dWT, rows: K, columns: O, into: dW)   // ∂L/∂W = ((∂L/∂W)ᵀ)ᵀ
                        }
                    }
                }
            }
        }
        return dx
    }

    /// `forward` over the nonzeros of x alone (`ZeroSkippingConvolution.forward`), the samples split across threads.
    private func zeroSkippingForward(_ x: Tensor, _ geo: ConvolutionGeometry) -> Tensor {
        let (n, O, P) = (x.shape[0], outputChannels, geo.outputPixels)
        let layout = ChannelsLastLayout(geo)
        let parts = Parallel.partCount(n, workPerItem: O * P * geo.patchSize)
        let termCount = ZeroSkippingConvolution.termCount(layout, outputs: O)
        let floatCount = layout.sampleSize + P * O, markCount = layout.paddedHeight * layout.paddedWidth + 1
        let kernels = kernelScratch.reserve(layout.transposedMargin(outputs: O) + geo.patchSize * O)
        let samples = sampleScratch.reserve(parts * floatCount)
        let terms = termScratch.reserve(parts * termCount)
        let marks = markScratch.reserve(parts * markCount)
        var y = Tensor.unfilled(shape: [n, O, geo.outputHeight, geo.outputWidth])   // each sample writes all of its y
        x.withUnsafeBufferPointer { px in
            weight.value.withUnsafeBufferPointer { pw in
                bias.value.withUnsafeBufferPointer { pb in
                    y.withUnsafeMutableBufferPointer { py in
                        let (x, b, y) = (px.baseAddress!, pb.baseAddress!, py.baseAddress!)
                        let wt = layout.packTransposedKernels(pw.baseAddress!, outputs: O, into: kernels)
                        Parallel.forEachPart(parts, of: n) { part, range in
                            let x̃ = samples + part * floatCount
                            for s in range {
                                layout.pack(x + s * geo.imageSize, into: x̃)
                                ZeroSkippingConvolution.forward(packedInput: x̃, layout, transposedKernels: wt, bias: b, outputs: O,
                                                                terms: terms + part * termCount, marks: marks + part * markCount,
                                                                work: x̃ + layout.sampleSize, into: y + s * O * P)
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// `backward` over the nonzeros of g alone (`ZeroSkippingConvolution`): the batch in groups of
    /// `ZeroSkippingConvolution.groupSize` samples, each group's ∂L/∂W summed on its own and the groups added in order.
    private func zeroSkippingBackward(_ dy: Tensor, _ geo: ConvolutionGeometry, needsInputGradient: Bool) -> Tensor {
        let (n, O, P) = (input.shape[0], outputChannels, geo.outputPixels)
        let layout = ChannelsLastLayout(geo)
        let groupSize = ZeroSkippingConvolution.groupSize
        let groups = (n + groupSize - 1) / groupSize
        let termCount = ZeroSkippingConvolution.termCount(layout, outputs: O), floatCount = layout.sampleSize
        let kernels = kernelScratch.reserve((groups + 1) * O * layout.kernelSize)
        let sums = kernels + O * layout.kernelSize
        let samples = sampleScratch.reserve(groups * 2 * floatCount)
        let terms = termScratch.reserve(groups * termCount)
        let offsets = offsetScratch.reserve(P)
        layout.fieldOffsets(into: offsets)
        columnsHold = nil
        var dx = Tensor(shape: needsInputGradient ? input.shape : [0])
        dy.withUnsafeBufferPointer { pdy in
            input.withUnsafeBufferPointer { px in
                weight.value.withUnsafeBufferPointer { pw in
                    weight.gradient.withUnsafeMutableBufferPointer { pdw in
                        dx.withUnsafeMutableBufferPointer { pdx in
                            let (dy, x, dW) = (pdy.baseAddress!, px.baseAddress!, pdw.baseAddress!)
                            let dx = needsInputGradient ? pdx.baseAddress : nil
                            biasGradient(dy, samples: n, pixels: P)
                            if needsInputGradient { layout.packKernels(pw.baseAddress!, outputs: O, into: kernels) }
                            Parallel.forEachRange(groups, workPerItem: groupSize * O * P * layout.run) { range in
                                for group in range {
                                    let sum = sums + group * O * layout.kernelSize
                                    let x̃ = samples + group * 2 * floatCount, dx̃ = x̃ + floatCount
                                    sum.update(repeating: 0, count: O * layout.kernelSize)
                                    for s in group * groupSize ..< min(n, (group + 1) * groupSize) {
                                        layout.pack(x + s * geo.imageSize, into: x̃)
                                        ZeroSkippingConvolution.backward(sample: dy + s * O * P, packedInput: x̃, layout, offsets: offsets, outputs: O,
                                                                      terms: terms + group * termCount, weightSum: sum,
                                                                      kernels: needsInputGradient ? kernels : nil,
                                                                      inputGradient: dx.map { $0 + s * geo.imageSize }, work: dx̃)
                                    }
                                }
                            }
                            layout.unpackKernels(sums, count: groups, outputs: O, into: dW)
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Whether forward passes over inputs of shape [N, C, H, W] run Winograd's F(2×2, 3×3) or F(2×2, 5×5)
    /// (and, for 3×3, backward passes whose ∂L/∂y is too dense to skip its zeros; see `allowsWinograd`).
    public func runsWinograd(forInputShape shape: [Int]) -> Bool {
        _ = outputShape(for: shape)
        let geo = geometry(height: shape[2], width: shape[3])
        return usesWinograd(geo) || usesWinograd5x5(geo)
    }

    /// Whether this layer's forward pass over inputs of geometry `geo` runs Winograd's F(2×2, 5×5).
    private func usesWinograd5x5(_ geo: ConvolutionGeometry) -> Bool {
        allowsWinograd && zeroSkipping != .always && Winograd5x5.applies(to: geo, outputs: outputChannels)
    }

    /// `forward` by Winograd's F(2×2, 5×5) (`Winograd5x5`): U = G g Gᵀ once, then each sample on its own,
    /// the samples split across threads.
    private func winograd5x5Forward(_ x: Tensor, _ geo: ConvolutionGeometry) -> Tensor {
        let tiling = Winograd5x5(geo, outputs: outputChannels)
        let (n, O, P) = (x.shape[0], outputChannels, geo.outputPixels)
        var y = Tensor.unfilled(shape: [n, O, geo.outputHeight, geo.outputWidth])   // every sample writes all of its y
        if n == 0 { return y }
        let parts = Parallel.partCount(n, workPerItem: O * P * geo.patchSize / 4)
        let U = kernelScratch.reserve(tiling.kernelSize)
        let scratch = sampleScratch.reserve(parts * tiling.scratchSize)
        weight.value.withUnsafeBufferPointer { tiling.transformKernels($0.baseAddress!, into: U) }   // U = G g Gᵀ
        x.withUnsafeBufferPointer { px in
            bias.value.withUnsafeBufferPointer { pb in
                y.withUnsafeMutableBufferPointer { py in
                    let (x, b, y) = (px.baseAddress!, pb.baseAddress!, py.baseAddress!)
                    Parallel.forEachPart(parts, of: n) { part, samples in
                        for s in samples {
                            tiling.forward(x + s * geo.imageSize, kernels: U, bias: b, scratch: scratch + part * tiling.scratchSize,
                                           into: y + s * O * P)
                        }
                    }
                }
            }
        }
        columnsHold = nil
        return y
    }

    /// Whether this layer runs Winograd's F(2×2, 3×3) over inputs of geometry `geo`.
    private func usesWinograd(_ geo: ConvolutionGeometry) -> Bool {
        allowsWinograd && zeroSkipping != .always && WinogradTiling.applies(to: geo)
    }

    /// How many samples' transformed tiles, input and output, fit in `winogradBudget` (at least one).
    private func winogradChunk(_ tiling: WinogradTiling, batch n: Int) -> Int {
        max(1, min(n, winogradBudget / (16 * (inputChannels + outputChannels) * tiling.tilesPerSample)))
    }

    /// `forward` by Winograd's F(2×2, 3×3), chunk by chunk: V = Bᵀ d B for the chunk's tiles, then
    /// M[ξ] = U[ξ]·V[ξ] for the 16 positions ξ, then y = Aᵀ M A + b (see `WinogradTiling`).
    private func winogradForward(_ x: Tensor, _ geo: ConvolutionGeometry) -> Tensor {
        let tiling = WinogradTiling(geo)
        let (n, O, C, P, perSample) = (x.shape[0], outputChannels, inputChannels, geo.outputPixels, tiling.tilesPerSample)
        var y = Tensor.unfilled(shape: [n, O, geo.outputHeight, geo.outputWidth])   // every tile writes its outputs
        if n == 0 { return y }
        let chunk = winogradChunk(tiling, batch: n)
        let U = kernelScratch.reserve(16 * O * C)
        let V = columns.reserve(16 * C * (chunk * perSample + 8))   // rows of a chunk's tiles and 8 spare floats
        let M = product.reserve(16 * O * (chunk * perSample + 8))
        let planes = sampleScratch.reserve(BLAS.threads * tiling.planeSize)
        x.withUnsafeBufferPointer { px in
            weight.value.withUnsafeBufferPointer { pw in
                bias.value.withUnsafeBufferPointer { pb in
                    y.withUnsafeMutableBufferPointer { py in
                        let (x, b, y) = (px.baseAddress!, pb.baseAddress!, py.baseAddress!)
                        WinogradTiling.transformKernels(pw.baseAddress!, outputs: O, channels: C, into: U)   // U = G g Gᵀ
                        for start in stride(from: 0, to: n, by: chunk) {
                            let samples = start ..< min(n, start + chunk), tiles = samples.count * perSample, ld = tiles + 8
                            let parts = Parallel.partCount(samples.count, workPerItem: 64 * (C + O) * perSample)
                            Parallel.forEachPart(parts, of: samples.count) { part, range in               // V = Bᵀ d B
                                for s in range {
                                    // A sample's spare lanes may land on the next one's tiles if this thread writes them later.
                                    tiling.transformInput(x + (start + s) * geo.imageSize, plane: planes + part * tiling.planeSize,
                                                          into: V + s * perSample, channelStride: ld, positionStride: C * ld,
                                                          spill: s + 1 < range.upperBound || s + 1 == samples.count)
                                }
                            }
                            Parallel.forEachRange(16, workPerItem: 2 * O * C * tiles) { positions in       // M[ξ] = U[ξ] · V[ξ]
                                for ξ in positions {
                                    BLAS.gemm(transposeA: false, transposeB: false, m: O, n: tiles, k: C,
                                              a: U + ξ * O * C, lda: C, b: V + ξ * C * ld, ldb: ld, c: M + ξ * O * ld, ldc: ld)
                                }
                            }
                            Parallel.forEachRange(samples.count, workPerItem: 32 * O * perSample) { range in   // y = Aᵀ M A + b
                                for s in range {
                                    tiling.transformOutput(M + s * perSample, channelStride: ld, positionStride: O * ld,
                                                           bias: b, outputs: O, into: y + (start + s) * O * P)
                                }
                            }
                        }
                    }
                }
            }
        }
        columnsHold = nil
        return y
    }

    /// `backward` by the adjoints of Winograd's F(2×2, 3×3), chunk by chunk: V again from x, ∂L/∂M = A g Aᵀ,
    /// ∂L/∂U[ξ] (+)= ∂L/∂M[ξ]·V[ξ]ᵀ summed over the chunks in order, and when asked ∂L/∂V[ξ] = U[ξ]ᵀ·∂L/∂M[ξ]
    /// and ∂L/∂x = B ∂L/∂V Bᵀ; finally ∂L/∂W = Gᵀ ∂L/∂U G.
    private func winogradBackward(_ dy: Tensor, _ geo: ConvolutionGeometry, needsInputGradient: Bool) -> Tensor {
        let tiling = WinogradTiling(geo)
        let (n, O, C, P, perSample) = (input.shape[0], outputChannels, inputChannels, geo.outputPixels, tiling.tilesPerSample)
        let chunk = winogradChunk(tiling, batch: n)
        let U = kernelScratch.reserve(16 * O * C)
        let dU = transposedGradient.reserve(16 * O * C)
        let V = columns.reserve(16 * C * (chunk * perSample + 8))          // V, then ∂L/∂V
        let dM = product.reserve(16 * O * (chunk * perSample + 8))
        let planeSize = max(tiling.planeSize, tiling.gradientPlaneSize)
        let planes = sampleScratch.reserve(BLAS.threads * planeSize)
        columnsHold = nil
        var dx = Tensor.unfilled(shape: needsInputGradient ? input.shape : [0])   // every sample writes all of its ∂L/∂x
        dy.withUnsafeBufferPointer { pdy in
            input.withUnsafeBufferPointer { px in
                weight.value.withUnsafeBufferPointer { pw in
                    weight.gradient.withUnsafeMutableBufferPointer { pdw in
                        dx.withUnsafeMutableBufferPointer { pdx in
                            let (dy, x) = (pdy.baseAddress!, px.baseAddress!)
                            biasGradient(dy, samples: n, pixels: P)
                            if needsInputGradient { WinogradTiling.transformKernels(pw.baseAddress!, outputs: O, channels: C, into: U) }
                            for start in stride(from: 0, to: n, by: chunk) {
                                let samples = start ..< min(n, start + chunk), tiles = samples.count * perSample, ld = tiles + 8
                                let parts = Parallel.partCount(samples.count, workPerItem: 64 * (C + O) * perSample)
                                Parallel.forEachPart(parts, of: samples.count) { part, range in   // V = Bᵀ d B, ∂L/∂M = A g Aᵀ
                                    let plane = planes + part * planeSize
                                    for s in range {
                                        let spill = s + 1 < range.upperBound || s + 1 == samples.count
                                        tiling.transformInput(x + (start + s) * geo.imageSize, plane: plane,
                                                              into: V + s * perSample, channelStride: ld, positionStride: C * ld, spill: spill)
                                        tiling.transformOutputGradient(dy + (start + s) * O * P, outputs: O, plane: plane,
                                                                       into: dM + s * perSample, channelStride: ld, positionStride: O * ld, spill: spill)
                                    }
                                }
                                let first = start == 0
                                Parallel.forEachRange(16, workPerItem: (needsInputGradient ? 4 : 2) * O * C * tiles) { positions in
                                    for ξ in positions {
                                        let (v, m) = (V + ξ * C * ld, dM + ξ * O * ld)
                                        BLAS.gemm(transposeA: false, transposeB: true, m: O, n: C, k: tiles,   // ∂L/∂U[ξ] (+)= ∂L/∂M[ξ] · V[ξ]ᵀ
                                                  a: m, lda: ld, b: v, ldb: ld, beta: first ? 0 : 1, c: dU + ξ * O * C, ldc: C)
                                        if needsInputGradient {
                                            BLAS.gemm(transposeA: true, transposeB: false, m: C, n: tiles, k: O,  // ∂L/∂V[ξ] = U[ξ]ᵀ · ∂L/∂M[ξ]
                                                      a: U + ξ * O * C, lda: C, b: m, ldb: ld, c: v, ldc: ld)
                                        }
                                    }
                                }
                                if needsInputGradient, let dx = pdx.baseAddress {
                                    Parallel.forEachPart(parts, of: samples.count) { part, range in     // ∂L/∂x = B ∂L/∂V Bᵀ
                                        for s in range {
                                            tiling.transformInputGradient(V + s * perSample, channelStride: ld, positionStride: C * ld,
                                                                          plane: planes + part * planeSize, into: dx + (start + s) * geo.imageSize)
                                        }
                                    }
                                }
                            }
                            WinogradTiling.untransformKernelGradient(dU, outputs: O, channels: C, into: pdw.baseAddress!)   // ∂L/∂W = Gᵀ ∂L/∂U G
                        }
                    }
                }
            }
        }
        return dx
    }

    /// ∂L/∂b[o] = Σ_{n,i,j} g[n, o, i, j] for g = `dy` [n, O, P], summed in double precision.
    private func biasGradient(_ dy: UnsafePointer<Float>, samples n: Int, pixels P: Int) {
        let O = outputChannels
        bias.gradient.withUnsafeMutableBufferPointer { pdb in
            let db = pdb.baseAddress!
            Parallel.forEachRange(O, workPerItem: n * P) { outputs in
                for o in outputs {
                    var sum: Double = 0
                    for s in 0..<n { sum += Kernels.sum(dy + (s * O + o) * P, P) }
                    db[o] = Float(sum)
                }
            }
        }
    }

    /// The sizes of this convolution over H×W images.
    private func geometry(height: Int, width: Int) -> ConvolutionGeometry {
        let pad = padding.resolved(inputHeight: height, inputWidth: width, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                                   strideHeight: strideHeight, strideWidth: strideWidth)
        let oh = (height + pad.top + pad.bottom - kernelHeight) / strideHeight + 1     // ⌊(H + pt + pb − KH)/sh⌋ + 1
        let ow = (width + pad.left + pad.right - kernelWidth) / strideWidth + 1        // ⌊(W + pl + pr − KW)/sw⌋ + 1
        precondition(height + pad.top + pad.bottom >= kernelHeight && width + pad.left + pad.right >= kernelWidth,
                     "Conv2D: a \(kernelHeight)×\(kernelWidth) kernel does not fit a \(height)×\(width) input with padding \(padding.displayName)")
        return ConvolutionGeometry(channels: inputChannels, height: height, width: width,
                                   kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                                   strideHeight: strideHeight, strideWidth: strideWidth,
                                   padTop: pad.top, padLeft: pad.left, outputHeight: oh, outputWidth: ow)
    }

    /// How many samples' columns fit in `columnBudget` (at least one).
    private func samplesPerChunk(_ geo: ConvolutionGeometry, batch n: Int) -> Int {
        max(1, min(n, columnBudget / max(1, geo.patchSize * geo.outputPixels)))
    }

    /// X = im2col(x[samples]) [C·KH·KW, |samples|·OH·OW], one sample per thread range.
    private func lower(_ x: UnsafePointer<Float>, samples: Range<Int>, _ geo: ConvolutionGeometry,
                       into X: UnsafeMutablePointer<Float>) {
        let ld = samples.count * geo.outputPixels
        Parallel.forEachRange(samples.count, workPerItem: geo.patchSize * geo.outputPixels) { range in
            for s in range {
                Im2Col.lower(x + (samples.lowerBound + s) * geo.imageSize, geo, into: X + s * geo.outputPixels, leadingDimension: ld)
            }
        }
    }
}
