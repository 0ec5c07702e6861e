// Cutting a one-line number into digits, on synthetic lines of digit-like glyphs drawn in the test.

import DigitsImaging
import XCTest

final class SegmenterTests: XCTestCase {
    /// A glyph: the polylines of its strokes, drawn with a pen of radius 4 between rows 25 and 95.
    typealias Glyph = [[(Float, Float)]]
    static let pen: Float = 4

    func one(_ cx: Float) -> Glyph { [[(cx, 25), (cx, 95)]] }
    func zero(_ cx: Float) -> Glyph {
        [(0...24).map { i in
            let a = Float(i) / 24 * 2 * Float.pi
            return (cx + 18 * sin(a), 60 - 35 * cos(a))
        }]
    }
    func seven(_ cx: Float) -> Glyph { [[(cx - 18, 25), (cx + 18, 25), (cx - 4, 95)]] }
    func four(_ cx: Float) -> Glyph { [[(cx - 18, 25), (cx - 18, 68), (cx + 18, 68)], [(cx + 8, 40), (cx + 8, 95)]] }
    /// A '5' in two strokes that do not touch: the top bar, then the body starting below it.
    func twoStrokeFive(_ cx: Float) -> Glyph {
        [[(cx - 14, 22), (cx + 18, 22)], [(cx - 16, 34), (cx - 16, 55), (cx + 14, 58), (cx + 16, 85), (cx - 16, 95)]]
    }
    /// A '1' drawn as four separate dashes.
    func dashedOne(_ cx: Float) -> Glyph { [[(cx, 25), (cx, 33)], [(cx, 45), (cx, 53)], [(cx, 65), (cx, 73)], [(cx, 85), (cx, 95)]] }

    /// The drawn extent of a glyph in pixels: min and max of its points widened by the pen.
    func extent(_ glyph: Glyph) -> (x0: Float, x1: Float, y0: Float, y1: Float) {
        let points = glyph.flatMap { $0 }
        return ((points.map(\.0).min() ?? 0) - Self.pen, (points.map(\.0).max() ?? 0) + Self.pen,
                (points.map(\.1).min() ?? 0) - Self.pen, (points.map(\.1).max() ?? 0) + Self.pen)
    }

