import XCTest
import DigitsTensor
import DigitsNN

final class LayerTests: XCTestCase {
    func testDenseGradients() {
        var rng = SeededGenerator(seed: 1)
        let dense = Dense(inputs: 7, outputs: 5, initializer: .glorotUniform, rng: &rng)
        dense.bias.value = Tensor(shape: [5], values: [0.1, -0.2, 0.3, 0, 0.5])
        checkLayerGradients(dense, inputShape: [4, 7])
    }

    func testDenseForwardByHand() {
        var rng = SeededGenerator(seed: 1)
        let dense = Dense(inputs: 2, outputs: 3, initializer: .zeros, rng: &rng)
        dense.weight.value = Tensor(shape: [2, 3], values: [1, 3, 5, 2, 4, 6])   // W[k, j]: input k → output j
        dense.bias.value = Tensor(shape: [3], values: [0.5, 0, -1])
        let y = dense.forward(Tensor(shape: [1, 2], values: [1, -1]), mode: .evaluation)
        XCTAssertEqual(y.storage, [-0.5, -1, -2])      // [1−2+0.5, 3−4, 5−6−1]
    }

    /// A batch x [n, inputs] whose entries are nonzero (uniform in [0, 1)) with probability `density`, and a
    /// gradient g [n, outputs] of standard normal draws, drawn in that order from `rng`.
    private func sparseBatch(_ n: Int, inputs: Int, outputs: Int, density: Double,
                             rng: inout SeededGenerator) -> (x: Tensor, g: Tensor) {
        let x = Tensor(shape: [n, inputs], values: (0..<(n * inputs)).map { _ in
            rng.nextUniform() < Float(density) ? rng.nextUniform() : 0 })
        let g = Tensor(shape: [n, outputs], values: (0..<(n * outputs)).map { _ in rng.nextNormal() })
        return (x, g)
    }

    /// The zero-skipping kernels against the dense BLAS path: same outputs and gradients up to float
    /// rounding, on sparse and dense batches, odd sizes and single samples.
    func testSparseDenseKernelsMatchTheDensePath() {
        var rng = SeededGenerator(seed: 11)
        for (n, inputs, outputs, density) in [(1, 784, 200, 0.19), (130, 784, 512, 0.19), (300, 200, 100, 0.3), (70, 50, 100, 0.2),
                                              (7, 33, 9, 0.5), (5, 17, 3, 1.0), (3, 10, 4, 0.0)] {
            let (x, g) = sparseBatch(n, inputs: inputs, outputs: outputs, density: density, rng: &rng)
            var results: [(Tensor, Tensor, Tensor, Tensor)] = []
            for limit: Float in [0, 1] {
                var r = SeededGenerator(seed: 5)
                let dense = Dense(inputs: inputs, outputs: outputs, initializer: .glorotUniform, rng: &r)
                dense.bias.value = Tensor(shape: [outputs], values: (0..<outputs).map { Float($0) / 10 })
                dense.sparseDensityLimit = limit
                // Stale values in the gradient must not leak through unwritten rows.
                dense.weight.gradient = Tensor(shape: dense.weight.value.shape, repeating: 99)
                // Evaluation lists no nonzeros by input: the same sums.
                let yEvaluation = dense.forward(x, mode: .evaluation)
                let y = dense.forward(x, mode: .training)
                for i in 0..<y.count {
                    XCTAssertEqual(yEvaluation.storage[i], y.storage[i], accuracy: 1e-5 * max(1, abs(y.storage[i])), "evaluation y[\(i)] n=\(n)")
                }
                let dx = dense.backward(g, needsInputGradient: true)
                dense.weight.densifyGradient()
                results.append((y, dense.weight.gradient, dense.bias.gradient, dx))
            }
            let (a, b) = (results[0], results[1])
            for (u, v, what) in [(a.0, b.0, "y"), (a.1, b.1, "dW"), (a.2, b.2, "db"), (a.3, b.3, "dx")] {
                XCTAssertEqual(u.shape, v.shape)
                for i in 0..<u.count {
                    XCTAssertEqual(u.storage[i], v.storage[i], accuracy: 1e-4 * max(1, abs(u.storage[i])), "\(what)[\(i)] n=\(n) density=\(density)")
                }
            }
        }
    }

