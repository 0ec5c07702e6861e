// Ensemble: several trained models voting together by averaging their class probabilities.

import DigitsTensor
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
        mean(try memberProbabilities(of: data))
    }

    /// Evaluates the ensemble on `data`: accuracy, per-class scores and the confusion matrix, plus each
    /// member's own accuracy for comparison. Each member runs over the data once.
    public func evaluate(on data: LabeledImages) throws -> (ensemble: ClassificationReport, members: [Double]) {
        let labels = data.labels(0..<data.count)
        func answers(_ p: [Float]) -> [Int] { Tensor(shape: [data.count, classes], values: p).argmaxRows() }
        let each = try memberProbabilities(of: data)
        let memberAccuracy = each.map { p in
            Double(zip(answers(p), labels).filter { $0 == $1 }.count) / Double(max(data.count, 1))
        }
        return (ClassificationReport(predictions: answers(mean(each)), labels: labels, classes: classes), memberAccuracy)
    }

    /// Each member's class probabilities for `data`, after checking that the data fits it.
    private func memberProbabilities(of data: LabeledImages) throws -> [[Float]] {
        try members.map { m in
            try m.checkCompatible(with: data)
            return m.probabilities(of: data)
        }
    }

    /// The elementwise mean of the members' probabilities.
    private func mean(_ each: [[Float]]) -> [Float] {
        var sum = [Float](repeating: 0, count: each.first?.count ?? 0)
        for p in each { for i in sum.indices { sum[i] += p[i] } }
        let scale = 1 / Float(each.count)
        return sum.map { $0 * scale }
    }
}
