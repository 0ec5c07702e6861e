import XCTest
import Foundation
@testable import DigitsReport
import Digits
import DigitsTestSupport

/// The real MNIST files (`mnistFolder`).
private func realMNIST() throws -> MNIST {
    try MNIST.load(DataLocator.locate(explicit: mnistFolder).files)
}

/// A model of `recipe` trained for one epoch on the first `count` training images (seed 1), with its history.
private func quickModel(_ recipe: Recipe, on data: MNIST, count: Int) throws -> ModelFile {
    var options = recipe.options
    options.epochs = 2
    let trainer = try Trainer(architecture: recipe.architecture, options: options)
    let history = try trainer.train(on: data.train.prefix(count), test: data.test.prefix(500))
    return ModelFile(model: trainer.model, options: options, history: history)
}

/// Decodes a PNG with the project's decoder and returns its size.
private func pngSize(_ bytes: [UInt8]) throws -> (Int, Int) {
    let image = try ImageDecoder.decode(bytes, source: "test.png")
    return (image.width, image.height)
}

final class CanvasTests: XCTestCase {
    func testTextInksOnlyInsideItsBox() {
        var canvas = Canvas(width: 60, height: 20)
        canvas.text("17", x: 2, y: 3, scale: 2, color: Palette.red)
        var inked = 0
        for y in 0..<20 {
            for x in 0..<60 where canvas.image[x, y] != .white {
                inked += 1
                XCTAssertEqual(canvas.image[x, y], Palette.red)
                XCTAssertTrue((2..<(2 + BitmapFont.width(of: "17", scale: 2))).contains(x) && (3..<17).contains(y), "(\(x), \(y))")
            }
        }
        // "1" has 10 inked cells and "7" has 11, each 2x2 pixels at scale 2.
        XCTAssertEqual(inked, (10 + 11) * 4)
    }

    func testLowerCaseDrawsLikeCapitalsAndUnknownCharactersAsABox() {
        var a = Canvas(width: 10, height: 10), b = Canvas(width: 10, height: 10), box = Canvas(width: 10, height: 10)
        a.text("e", x: 0, y: 0, scale: 1)
        b.text("E", x: 0, y: 0, scale: 1)
        box.text("§", x: 0, y: 0, scale: 1)
        XCTAssertEqual(a.image, b.image)
        XCTAssertEqual(box.image[0, 0], .black)
        XCTAssertEqual(box.image[2, 3], .white)
        XCTAssertEqual(box.image[4, 6], .black)
    }

    func testCentredAndRightAnchoredText() {
        var canvas = Canvas(width: 40, height: 10)
        canvas.text("8", x: 20, y: 0, scale: 1, anchor: .center)   // 5 wide: columns 18...22
        XCTAssertEqual(canvas.image[18, 0], .white)                // "8" top row is .###.
        XCTAssertEqual(canvas.image[19, 0], .black)
        XCTAssertEqual(canvas.image[22, 1], .black)
        XCTAssertEqual(canvas.image[23, 1], .white)
        var right = Canvas(width: 40, height: 10)
        right.text("8", x: 40, y: 0, scale: 1, anchor: .right)
        XCTAssertEqual(right.image[39, 1], .black)
    }

    func testLineReachesBothEndsAndClipsOutside() {
        var canvas = Canvas(width: 20, height: 20)
        canvas.line(from: (2, 3), to: (17, 12), color: .black)
        XCTAssertEqual(canvas.image[2, 3], .black)
        XCTAssertEqual(canvas.image[17, 12], .black)
        canvas.line(from: (-50, -50), to: (100, 100), color: Palette.blue, thickness: 3)   // no crash, diagonal drawn
        XCTAssertEqual(canvas.image[10, 10], Palette.blue)
    }

    func testColormaps() {
        XCTAssertEqual(Colormap.gray(low: 0, high: 1).color(0), .black)
        XCTAssertEqual(Colormap.gray(low: 0, high: 1).color(1), .white)
        XCTAssertEqual(Colormap.gray(low: 0, high: 1).color(.nan), .black)
        XCTAssertEqual(Colormap.diverging(limit: 2).color(0), .white)
        XCTAssertEqual(Colormap.diverging(limit: 2).color(2), Palette.red)
        XCTAssertEqual(Colormap.diverging(limit: 2).color(-5), Palette.blue)
        XCTAssertEqual(Colormap.blues(low: 0, high: 10).color(10), Palette.deepBlue)
        XCTAssertEqual(RGB(255, 0, 16).hex, "#ff0010")
    }

