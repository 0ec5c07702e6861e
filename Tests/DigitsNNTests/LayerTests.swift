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
        dense.weight.value = Tensor(shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        dense.bias.value = Tensor(shape: [3], values: [0.5, 0, -1])
        let y = dense.forward(Tensor(shape: [1, 2], values: [1, -1]), mode: .evaluation)
        XCTAssertEqual(y.storage, [-0.5, -1, -2])      // [1−2+0.5, 3−4, 5−6−1]
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
