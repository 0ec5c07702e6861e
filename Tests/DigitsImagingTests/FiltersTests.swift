// The fast min/max filter against the plain definition: the minimum of every clipped window.

@testable import DigitsImaging
import XCTest

final class FiltersTests: XCTestCase {
    /// The minimum (or maximum) of each (2·radius+1)² window clipped to the plane, pixel by pixel.
    private func naiveRank(_ a: [Float], _ w: Int, _ h: Int, radius: Int, max useMax: Bool) -> [Float] {
        var out = a
        for y in 0..<h {
            for x in 0..<w {
                var m = a[y * w + x]
                for yy in max(0, y - radius)...min(h - 1, y + radius) {
                    for xx in max(0, x - radius)...min(w - 1, x + radius) {
                        m = useMax ? max(m, a[yy * w + xx]) : min(m, a[yy * w + xx])
                    }
                }
                out[y * w + x] = m
            }
        }
        return out
    }

    func testRankMatchesTheDefinition() {
        var state: UInt32 = 7
        // Sizes smaller than, equal to and larger than the window, odd and even, and radius 0.
        for (w, h, radius) in [(1, 1, 2), (5, 3, 1), (7, 7, 3), (13, 9, 4), (30, 17, 6), (4, 11, 0), (9, 2, 5)] {
            let plane = (0..<(w * h)).map { _ -> Float in
                state = state &* 1_664_525 &+ 1_013_904_223
                return Float(state >> 8) / Float(1 << 24)
            }
            for useMax in [false, true] {
                XCTAssertEqual(Filters.rank(plane, w, h, radius: radius, max: useMax),
                               naiveRank(plane, w, h, radius: radius, max: useMax), "\(w)x\(h) radius \(radius) max \(useMax)")
            }
        }
    }
}
