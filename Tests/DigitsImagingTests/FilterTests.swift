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

    func testTransposeMatchesTheDefinitionOnEverySize() {
        // Sizes around the 8×8 blocks: whole blocks, edges of every width, and pictures smaller than a block.
        for (w, h) in [(1, 1), (3, 5), (8, 8), (9, 8), (8, 9), (16, 24), (17, 23), (160, 120), (123, 77)] {
            let a = (0..<(w * h)).map { Float($0) }
            let t = Filters.transposed(a, w, h)
            var expected = [Float](repeating: -1, count: w * h)
            for y in 0..<h { for x in 0..<w { expected[x * h + y] = a[y * w + x] } }
            XCTAssertEqual(t, expected, "\(w)x\(h)")
            XCTAssertEqual(Filters.transposed(t, h, w), a, "\(w)x\(h) transposed twice")
        }
    }

    func testHistogramCountsEveryBinAsThePlainLoop() {
        var rng = SeededGenerator(seed: 12)
        for n in [0, 1, 3, 4, 5, 1001] {
            // Mostly one value, as a picture's background is, so the counter sets are exercised unevenly.
            let a = (0..<n).map { _ in rng.nextInt(below: 4) == 0 ? rng.nextUniform() : 0.5 }
            let bins = 256, scale = Float(bins - 1)
            let binOf = Filters.binIndices(a, from: 0, scale: scale, bins: bins)
            XCTAssertEqual(binOf.map(Int.init), a.map { min(bins - 1, Int($0 * scale)) }, "n = \(n)")
            var expected = [Int](repeating: 0, count: bins)
            for b in binOf { expected[Int(b)] += 1 }
            XCTAssertEqual(Filters.histogram(binOf, bins: bins), expected, "n = \(n)")
        }
        // Values beyond the last bin fall in it.
        XCTAssertEqual(Filters.binIndices([0, 2, 1e30], from: 0, scale: 10, bins: 16), [0, 15, 15])
    }

    func testBoundingBoxOfAMask() {
        let w = 7, h = 5
        var mask = [Bool](repeating: false, count: w * h)
        XCTAssertNil(Filters.boundingBox(of: mask, w, h))
        mask[1 * w + 4] = true
        XCTAssertEqual(Filters.boundingBox(of: mask, w, h).map { [$0.x0, $0.y0, $0.x1, $0.y1] }, [4, 1, 4, 1])
        mask[3 * w + 2] = true; mask[2 * w + 6] = true
        XCTAssertEqual(Filters.boundingBox(of: mask, w, h).map { [$0.x0, $0.y0, $0.x1, $0.y1] }, [2, 1, 6, 3])
    }
}
