import XCTest
import DigitsTensor
@testable import DigitsImaging

final class FilterTests: XCTestCase {
    /// The window extreme computed the plain way: every pixel scans its whole clipped window.
    private func naiveRank(_ a: [Float], _ w: Int, _ h: Int, radius r: Int, max useMax: Bool) -> [Float] {
        var out = a
        for y in 0..<h {
            for x in 0..<w {
                var m = a[y * w + x]
                for yy in max(0, y - r)...min(h - 1, y + r) {
                    for xx in max(0, x - r)...min(w - 1, x + r) { m = useMax ? max(m, a[yy * w + xx]) : min(m, a[yy * w + xx]) }
                }
                out[y * w + x] = m
            }
        }
        return out
    }

    func testRankFilterMatchesThePlainWindowScan() {
        var rng = SeededGenerator(seed: 9)
        for (w, h) in [(1, 1), (1, 9), (13, 1), (17, 11), (40, 23)] {
            // Few distinct levels, so ties are common.
            let a = (0..<(w * h)).map { _ in Float(rng.nextInt(below: 7)) / 7 }
            for r in [0, 1, 2, 3, 5, 8, 30] {
                XCTAssertEqual(Filters.opening(a, w, h, radius: r),
                               naiveRank(naiveRank(a, w, h, radius: r, max: false), w, h, radius: r, max: true), "\(w)x\(h) radius \(r) opening")
                for useMax in [false, true] {
                    XCTAssertEqual(Filters.rank(a, w, h, radius: r, max: useMax), naiveRank(a, w, h, radius: r, max: useMax),
                                   "\(w)x\(h) radius \(r) \(useMax ? "max" : "min")")
                }
            }
        }
    }

    func testBoxBlurMatchesThePlainWindowMean() {
        var rng = SeededGenerator(seed: 10)
        for (w, h) in [(1, 1), (1, 9), (13, 1), (17, 11), (40, 23)] {
            let a = (0..<(w * h)).map { _ in rng.nextUniform() }
            for r in [0, 1, 2, 5, 30] {
                let blurred = Filters.boxBlur(a, w, h, radius: r)
                for y in 0..<h {
                    for x in 0..<w {
                        // Edges clamped: a window reaching outside repeats the edge pixels.
                        var sum: Float = 0
                        for dy in -r...r { for dx in -r...r { sum += a[min(max(y + dy, 0), h - 1) * w + min(max(x + dx, 0), w - 1)] } }
                        let mean = sum / Float((2 * r + 1) * (2 * r + 1))
                        XCTAssertEqual(blurred[y * w + x], mean, accuracy: 1e-4, "\(w)x\(h) radius \(r) at (\(x), \(y))")
                    }
                }
            }
        }
    }

    func testOrderStatisticsMatchSorting() {
        var rng = SeededGenerator(seed: 4)
        for n in [1, 2, 3, 10, 101, 1000] {
            let a = (0..<n).map { _ in Float(rng.nextInt(below: max(2, n / 3))) }
            let sorted = a.sorted()
            let ranks = [0, n / 4, n / 2, (3 * n) / 4, n - 1]
            XCTAssertEqual(Filters.orderStatistics(a, ranks: ranks), ranks.map { sorted[$0] }, "n = \(n)")
        }
        XCTAssertEqual(Filters.orderStatistics([Float](repeating: 0.5, count: 50), ranks: [0, 25, 49]), [0.5, 0.5, 0.5])
    }
}