    /// The zero-skipping forward and weight gradient give the same bits on 1 and 2 threads (the threads share
    /// the column blocks of W, or the samples when there are fewer blocks), with chunks of W copied out or read
    /// in place.
    func testSparseDenseKernelsGiveTheSameBitsOnAnyThreadCount() {
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        var rng = SeededGenerator(seed: 13)
        for (n, inputs, outputs, density) in [(128, 784, 512, 0.19), (300, 200, 100, 0.3), (40, 300, 64, 0.1), (2, 784, 512, 0.2)] {
            let (x, g) = sparseBatch(n, inputs: inputs, outputs: outputs, density: density, rng: &rng)
            var results: [[Tensor]] = []
            for threads in [1, 2] {
                BLAS.setThreads(threads)
                var r = SeededGenerator(seed: 7)
                let dense = Dense(inputs: inputs, outputs: outputs, initializer: .glorotUniform, rng: &r)
                let y = dense.forward(x, mode: .training)
                _ = dense.backward(g, needsInputGradient: false)
                dense.weight.densifyGradient()
                results.append([y, dense.weight.gradient, dense.forward(x, mode: .evaluation)])
            }
            for (i, what) in ["y", "dW", "evaluation y"].enumerated() {
                XCTAssertEqual(results[0][i].storage, results[1][i].storage, "\(what): 1 and 2 threads, n=\(n) outputs=\(outputs)")
            }
        }
    }

    /// A narrow layer (at most `Dense.narrowOutputLimit` outputs) takes dense batches through its own kernels:
    /// the same y, ∂L/∂W, ∂L/∂b and ∂L/∂x as BLAS up to float rounding, and the same bits on 1 and 2 threads.
    /// Two forward passes each, so that the second takes the quick count that skips the listing.
    func testNarrowDenseKernelsMatchBLAS() {
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        var rng = SeededGenerator(seed: 12)
        for (n, inputs, outputs, density) in [(128, 512, 10, 0.5), (100, 300, 7, 1.0), (70, 131, 16, 0.6), (257, 61, 5, 0.9)] {
            let (x, g) = sparseBatch(n, inputs: inputs, outputs: outputs, density: density, rng: &rng)
            var results: [[Tensor]] = []
            for (limit, threads) in [(Float(0), 2), (0.3, 1), (0.3, 2)] {
                BLAS.setThreads(threads)
                var r = SeededGenerator(seed: 6)
                let dense = Dense(inputs: inputs, outputs: outputs, initializer: .glorotUniform, rng: &r)
                dense.bias.value = Tensor(shape: [outputs], values: (0..<outputs).map { Float($0) / 10 - 0.3 })
                dense.sparseDensityLimit = limit
                _ = dense.forward(x, mode: .training)
                let y = dense.forward(x, mode: .training)
                let dx = dense.backward(g, needsInputGradient: true)
                XCTAssertNil(dense.weight.gradientRows, "a dense batch has a dense gradient")
                results.append([y, dense.weight.gradient, dense.bias.gradient, dx])
            }
            for (i, what) in ["y", "dW", "db", "dx"].enumerated() {
                let (blas, narrow) = (results[0][i], results[2][i])
                XCTAssertEqual(blas.shape, narrow.shape)
                for e in 0..<blas.count {
                    XCTAssertEqual(blas.storage[e], narrow.storage[e], accuracy: 1e-4 * max(1, abs(blas.storage[e])),
                                   "\(what)[\(e)] n=\(n) inputs=\(inputs) outputs=\(outputs)")
                }
                XCTAssertEqual(results[1][i].storage, narrow.storage, "\(what): 1 and 2 threads, n=\(n)")
            }
        }
    }

    /// Plain SGD on a row-sparse gradient moves exactly the rows a dense step would move.
    func testSGDOnSparseRowsEqualsDenseStep() {
        var rng = SeededGenerator(seed: 2)
        let x = Tensor(shape: [1, 20], values: (0..<20).map { $0 % 4 == 0 ? rng.nextUniform() : 0 })
        let g = Tensor(shape: [1, 6], values: (0..<6).map { _ in rng.nextNormal() })
        var finals: [Tensor] = []
        for limit: Float in [0, 1] {
            var r = SeededGenerator(seed: 3)
            let dense = Dense(inputs: 20, outputs: 6, initializer: .glorotUniform, rng: &r)
            dense.sparseDensityLimit = limit
            _ = dense.forward(x, mode: .training)
            _ = dense.backward(g, needsInputGradient: false)
            XCTAssertEqual(dense.weight.gradientRows, limit == 1 ? [0, 4, 8, 12, 16] : nil)
            SGD(learningRate: 0.5).step(dense.parameters)
            finals.append(dense.weight.value)
        }
        for i in 0..<finals[0].count { XCTAssertEqual(finals[0].storage[i], finals[1].storage[i], accuracy: 1e-6) }
    }


