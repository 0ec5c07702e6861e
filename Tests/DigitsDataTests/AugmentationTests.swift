import XCTest
import DigitsTensor
@testable import DigitsData

final class AugmentationTests: XCTestCase {
    /// Warps a `side × side` picture and returns the output values.
    private func warp(_ src: [UInt8], side: Int, _ t: Augmentation.Transform) -> [Float] {
        var out = [Float](repeating: -1, count: side * side)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                Augmentation.warp(s.baseAddress!, rows: side, columns: side, by: t, into: d.baseAddress!)
            }
        }
        return out
    }

    func testIdentityCopiesThePicture() {
        let src = (0..<49).map { UInt8($0 * 5) }
        XCTAssertEqual(warp(src, side: 7, .identity), src.map { Float($0) / 255 })
    }

    func testWholePixelShiftMovesEveryPixelAndBringsInBlack() {
        let src = (0..<49).map { UInt8(1 + $0 * 5) }
        let out = warp(src, side: 7, Augmentation.Transform(shiftX: 2, shiftY: -1, rotation: 0, scale: 1))
        for y in 0..<7 {
            for x in 0..<7 {
                let (sx, sy) = (x - 2, y + 1)
                let expected: Float = (sx >= 0 && sy < 7) ? Float(src[sy * 7 + sx]) / 255 : 0
                XCTAssertEqual(out[y * 7 + x], expected, accuracy: 1e-6, "(\(x), \(y))")
            }
        }
    }

    func testQuarterTurnMovesAPixelRightOfCentreToAboveIt() {
        var src = [UInt8](repeating: 0, count: 49)
        src[3 * 7 + 6] = 255                                  // (6, 3): three right of the centre (3, 3)
        let out = warp(src, side: 7, Augmentation.Transform(shiftX: 0, shiftY: 0, rotation: .pi / 2, scale: 1))
        XCTAssertEqual(out[0 * 7 + 3], 1, accuracy: 1e-5)     // (3, 0): three above — counter-clockwise on screen
        XCTAssertEqual(out.reduce(0, +), 1, accuracy: 1e-5)
    }

    func testDoublingTheSizeSpreadsAPixelOutward() {
        var src = [UInt8](repeating: 0, count: 49)
        src[3 * 7 + 4] = 255                                  // one right of the centre
        let out = warp(src, side: 7, Augmentation.Transform(shiftX: 0, shiftY: 0, rotation: 0, scale: 2))
        XCTAssertEqual(out[3 * 7 + 5], 1, accuracy: 1e-5)     // now two right of the centre
        XCTAssertEqual(out[3 * 7 + 4], 0.5, accuracy: 1e-5)   // halfway, interpolated
    }

    func testDrawsAreReproducibleAndWithinBounds() {
        let a = Augmentation.standard
        XCTAssertEqual(a.transform(seed: 7, epoch: 2, sample: 11), a.transform(seed: 7, epoch: 2, sample: 11))
        XCTAssertNotEqual(a.transform(seed: 7, epoch: 2, sample: 11), a.transform(seed: 7, epoch: 3, sample: 11))
        XCTAssertNotEqual(a.transform(seed: 7, epoch: 2, sample: 11), a.transform(seed: 7, epoch: 2, sample: 12))
        var largestShift: Float = 0
        for sample in 0..<2000 {
            let t = a.transform(seed: 1, epoch: 1, sample: sample)
            XCTAssertLessThanOrEqual(abs(t.shiftX), 2)
            XCTAssertLessThanOrEqual(abs(t.shiftY), 2)
            XCTAssertLessThanOrEqual(abs(t.rotation), 10 * .pi / 180 + 1e-6)
            XCTAssertLessThanOrEqual(abs(t.scale - 1), 0.1 + 1e-6)
            largestShift = max(largestShift, abs(t.shiftX))
        }
        XCTAssertGreaterThan(largestShift, 1.9)                // the draws use the whole range
    }

    func testBatchesAreTheSameWhateverTheThreadCountAndOrder() throws {
        var bytes = [UInt8](repeating: 0, count: 64 * 784)
        var rng = SeededGenerator(seed: 3)
        for i in bytes.indices where rng.nextUniform() < 0.2 { bytes[i] = UInt8(rng.nextInt(below: 256)) }
        let data = try LabeledImages(images: bytes, labels: (0..<64).map { UInt8($0 % 10) }, rows: 28, columns: 28)
        let encoding = InputEncoding(normalize: true, layout: .image)
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        BLAS.setThreads(1)
        let one = data.augmentedInputs(0..<64, encoding: encoding, augmentation: .standard, seed: 5, epoch: 1)
        BLAS.setThreads(2)
        let two = data.augmentedInputs(0..<64, encoding: encoding, augmentation: .standard, seed: 5, epoch: 1)
        XCTAssertEqual(one, two)
        XCTAssertEqual(one.shape, [64, 1, 28, 28])
        // A sample's distortion follows the sample, not its place in the batch.
        let reversed = data.augmentedInputs((0..<64).reversed(), encoding: encoding, augmentation: .standard, seed: 5, epoch: 1)
        XCTAssertEqual(Array(reversed.storage[(63 * 784)..<(64 * 784)]), Array(one.storage[0..<784]))
        // No distortion at all is the plain encoding.
        let none = Augmentation(maxShift: 0, maxRotationDegrees: 0, maxScaleChange: 0)
        let plain = data.inputs(0..<64, encoding: encoding)
        let warped = data.augmentedInputs(0..<64, encoding: encoding, augmentation: none, seed: 5, epoch: 1)
        for (a, b) in zip(plain.storage, warped.storage) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testParsing() {
        XCTAssertEqual(Augmentation(parsing: "standard"), .standard)
        XCTAssertEqual(Augmentation(parsing: "shift:3,rotate:15"), Augmentation(maxShift: 3, maxRotationDegrees: 15, maxScaleChange: 0))
        XCTAssertEqual(Augmentation(parsing: "scale:0.2"), Augmentation(maxShift: 0, maxRotationDegrees: 0, maxScaleChange: 0.2))
        XCTAssertNil(Augmentation(parsing: "shift:-1"))
        XCTAssertNil(Augmentation(parsing: "scale:1.5"))
        XCTAssertNil(Augmentation(parsing: "spin:3"))
        XCTAssertNil(Augmentation(parsing: "shift"))
    }
}
