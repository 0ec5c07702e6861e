import XCTest
import DigitsTensor
import DigitsNN

/// Checks a layer's training-mode backward against finite differences of L = Σ r ⊙ forward(x, .training):
/// unlike `checkLayerGradients`, every forward of the loss is a training one, so batch statistics are
/// recomputed for each perturbation. The buffers (running statistics) are restored afterwards.
func checkTrainingGradients(_ layer: Layer, inputShape: [Int], seed: UInt64 = 3,
                            file: StaticString = #filePath, line: UInt = #line) {
    let savedBuffers = layer.buffers.map(\.value)
    defer { for (b, v) in zip(layer.buffers, savedBuffers) { b.value = v } }
    var rng = SeededGenerator(seed: seed)
    let count = inputShape.reduce(1, *)
    var x = Tensor(shape: inputShape, values: (0..<count).map { _ in rng.nextNormal() })
    let r = Tensor(shape: layer.outputShape(for: inputShape), values: (0..<count).map { _ in rng.nextNormal() })
    _ = layer.forward(x, mode: .training)
    let dx = layer.backward(r, needsInputGradient: true)
    let analytic = layer.parameters.map(\.gradient)
    func loss() -> Double {
        let y = layer.forward(x, mode: .training)
        return zip(y.storage, r.storage).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
    for i in stride(from: 0, to: count, by: max(1, count / 40)) {
        let numeric = numericalDerivative(loss, perturb: { x.storage[i] += $0 }, h: 1e-2)
        XCTAssertEqual(Double(dx.storage[i]), numeric, accuracy: 2e-2 * max(1, abs(numeric)), "∂L/∂x[\(i)]", file: file, line: line)
    }
    for (p, g) in zip(layer.parameters, analytic) {
        for i in 0..<p.value.count {
            let numeric = numericalDerivative(loss, perturb: { p.value.storage[i] += $0 }, h: 1e-2)
            XCTAssertEqual(Double(g.storage[i]), numeric, accuracy: 2e-2 * max(1, abs(numeric)), "∂L/∂\(p.name)[\(i)]", file: file, line: line)
        }
    }
}

final class NormalizationTests: XCTestCase {
    /// Per-channel mean and biased variance of an [N, C] or [N, C, H, W] tensor, in Double.
    private func channelStatistics(_ x: Tensor) -> [(mean: Double, variance: Double)] {
        let (n, c) = (x.shape[0], x.shape[1])
        let s = x.count / (n * c)
        return (0..<c).map { ch in
            let values = (0..<n).flatMap { i in (0..<s).map { Double(x.storage[(i * c + ch) * s + $0]) } }
            let mean = values.reduce(0, +) / Double(values.count)
            return (mean, values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count))
        }
    }

    private func sample(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        // Channel-dependent offset and scale, so that normalisation has something to do.
        let c = shape[1], s = shape.dropFirst(2).reduce(1, *)
        return Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { i in
            let ch = (i / s) % c
            return rng.nextNormal(mean: Float(ch) - 1, std: 0.5 + Float(ch))
        })
    }

    func testTrainingOutputIsStandardised() {
        for shape in [[16, 3], [4, 3, 5, 7]] {
            let bn = BatchNorm(features: 3)
            let y = bn.forward(sample(shape, seed: 1), mode: .training)
            for (mean, variance) in channelStatistics(y) {
                XCTAssertEqual(mean, 0, accuracy: 1e-5, "\(shape)")
                XCTAssertEqual(variance, 1, accuracy: 1e-3, "\(shape)")       // σ²/(σ² + ε)
            }
            // With γ and β the statistics become β and γ².
            bn.weight.value = Tensor(shape: [3], values: [2, 0.5, 1])
            bn.bias.value = Tensor(shape: [3], values: [1, -1, 3])
            let z = bn.forward(sample(shape, seed: 1), mode: .training)
            for (stats, (γ, β)) in zip(channelStatistics(z), [(2.0, 1.0), (0.5, -1.0), (1.0, 3.0)]) {
                XCTAssertEqual(stats.mean, β, accuracy: 1e-5)
                XCTAssertEqual(stats.variance, γ * γ, accuracy: 4e-3)
            }
        }
    }

    func testRunningStatisticsAfterOneStep() {
        let x = sample([4, 2, 3, 3], seed: 2)
        let bn = BatchNorm(features: 2, momentum: 0.1)
        XCTAssertEqual(bn.runningMean.value.storage, [0, 0])
        XCTAssertEqual(bn.runningVariance.value.storage, [1, 1])
        _ = bn.forward(x, mode: .training)
        let m = 4.0 * 9.0
        for (c, stats) in channelStatistics(x).enumerated() {
            // running = 0.9·running + 0.1·batch, the variance unbiased: σ²·M/(M − 1)
            XCTAssertEqual(Double(bn.runningMean.value.storage[c]), 0.9 * 0 + 0.1 * stats.mean, accuracy: 1e-6)
            XCTAssertEqual(Double(bn.runningVariance.value.storage[c]), 0.9 * 1 + 0.1 * stats.variance * m / (m - 1), accuracy: 1e-6)
        }
        // Evaluation leaves them alone.
        let before = bn.runningMean.value
        _ = bn.forward(x, mode: .evaluation)
        XCTAssertEqual(bn.runningMean.value, before)
    }

    func testEvaluationUsesRunningStatistics() {
        let bn = BatchNorm(features: 2, epsilon: 1e-5)
        bn.runningMean.value = Tensor(shape: [2], values: [1, -2])
        bn.runningVariance.value = Tensor(shape: [2], values: [4, 0.25])
        bn.weight.value = Tensor(shape: [2], values: [3, 1])
        bn.bias.value = Tensor(shape: [2], values: [0.5, 0])
        let x = Tensor(shape: [2, 2], values: [3, -1, 1, -2.5])
        let y = bn.forward(x, mode: .evaluation)
        // y = γ (x − running_mean) / √(running_var + ε) + β
        let expected: [Double] = [3 * 2 / (4 + 1e-5).squareRoot() + 0.5, 1 / (0.25 + 1e-5).squareRoot(),
                                  0.5, -0.5 / (0.25 + 1e-5).squareRoot()]
        for (a, b) in zip(y.storage, expected) { XCTAssertEqual(Double(a), b, accuracy: 1e-5) }
    }

    func testTrainingGradients() {
        let bn = BatchNorm(features: 3)
        bn.weight.value = Tensor(shape: [3], values: [1.5, -0.7, 0.3])
        bn.bias.value = Tensor(shape: [3], values: [0.2, 0, -1])
        checkTrainingGradients(bn, inputShape: [6, 3])
        checkTrainingGradients(bn, inputShape: [3, 3, 4, 5])
        let running = bn.runningMean.value
        checkTrainingGradients(bn, inputShape: [3, 3, 4, 5])
        XCTAssertEqual(bn.runningMean.value, running, "the check restores the running statistics")
    }

    func testParametersAndBuffers() {
        let bn = BatchNorm(features: 4)
        XCTAssertEqual(bn.parameters.map(\.name), ["weight", "bias"])
        XCTAssertEqual(bn.buffers.map(\.name), ["running_mean", "running_var"])
        XCTAssertEqual(bn.parameters.map(\.decays), [false, false])
        XCTAssertEqual(bn.spec, .batchNorm(features: 4))
    }

    func testSequentialNamesBuffers() {
        let net = Sequential(specs: [
            .conv2d(inputChannels: 1, outputChannels: 4, kernel: 3, padding: .same),
            .batchNorm(features: 4), .relu, .maxPool2d(kernel: 2, stride: 2), .flatten,
            .dense(inputs: 4 * 2 * 2, outputs: 8), .batchNorm(features: 8),
        ], initializer: .heNormal, seed: 1)
        XCTAssertEqual(net.parameters.map(\.name), [
            "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
            "layers.5.weight", "layers.5.bias", "layers.6.weight", "layers.6.bias",
        ])
        XCTAssertEqual(net.buffers.map(\.name), [
            "layers.1.running_mean", "layers.1.running_var", "layers.6.running_mean", "layers.6.running_var",
        ])
        XCTAssertTrue(Flatten().buffers.isEmpty)
        XCTAssertEqual(net.forward(Tensor(shape: [3, 1, 4, 4], repeating: 1), mode: .training).shape, [3, 8])
    }
}