    /// One sample's weight gradient, held as the factors of x ⊗ g: written out it is xₖ·g on the nonzero
    /// inputs' rows (listed in `gradientRows`), and plain SGD applied to the factors moves the weights to the
    /// same bits as SGD on the written-out gradient, over several steps; momentum and RMSprop read it whole.
    func testOneSampleGradientHeldAsFactors() {
        var rng = SeededGenerator(seed: 12)
        let samples = (0..<3).map { s in
            (Tensor(shape: [1, 37], values: (0..<37).map { ($0 + s) % 3 == 0 ? rng.nextNormal() : 0 }),
             Tensor(shape: [1, 19], values: (0..<19).map { _ in rng.nextNormal() }))
        }
        func trained(_ makeOptimizer: () -> Optimizer, readingGradients: Bool) -> (Tensor, [Tensor]) {
            var r = SeededGenerator(seed: 5)
            let dense = Dense(inputs: 37, outputs: 19, initializer: .glorotUniform, rng: &r)
            let optimizer = makeOptimizer()
            var gradients: [Tensor] = []
            for (x, g) in samples {
                _ = dense.forward(x, mode: .training)
                _ = dense.backward(g, needsInputGradient: false)
                if readingGradients {
                    let rows = dense.weight.gradientRows ?? []
                    XCTAssertEqual(rows, (0..<37).filter { x.storage[$0] != 0 })
                    let written = dense.weight.gradient
                    for k in rows {
                        for j in 0..<19 { XCTAssertEqual(written.storage[k * 19 + j], x.storage[k] * g.storage[j], "row \(k)") }
                    }
                    dense.weight.densifyGradient()
                    gradients.append(dense.weight.gradient)
                }
                optimizer.step(dense.parameters)
            }
            return (dense.weight.value, gradients)
        }
        let (factored, _) = trained({ SGD(learningRate: 0.3) }, readingGradients: false)
        let (written, gradients) = trained({ SGD(learningRate: 0.3) }, readingGradients: true)
        XCTAssertEqual(factored.storage, written.storage)
        XCTAssertNotEqual(gradients[0].storage, gradients[1].storage)
        // Rules that read every entry see the whole gradient (zeros off the rows).
        for make in [{ SGD(learningRate: 0.3, momentum: 0.9) as Optimizer }, { RMSprop(learningRate: 0.01) }] {
            XCTAssertEqual(trained(make, readingGradients: false).0.storage, trained(make, readingGradients: true).0.storage)
        }
    }
    /// RMSprop on row-sparse gradients, over several steps (rows unlit in one step are lit in another), ends
    /// bit for bit where dense steps on the same gradients (zeros outside the rows) end, averages included.
    func testRMSpropOnSparseRowsEqualsDenseSteps() {
        var rng = SeededGenerator(seed: 4)
        let (rowCount, width) = (21, 13)
        let start = Tensor(shape: [rowCount, width], values: (0..<(rowCount * width)).map { _ in rng.nextNormal() })
        let steps: [(rows: [Int], values: [Float])] = (0..<3).map { step in
            let rows = (0..<rowCount).filter { ($0 + step) % 3 != 0 }
            return (rows, (0..<(rowCount * width)).map { _ in rng.nextNormal() })
        }
        var finals: [(Tensor, [Float])] = []
        for sparse in [false, true] {
            let p = Parameter(name: "w", value: start, decays: true)
            let optimizer = RMSprop(learningRate: 0.01)
            for (rows, values) in steps {
                var g = values
                for r in 0..<rowCount where !rows.contains(r) {
                    // Dense: zeros. Sparse: stale garbage, which must not be read.
                    for j in 0..<width { g[r * width + j] = sparse ? .nan : 0 }
                }
                p.gradient = Tensor(shape: [rowCount, width], values: g)
                p.gradientRows = sparse ? rows : nil
                optimizer.step([p])
            }
            finals.append((p.value, optimizer.state.buffers["mean_square"]?.first ?? []))
        }
        XCTAssertEqual(finals[0].0.storage, finals[1].0.storage)
        XCTAssertEqual(finals[0].1, finals[1].1)
        XCTAssertEqual(finals[0].1.count, rowCount * width)
    }

    func testActivationGradients() {
        // ReLU has a kink at 0: keep inputs away from it.
        checkLayerGradients(ReLU(), inputShape: [3, 6]) { rng in
            let v = rng.nextNormal(); return v + (v >= 0 ? 0.1 : -0.1)
        }
        checkLayerGradients(Sigmoid(), inputShape: [3, 6])
        checkLayerGradients(Tanh(), inputShape: [3, 6])
    }

