import XCTest
import DigitsTensor
import DigitsNN

final class PoolingTests: XCTestCase {
    /// 1, 2, …, 16 in a 4×4 image.
    private let counting = Tensor(shape: [1, 1, 4, 4], values: (1...16).map(Float.init))

    func testMaxPoolByHand() {
        let pool = MaxPool2D(kernelSize: 2)
        XCTAssertEqual(pool.stride, 2)
        let x = Tensor(shape: [1, 1, 4, 4], values: [1, 9, 2, 0,
                                                     3, 4, 8, 1,
                                                     5, 6, 0, 0,
                                                     7, 2, 3, -1])
        let y = pool.forward(x, mode: .training)
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.storage, [9, 8, 7, 3])
        // Each gradient goes to its window's maximum.
        let dx = pool.backward(Tensor(shape: [1, 1, 2, 2], values: [10, 20, 30, 40]), needsInputGradient: true)
        XCTAssertEqual(dx.storage, [0, 10, 0, 0,
                                    0, 0, 20, 0,
                                    0, 0, 0, 0,
                                    30, 0, 40, 0])
    }

    func testMaxPoolTiesAndOverlaps() {
        // All equal: the first position of each window (row-major) takes the gradient.
        let pool = MaxPool2D(kernelSize: 2)
        _ = pool.forward(Tensor(shape: [1, 1, 2, 4], repeating: 1), mode: .training)
        let dx = pool.backward(Tensor(shape: [1, 1, 1, 2], values: [1, 2]), needsInputGradient: true)
        XCTAssertEqual(dx.storage, [1, 0, 2, 0, 0, 0, 0, 0])
        // Overlapping 2×2 windows, stride 1, all with the centre as maximum: the centre gets the sum.
        let overlapping = MaxPool2D(kernelSize: 2, stride: 1)
        let x = Tensor(shape: [1, 1, 3, 3], values: [0, 1, 0, 2, 5, 3, 0, 4, 0])
        XCTAssertEqual(overlapping.forward(x, mode: .training).storage, [5, 5, 5, 5])
        let g = overlapping.backward(Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4]), needsInputGradient: true)
        XCTAssertEqual(g.storage, [0, 0, 0, 0, 10, 0, 0, 0, 0])
    }

    func testMaxPoolOddSizeAndChannels() {
        // 5×7 with 2×2 windows: ⌊5/2⌋ × ⌊7/2⌋ = 2×3; the last row and column are not read.
        let pool = MaxPool2D(kernelSize: 2)
        let x = Tensor(shape: [2, 3, 5, 7], values: (0..<210).map(Float.init))
        let y = pool.forward(x, mode: .evaluation)
        XCTAssertEqual(y.shape, [2, 3, 2, 3])
        // Values rise along rows and columns, so each maximum is the window's bottom-right: plane·35 + (2i+1)·7 + 2j+1.
        for plane in 0..<6 {
            for i in 0..<2 {
                for j in 0..<3 {
                    XCTAssertEqual(y.storage[plane * 6 + i * 3 + j], Float(plane * 35 + (2 * i + 1) * 7 + 2 * j + 1))
                }
            }
        }
    }

    /// 2×2 windows at stride 2 take a vector path: it must give what the definition gives, ties (first in
    /// row-major order) and NaN included, with a last group of eight that overlaps the one before (10 outputs
    /// a row), rows of fewer than eight outputs (7 and 3), and an odd last row and column left out.
    func testMaxPoolTwoByTwoMatchesTheDefinition() {
        var rng = SeededGenerator(seed: 22)
        for shape in [[2, 3, 13, 21], [2, 2, 16, 18], [2, 3, 14, 14], [1, 2, 7, 15], [3, 1, 6, 7]] {
            let (planes, H, W) = (shape[0] * shape[1], shape[2], shape[3])
            let (OH, OW) = (H / 2, W / 2)
            var values = (0..<shape.reduce(1, *)).map { _ in Float(rng.nextInt(below: 4)) }   // many ties
            values[5] = .nan
            values[W * 2 + 7 % W] = .nan
            let x = Tensor(shape: shape, values: values)
            let pool = MaxPool2D(kernelSize: 2)
            let y = pool.forward(x, mode: .training)
            XCTAssertEqual(y.shape, [shape[0], shape[1], OH, OW])
            let g = Tensor(shape: y.shape, values: (0..<y.count).map { Float($0 + 1) })
            let dx = pool.backward(g, needsInputGradient: true)
            var expectedDx = [Float](repeating: 0, count: x.count)
            for plane in 0..<planes {
                for i in 0..<OH {
                    for j in 0..<OW {
                        var best = plane * H * W + 2 * i * W + 2 * j
                        for (p, q) in [(0, 1), (1, 0), (1, 1)] where values[plane * H * W + (2 * i + p) * W + 2 * j + q] > values[best] {
                            best = plane * H * W + (2 * i + p) * W + 2 * j + q
                        }
                        let k = (plane * OH + i) * OW + j
                        XCTAssertEqual(y.storage[k].bitPattern, values[best].bitPattern, "\(shape): plane \(plane), output (\(i), \(j))")
                        expectedDx[best] += g.storage[k]
                    }
                }
            }
            XCTAssertEqual(dx.storage, expectedDx, "\(shape)")
            XCTAssertEqual(pool.forward(x, mode: .evaluation).storage.map(\.bitPattern), y.storage.map(\.bitPattern))
        }
    }

    func testMaxPoolGradients() {
        // Distinct inputs 0.1 apart (a shuffled ramp), so that no perturbation of ±0.01 changes an argmax.
        var rng = SeededGenerator(seed: 21)
        for (shape, pool) in [([2, 3, 5, 7], MaxPool2D(kernelSize: 2)), ([2, 2, 6, 6], MaxPool2D(kernelSize: 3, stride: 2))] {
            var values = (0..<shape.reduce(1, *)).map { Float($0) * 0.1 }
            rng.shuffle(&values)
            var next = 0
            checkLayerGradients(pool, inputShape: shape) { _ in
                defer { next += 1 }
                return values[next]
            }
        }
    }

    func testAvgPoolByHand() {
        let pool = AvgPool2D(kernelSize: 2)
        let y = pool.forward(counting, mode: .training)
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.storage, [3.5, 5.5, 11.5, 13.5])                        // (1+2+5+6)/4, (3+4+7+8)/4, …
        let dx = pool.backward(Tensor(shape: [1, 1, 2, 2], values: [4, 8, 12, 16]), needsInputGradient: true)
        XCTAssertEqual(dx.storage, [1, 1, 2, 2,
                                    1, 1, 2, 2,
                                    3, 3, 4, 4,
                                    3, 3, 4, 4])                                 // each input gets ∂L/∂y / 4
        // 3×3 windows, stride 1, on the 4×4 image: 2×2 outputs, overlapping gradients add up.
        let overlapping = AvgPool2D(kernelSize: 3, stride: 1)
        XCTAssertEqual(overlapping.forward(counting, mode: .training).storage, [6, 7, 10, 11])   // centre values 6, 7, 10, 11
        let g = overlapping.backward(Tensor(shape: [1, 1, 2, 2], repeating: 9), needsInputGradient: true)
        XCTAssertEqual(g.storage, [1, 2, 2, 1,
                                   2, 4, 4, 2,
                                   2, 4, 4, 2,
                                   1, 2, 2, 1])                                  // the number of windows holding each pixel
    }

    func testAvgPoolGradients() {
        checkLayerGradients(AvgPool2D(kernelSize: 2), inputShape: [2, 3, 5, 7])
        checkLayerGradients(AvgPool2D(kernelSize: 3, stride: 2), inputShape: [2, 2, 7, 6])
    }

    func testPoolingSpecs() {
        XCTAssertEqual(MaxPool2D(kernelSize: 2).spec, .maxPool2d(kernel: 2, stride: 2))
        XCTAssertEqual(AvgPool2D(kernelSize: 3, stride: 1).spec, .avgPool2d(kernel: 3, stride: 1))
        XCTAssertEqual(MaxPool2D(kernelSize: 3, stride: 2).outputShape(for: [8, 4, 28, 28]), [8, 4, 13, 13])
    }
}
