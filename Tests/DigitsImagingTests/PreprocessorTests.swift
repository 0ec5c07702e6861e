// MNIST preparation on synthetic digits: polarity, noise and lighting, size, centring, blank pictures.

import DigitsImaging
import XCTest

final class PreprocessorTests: XCTestCase {
    /// The "7" drawn with `ink` on `paper` (both grey levels), optionally on a lighting gradient with noise.
    func picture(ink: Float, paper: Float, gradient: Float = 0, noise: Float = 0) -> GrayImage {
        let cover = Fixtures.sevenCoverage()
        var rng = Fixtures.Noise(state: 42)
        var pixels = [Float](repeating: 0, count: cover.count)
        for i in cover.indices {
            let x = Float(i % 200) / 199
            let light = 1 - gradient * x  // darker towards the right
            pixels[i] = (paper + (ink - paper) * cover[i]) * light + rng.normal(noise)
        }
        return GrayImage(width: 200, height: 150, pixels: pixels)
    }

    func inkExtent(_ d: PreparedDigit) -> (width: Int, height: Int) {
        var x0 = 28, x1 = -1, y0 = 28, y1 = -1
        for y in 0..<28 { for x in 0..<28 where d.pixels[y * 28 + x] > 0 { x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y) } }
        return (x1 - x0 + 1, y1 - y0 + 1)
    }

    func centreOfMass(_ p: [Float]) -> (Double, Double) {
        var m = 0.0, mx = 0.0, my = 0.0
        for i in p.indices { m += Double(p[i]); mx += Double(p[i]) * Double(i % 28); my += Double(p[i]) * Double(i / 28) }
        return (mx / m, my / m)
    }

    func testDarkOnLightStrokeBecomesCentredMNISTDigit() throws {
        let d = try MNISTPreprocessor.prepare(picture(ink: 0.1, paper: 0.92))
        XCTAssertTrue(d.inverted)
        XCTAssertEqual(d.pixels.count, 784)
        XCTAssertEqual(d.pixels.max() ?? 0, 1, accuracy: 1e-6)
        XCTAssertTrue(d.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
        let extent = inkExtent(d)
        XCTAssertLessThanOrEqual(max(extent.width, extent.height), 20)
        XCTAssertGreaterThanOrEqual(max(extent.width, extent.height), 19)
        let (cx, cy) = centreOfMass(d.pixels)
        XCTAssertEqual(cx, 14, accuracy: 0.5); XCTAssertEqual(cy, 14, accuracy: 0.5)
        XCTAssertEqual(d.centreOfMass.x, cx, accuracy: 1e-9)
        // The bounding box holds the drawn stroke: x 111...174, y 21...124 give or take the anti-aliased edge.
        XCTAssertEqual(Double(d.boundingBox.x), 111, accuracy: 2); XCTAssertEqual(Double(d.boundingBox.y), 21, accuracy: 2)
        XCTAssertEqual(Double(d.boundingBox.x + d.boundingBox.width), 175, accuracy: 2)
        XCTAssertEqual(Double(d.boundingBox.y + d.boundingBox.height), 125, accuracy: 2)
        // The background is black: the field's corners are empty.
        for i in [0, 27, 756, 783] { XCTAssertEqual(d.pixels[i], 0) }
        // The output looks like a 7: the top bar is bright across the width.
        XCTAssertTrue(d.asciiArt.contains("@@@@@@@@"))
    }

    func testInvertedAndPlainInputsAgree() throws {
        let dark = try MNISTPreprocessor.prepare(picture(ink: 0.05, paper: 0.95))
        let light = try MNISTPreprocessor.prepare(picture(ink: 0.95, paper: 0.05))
        XCTAssertTrue(dark.inverted); XCTAssertFalse(light.inverted)
        let diff = zip(dark.pixels, light.pixels).map { abs($0 - $1) }
        XCTAssertLessThan(diff.max() ?? 1, 0.02)
    }

    func testUnevenLightingAndNoiseStillIsolateTheStroke() throws {
        let clean = try MNISTPreprocessor.prepare(picture(ink: 0.1, paper: 0.92))
        let messy = try MNISTPreprocessor.prepare(picture(ink: 0.1, paper: 0.92, gradient: 0.55, noise: 0.04))
        XCTAssertTrue(messy.inverted)
        XCTAssertLessThanOrEqual(max(inkExtent(messy).width, inkExtent(messy).height), 20)
        // Close to the clean result: correlation above 0.9, and little ink where the clean digit has none.
        let a = clean.pixels.map(Double.init), b = messy.pixels.map(Double.init)
        let ma = a.reduce(0, +) / 784, mb = b.reduce(0, +) / 784
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in 0..<784 { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb) }
        XCTAssertGreaterThan(sab / (saa * sbb).squareRoot(), 0.9)
        var stray = 0.0
        for i in 0..<784 where clean.pixels[i] == 0 { stray += b[i] }
        XCTAssertLessThan(stray, 0.05 * b.reduce(0, +))
        let (cx, cy) = centreOfMass(messy.pixels)
        XCTAssertEqual(cx, 14, accuracy: 0.5); XCTAssertEqual(cy, 14, accuracy: 0.5)
    }

    func testSmallSpecksAreIgnored() throws {
        var image = picture(ink: 0.1, paper: 0.92)
        for (x, y) in [(10, 10), (30, 140), (190, 5)] { image[x, y] = 0.1; image[x + 1, y] = 0.1 }
        let d = try MNISTPreprocessor.prepare(image)
        XCTAssertEqual(Double(d.boundingBox.x), 111, accuracy: 2)
        XCTAssertEqual(Double(d.boundingBox.y), 21, accuracy: 2)
    }

    func testBlankPicturesHaveNoInk() {
        var rng = Fixtures.Noise(state: 7)
        let blank = GrayImage(width: 60, height: 40, repeating: 0.8)
        let faint = GrayImage(width: 60, height: 40, pixels: (0..<2400).map { _ in 0.8 + rng.normal(0.01) })
        for image in [blank, faint] {
            XCTAssertThrowsError(try MNISTPreprocessor.prepare(image)) { error in
                guard case PreprocessingError.noInkFound = error else { return XCTFail("\(error)") }
                XCTAssertTrue("\(error)".contains("no ink found"))
            }
        }
        XCTAssertThrowsError(try MNISTPreprocessor.prepare(GrayImage(width: 0, height: 0)))
    }

    func testLargePhotoIsShrunkFirstAndMNISTInputIsStable() throws {
        // A large picture takes the working-size path; the result is still a centred 20-px digit.
        let cover = Fixtures.strokeCoverage(width: 1200, height: 900, points: [(700, 150), (1000, 150), (820, 720)], radius: 24)
        let big = try MNISTPreprocessor.prepare(GrayImage(width: 1200, height: 900, pixels: cover.map { 0.9 - 0.8 * $0 }))
        XCTAssertLessThanOrEqual(max(inkExtent(big).width, inkExtent(big).height), 20)
        XCTAssertEqual(Double(big.boundingBox.x), 676, accuracy: 6)
        // Preparing an already prepared digit changes it little.
        let again = try MNISTPreprocessor.prepare(big.image)
        XCTAssertFalse(again.inverted)
        // Equal up to a whole-pixel shift (rounding the centre of mass may move it by one).
        var best = Float.infinity
        for dy in -1...1 {
            for dx in -1...1 {
                var diff: Float = 0
                for y in 0..<28 {
                    for x in 0..<28 {
                        let (sx, sy) = (x + dx, y + dy)
                        let b = sx >= 0 && sx < 28 && sy >= 0 && sy < 28 ? big.pixels[sy * 28 + sx] : 0
                        diff += abs(again.pixels[y * 28 + x] - b)
                    }
                }
                best = min(best, diff / big.pixels.reduce(0, +))
            }
        }
        XCTAssertLessThan(best, 0.15)
    }

    func testASCIIArtAndPNGOutput() throws {
        let d = try MNISTPreprocessor.prepare(picture(ink: 0.1, paper: 0.92))
        let lines = d.asciiArt.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 28)
        XCTAssertTrue(lines.allSatisfy { $0.count == 28 })
        let png = try d.pngData()
        let back = try ImageDecoder.decode(png, source: "digit.png")
        XCTAssertEqual(back.width, 28); XCTAssertEqual(back.height, 28)
        XCTAssertEqual(back.bytes, d.image.bytes)
        XCTAssertEqual(d.tensor().shape, [1, 1, 28, 28])
    }
}
