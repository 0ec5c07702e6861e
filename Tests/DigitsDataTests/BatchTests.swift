import XCTest
import DigitsTensor
import DigitsData

/// A batch's inputs are each pixel's byte through the encoding's table, in the order asked for.
final class BatchTests: XCTestCase {
    func testInputsAreTheTableLookedUpPixelByPixel() throws {
        // 5x5 images (25 pixels: three 8-pixel groups and a tail), with runs of zeros, some of them whole
        // groups, and every byte value somewhere.
        var rng = SeededGenerator(seed: 12)
        let count = 40, size = 25
        let images = (0..<(count * size)).map { i -> UInt8 in
            (i / 8) % 3 == 0 ? 0 : (rng.nextUniform() < 0.5 ? 0 : UInt8(i % 256))
        }
        let data = try LabeledImages(images: images, labels: (0..<count).map { UInt8($0 % 10) }, rows: 5, columns: 5)
        let order = [39, 0, 17, 17, 3, 22, 8, 31, 1, 2]
        for encoding in [InputEncoding(), InputEncoding(normalize: true, layout: .image)] {
            let saved = BLAS.threads
            defer { BLAS.setThreads(saved) }
            for threads in [1, 2] {
                BLAS.setThreads(threads)
                let x = data.inputs(order, encoding: encoding)
                XCTAssertEqual(x.shape, encoding.layout == .flat ? [order.count, size] : [order.count, 1, 5, 5])
                let expected = order.flatMap { s in (0..<size).map { encoding.table[Int(images[s * size + $0])] } }
                XCTAssertEqual(x.storage, expected, "normalize \(encoding.normalize), \(threads) threads")
            }
        }
    }
}
