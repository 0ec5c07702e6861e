import XCTest
import DigitsTensor
import DigitsNN

final class LossTests: XCTestCase {
    /// The classic three-example hinge computation (classes cat, car, frog; Δ = 1).
    func testHingeWorkedExample() {
        let hinge = MulticlassHinge()
        func single(_ scores: [Float], _ label: Int) -> Float {
            hinge.evaluate(Tensor(shape: [1, 3], values: scores), labels: [label]).value
        }
        XCTAssertEqual(single([3.2, 5.1, -1.7], 0), 2.9, accuracy: 1e-5)     // max(0, 5.1−3.2+1) + max(0, −1.7−3.2+1)
        XCTAssertEqual(single([1.3, 4.9, 2.0], 1), 0, accuracy: 1e-5)
        XCTAssertEqual(single([2.2, 2.5, -3.1], 2), 12.9, accuracy: 1e-5)    // 6.3 + 6.6
        let batch = hinge.evaluate(Tensor(shape: [3, 3], values: [3.2, 5.1, -1.7, 1.3, 4.9, 2.0, 2.2, 2.5, -3.1]),
                                   labels: [0, 1, 2])
        XCTAssertEqual(batch.value, (2.9 + 0 + 12.9) / 3, accuracy: 1e-5)
    }

    func testHingeGradient() {
        checkLossGradient(MulticlassHinge(), rows: 4, classes: 5)
    }

    func testSoftmaxCrossEntropyValueAndGradient() {
        let ce = SoftmaxCrossEntropy()
        // Uniform scores: L = log(C), gradient (1/C − y)/N.
        let r = ce.evaluate(Tensor(shape: [2, 4], repeating: 3), labels: [1, 3])
        XCTAssertEqual(r.value, log(4), accuracy: 1e-6)
        XCTAssertEqual(r.gradient[0, 1], (0.25 - 1) / 2, accuracy: 1e-7)
        XCTAssertEqual(r.gradient[0, 0], 0.25 / 2, accuracy: 1e-7)
        checkLossGradient(ce, rows: 3, classes: 5)
        checkLossGradient(SoftmaxCrossEntropy(labelSmoothing: 0.1), rows: 3, classes: 5)
    }

    func testSoftmaxIsStableForHugeScores() {
        var s = Tensor(shape: [1, 3], values: [1000, 1001, 1002])
        let r = SoftmaxCrossEntropy().evaluate(s, labels: [2])
        XCTAssertTrue(r.value.isFinite)
        XCTAssertTrue(r.gradient.isFinite)
        softmaxRows(&s)
        XCTAssertEqual(s.storage.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(s[0, 2], 1 / (1 + exp(-1) + exp(-2)), accuracy: 1e-6)
    }

    func testSquaredError() {
        let se = SquaredError()
        let r = se.evaluate(Tensor(shape: [1, 2], values: [0.5, 0.2]), labels: [0])
        // targets (0.99, 0.01): L = ½((0.49)² + (0.19)²), gradient (o − t)
        XCTAssertEqual(r.value, 0.5 * (0.49 * 0.49 + 0.19 * 0.19), accuracy: 1e-6)
        XCTAssertEqual(r.gradient.storage[0], -0.49, accuracy: 1e-6)
        XCTAssertEqual(r.gradient.storage[1], 0.19, accuracy: 1e-6)
        checkLossGradient(se, rows: 3, classes: 4)
    }

    func testL2Penalty() {
        let p = Parameter(name: "w", value: Tensor(shape: [2], values: [1, -2]), decays: true)
        let b = Parameter(name: "b", value: Tensor(shape: [1], values: [5]), decays: false)
        let r = L2Penalty(lambda: 0.5).apply(to: [p, b])
        XCTAssertEqual(r, 0.5 * 5)                       // λ Σ w², biases excluded
        XCTAssertEqual(p.gradient.storage, [1, -2])      // 2λw
        XCTAssertEqual(b.gradient.storage, [0])
    }
}

#if canImport(Glibc)
import Glibc
#endif
