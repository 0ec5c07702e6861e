import XCTest
import Digits

/// Reading digits off pictures the test makes from MNIST test digits: enlarged, pasted off-centre
/// into a larger canvas, dark ink on light paper with uneven lighting and noise, stored as PNG.
final class RecognizerTests: XCTestCase {
    /// A user-style picture of MNIST test digit `index`.
    private func picture(of data: LabeledImages, index: Int, rng: inout SeededGenerator) -> GrayImage {
        let scale = 2 + rng.nextInt(below: 3)                    // 56 to 112 pixels tall
        let width = 160, height = 130
        let left = rng.nextInt(below: width - 28 * scale), top = rng.nextInt(below: height - 28 * scale)
        var pixels = [Float](repeating: 0, count: width * height)
        let digit = data.pixels(of: index).map { Float($0) / 255 }
        for y in 0..<height {
            for x in 0..<width {
                let paper = 0.8 + 0.15 * Float(x) / Float(width)  // light paper, brighter to the right
                var ink: Float = 0
                let dx = x - left, dy = y - top
                if dx >= 0, dy >= 0, dx < 28 * scale, dy < 28 * scale { ink = digit[(dy / scale) * 28 + dx / scale] }
                let noise = (rng.nextUniform() - 0.5) * 0.06
                pixels[y * width + x] = min(max(paper * (1 - 0.85 * ink) + noise, 0), 1)
            }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    func testPicturesReadAsWellAsMNIST() throws {
        let data = try realMNIST()
        let recognizer = DigitRecognizer(model: try trainedMLP(on: data, epochs: 1))
        let count = 600
        var rng = SeededGenerator(seed: 21)
        var rightOnMNIST = 0, rightOnPictures = 0
        for i in 0..<count {
            let label = Int(data.test.labels[i])
            let raw = recognizer.recognize(pixels: data.test.pixels(of: i).map { Float($0) / 255 })
            if raw.digit == label { rightOnMNIST += 1 }
            let png = try picture(of: data.test, index: i, rng: &rng).pngData()
            let read = try recognizer.recognize(encoded: png, source: "digit-\(i).png")
            if read.digit == label { rightOnPictures += 1 }
            XCTAssertEqual(read.probabilities.count, 10)
            XCTAssertEqual(read.probabilities.reduce(0, +), 1, accuracy: 1e-4)
        }
        let mnist = Double(rightOnMNIST) / Double(count), pictures = Double(rightOnPictures) / Double(count)
        print("recognizer: \(mnist) on MNIST digits, \(pictures) on pictures of them")
        XCTAssertGreaterThanOrEqual(pictures, mnist - 0.015)
    }

    func testConfidenceFlagAndBadPictures() throws {
        let model = Model(architecture: Recipe.linearSVM.architecture, seed: 1)   // untrained: near-uniform
        let recognizer = DigitRecognizer(model: model)
        let r = recognizer.recognize(pixels: [Float](repeating: 0.5, count: 784))
        XCTAssertFalse(r.confident)
        XCTAssertEqual(r.top.count, 3)
        XCTAssertThrowsError(try recognizer.recognize(encoded: Array("<html>".utf8), source: "page.html")) { error in
            XCTAssertTrue("\(error)".contains("page.html"), "\(error)")
        }
        let blank = try GrayImage(width: 40, height: 40, repeating: 1).pngData()
        XCTAssertThrowsError(try recognizer.recognize(encoded: blank, source: "blank.png")) { error in
            XCTAssertTrue("\(error)".contains("no ink"), "\(error)")
        }
    }
}
