import XCTest
import Digits

/// Numbers of 3 to 7 MNIST test digits written side by side on light paper, read back.
final class NumberReadingTests: XCTestCase {
    func testNumbersMadeOfMNISTDigits() throws {
        let data = try realMNIST()
        let recognizer = DigitRecognizer(model: try trainedMLP(on: data, epochs: 2))
        var rng = SeededGenerator(seed: 8)
        var next = 0
        var strings = 0, exact = 0, rightCount = 0, digitsRaw = 0, digitsRead = 0, digitsTotal = 0
        for _ in 0..<60 {
            let length = 3 + rng.nextInt(below: 5)
            let indices = (0..<length).map { _ in defer { next += 1 }; return next }
            let truth = indices.map { String(data.test.labels[$0]) }.joined()
            let scale = 2, gap = 6
            let width = length * (28 * scale + gap) + 40, height = 28 * scale + 40
            var pixels = [Float](repeating: 0.9, count: width * height)
            for (position, index) in indices.enumerated() {
                let left = 20 + position * (28 * scale + gap), top = 20 + rng.nextInt(below: 9) - 4
                let digit = data.test.pixels(of: index)
                for y in 0..<(28 * scale) {
                    for x in 0..<(28 * scale) {
                        let ink = Float(digit[digit.startIndex + (y / scale) * 28 + x / scale]) / 255
                        let p = (top + y) * width + left + x
                        pixels[p] = min(pixels[p], 0.9 * (1 - ink))           // dark ink on light paper
                    }
                }
            }
            for i in pixels.indices { pixels[i] = min(max(pixels[i] + (rng.nextUniform() - 0.5) * 0.04, 0), 1) }
            let png = try GrayImage(width: width, height: height, pixels: pixels).pngData()
            let reading = try recognizer.readNumber(encoded: png, source: "number.png")
            strings += 1
            if reading.text == truth { exact += 1 }
            if reading.text.count == truth.count {
                rightCount += 1
                for (r, t) in zip(reading.text, truth) where r == t { digitsRead += 1 }
            }
            for index in indices where recognizer.recognize(pixels: data.test.pixels(of: index).map { Float($0) / 255 }).digit
                == Int(data.test.labels[index]) { digitsRaw += 1 }
            digitsTotal += length
        }
        let raw = Double(digitsRaw) / Double(digitsTotal), read = Double(digitsRead) / Double(digitsTotal)
        print("numbers: \(exact)/\(strings) read exactly, \(rightCount)/\(strings) with the right length; digits \(read) vs \(raw) as stored")
        XCTAssertGreaterThanOrEqual(Double(exact) / Double(strings), 0.9, "fewer than 90% of the numbers read exactly")
        XCTAssertGreaterThanOrEqual(Double(rightCount) / Double(strings), 0.95, "segmentation found the wrong number of digits too often")
        XCTAssertGreaterThanOrEqual(read, raw - 0.03, "digits cut out of numbers read much worse than the same digits as stored")
    }
}