    func testNiceTicks() {
        XCTAssertEqual(niceTicks(low: 0, high: 1), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        XCTAssertEqual(niceTicks(low: 1, high: 5, count: 4), [1, 2, 3, 4, 5])
        XCTAssertEqual(niceTicks(low: 96.3, high: 98.9, count: 5), [96.5, 97, 97.5, 98, 98.5])
        XCTAssertEqual(tickLabel(0.25, step: 0.05), "0.25")
        XCTAssertEqual(tickLabel(3, step: 1), "3")
    }

    func testRGBPNGDecodesToTheSamePicture() throws {
        var canvas = Canvas(width: 7, height: 5)
        canvas.fill(x: 1, y: 1, width: 3, height: 2, color: .black)
        let decoded = try ImageDecoder.decode(try canvas.pngData(), source: "canvas.png")
        XCTAssertEqual(decoded.width, 7)
        XCTAssertEqual(decoded.height, 5)
        XCTAssertEqual(decoded[2, 2], 0, accuracy: 1e-6)
        XCTAssertEqual(decoded[5, 4], 1, accuracy: 1e-6)
    }
}

final class ChartTests: XCTestCase {
    func testConfusionHeatMapShadesRightAndWrongCells() {
        let matrix = [[90, 10], [0, 100]]
        let cell = 44, left = 64, top = 56
        let canvas = Chart.confusion(matrix, cell: cell)
        func corner(_ i: Int, _ j: Int) -> RGB { canvas.image[left + j * cell + 2, top + i * cell + 2] }
        XCTAssertEqual(corner(1, 0), .white)                    // no mistakes: white
        XCTAssertEqual(corner(0, 1), Palette.red)               // 10% of the row wrong: fully red (saturates at 5%)
        XCTAssertEqual(corner(1, 1), Palette.deepBlue)          // all right: deepest blue
        XCTAssertNotEqual(corner(0, 0), corner(1, 1))           // 90% right: lighter blue
    }

    func testLineChartDrawsEachSeriesInItsColour() {
        let chart = Chart.line(title: "LOSS", xLabel: "EPOCH", series: [
            Series(name: "TRAIN", color: Palette.blue, points: [(1, 0.5), (2, 0.3), (3, 0.2)]),
            Series(name: "TEST", color: Palette.orange, points: [(1, 0.4), (2, 0.35), (3, .nan)]),
        ])
        var colours = Set<RGB>()
        for y in 0..<chart.height { for x in 0..<chart.width { colours.insert(chart.image[x, y]) } }
        XCTAssertTrue(colours.contains(Palette.blue))
        XCTAssertTrue(colours.contains(Palette.orange))
        XCTAssertTrue(colours.contains(.black))                // the title
    }

    func testBarsAreAsLongAsTheirValues() {
        let chart = Chart.bars([0, 1, 0.5], labels: ["0", "1", "2"], highlight: 1, width: 420)
        let barW = 420 - 40 - 80
        let y1 = 8 + 1 * 22 + 8, y2 = 8 + 2 * 22 + 8
        XCTAssertEqual(chart.image[40 + barW - 1, y1], Palette.orange)      // full, highlighted
        XCTAssertEqual(chart.image[40 + barW / 2 - 2, y2], Palette.blue)    // half
        XCTAssertNotEqual(chart.image[40 + barW / 2 + 2, y2], Palette.blue)
        XCTAssertNotEqual(chart.image[41, 8 + 8], Palette.blue)             // zero
    }
}

final class ModelReportTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("digits-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testDenseModelReport() throws {
        let data = try realMNIST()
        let file = try quickModel(Recipe.linearSVM, on: data, count: 3000)
        let test = data.test.prefix(1000)
        let report = try ModelReport.build(file: file, source: "svm.safetensors", test: test, galleryLimit: 12)

        let predictions = file.model.predict(test).predictions
        let labels = test.labels(0..<test.count)
        let wrong = zip(predictions, labels).filter { $0 != $1 }.count
        XCTAssertEqual(report.misclassifiedCount, wrong)
        XCTAssertEqual(report.evaluation.accuracy, Double(1000 - wrong) / 1000, accuracy: 1e-12)
        XCTAssertEqual(report.misclassified.count, min(12, wrong))
        for m in report.misclassified {
            XCTAssertNotEqual(m.truth, m.predicted)
            XCTAssertEqual(labels[m.index], m.truth)
            XCTAssertEqual(predictions[m.index], m.predicted)
            XCTAssertEqual(m.top.first?.digit, m.predicted)
            XCTAssertEqual(m.pixels, Array(test.pixels(of: m.index)))
        }
        XCTAssertEqual(report.figures().map(\.name), ["loss", "accuracy", "confusion", "misclassified", "weights"])

        let html = try report.html()
        for needle in ["<h2>Model</h2>", "<h2>Training</h2>", "Most confused pairs", "<h2>Mistakes</h2>", "Weights into each class",
                       String(format: "%.2f%%", report.evaluation.accuracy * 100)] {
            XCTAssertTrue(html.contains(needle), needle)
        }
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "the report must open without a network")
        // Every embedded chart is a PNG our decoder reads, at the size the img tag says.
        let images = html.components(separatedBy: "src=\"data:image/png;base64,").dropFirst()
        XCTAssertEqual(images.count, 5)
        for chunk in images {
            let base64 = String(chunk.prefix { $0 != "\"" })
            let bytes = try XCTUnwrap(Data(base64Encoded: base64))
            let (w, h) = try pngSize([UInt8](bytes))
            XCTAssertGreaterThan(w * h, 100)
        }

