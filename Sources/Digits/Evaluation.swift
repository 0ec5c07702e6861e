// Evaluating a model on a labelled dataset.

import Foundation
import DigitsTensor
import DigitsData

/// Runs models over datasets and reports how well they classify.
public enum Evaluation {
    /// The classification report of `model` on `data`, reading each picture in the views of the model's
    /// test-time augmentation, if it has one.
    public static func run(_ model: Model, on data: LabeledImages) throws -> ClassificationReport {
        try run(model, on: data, views: model.architecture.testTimeAugmentation)
    }

    /// The classification report of `model` on `data`, reading each picture in `views` (nil: as it is).
    public static func run(_ model: Model, on data: LabeledImages, views: TestTimeAugmentation?) throws -> ClassificationReport {
        try model.checkCompatible(with: data)
        let probabilities = model.probabilities(of: data, views: views)
        let predictions = Tensor(shape: [data.count, model.classes], values: probabilities).argmaxRows()
        return ClassificationReport(predictions: predictions, labels: data.labels(0..<data.count), classes: model.classes)
    }
}

extension ClassificationReport {
    /// The report as pretty-printed JSON.
    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
