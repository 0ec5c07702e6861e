import XCTest
import DigitsTensor
import DigitsNN

final class DropoutTests: XCTestCase {
    private let ones = Tensor(shape: [50, 200], repeating: 1)

    func testEvaluationIsIdentity() {
        var rng = SeededGenerator(seed: 1)
        let x = Tensor(shape: [4, 3, 5, 5], values: (0..<300).map { _ in rng.nextNormal() })
        XCTAssertEqual(Dropout(rate: 0.5, seed: 1).forward(x, mode: .evaluation), x)
    }

    func testTrainingDropsAboutRateAndScalesTheRest() {
        for rate: Float in [0.2, 0.5] {
            let y = Dropout(rate: rate, seed: 3).forward(ones, mode: .training)
            let dropped = y.storage.filter { $0 == 0 }.count
            XCTAssertEqual(Double(dropped) / Double(y.count), Double(rate), accuracy: 0.02)      // 10 000 draws: σ ≈ 0.005
            XCTAssertTrue(y.storage.allSatisfy { $0 == 0 || $0 == 1 / (1 - rate) })              // kept units × 1/(1 − p)
            let mean = y.storage.reduce(0) { $0 + Double($1) } / Double(y.count)
            XCTAssertEqual(mean, 1, accuracy: 0.05)                                                // E[y] = x
        }
    }

    func testSameSeedSameMask() {
        let a = Dropout(rate: 0.5, seed: 7), b = Dropout(rate: 0.5, seed: 7), c = Dropout(rate: 0.5, seed: 8)
        let first = a.forward(ones, mode: .training)
        XCTAssertEqual(first, b.forward(ones, mode: .training))
        XCTAssertNotEqual(first, c.forward(ones, mode: .training))
        XCTAssertNotEqual(first, a.forward(ones, mode: .training), "each training forward draws a new mask")
        // A model's dropout seed follows the model's seed.
        let net1 = Sequential(specs: [.dropout(rate: 0.5)], initializer: .zeros, seed: 5)
        let net2 = Sequential(specs: [.dropout(rate: 0.5)], initializer: .zeros, seed: 5)
        XCTAssertEqual(net1.forward(ones, mode: .training), net2.forward(ones, mode: .training))
    }

    func testBackwardAppliesTheForwardMask() {
        let dropout = Dropout(rate: 0.3, seed: 9)
        let y = dropout.forward(ones, mode: .training)                  // y = m for x = 1
        var rng = SeededGenerator(seed: 10)
        let g = Tensor(shape: ones.shape, values: (0..<ones.count).map { _ in rng.nextNormal() })
        let dx = dropout.backward(g, needsInputGradient: true)
        XCTAssertEqual(dx.storage, zip(g.storage, y.storage).map { $0 * $1 })   // ∂L/∂x = g ⊙ m
    }

    func testGradientsAgainstFiniteDifferences() {
        // A fresh layer with the same seed draws the same mask, so the training forward is a fixed function of x.
        let (rate, seed): (Float, UInt64) = (0.4, 12)
        var rng = SeededGenerator(seed: 13)
        var x = Tensor(shape: [3, 2, 4, 4], values: (0..<96).map { _ in rng.nextNormal() })
        let r = Tensor(shape: x.shape, values: (0..<96).map { _ in rng.nextNormal() })
        let layer = Dropout(rate: rate, seed: seed)
        _ = layer.forward(x, mode: .training)
        let dx = layer.backward(r, needsInputGradient: true)
        func loss() -> Double {
            let y = Dropout(rate: rate, seed: seed).forward(x, mode: .training)
            return zip(y.storage, r.storage).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        for i in 0..<x.count {
            let numeric = numericalDerivative(loss) { x.storage[i] += $0 }
            XCTAssertEqual(Double(dx.storage[i]), numeric, accuracy: 1e-3, "∂L/∂x[\(i)]")
        }
    }
}