        let written = try report.writePNGs(to: directory.appendingPathComponent("charts"))
        XCTAssertEqual(written.map(\.lastPathComponent), ["loss.png", "accuracy.png", "confusion.png", "misclassified.png", "weights.png"])
        for url in written { _ = try pngSize([UInt8](try Data(contentsOf: url))) }
    }

    func testConvolutionalModelShowsFiltersAndFeatureMaps() throws {
        let data = try realMNIST()
        let file = try quickModel(Recipe.lenet5, on: data, count: 600)
        let report = try ModelReport.build(file: file, source: "lenet5.safetensors", test: data.test.prefix(200), exampleIndex: 3)
        XCTAssertEqual(report.inside.map(\.name), ["filters", "feature-maps"])
        let filters = try XCTUnwrap(report.inside.first)
        XCTAssertGreaterThan(filters.canvas.width, 6 * 20)   // six 5x5 filters side by side, scaled up
        XCTAssertTrue(try report.html().contains("Feature maps of test image"))
    }

    func testReportRefusesDataOfTheWrongShape() throws {
        let data = try realMNIST()
        let file = ModelFile(model: Model(architecture: Recipe.mlp.architecture, seed: 1), options: nil, history: [])
        let small = try LabeledImages(images: [UInt8](repeating: 0, count: 4 * 16), labels: [0, 1, 2, 3], rows: 4, columns: 4)
        XCTAssertThrowsError(try ModelReport.build(file: file, source: "m", test: small))
        XCTAssertThrowsError(try ModelReport.build(file: file, source: "m", test: data.test.prefix(10), exampleIndex: 10))
        // No history: the report says so instead of drawing empty curves.
        let report = try ModelReport.build(file: file, source: "m", test: data.test.prefix(10))
        XCTAssertFalse(report.figures().contains { $0.name == "loss" })
        XCTAssertTrue(try report.html().contains("keeps no training history"))
    }

    func testExplanationFollowsThePictureThroughEveryLayer() throws {
        let data = try realMNIST()
        let file = try quickModel(Recipe.lenet5, on: data, count: 600)
        let recognizer = DigitRecognizer(model: file.model)
        let inspection = try Inspection(data.test, index: 0, split: "test")
        XCTAssertEqual(inspection.label, 7)
        let explanation = Explanation(recognizer: recognizer, pixels: inspection.image.pixels)
        XCTAssertEqual(explanation.layers.count, file.model.network.layers.count)
        XCTAssertEqual(explanation.layers.map(\.shape), file.model.outputShapes())
        // The last layer's scores, through softmax, are the probabilities the recognizer reports.
        let scores = try XCTUnwrap(explanation.layers.last?.values)
        let exps = scores.map { Foundation.exp(Double($0 - (scores.max() ?? 0))) }
        for (p, e) in zip(explanation.recognition.probabilities, exps) { XCTAssertEqual(p, e / exps.reduce(0, +), accuracy: 1e-5) }
        XCTAssertEqual(explanation.text.split(separator: "\n").count, explanation.layers.count + 2)
        XCTAssertEqual(explanation.figures().count, explanation.layers.count + 2)
        let png = directory.appendingPathComponent("explain.png")
        try explanation.write(to: png)
        let (w, h) = try pngSize([UInt8](try Data(contentsOf: png)))
        XCTAssertGreaterThan(w, 100)
        XCTAssertGreaterThan(h, 500)
        let page = directory.appendingPathComponent("explain.html")
        try explanation.write(to: page)
        XCTAssertTrue(try String(contentsOf: page, encoding: .utf8).contains("The model reads \(explanation.recognition.digit)"))
    }

    func testInspectionRefusesAnIndexOutsideTheSplit() throws {
        let data = try realMNIST()
        XCTAssertThrowsError(try Inspection(data.test, index: 10_000, split: "test")) { error in
            XCTAssertTrue("\(error)".contains("0 to 9999"), "\(error)")
        }
        let first = try Inspection(data.train, index: 0, split: "train")
        XCTAssertEqual(first.label, 5)
        XCTAssertTrue(first.text.hasPrefix("train image 0: label 5\n"))
        XCTAssertEqual(first.text.split(separator: "\n").count, 29)
    }
}
