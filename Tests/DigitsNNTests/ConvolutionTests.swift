import XCTest
import DigitsTensor
import DigitsNN

/// The definition of a convolution as plain loops, in Double: the oracle `Conv2D` is compared against.
///
/// y[n, o, i, j] = b[o] + Σ_{c,p,q} W[o, c, p, q] · x[n, c, i·sh + p − top, j·sw + q − left] (0 outside x).
func referenceConvolution(_ x: Tensor, weight: Tensor, bias: Tensor, stride: (Int, Int),
                          top: Int, left: Int, outputHeight: Int, outputWidth: Int) -> Tensor {
    let (N, C, H, W) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (O, KH, KW) = (weight.shape[0], weight.shape[2], weight.shape[3])
    var y = Tensor(shape: [N, O, outputHeight, outputWidth])
    for n in 0..<N {
        for o in 0..<O {
            for i in 0..<outputHeight {
                for j in 0..<outputWidth {
                    var sum = Double(bias[o])
                    for c in 0..<C {
                        for p in 0..<KH {
                            for q in 0..<KW {
                                let h = i * stride.0 + p - top, w = j * stride.1 + q - left
                                if h >= 0 && h < H && w >= 0 && w < W {
                                    sum += Double(weight[o, c, p, q]) * Double(x[n, c, h, w])
                                }
                            }
                        }
                    }
                    y[n, o, i, j] = Float(sum)
                }
            }
        }
    }
    return y
}

/// TensorFlow's "SAME" along one axis, written out again: out = ⌈in/s⌉, the odd unit of padding after.
private func samePadding(_ size: Int, kernel: Int, stride: Int) -> (before: Int, output: Int) {
    let out = (size + stride - 1) / stride
    let total = max((out - 1) * stride + kernel - size, 0)
    return (total / 2, out)
}

private func randomTensor(_ shape: [Int], _ rng: inout SeededGenerator) -> Tensor {
    Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in rng.nextNormal() })
}

/// A convolution with weights and bias drawn from N(0, 1).
private func convolution(_ c: Int, _ o: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                         padding: Padding = .valid, seed: UInt64 = 1) -> Conv2D {
    var rng = SeededGenerator(seed: seed)
    let conv = Conv2D(inputChannels: c, outputChannels: o, kernelSize: kernel, stride: stride, padding: padding,
                      initializer: .normal(std: 1), rng: &rng)
    conv.bias.value = randomTensor([o], &rng)
    return conv
}

final class ConvolutionTests: XCTestCase {
    // MARK: by hand

