import XCTest
import Digits

final class TestTimeAugmentationTests: XCTestCase {
    /// `images` (n pictures of side×side bytes) moved by whole pixels (dx right, dy down), black coming in.
    private func shifted(_ images: [UInt8], side: Int, dx: Int, dy: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: images.count)
        for n in 0..<(images.count / (side * side)) {
            for y in 0..<side { for x in 0..<side {
                let sx = x - dx, sy = y - dy
                guard sx >= 0, sy >= 0, sx < side, sy < side else { continue }
                out[n * side * side + y * side + x] = images[n * side * side + sy * side + sx]
            } }
        }
        return out
    }

    private func model(_ name: String) throws -> Model {
        let model = Model(architecture: try Recipe.named(name).architecture, seed: 3)
        return model
    }

    func testShiftsAverageTheProbabilitiesOfTheFiveShiftedPictures() throws {
        let data = try syntheticDigits(count: 40, seed: 7)
        for name in ["mlp", "lenet5"] {
            let model = try model(name)
            let averaged = model.probabilities(of: data, views: .shifts, batchSize: 16)
            var expected = [Float](repeating: 0, count: averaged.count)
            for (dx, dy) in [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)] {
                let moved = try LabeledImages(images: shifted(data.images, side: 28, dx: dx, dy: dy), labels: data.labels(0..<40).map { UInt8($0) },
                                              rows: 28, columns: 28)
                let p = model.probabilities(of: moved, views: nil)
                for i in expected.indices { expected[i] += p[i] / 5 }
            }
            for i in expected.indices { XCTAssertEqual(averaged[i], expected[i], accuracy: 1e-5, name) }
            // The plain reading differs: the views change what the model answers.
            let plain = model.probabilities(of: data, views: nil)
            XCTAssertGreaterThan(zip(plain, averaged).map { abs($0 - $1) }.max() ?? 0, 1e-4, name)
        }
    }

    func testTheArchitecturesViewsAreUsedByEvaluationAndTheRecognizer() throws {
        let data = try syntheticDigits(count: 30, seed: 8)
        let model = try model("lenet5")
        let plain = try Evaluation.run(model, on: data, views: nil)
        model.read(in: .shifts)
        XCTAssertEqual(model.probabilities(of: data), model.probabilities(of: data, views: .shifts))
        let viewed = try Evaluation.run(model, on: data)
        XCTAssertEqual(viewed, try Evaluation.run(model, on: data, views: .shifts))
        XCTAssertEqual(plain, try Evaluation.run(model, on: data, views: nil))
        // A single picture through the recognizer reads the same views as the dataset path.
        let fromData = model.probabilities(of: data.prefix(2), views: .shifts)
        let pixels = data.images[0..<(2 * 784)].map { Float($0) / 255 }
        let fromPixels = model.probabilities(pixels: pixels).storage
        for i in fromData.indices { XCTAssertEqual(fromPixels[i], fromData[i], accuracy: 1e-5) }
        let recognized = DigitRecognizer(model: model).recognize(pixels: Array(pixels[0..<784]))
        for c in 0..<10 { XCTAssertEqual(recognized.probabilities[c], Double(fromData[c]), accuracy: 1e-5) }
    }

    func testTheViewsTravelInTheModelFileAndOldFilesReadWithout() throws {
        var architecture = Recipe.cnn.architecture
        architecture.testTimeAugmentation = .shifts
        let encoded = try JSONEncoder().encode(architecture)
        XCTAssertEqual(try JSONDecoder().decode(Architecture.self, from: encoded), architecture)
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        json["testTimeAugmentation"] = nil
        let old = try JSONDecoder().decode(Architecture.self, from: JSONSerialization.data(withJSONObject: json))
        XCTAssertNil(old.testTimeAugmentation)
        // A file claiming no views, or a view that cannot be drawn, is refused rather than read.
        for bad in [#"{"views": []}"#, #"{"views": [{"shiftX": 0, "shiftY": 0, "rotation": 0, "scale": 0}]}"#] {
            XCTAssertThrowsError(try JSONDecoder().decode(TestTimeAugmentation.self, from: Data(bad.utf8)), bad)
        }
        XCTAssertEqual(TestTimeAugmentation(named: "shifts"), .shifts)
        XCTAssertNil(TestTimeAugmentation(named: "wobble"))
    }
}
