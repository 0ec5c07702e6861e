import XCTest
import DigitsTensor
import DigitsNN

/// Central finite differences, (f(x + h) − f(x − h)) / 2h, for a scalar function of one buffer element.
func numericalDerivative(_ f: () -> Double, perturb: (Float) -> Void, h: Float = 1e-2) -> Double {
    perturb(h)
    let plus = f()
    perturb(-2 * h)
    let minus = f()
    perturb(h)
    return (plus - minus) / Double(2 * h)
}

/// Checks a layer's backward against finite differences of L = Σ r ⊙ forward(x) for random r,
/// for the input gradient and every parameter's gradient.
func checkLayerGradients(_ layer: Layer, inputShape: [Int], seed: UInt64 = 3,
                         input makeInput: ((inout SeededGenerator) -> Float)? = nil,
                         file: StaticString = #filePath, line: UInt = #line) {
    var rng = SeededGenerator(seed: seed)
    let count = inputShape.reduce(1, *)
    var x = Tensor(shape: inputShape, values: (0..<count).map { _ in makeInput?(&rng) ?? rng.nextNormal() })
    let y0 = layer.forward(x, mode: .training)
    let r = Tensor(shape: y0.shape, values: (0..<y0.count).map { _ in rng.nextNormal() })
    func loss() -> Double {
        let y = layer.forward(x, mode: .evaluation)
        return zip(y.storage, r.storage).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
    _ = layer.forward(x, mode: .training)
    let dx = layer.backward(r, needsInputGradient: true)
    XCTAssertEqual(dx.shape, x.shape, "input gradient shape", file: file, line: line)
    for i in stride(from: 0, to: count, by: max(1, count / 40)) {
        let numeric = numericalDerivative(loss) { x.storage[i] += $0 }
        XCTAssertEqual(Double(dx.storage[i]), numeric, accuracy: 2e-2 * max(1, abs(numeric)),
                       "∂L/∂x[\(i)]", file: file, line: line)
    }
    for p in layer.parameters {
        let analytic = p.gradient
        for i in stride(from: 0, to: p.value.count, by: max(1, p.value.count / 40)) {
            let numeric = numericalDerivative(loss) { p.value.storage[i] += $0 }
            XCTAssertEqual(Double(analytic.storage[i]), numeric, accuracy: 2e-2 * max(1, abs(numeric)),
                           "∂L/∂\(p.name)[\(i)]", file: file, line: line)
        }
    }
}

/// Checks a loss's gradient against finite differences of its value.
func checkLossGradient(_ loss: Loss, rows: Int, classes: Int, seed: UInt64 = 5,
                       file: StaticString = #filePath, line: UInt = #line) {
    var rng = SeededGenerator(seed: seed)
    var s = Tensor(shape: [rows, classes], values: (0..<(rows * classes)).map { _ in rng.nextNormal() })
    let labels = (0..<rows).map { _ in rng.nextInt(below: classes) }
    let analytic = loss.evaluate(s, labels: labels).gradient
    for i in 0..<s.count {
        let numeric = numericalDerivative({ Double(loss.evaluate(s, labels: labels).value) }, perturb: { s.storage[i] += $0 }, h: 1e-3)
        XCTAssertEqual(Double(analytic.storage[i]), numeric, accuracy: 5e-3, "∂L/∂s[\(i)]", file: file, line: line)
    }
}