    func testValidByHand() {
        let conv = convolution(1, 1, kernel: (2, 2))
        conv.weight.value = Tensor(shape: [1, 1, 2, 2], values: [1, 0, 0, 1])   // x[i, j] + x[i+1, j+1]
        conv.bias.value = Tensor(shape: [1], values: [0.5])
        let x = Tensor(shape: [1, 1, 3, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let y = conv.forward(x, mode: .evaluation)
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.storage, [6.5, 8.5, 12.5, 14.5])                      // 1+5, 2+6, 4+8, 5+9, + 0.5
    }

    func testSameStrideOneByHand() {
        let conv = convolution(1, 1, kernel: (3, 3), padding: .same)
        conv.weight.value = Tensor(shape: [1, 1, 3, 3], repeating: 1)
        conv.bias.value = Tensor(shape: [1])
        let y = conv.forward(Tensor(shape: [1, 1, 3, 3], repeating: 1), mode: .evaluation)
        // Each output counts the pixels of its 3×3 neighbourhood inside the image.
        XCTAssertEqual(y.shape, [1, 1, 3, 3])
        XCTAssertEqual(y.storage, [4, 6, 4, 6, 9, 6, 4, 6, 4])
    }

    func testSameStrideTwoPutsTheExtraPaddingBottomRight() {
        // 4×4, 3×3 kernel, stride 2: out = ⌈4/2⌉ = 2, total padding (2−1)·2 + 3 − 4 = 1, all of it bottom / right.
        let conv = convolution(1, 1, kernel: (3, 3), stride: (2, 2), padding: .same)
        conv.weight.value = Tensor(shape: [1, 1, 3, 3], repeating: 1)
        conv.bias.value = Tensor(shape: [1])
        let x = Tensor(shape: [1, 1, 4, 4], values: (1...16).map(Float.init))
        let y = conv.forward(x, mode: .evaluation)
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        // rows 0–2 × cols 0–2; rows 0–2 × cols 2–3; rows 2–3 × cols 0–2; rows 2–3 × cols 2–3
        XCTAssertEqual(y.storage, [54, 45, 72, 54])
    }

    func testExplicitAsymmetricPaddingByHand() {
        // [[1, 2], [3, 4]] padded with one row on top and one column on the right:
        // [[0, 0, 0], [1, 2, 0], [3, 4, 0]], kernel [1, 10].
        let conv = convolution(1, 1, kernel: (1, 2), padding: .explicit(top: 1, bottom: 0, left: 0, right: 1))
        conv.weight.value = Tensor(shape: [1, 1, 1, 2], values: [1, 10])
        conv.bias.value = Tensor(shape: [1])
        let y = conv.forward(Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4]), mode: .evaluation)
        XCTAssertEqual(y.shape, [1, 1, 3, 2])
        XCTAssertEqual(y.storage, [0, 0, 21, 2, 43, 4])
        // Symmetric padding is PyTorch's padding=(h, w).
        XCTAssertEqual(Padding.symmetric(height: 1, width: 2), .explicit(top: 1, bottom: 1, left: 2, right: 2))
    }

    func testOneByOneKernelMixesChannels() {
        // y[n, o] = Σ_c W[o, c] x[n, c] + b[o], pixel by pixel.
        let conv = convolution(2, 3, kernel: (1, 1))
        conv.weight.value = Tensor(shape: [3, 2, 1, 1], values: [1, 0, 0, 1, 1, -1])
        conv.bias.value = Tensor(shape: [3], values: [0, 10, 100])
        let x = Tensor(shape: [1, 2, 1, 2], values: [1, 2, 5, 7])                  // channel 0: [1, 2], channel 1: [5, 7]
        let y = conv.forward(x, mode: .evaluation)
        XCTAssertEqual(y.shape, [1, 3, 1, 2])
        XCTAssertEqual(y.storage, [1, 2, 15, 17, 96, 95])
    }

    func testOddSizesOutputShapes() {
        let x = [2, 3, 5, 7]
        XCTAssertEqual(convolution(3, 4, kernel: (3, 3), padding: .same).outputShape(for: x), [2, 4, 5, 7])
        XCTAssertEqual(convolution(3, 4, kernel: (3, 3), stride: (2, 2), padding: .same).outputShape(for: x), [2, 4, 3, 4])
        XCTAssertEqual(convolution(3, 4, kernel: (3, 3), stride: (2, 2)).outputShape(for: x), [2, 4, 2, 3])
        XCTAssertEqual(convolution(3, 4, kernel: (2, 4), stride: (1, 3), padding: .symmetric(height: 1, width: 0)).outputShape(for: x),
                       [2, 4, 6, 2])                                               // (5+2−2)+1, ⌊(7−4)/3⌋+1
    }

    func testPaddingResolution() {
        func same(_ size: Int, _ k: Int, _ s: Int) -> (Int, Int) {
            let p = Padding.same.resolved(inputHeight: size, inputWidth: size, kernelHeight: k, kernelWidth: k, strideHeight: s, strideWidth: s)
            return (p.top, p.bottom)
        }
        XCTAssert(same(28, 5, 1) == (2, 2))
        XCTAssert(same(28, 4, 1) == (1, 2))      // even kernel: the odd unit after
        XCTAssert(same(4, 3, 2) == (0, 1))
        XCTAssert(same(5, 1, 2) == (0, 0))
        XCTAssert(same(7, 4, 3) == (1, 2))       // out 3, total 2·3 + 4 − 7 = 3
    }

    // MARK: against the direct loops

    func testMatchesReferenceOnRandomData() {
        struct Case { let n, c, o, h, w, kh, kw, sh, sw: Int; let padding: Padding }
        let cases = [
            Case(n: 3, c: 2, o: 4, h: 5, w: 7, kh: 3, kw: 3, sh: 1, sw: 1, padding: .same),
            Case(n: 2, c: 3, o: 2, h: 5, w: 7, kh: 3, kw: 3, sh: 2, sw: 2, padding: .same),
            Case(n: 2, c: 1, o: 3, h: 6, w: 6, kh: 5, kw: 5, sh: 1, sw: 1, padding: .valid),
            Case(n: 2, c: 2, o: 3, h: 7, w: 5, kh: 2, kw: 3, sh: 2, sw: 1, padding: .explicit(top: 1, bottom: 2, left: 0, right: 1)),
            Case(n: 4, c: 3, o: 5, h: 5, w: 7, kh: 1, kw: 1, sh: 1, sw: 1, padding: .valid),
            Case(n: 2, c: 3, o: 2, h: 5, w: 7, kh: 1, kw: 1, sh: 2, sw: 2, padding: .same),
            Case(n: 2, c: 2, o: 2, h: 5, w: 5, kh: 4, kw: 4, sh: 3, sw: 3, padding: .same),
            Case(n: 64, c: 4, o: 8, h: 12, w: 12, kh: 5, kw: 5, sh: 1, sw: 1, padding: .same),   // large enough to run on several threads
        ]
        var rng = SeededGenerator(seed: 11)
        for (index, t) in cases.enumerated() {
            let conv = convolution(t.c, t.o, kernel: (t.kh, t.kw), stride: (t.sh, t.sw), padding: t.padding, seed: UInt64(index))
            let x = randomTensor([t.n, t.c, t.h, t.w], &rng)
            let (top, left, oh, ow): (Int, Int, Int, Int)
            switch t.padding {
            case .same:
                let ph = samePadding(t.h, kernel: t.kh, stride: t.sh), pw = samePadding(t.w, kernel: t.kw, stride: t.sw)
                (top, left, oh, ow) = (ph.before, pw.before, ph.output, pw.output)
            case .valid:
                (top, left, oh, ow) = (0, 0, (t.h - t.kh) / t.sh + 1, (t.w - t.kw) / t.sw + 1)
            case .explicit(let pt, let pb, let pl, let pr):
                (top, left, oh, ow) = (pt, pl, (t.h + pt + pb - t.kh) / t.sh + 1, (t.w + pl + pr - t.kw) / t.sw + 1)
            }
            let expected = referenceConvolution(x, weight: conv.weight.value, bias: conv.bias.value, stride: (t.sh, t.sw),
                                                top: top, left: left, outputHeight: oh, outputWidth: ow)
            let y = conv.forward(x, mode: .evaluation)
            XCTAssertEqual(y.shape, expected.shape, "case \(index)")
            for i in 0..<min(y.count, expected.count) {
                XCTAssertEqual(y.storage[i], expected.storage[i], accuracy: 1e-4, "case \(index), element \(i)")
            }
        }
    }

    // MARK: gradients

    func testGradients() {
        checkLayerGradients(convolution(2, 3, kernel: (3, 3), padding: .same), inputShape: [2, 2, 5, 7])
        checkLayerGradients(convolution(2, 3, kernel: (3, 3), stride: (2, 2), padding: .same), inputShape: [2, 2, 5, 7])
        checkLayerGradients(convolution(3, 2, kernel: (2, 3), stride: (2, 1), padding: .explicit(top: 1, bottom: 2, left: 0, right: 1)),
                            inputShape: [2, 3, 7, 5])
        checkLayerGradients(convolution(3, 4, kernel: (1, 1)), inputShape: [3, 3, 4, 5])
        checkLayerGradients(convolution(1, 2, kernel: (4, 4), stride: (3, 3), padding: .same), inputShape: [2, 1, 7, 7])
    }

    func testChunkedBatchMatchesWholeBatch() {
        // A column budget of two samples splits a batch of 5 into chunks of 2, 2 and 1.
        let whole = convolution(2, 3, kernel: (3, 3), padding: .same, seed: 4)
        let chunked = convolution(2, 3, kernel: (3, 3), padding: .same, seed: 4)
        chunked.columnBudget = 2 * (2 * 9) * (5 * 6)
        var rng = SeededGenerator(seed: 5)
        let x = randomTensor([5, 2, 5, 6], &rng)
        let g = randomTensor([5, 3, 5, 6], &rng)
        let y1 = whole.forward(x, mode: .training), y2 = chunked.forward(x, mode: .training)
        let dx1 = whole.backward(g, needsInputGradient: true), dx2 = chunked.backward(g, needsInputGradient: true)
        for (a, b) in zip(y1.storage, y2.storage) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        for (a, b) in zip(dx1.storage, dx2.storage) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        for (a, b) in zip(whole.weight.gradient.storage, chunked.weight.gradient.storage) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertEqual(whole.bias.gradient, chunked.bias.gradient)
        checkLayerGradients(chunked, inputShape: [5, 2, 5, 6])
    }

    func testEvaluationForwardBetweenTrainingForwardAndBackward() {
        // The evaluation pass reuses the column buffer; backward must rebuild the training columns.
        let a = convolution(2, 3, kernel: (3, 3), padding: .same, seed: 6)
        let b = convolution(2, 3, kernel: (3, 3), padding: .same, seed: 6)
        var rng = SeededGenerator(seed: 7)
        let x = randomTensor([3, 2, 5, 5], &rng), other = randomTensor([4, 2, 6, 6], &rng)
        let g = randomTensor([3, 3, 5, 5], &rng)
        _ = a.forward(x, mode: .training)
        _ = b.forward(x, mode: .training)
        _ = b.forward(other, mode: .evaluation)
        XCTAssertEqual(a.backward(g, needsInputGradient: true), b.backward(g, needsInputGradient: true))
        XCTAssertEqual(a.weight.gradient, b.weight.gradient)
    }

    func testSameResultOnAnyThreadCount() {
        // Small integers make every sum exact, so that BLAS (which may round differently on a different
        // number of threads) cannot hide a difference in the layer's own threaded loops (im2col, col2im, copies).
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        var rng = SeededGenerator(seed: 8)
        func integers(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Float(rng.nextInt(below: 7) - 3) })
        }
        let x = integers([64, 3, 10, 10]), g = integers([64, 4, 10, 5])
        let w = integers([4, 3, 3, 3]), b = integers([4])
        func run(threads: Int) -> (Tensor, Tensor, Tensor) {
            BLAS.setThreads(threads)
            let conv = convolution(3, 4, kernel: (3, 3), stride: (1, 2), padding: .same)
            conv.weight.value = w
            conv.bias.value = b
            let y = conv.forward(x, mode: .training)
            return (y, conv.backward(g, needsInputGradient: true), conv.weight.gradient)
        }
        let one = run(threads: 1), four = run(threads: 4)
        XCTAssertEqual(one.0, four.0)
        XCTAssertEqual(one.1, four.1)
        XCTAssertEqual(one.2, four.2)
    }

    /// The direct kernel of one-channel, stride-1 convolutions (first layers) against the matrix product.
    func testDirectKernelMatchesTheMatrixProduct() {
        struct Case { let n, o, h, w, kh, kw: Int; let padding: Padding }
        let cases = [
            Case(n: 3, o: 4, h: 7, w: 9, kh: 5, kw: 5, padding: .same),
            Case(n: 2, o: 3, h: 6, w: 6, kh: 3, kw: 2, padding: .valid),
            Case(n: 2, o: 2, h: 5, w: 11, kh: 3, kw: 4, padding: .explicit(top: 2, bottom: 0, left: 1, right: 3)),
            Case(n: 64, o: 6, h: 28, w: 28, kh: 5, kw: 5, padding: .same),            // LeNet-5's first layer, threaded
            Case(n: 2, o: 1, h: 5, w: 40, kh: 3, kw: 7, padding: .valid),             // rows of two 32-output groups
            Case(n: 2, o: 3, h: 9, w: 12, kh: 2, kw: 9, padding: .same),              // taps in a group of 4, then of 5
        ]
        var rng = SeededGenerator(seed: 21)
        for (index, t) in cases.enumerated() {
            let direct = convolution(1, t.o, kernel: (t.kh, t.kw), padding: t.padding, seed: UInt64(30 + index))
            let product = convolution(1, t.o, kernel: (t.kh, t.kw), padding: t.padding, seed: UInt64(30 + index))
            product.allowsDirectKernel = false
            let x = randomTensor([t.n, 1, t.h, t.w], &rng)
            let y = direct.forward(x, mode: .training), expected = product.forward(x, mode: .training)
            XCTAssertEqual(y.shape, expected.shape, "case \(index)")
            for (a, b) in zip(y.storage, expected.storage) { XCTAssertEqual(a, b, accuracy: 1e-4, "case \(index)") }
            let g = randomTensor(y.shape, &rng)
            XCTAssertEqual(direct.backward(g, needsInputGradient: false).count, 0)
            _ = product.backward(g, needsInputGradient: false)
            for (a, b) in zip(direct.weight.gradient.storage, product.weight.gradient.storage) {
                XCTAssertEqual(a, b, accuracy: 1e-3 * max(1, abs(b)), "case \(index)")
            }
            XCTAssertEqual(direct.bias.gradient, product.bias.gradient, "case \(index)")
        }
        // Asked for ∂L/∂x, the layer takes the matrix product's path, whose gradients are checked elsewhere.
        checkLayerGradients(convolution(1, 3, kernel: (3, 3), padding: .same), inputShape: [2, 1, 6, 5])
    }

    func testDirectKernelGivesTheSameBitsOnAnyThreadCount() {
        var rng = SeededGenerator(seed: 22)
        let x = randomTensor([64, 1, 28, 28], &rng), g = randomTensor([64, 8, 28, 28], &rng)
        assertSameBitsOnAnyThreadCount(x: x, gradient: g, needsInputGradient: false) {
            convolution(1, 8, kernel: (5, 5), padding: .same, seed: 23)
        }
    }

    /// A training forward and backward pass of a fresh convolution from `make`, on 1 and on 4 threads: y, ∂L/∂x
    /// (when asked) and ∂L/∂W are the same bits.
    private func assertSameBitsOnAnyThreadCount(x: Tensor, gradient g: Tensor, needsInputGradient: Bool = true,
                                                _ make: () -> Conv2D, file: StaticString = #filePath, line: UInt = #line) {
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        func run(threads: Int) -> (Tensor, Tensor, Tensor) {
            BLAS.setThreads(threads)
            let conv = make()
            let y = conv.forward(x, mode: .training)
            let dx = conv.backward(g, needsInputGradient: needsInputGradient)
            return (y, dx, conv.weight.gradient)
        }
        let one = run(threads: 1), four = run(threads: 4)
        XCTAssertEqual(one.0, four.0, "y", file: file, line: line)
        XCTAssertEqual(one.1, four.1, "∂L/∂x", file: file, line: line)
        XCTAssertEqual(one.2, four.2, "∂L/∂W", file: file, line: line)
    }

    // MARK: zero-skipping gradients

    /// ∂L/∂y with about `zeros` of its values exactly zero, the rest drawn from N(0, 1).
    private func sparseGradient(_ shape: [Int], zeros: Double, _ rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in
            Double(rng.nextUniform()) < zeros ? 0 : rng.nextNormal()
        })
    }

    /// The zero-skipping forward and backward passes (forced with `.always`) against the matrix products
    /// (`.never`): the output and the weight, bias and input gradients agree to float rounding, over strides, paddings, odd sizes, one
    /// channel and many, runs of KW·C floats that are and are not multiples of 8, batches that do not fill
    /// the last group of samples, and gradients from all zeros to all nonzero.
    func testZeroSkippingMatchesTheMatrixProducts() {
        struct Case { let n, c, o, h, w, kh, kw, sh, sw: Int; let padding: Padding; let zeros: Double }
        let cases = [
            Case(n: 3, c: 2, o: 4, h: 5, w: 7, kh: 3, kw: 3, sh: 1, sw: 1, padding: .same, zeros: 0.8),
            Case(n: 13, c: 6, o: 16, h: 14, w: 14, kh: 5, kw: 5, sh: 1, sw: 1, padding: .valid, zeros: 0.8),  // LeNet-5's second layer
            Case(n: 9, c: 16, o: 8, h: 9, w: 9, kh: 5, kw: 5, sh: 1, sw: 1, padding: .same, zeros: 0.75),     // runs of 80
            Case(n: 2, c: 3, o: 2, h: 5, w: 7, kh: 3, kw: 3, sh: 2, sw: 2, padding: .same, zeros: 0.5),
            Case(n: 2, c: 2, o: 3, h: 7, w: 5, kh: 2, kw: 3, sh: 2, sw: 1, padding: .explicit(top: 1, bottom: 2, left: 0, right: 1), zeros: 0.7),
            Case(n: 4, c: 3, o: 5, h: 5, w: 7, kh: 1, kw: 1, sh: 1, sw: 1, padding: .valid, zeros: 0.9),
            Case(n: 2, c: 2, o: 2, h: 5, w: 5, kh: 4, kw: 4, sh: 3, sw: 3, padding: .same, zeros: 0.6),
            Case(n: 5, c: 1, o: 6, h: 12, w: 12, kh: 5, kw: 5, sh: 1, sw: 1, padding: .same, zeros: 0.85),    // a first layer
            Case(n: 2, c: 32, o: 4, h: 6, w: 6, kh: 3, kw: 3, sh: 1, sw: 1, padding: .same, zeros: 0.8),      // runs of 96 = 64 + 32
            Case(n: 3, c: 2, o: 3, h: 6, w: 6, kh: 3, kw: 3, sh: 1, sw: 1, padding: .same, zeros: 1),
            Case(n: 3, c: 2, o: 3, h: 6, w: 6, kh: 3, kw: 3, sh: 1, sw: 1, padding: .same, zeros: 0),
            Case(n: 3, c: 5, o: 64, h: 7, w: 6, kh: 3, kw: 3, sh: 1, sw: 1, padding: .same, zeros: 0.5),     // 64 outputs in registers
            Case(n: 2, c: 3, o: 128, h: 5, w: 5, kh: 3, kw: 2, sh: 2, sw: 1, padding: .same, zeros: 0.5),    // two blocks of 64
            Case(n: 3, c: 5, o: 24, h: 7, w: 9, kh: 3, kw: 3, sh: 1, sw: 1, padding: .same, zeros: 0.5),     // pairs of outputs, one left over
            Case(n: 2, c: 3, o: 32, h: 9, w: 11, kh: 3, kw: 3, sh: 2, sw: 2, padding: .same, zeros: 0.5),    // pairs two input pixels apart
        ]
        var rng = SeededGenerator(seed: 41)
        for (index, t) in cases.enumerated() {
            let sparse = convolution(t.c, t.o, kernel: (t.kh, t.kw), stride: (t.sh, t.sw), padding: t.padding, seed: UInt64(50 + index))
            let dense = convolution(t.c, t.o, kernel: (t.kh, t.kw), stride: (t.sh, t.sw), padding: t.padding, seed: UInt64(50 + index))
            sparse.zeroSkipping = .always
            dense.zeroSkipping = .never
            dense.allowsWinograd = false
            let x = sparseGradient([t.n, t.c, t.h, t.w], zeros: 1 - t.zeros / 2, &rng)   // inputs 50-100% zeros
            _ = sparse.forward(x, mode: .evaluation)      // the scratch buffers sized for another pass first
            let y = sparse.forward(x, mode: .training)
            let expected = dense.forward(x, mode: .training)
            XCTAssertEqual(y.shape, expected.shape, "case \(index)")
            for (a, b) in zip(y.storage, expected.storage) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "case \(index) y") }
            assertSameBackward(sparse, dense, gradient: sparseGradient(y.shape, zeros: t.zeros, &rng), "case \(index)")
        }
    }

    /// The backward passes of two convolutions after the same forward pass, with and without ∂L/∂x: every
    /// gradient agrees to float rounding, ∂L/∂b exactly (both sum it the same way).
    private func assertSameBackward(_ a: Conv2D, _ b: Conv2D, gradient g: Tensor, _ label: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        for needsInputGradient in [true, false] {
            let dx = a.backward(g, needsInputGradient: needsInputGradient)
            let expected = b.backward(g, needsInputGradient: needsInputGradient)
            XCTAssertEqual(dx.shape, expected.shape, label, file: file, line: line)
            for (u, v) in zip(dx.storage, expected.storage) {
                XCTAssertEqual(u, v, accuracy: 1e-4 * max(1, abs(v)), "\(label) ∂L/∂x", file: file, line: line)
            }
            for (u, v) in zip(a.weight.gradient.storage, b.weight.gradient.storage) {
                XCTAssertEqual(u, v, accuracy: 1e-4 * max(1, abs(v)), "\(label) ∂L/∂W", file: file, line: line)
            }
            XCTAssertEqual(a.bias.gradient, b.bias.gradient, label, file: file, line: line)
        }
    }

    func testZeroSkippingAgainstFiniteDifferences() {
        for (c, o, kernel, stride, padding, shape) in [(2, 3, (3, 3), (1, 1), Padding.same, [2, 2, 5, 7]),
                                                       (3, 2, (2, 3), (2, 1), Padding.explicit(top: 1, bottom: 2, left: 0, right: 1), [2, 3, 7, 5]),
                                                       (1, 2, (4, 4), (3, 3), Padding.same, [2, 1, 7, 7])] {
            let conv = convolution(c, o, kernel: kernel, stride: stride, padding: padding)
            conv.zeroSkipping = .always
            checkLayerGradients(conv, inputShape: shape)
        }
    }

    func testZeroSkippingGivesTheSameBitsOnAnyThreadCount() {
        var rng = SeededGenerator(seed: 42)
        let x = sparseGradient([37, 6, 14, 14], zeros: 0.5, &rng), g = sparseGradient([37, 16, 10, 10], zeros: 0.8, &rng)
        assertSameBitsOnAnyThreadCount(x: x, gradient: g) {
            let conv = convolution(6, 16, kernel: (5, 5), seed: 43)
            conv.zeroSkipping = .always
            return conv
        }
    }

    func testZeroSkippingCarriesANaN() {
        // A NaN in ∂L/∂y is a nonzero: it must reach the gradients, not be skipped.
        let conv = convolution(2, 3, kernel: (3, 3), padding: .same)
        conv.zeroSkipping = .always
        var rng = SeededGenerator(seed: 44)
        let x = randomTensor([2, 2, 5, 5], &rng)
        _ = conv.forward(x, mode: .training)
        var g = Tensor(shape: [2, 3, 5, 5])
        g[1, 2, 2, 2] = .nan
        let dx = conv.backward(g, needsInputGradient: true)
        XCTAssertTrue(conv.weight.gradient[2, 0, 1, 1].isNaN)
        XCTAssertTrue(conv.bias.gradient[2].isNaN)
        XCTAssertTrue(dx[1, 0, 2, 2].isNaN)
        XCTAssertFalse(dx[0, 0, 2, 2].isNaN)
        // Nor a NaN in the input, in the forward pass.
        var withNaN = x
        withNaN[0, 1, 3, 3] = .nan
        let y = conv.forward(withNaN, mode: .evaluation)
        XCTAssertTrue(y[0, 0, 3, 3].isNaN)
        XCTAssertFalse(y[0, 0, 0, 0].isNaN)
    }

    // MARK: Winograd F(2×2, 3×3)

    /// Winograd's forward pass against the plain loops, and its backward pass against the matrix products
    /// (`allowsWinograd = false`): outputs and every gradient agree to float rounding, over 'same', 'valid' and
    /// uneven padding, odd sizes (a last tile half outside the output), rows of more than 8 tiles (two groups,
    /// the last one short), batches cut into chunks of one, two and all samples, and both ∂L/∂x wanted and not.
    func testWinogradMatchesTheReferenceAndTheMatrixProducts() {
        struct Case { let n, c, o, h, w: Int; let padding: Padding; let budget: Int }
        let cases = [
            Case(n: 3, c: 2, o: 4, h: 5, w: 7, padding: .same, budget: 1 << 19),
            Case(n: 5, c: 8, o: 16, h: 14, w: 14, padding: .same, budget: 16 * 24 * 49 * 2),   // chunks of 2: 2, 2, 1
            Case(n: 2, c: 3, o: 5, h: 9, w: 8, padding: .valid, budget: 1),                      // chunks of 1
            Case(n: 2, c: 4, o: 3, h: 7, w: 35, padding: .same, budget: 1 << 19),                // 18 tiles a row: 8, 8, 2
            Case(n: 3, c: 2, o: 3, h: 6, w: 19, padding: .explicit(top: 2, bottom: 0, left: 0, right: 1), budget: 1 << 19),
            Case(n: 4, c: 16, o: 32, h: 7, w: 7, padding: .same, budget: 1 << 19),              // 4×4 tiles over 7×7
            Case(n: 1, c: 2, o: 2, h: 3, w: 3, padding: .valid, budget: 1 << 19),                // one output
        ]
        var rng = SeededGenerator(seed: 45)
        for (index, t) in cases.enumerated() {
            let winograd = convolution(t.c, t.o, kernel: (3, 3), padding: t.padding, seed: UInt64(60 + index))
            let plain = convolution(t.c, t.o, kernel: (3, 3), padding: t.padding, seed: UInt64(60 + index))
            winograd.winogradBudget = t.budget
            plain.allowsWinograd = false
            plain.zeroSkipping = .never
            XCTAssertTrue(winograd.runsWinograd(forInputShape: [t.n, t.c, t.h, t.w]), "case \(index)")
            XCTAssertFalse(plain.runsWinograd(forInputShape: [t.n, t.c, t.h, t.w]), "case \(index)")
            assertWinogradMatches(winograd, plain, input: randomTensor([t.n, t.c, t.h, t.w], &rng), kernel: 3, padding: t.padding,
                                  tolerance: { 1e-4 * max(1, abs($0)) }, "case \(index)", &rng)
        }
    }

    /// `winograd`'s forward pass on x against the plain loops, each output within `tolerance(expected)`, after a
    /// pass over another batch (its scratch used first); then its backward pass against `plain`'s.
    private func assertWinogradMatches(_ winograd: Conv2D, _ plain: Conv2D, input x: Tensor, kernel k: Int, padding: Padding,
                                       tolerance: (Float) -> Float, _ label: String, _ rng: inout SeededGenerator,
                                       file: StaticString = #filePath, line: UInt = #line) {
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        _ = winograd.forward(randomTensor([1, c, h, w], &rng), mode: .evaluation)
        let y = winograd.forward(x, mode: .training)
        let shape = winograd.outputShape(for: x.shape)
        let pad = padding.resolved(inputHeight: h, inputWidth: w, kernelHeight: k, kernelWidth: k, strideHeight: 1, strideWidth: 1)
        let expected = referenceConvolution(x, weight: winograd.weight.value, bias: winograd.bias.value, stride: (1, 1),
                                            top: pad.top, left: pad.left, outputHeight: shape[2], outputWidth: shape[3])
        XCTAssertEqual(y.shape, expected.shape, label, file: file, line: line)
        for (a, b) in zip(y.storage, expected.storage) {
            XCTAssertEqual(a, b, accuracy: tolerance(b), "\(label) y", file: file, line: line)
        }
        _ = plain.forward(x, mode: .training)
        assertSameBackward(winograd, plain, gradient: randomTensor(y.shape, &rng), label, file: file, line: line)
    }

    func testWinogradAgainstFiniteDifferences() {
        for (c, o, padding, shape) in [(2, 3, Padding.same, [2, 2, 5, 7]), (3, 2, Padding.valid, [2, 3, 6, 5]),
                                       (2, 2, Padding.explicit(top: 0, bottom: 2, left: 1, right: 0), [1, 2, 4, 18])] {
            let conv = convolution(c, o, kernel: (3, 3), padding: padding)
            XCTAssertTrue(conv.runsWinograd(forInputShape: shape))
            checkLayerGradients(conv, inputShape: shape)
        }
    }

    func testWinogradRunsWhereItApplies() {
        XCTAssertTrue(convolution(32, 64, kernel: (3, 3), padding: .same).runsWinograd(forInputShape: [128, 32, 14, 14]))
        XCTAssertFalse(convolution(1, 32, kernel: (3, 3), padding: .same).runsWinograd(forInputShape: [8, 1, 28, 28]))   // the direct kernel's
        XCTAssertFalse(convolution(6, 16, kernel: (3, 3), stride: (2, 2)).runsWinograd(forInputShape: [8, 6, 14, 14]))
        let forced = convolution(6, 16, kernel: (3, 3))
        forced.zeroSkipping = .always
        XCTAssertFalse(forced.runsWinograd(forInputShape: [8, 6, 14, 14]))
    }

    func testWinogradGivesTheSameBitsOnAnyThreadCount() {
        var rng = SeededGenerator(seed: 46)
        let x = randomTensor([21, 16, 14, 14], &rng), g = randomTensor([21, 32, 14, 14], &rng)
        assertSameBitsOnAnyThreadCount(x: x, gradient: g) {
            let conv = convolution(16, 32, kernel: (3, 3), padding: .same, seed: 47)
            conv.winogradBudget = 16 * 48 * 49 * 4   // chunks of 4 samples, shared out unevenly
            return conv
        }
    }

    // MARK: Winograd F(2×2, 5×5)

    /// The F(2×2, 5×5) forward pass against the plain loops, to float rounding, over 'same', 'valid' and
    /// uneven padding, odd output sizes (tiles half outside), rows of more than 8 tiles (groups of 8, 8 and 2),
    /// a single output, and 8, 16, 24 and 32 outputs; the backward pass after it matches the matrix products.
    func testWinograd5x5MatchesTheReference() {
        struct Case { let n, c, o, h, w: Int; let padding: Padding }
        let cases = [
            Case(n: 3, c: 16, o: 32, h: 14, w: 14, padding: .same),   // cnn's second layer
            Case(n: 2, c: 6, o: 16, h: 14, w: 14, padding: .valid),   // LeNet-5's second layer
            Case(n: 2, c: 3, o: 8, h: 9, w: 11, padding: .same),
            Case(n: 1, c: 2, o: 24, h: 7, w: 35, padding: .same),     // 18 tiles a row
            Case(n: 2, c: 4, o: 16, h: 8, w: 10, padding: .explicit(top: 3, bottom: 0, left: 1, right: 2)),
            Case(n: 3, c: 2, o: 8, h: 5, w: 5, padding: .valid),      // one output
        ]
        var rng = SeededGenerator(seed: 48)
        for (index, t) in cases.enumerated() {
            let winograd = convolution(t.c, t.o, kernel: (5, 5), padding: t.padding, seed: UInt64(70 + index))
            let plain = convolution(t.c, t.o, kernel: (5, 5), padding: t.padding, seed: UInt64(70 + index))
            plain.allowsWinograd = false
            plain.zeroSkipping = .never
            XCTAssertTrue(winograd.runsWinograd(forInputShape: [t.n, t.c, t.h, t.w]), "case \(index)")
            // Inputs and weights are N(0, 1): an output is a sum of 25·C products about 1 in size, which
            // F(2×2, 5×5) adds with larger intermediate values than the direct sum (Bᵀ's coefficients reach 5),
            // so its rounding errors, measured against √(25·C), the size of an output, reach 1.1·10⁻⁵ here.
            let scale = Float(25 * t.c).squareRoot()
            assertWinogradMatches(winograd, plain, input: randomTensor([t.n, t.c, t.h, t.w], &rng), kernel: 5, padding: t.padding,
                                  tolerance: { _ in 5e-5 * scale }, "case \(index)", &rng)
        }
    }

    func testWinograd5x5RunsWhereItApplies() {
        XCTAssertTrue(convolution(16, 32, kernel: (5, 5), padding: .same).runsWinograd(forInputShape: [8, 16, 14, 14]))
        XCTAssertFalse(convolution(1, 16, kernel: (5, 5), padding: .same).runsWinograd(forInputShape: [8, 1, 28, 28]))   // the direct kernel's
        XCTAssertFalse(convolution(6, 12, kernel: (5, 5)).runsWinograd(forInputShape: [8, 6, 14, 14]))   // outputs not a multiple of 8
        XCTAssertFalse(convolution(6, 64, kernel: (5, 5)).runsWinograd(forInputShape: [8, 6, 14, 14]))   // more than 32
        XCTAssertFalse(convolution(6, 16, kernel: (5, 5), stride: (2, 2)).runsWinograd(forInputShape: [8, 6, 14, 14]))
    }

    func testWinograd5x5GivesTheSameBitsOnAnyThreadCount() {
        var rng = SeededGenerator(seed: 49)
        let x = randomTensor([13, 16, 14, 14], &rng), g = sparseGradient([13, 32, 14, 14], zeros: 0.8, &rng)
        assertSameBitsOnAnyThreadCount(x: x, gradient: g) { convolution(16, 32, kernel: (5, 5), padding: .same, seed: 50) }
    }

    // MARK: initialisation, specs

    func testInitialisationUsesConvolutionFans() {
        var rng = SeededGenerator(seed: 2)
        // He normal: std = √(2 / (C·KH·KW)) = √(2/800) = 0.05.
        let he = Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 5, padding: .same, initializer: .heNormal, rng: &rng)
        let w = he.weight.value.storage
        let std = (w.reduce(0) { $0 + Double($1 * $1) } / Double(w.count)).squareRoot()
        XCTAssertEqual(std, 0.05, accuracy: 0.002)
        // Glorot uniform: limit √(6 / (C·KH·KW + O·KH·KW)) = √(6/2400) = 0.05.
        let glorot = Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 5, initializer: .glorotUniform, rng: &rng)
        let largest = glorot.weight.value.storage.map(abs).max()!
        XCTAssertLessThanOrEqual(largest, 0.05)
        XCTAssertGreaterThan(largest, 0.049)
        XCTAssertEqual(he.weight.value.shape, [64, 32, 5, 5])
        XCTAssertEqual(he.parameters.map(\.decays), [true, false])
    }

    func testSpecsRoundTripAndBuildTheLayers() throws {
        let specs: [LayerSpec] = [
            .conv2d(inputChannels: 1, outputChannels: 6, kernel: 5, padding: .same),
            .maxPool2d(kernel: 2, stride: 2),
            .conv2d(inputChannels: 6, outputChannels: 16, kernelHeight: 5, kernelWidth: 3, strideHeight: 1, strideWidth: 2,
                    padding: .explicit(top: 0, bottom: 1, left: 2, right: 3)),
            .avgPool2d(kernel: 2, stride: 1),
            .batchNorm(features: 16),
            .dropout(rate: 0.25),
            .flatten,
        ]
        let decoded = try JSONDecoder().decode([LayerSpec].self, from: JSONEncoder().encode(specs))
        XCTAssertEqual(decoded, specs)
        let net = Sequential(specs: specs, initializer: .heNormal, seed: 1)
        XCTAssertEqual(net.specs, specs)
        XCTAssertEqual(specs.map(\.displayName), [
            "Conv2D(1→6, 5×5, stride 1, same)", "MaxPool2D(2×2, stride 2)",
            "Conv2D(6→16, 5×3, stride 1×2, pad(0,1,2,3))", "AvgPool2D(2×2, stride 1)",
            "BatchNorm(16)", "Dropout(0.25)", "Flatten",
        ])
        var shape = [2, 1, 28, 28]
        for layer in net.layers { shape = layer.outputShape(for: shape) }
        // 28 → same 28 → pool 14 → (14+1−5)+1 = 11 × ⌊(14+5−3)/2⌋+1 = 9 → avg pool 10 × 8
        XCTAssertEqual(shape, [2, 16 * 10 * 8])
        XCTAssertEqual(specs.reduce([2, 1, 28, 28]) { $1.outputShape(for: $0) }, shape)
        XCTAssertEqual(net.forward(Tensor(shape: [2, 1, 28, 28], repeating: 0.5), mode: .evaluation).shape, shape)
    }

    /// A small LeNet-like network, end to end through softmax cross-entropy, against finite differences.
    func testSmallNetworkGradients() {
        let net = Sequential(specs: [
            .conv2d(inputChannels: 1, outputChannels: 2, kernel: 3, padding: .same), .tanh,
            .avgPool2d(kernel: 2, stride: 2),
            .conv2d(inputChannels: 2, outputChannels: 3, kernel: 3, stride: 2, padding: .same), .tanh,
            .flatten, .dense(inputs: 3 * 2 * 2, outputs: 4),
        ], initializer: .glorotUniform, seed: 3)
        var rng = SeededGenerator(seed: 4)
        let x = randomTensor([3, 1, 8, 8], &rng)
        let labels = [0, 3, 1]
        let loss = SoftmaxCrossEntropy()
        net.backward(loss.evaluate(net.forward(x, mode: .training), labels: labels).gradient)
        for p in net.parameters {
            let analytic = p.gradient
            for i in stride(from: 0, to: p.value.count, by: 2) {
                let numeric = numericalDerivative({ Double(loss.evaluate(net.forward(x, mode: .evaluation), labels: labels).value) },
                                                  perturb: { p.value.storage[i] += $0 }, h: 1e-3)
                XCTAssertEqual(Double(analytic.storage[i]), numeric, accuracy: 3e-3, "\(p.name)[\(i)]")
            }
        }
    }
}
