// ModelReport: everything a practitioner looks at before trusting a model — its layers, its training
// curves, its confusion matrix and per-class scores, the test digits it gets wrong, and what its first layer
// learned — gathered once and written as one self-contained HTML file or as PNG charts.

import Foundation
import Digits

/// A test image the model got wrong.
public struct Misclassification: Sendable {
    /// The image's index in the test set.
    public var index: Int
    /// The true label.
    public var truth: Int
    /// The model's answer.
    public var predicted: Int
    /// The three most probable classes, most probable first.
    public var top: [Recognition.Candidate]
    /// The 28x28 pixels, 0-255, ink bright.
    public var pixels: [UInt8]
}

/// A chart or picture sheet with the name of its PNG file and the words that go with it.
public struct Figure: Sendable {
    /// The file stem, e.g. `confusion` for `confusion.png`.
    public var name: String
    /// The heading above it.
    public var title: String
    /// A sentence saying how to read it.
    public var caption: String
    /// The picture.
    public var canvas: Canvas
}

/// A model's evaluation on a test set, with the pictures that explain it.
public struct ModelReport: Sendable {
    /// Where the model came from (its file name).
    public var source: String
    /// The model's name, e.g. `lenet5`.
    public var modelName: String
    /// Each layer with its output shape and parameter count.
    public var layers: [LayerSummary]
    /// The total number of trainable parameters.
    public var parameterCount: Int
    /// The per-epoch history kept in the model file.
    public var history: [EpochRecord]
    /// Accuracy, per-class precision/recall/F1 and the confusion matrix.
    public var evaluation: ClassificationReport
    /// The first misclassified test images, in test-set order.
    public var misclassified: [Misclassification]
    /// How many test images were misclassified in all.
    public var misclassifiedCount: Int
    /// The provenance text of the model file (`digits info`).
    public var provenance: String
    /// Pictures of what the first layer learned and of what it makes of one example.
    public var inside: [Figure]

    /// Evaluates `file`'s model on `test` and gathers the report; `galleryLimit` caps the misclassified images
    /// kept, `exampleIndex` picks the test image whose feature maps are drawn.
    public static func build(file: ModelFile, source: String, test: LabeledImages, galleryLimit: Int = 40,
                             exampleIndex: Int = 0) throws -> ModelReport {
        let model = file.model
        try model.checkCompatible(with: test)
        guard test.count > 0 else { throw DigitsError.dataMismatch("the test set is empty: nothing to report on") }
        guard exampleIndex >= 0, exampleIndex < test.count else {
            throw DigitsError.dataMismatch("example index \(exampleIndex) is outside the test set (0..<\(test.count))")
        }
        let probabilities = model.probabilities(of: test)
        let classes = model.classes
        var predictions = [Int](), wrong = [Misclassification](), wrongCount = 0
        predictions.reserveCapacity(test.count)
        let labels = test.labels(0..<test.count)
        for i in 0..<test.count {
            let row = Array(probabilities[(i * classes)..<((i + 1) * classes)])
            let ranked = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
            predictions.append(ranked[0])
            if ranked[0] != labels[i] {
                wrongCount += 1
                if wrong.count < galleryLimit {
                    wrong.append(Misclassification(
                        index: i, truth: labels[i], predicted: ranked[0],
                        top: ranked.prefix(3).map { Recognition.Candidate(digit: $0, probability: Double(row[$0])) },
                        pixels: Array(test.pixels(of: i))))
                }
            }
        }
        let evaluation = ClassificationReport(predictions: predictions, labels: labels, classes: classes)
        return ModelReport(
            source: source, modelName: model.architecture.name, layers: model.summary(),
            parameterCount: model.network.parameterCount, history: file.history, evaluation: evaluation,
            misclassified: wrong, misclassifiedCount: wrongCount, provenance: file.infoText,
            inside: Inside.figures(of: model, example: Array(test.pixels(of: exampleIndex)), label: labels[exampleIndex],
                                   rows: test.rows, columns: test.columns))
    }

    /// Every chart of the report, in reading order.
    public func figures() -> [Figure] {
        var out: [Figure] = []
        let epochs = history.map { Double($0.epoch) }
        if !history.isEmpty {
            var loss = [Series(name: "TRAIN", color: Palette.blue, points: Array(zip(epochs, history.map(\.trainLoss))))]
            var accuracy = [Series(name: "TRAIN", color: Palette.blue,
                                   points: Array(zip(epochs, history.map { $0.trainAccuracy * 100 })))]
            let tested = history.filter { $0.testLoss != nil && $0.testAccuracy != nil }
            if !tested.isEmpty {
                loss.append(Series(name: "TEST", color: Palette.orange,
                                   points: tested.map { (Double($0.epoch), $0.testLoss ?? 0) }))
                accuracy.append(Series(name: "TEST", color: Palette.orange,
                                       points: tested.map { (Double($0.epoch), ($0.testAccuracy ?? 0) * 100) }))
            }
            out.append(Figure(name: "loss", title: "Loss per epoch",
                              caption: "Mean training loss over each epoch and the test loss after it.",
                              canvas: Chart.line(title: "LOSS", xLabel: "EPOCH", series: loss)))
            out.append(Figure(name: "accuracy", title: "Accuracy per epoch (%)",
                              caption: "Training accuracy over each epoch and test accuracy after it.",
                              canvas: Chart.line(title: "ACCURACY %", xLabel: "EPOCH", series: accuracy)))
        }
        out.append(Figure(name: "confusion", title: "Confusion matrix",
                          caption: "Rows are true digits, columns the model's answers; blue is the diagonal (right), "
                              + "red shades the mistakes (a cell is fully red at 5% of its row).",
                          canvas: Chart.confusion(evaluation.confusion)))
        if !misclassified.isEmpty {
            let tiles = misclassified.map { m in
                Tile(width: 28, height: 28, values: m.pixels.map { Float($0) / 255 }, colormap: .gray(low: 0, high: 1),
                     caption: ["#\(m.index) \(m.truth)→\(m.predicted)",
                               m.top.map { "\($0.digit):\(Int(($0.probability * 100).rounded()))" }.joined(separator: " ")])
            }
            out.append(Figure(name: "misclassified", title: "Misclassified test images",
                              caption: "Test index, true digit → answer, then the top three answers with their probability in %.",
                              canvas: Chart.tiles(tiles, columns: 10, scale: 2)))
        }
        return out + inside
    }

    /// Writes every figure as `<name>.png` into `directory` (created if missing); returns the files written.
    @discardableResult
    public func writePNGs(to directory: URL) throws -> [URL] {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw DigitsError.unwritableOutput(path: directory.path, reason: error.localizedDescription)
        }
        return try figures().map { figure in
            let url = directory.appendingPathComponent(figure.name + ".png")
            try writeAtomically(try figure.canvas.pngData(), to: url)
            return url
        }
    }
}

/// Writes `bytes` to `url` atomically, reporting failure as `DigitsError.unwritableOutput`.
func writeAtomically(_ bytes: [UInt8], to url: URL) throws {
    do {
        try AtomicFile.write(bytes, to: url)
    } catch let error as AtomicFileError {
        throw DigitsError.unwritableOutput(path: url.path, reason: error.description)
    }
}
