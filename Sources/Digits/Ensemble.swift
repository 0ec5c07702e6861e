// Ensemble: several trained models voting together by averaging their class probabilities.

import DigitsData

/// Models that answer together: the ensemble's probabilities are the mean of its members',
///   p(c | x) = 1/M Σ_m p_m(c | x),
/// and its answer is the class with the largest mean probability. Members may differ in architecture and
/// input encoding; each sees the data encoded its own way.
public struct Ensemble {
    /// The member models.
    public let members: [Model]

    /// An ensemble of `members`; throws unless there is at least one and all have the same number of classes.
    public init(_ members: [Model]) throws {
        guard let first = members.first else { throw DigitsError.invalidOption("an ensemble needs at least one model") }
        for (i, m) in members.enumerated() where m.classes != first.classes {
            throw DigitsError.dataMismatch("model \(i + 1) (\(m.architecture.name)) has \(m.classes) classes "
                + "but model 1 (\(first.architecture.name)) has \(first.classes): they cannot vote together")
        }
        self.members = members
    }

    /// The number of classes the members answer.
    public var classes: Int { members[0].classes }

    /// The mean class probabilities for every sample of `data`, row-major (`count × classes`).
    public func probabilities(of data: LabeledImages) throws -> [Float] {
        var sum = [Float](repeating: 0, count: data.count * classes)
        for m in members {
            try m.checkCompatible(with: data)
            let p = m.probabilities(of: data)
            for i in sum.indices { sum[i] += p[i] }
        }
        let scale = 1 / Float(members.count)
        return sum.map { $0 * scale }
    }

    /// Evaluates the ensemble on `data`: accuracy, per-class scores and the confusion matrix, plus each
    /// member's own accuracy for comparison.
    public func evaluate(on data: LabeledImages) throws -> (ensemble: ClassificationReport, members: [Double]) {
        let labels = data.labels(0..<data.count)
        let memberAccuracy = try members.map { m -> Double in
            try m.checkCompatible(with: data)
            let predictions = m.predict(data).predictions
            return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(max(data.count, 1))
        }
        let p = try probabilities(of: data)
        let predictions = (0..<data.count).map { i -> Int in
            let row = p[(i * classes)..<((i + 1) * classes)]
            return row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }.map { $0 - i * classes } ?? 0
        }
        return (ClassificationReport(predictions: predictions, labels: labels, classes: classes), memberAccuracy)
    }
}

extension Model {
    /// Class probabilities for every sample of `data`, row-major: `count × classes` values.
    public func probabilities(of data: LabeledImages, batchSize: Int = 1000) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(data.count * classes)
        for batch in miniBatches(Array(0..<data.count), size: batchSize) {
            out += probabilities(data.inputs(batch, encoding: architecture.encoding)).storage
        }
        return out
    }
}
