// Evaluating a model on a labelled dataset.

import Foundation
import DigitsData

/// Runs models over datasets and reports how well they classify.
public enum Evaluation {
    /// The classification report of `model` on `data`.
    public static func run(_ model: Model, on data: LabeledImages) throws -> ClassificationReport {
        try model.checkCompatible(with: data)
        let (predictions, _) = model.predict(data)
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
