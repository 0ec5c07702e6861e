// Classification metrics: accuracy, per-class precision, recall and F1, and the confusion matrix.

/// The quality of a classifier's predictions against the true labels.
public struct ClassificationReport: Codable, Equatable, Sendable {
    /// confusion[t][p] counts samples of true class t predicted as p.
    public let confusion: [[Int]]
    /// The fraction of samples predicted right.
    public let accuracy: Double
    /// Per class c: of the samples predicted c, the fraction that are c. TP / (TP + FP).
    public let precision: [Double]
    /// Per class c: of the samples that are c, the fraction predicted c. TP / (TP + FN).
    public let recall: [Double]
    /// Per class: the harmonic mean of precision and recall, 2PR / (P + R).
    public let f1: [Double]
    /// Per class: the number of samples that are c.
    public let support: [Int]

    /// The report for `predictions` against `labels`, with classes 0..<classes.
    public init(predictions: [Int], labels: [Int], classes: Int) {
        precondition(predictions.count == labels.count, "ClassificationReport: counts differ")
        var m = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (p, t) in zip(predictions, labels) { m[t][p] += 1 }
        confusion = m
        let correct = (0..<classes).reduce(0) { $0 + m[$1][$1] }
        accuracy = labels.isEmpty ? 0 : Double(correct) / Double(labels.count)
        var precision = [Double](), recall = [Double](), f1 = [Double](), support = [Int]()
        for c in 0..<classes {
            let tp = Double(m[c][c])
            let predicted = Double((0..<classes).reduce(0) { $0 + m[$1][c] })
            let actual = m[c].reduce(0, +)
            let p = predicted > 0 ? tp / predicted : 0
            let r = actual > 0 ? tp / Double(actual) : 0
            precision.append(p)
            recall.append(r)
            f1.append(p + r > 0 ? 2 * p * r / (p + r) : 0)
            support.append(actual)
        }
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.support = support
    }

    /// The pairs (true, predicted) confused most often, most first.
    public func mostConfused(limit: Int = 5) -> [(truth: Int, predicted: Int, count: Int)] {
        var pairs: [(truth: Int, predicted: Int, count: Int)] = []
        for t in confusion.indices {
            for p in confusion.indices where p != t && confusion[t][p] > 0 {
                pairs.append((t, p, confusion[t][p]))
            }
        }
        return Array(pairs.sorted { ($0.count, $1.truth, $1.predicted) > ($1.count, $0.truth, $0.predicted) }.prefix(limit))
    }

    /// A plain-text table: accuracy, per-class precision/recall/F1 and the confusion matrix.
    public var text: String {
        var s = "accuracy: \(percent(accuracy)) (\(confusion.indices.reduce(0) { $0 + confusion[$1][$1] })/\(support.reduce(0, +)))\n\n"
        s += "class  precision  recall      f1  support\n"
        for c in confusion.indices {
            s += pad("\(c)", 5) + pad(fixed(precision[c]), 11) + pad(fixed(recall[c]), 8) + pad(fixed(f1[c]), 8) + pad("\(support[c])", 9) + "\n"
        }
        s += "\nconfusion matrix (rows: true class, columns: predicted)\n      "
        s += confusion.indices.map { pad("\($0)", 6) }.joined() + "\n"
        for t in confusion.indices {
            s += pad("\(t)", 5) + " " + confusion[t].map { pad("\($0)", 6) }.joined() + "\n"
        }
        return s
    }
}

/// `x` as a percentage with two decimals, e.g. "98.12%".
func percent(_ x: Double) -> String { fixed(x * 100, digits: 2) + "%" }

/// `x` with a fixed number of decimals.
func fixed(_ x: Double, digits: Int = 4) -> String {
    var s = String(Int((abs(x) * pow10(digits)).rounded()))
    while s.count <= digits { s = "0" + s }
    let cut = s.index(s.endIndex, offsetBy: -digits)
    return (x < 0 ? "-" : "") + s[..<cut] + (digits > 0 ? "." + s[cut...] : "")
}

private func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { r, _ in r * 10 } }

/// Right-aligns `s` in a field of `width`.
func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}