    /// Dark ink (0.1) on light paper (0.9) darkening to the right by `gradient`, with noise of `noise`.
    func line(_ glyphs: [Glyph], width: Int = 460, height: Int = 130, gradient: Float = 0.4, noise: Float = 0.03) -> GrayImage {
        var cover = [Float](repeating: 0, count: width * height)
        for stroke in glyphs.flatMap({ $0 }) {
            let c = Fixtures.strokeCoverage(width: width, height: height, points: stroke, radius: Self.pen)
            for i in cover.indices { cover[i] = max(cover[i], c[i]) }
        }
        var rng = Fixtures.Noise(state: 11)
        var pixels = [Float](repeating: 0, count: width * height)
        for i in pixels.indices {
            let light = 1 - gradient * Float(i % width) / Float(width - 1)
            pixels[i] = (0.9 + (0.1 - 0.9) * cover[i]) * light + rng.normal(noise)
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    /// Checks that each prepared digit fits in 20×20 and has its centre of mass near (14, 14).
    func assertMNISTLike(_ digits: [SegmentedDigit], file: StaticString = #filePath, line: UInt = #line) {
        for (k, s) in digits.enumerated() {
            let d = s.digit
            XCTAssertEqual(s.boundingBox, d.boundingBox, file: file, line: line)
            var x0 = 28, x1 = -1, y0 = 28, y1 = -1
            var m = 0.0, mx = 0.0, my = 0.0
            for y in 0..<28 {
                for x in 0..<28 where d.pixels[y * 28 + x] > 0 {
                    x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
                    let v = Double(d.pixels[y * 28 + x])
                    m += v; mx += v * Double(x); my += v * Double(y)
                }
            }
            XCTAssertLessThanOrEqual(max(x1 - x0 + 1, y1 - y0 + 1), 20, "digit \(k)", file: file, line: line)
            XCTAssertEqual(d.pixels.max() ?? 0, 1, accuracy: 1e-6, "digit \(k)", file: file, line: line)
            XCTAssertEqual(mx / m, 14, accuracy: 0.6, "digit \(k)", file: file, line: line)
            XCTAssertEqual(my / m, 14, accuracy: 0.6, "digit \(k)", file: file, line: line)
            XCTAssertTrue(d.inverted, file: file, line: line)
        }
    }

    /// Checks the boxes against the drawn glyphs, within `tolerance` pixels on every side.
    func assertBoxes(_ digits: [SegmentedDigit], _ glyphs: [Glyph], tolerance: Float = 3,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(digits.count, glyphs.count, file: file, line: line)
        for (s, glyph) in zip(digits, glyphs) {
            let e = extent(glyph), b = s.boundingBox
            XCTAssertEqual(Float(b.x), e.x0, accuracy: tolerance, "left of \(b)", file: file, line: line)
            XCTAssertEqual(Float(b.x + b.width), e.x1, accuracy: tolerance, "right of \(b)", file: file, line: line)
            XCTAssertEqual(Float(b.y), e.y0, accuracy: tolerance, "top of \(b)", file: file, line: line)
            XCTAssertEqual(Float(b.y + b.height), e.y1, accuracy: tolerance, "bottom of \(b)", file: file, line: line)
        }
    }

    func testSeparateGlyphsComeOutInOrderWithTheirBoxes() throws {
        let glyphs = [one(40), zero(110), seven(180), four(250), zero(320), one(400)]
        let digits = try NumberSegmenter.segment(line(glyphs))
        assertBoxes(digits, glyphs)
        XCTAssertEqual(digits.map(\.boundingBox.x), digits.map(\.boundingBox.x).sorted())
        assertMNISTLike(digits)
    }

    func testBrokenStrokesAreJoined() throws {
        let glyphs = [twoStrokeFive(60), dashedOne(140), zero(210)]
        let digits = try NumberSegmenter.segment(line(glyphs, width: 280))
        assertBoxes(digits, glyphs)
        assertMNISTLike(digits)
    }

    func testTouchingGlyphsAreSplit() throws {
        let bridge: Glyph = [[(148, 60), (182, 60)]]
        let drawn = [one(50), zero(130) + zero(200) + bridge, seven(290)]
        let digits = try NumberSegmenter.segment(line(drawn, width: 340))
        XCTAssertEqual(digits.count, 4)
        guard digits.count == 4 else { return }
        // The outer edges are the drawn ones; the cut falls on the bridge, between the two rings.
        assertBoxes([digits[0], digits[3]], [one(50), seven(290)])
        XCTAssertEqual(Float(digits[1].boundingBox.x), extent(zero(130)).x0, accuracy: 3)
        XCTAssertEqual(Float(digits[2].boundingBox.x + digits[2].boundingBox.width), extent(zero(200)).x1, accuracy: 3)
        let cut = digits[2].boundingBox.x
        XCTAssertGreaterThanOrEqual(cut, 150); XCTAssertLessThanOrEqual(cut, 180)
        XCTAssertLessThanOrEqual(digits[1].boundingBox.x + digits[1].boundingBox.width, cut + 1)
        assertMNISTLike(digits)
    }

    func testSpecksAreIgnored() throws {
        let glyphs = [one(40), zero(110), seven(180), four(250), zero(320), one(400)]
        var image = line(glyphs)
        for (x, y) in [(10, 10), (75, 115), (215, 8), (290, 120), (445, 60)] {
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] { image[x + dx, y + dy] = 0.1 }
        }
        let digits = try NumberSegmenter.segment(image)
        assertBoxes(digits, glyphs)
    }

    func testASingleDigitIsPreparedExactlyAsPrepareDoes() throws {
        let image = line([seven(100)], width: 160, height: 130)   // within both working sizes: nothing is shrunk
        let digits = try NumberSegmenter.segment(image)
        XCTAssertEqual(digits.count, 1)
        XCTAssertEqual(digits.first?.digit, try MNISTPreprocessor.prepare(image))
    }

    func testBlankAndEmptyPicturesThrow() {
        var rng = Fixtures.Noise(state: 3)
        let blank = GrayImage(width: 300, height: 80, repeating: 0.85)
        let faint = GrayImage(width: 300, height: 80, pixels: (0..<24000).map { _ in 0.85 + rng.normal(0.01) })
        for image in [blank, faint] {
            XCTAssertThrowsError(try NumberSegmenter.segment(image)) { error in
                guard case SegmentationError.noInkFound = error else { return XCTFail("\(error)") }
                XCTAssertTrue("\(error)".contains("no ink found"))
            }
        }
        XCTAssertThrowsError(try NumberSegmenter.segment(GrayImage(width: 0, height: 0))) { error in
            XCTAssertEqual(error as? SegmentationError, .emptyImage)
        }
    }

    func testTooManyMarksThrow() {
        // 70 dots in a row: more than the 64 digits a number may have.
        var cover = [Float](repeating: 0, count: 720 * 60)
        for i in 0..<70 {
            let x = Float(10 + 10 * i)
            let stroke: [(Float, Float)] = [(x, 28), (x, 32)]
            let c = Fixtures.strokeCoverage(width: 720, height: 60, points: stroke, radius: 3)
            for i in cover.indices { cover[i] = max(cover[i], c[i]) }
        }
        let image = GrayImage(width: 720, height: 60, pixels: cover.map { 0.9 - 0.8 * $0 })
        XCTAssertThrowsError(try NumberSegmenter.segment(image)) { error in
            XCTAssertEqual(error as? SegmentationError, .tooManySegments(found: 70, limit: 64))
            XCTAssertTrue("\(error)".contains("crop the picture"))
        }
    }
}