    func testActivationValues() {
        let x = Tensor(shape: [1, 3], values: [-2, 0, 3])
        XCTAssertEqual(ReLU().forward(x, mode: .evaluation).storage, [0, 0, 3])
        let s = Sigmoid().forward(x, mode: .evaluation).storage
        XCTAssertEqual(s[1], 0.5)
        XCTAssertEqual(s[2], 1 / (1 + exp(-3)), accuracy: 1e-6)
    }

    func testSequentialNamesAndGradients() {
        let net = Sequential(specs: [.dense(inputs: 6, outputs: 5), .tanh, .dense(inputs: 5, outputs: 3)],
                             initializer: .glorotUniform, seed: 9)
        XCTAssertEqual(net.parameters.map(\.name),
                       ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"])
        XCTAssertEqual(net.parameterCount, 6 * 5 + 5 + 5 * 3 + 3)
        // Whole-network gradient through a loss, against finite differences.
        var rng = SeededGenerator(seed: 2)
        let x = Tensor(shape: [4, 6], values: (0..<24).map { _ in rng.nextNormal() })
        let labels = [0, 2, 1, 2]
        let loss = SoftmaxCrossEntropy()
        let out = net.forward(x, mode: .training)
        net.backward(loss.evaluate(out, labels: labels).gradient)
        for p in net.parameters {
            let analytic = p.gradient
            for i in stride(from: 0, to: p.value.count, by: 3) {
                let numeric = numericalDerivative({ Double(loss.evaluate(net.forward(x, mode: .evaluation), labels: labels).value) },
                                                  perturb: { p.value.storage[i] += $0 }, h: 1e-3)
                XCTAssertEqual(Double(analytic.storage[i]), numeric, accuracy: 3e-3, "\(p.name)[\(i)]")
            }
        }
    }

    /// Sequential runs a ReLU that precedes a max-pooling after it: the outputs and every gradient must be the
    /// bits that running the layers in their declared order gives, with non-overlapping and overlapping
    /// windows, ties, and windows whose values are all negative or all zero.
    func testReLUBeforeMaxPoolingRunsAfterItWithTheSameResults() {
        for (kernel, stride) in [(2, 2), (3, 2)] {
            let specs: [LayerSpec] = [.conv2d(inputChannels: 1, outputChannels: 3, kernel: 3, padding: .same), .relu,
                                      .maxPool2d(kernel: kernel, stride: stride), .flatten,
                                      .dense(inputs: 3 * ((9 - kernel) / stride + 1) * ((9 - kernel) / stride + 1), outputs: 4)]
            let net = Sequential(specs: specs, initializer: .heNormal, seed: 5)
            let reference = Sequential(specs: specs, initializer: .heNormal, seed: 5)
            var rng = SeededGenerator(seed: 6)
            var values = (0..<(3 * 81)).map { _ in Float(rng.nextInt(below: 5)) - 3 }   // many ties, negatives and zeros
            for i in 0..<20 { values[i] = 0 }
            let x = Tensor(shape: [3, 1, 9, 9], values: values)
            let g = Tensor(shape: [3, 4], values: (0..<12).map { _ in rng.nextNormal() })
            let y = net.forward(x, mode: .training)
            net.backward(g)
            // The reference, layer by layer in the declared order.
            var h = x
            for layer in reference.layers { h = layer.forward(h, mode: .training) }
            var d = g
            for (i, layer) in reference.layers.enumerated().reversed() { d = layer.backward(d, needsInputGradient: i > 0) }
            XCTAssertEqual(y, h, "pooling \(kernel)/\(stride)")
            for (a, b) in zip(net.parameters, reference.parameters) {
                XCTAssertEqual(a.gradient, b.gradient, "\(a.name), pooling \(kernel)/\(stride)")
            }
        }
    }

    func testSameSeedSameWeights() {
        let a = Sequential(specs: [.dense(inputs: 10, outputs: 4)], initializer: .heNormal, seed: 3)
        let b = Sequential(specs: [.dense(inputs: 10, outputs: 4)], initializer: .heNormal, seed: 3)
        let c = Sequential(specs: [.dense(inputs: 10, outputs: 4)], initializer: .heNormal, seed: 4)
        XCTAssertEqual(a.parameters[0].value, b.parameters[0].value)
        XCTAssertNotEqual(a.parameters[0].value, c.parameters[0].value)
    }
}

#if canImport(Glibc)
import Glibc
#endif
