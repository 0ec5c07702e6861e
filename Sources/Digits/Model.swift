// A trained (or fresh) model: an architecture, its network, and how to turn outputs into probabilities.

import DigitsTensor
import DigitsNN
import DigitsData

/// A network together with what it is: its architecture, input encoding and output kind.
public final class Model {
    /// What the model is.
    public let architecture: Architecture
    /// The layers and their parameters.
    public let network: Sequential

    /// A fresh model of `architecture` with initial weights drawn from `seed`.
    public init(architecture: Architecture, seed: UInt64) {
        self.architecture = architecture
        self.network = Sequential(specs: architecture.layers, initializer: architecture.initializer, seed: seed)
    }

    /// The number of input features the first layer expects.
    public var inputFeatures: Int {
        if case .dense(let inputs, _)? = architecture.layers.first { return inputs }
        return 784
    }

    /// The number of classes (the last layer's width).
    public var classes: Int {
        for spec in architecture.layers.reversed() {
            if case .dense(_, let outputs) = spec { return outputs }
        }
        return 10
    }

    /// Class probabilities for a batch of encoded inputs: [N, classes], each row summing to 1.
    public func probabilities(_ inputs: Tensor) -> Tensor {
        var out = network.forward(inputs, mode: .evaluation)
        Self.toProbabilities(&out, kind: architecture.output)
        return out
    }

    /// Turns raw outputs into probabilities in place, as `kind` says.
    static func toProbabilities(_ out: inout Tensor, kind: OutputKind) {
        switch kind {
        case .softmax, .scores:
            softmaxRows(&out)
        case .sigmoid:
            let c = out.columns, rows = out.rows
            out.withUnsafeMutableBufferPointer { p in
                for r in 0..<rows {
                    var s: Float = 0
                    for j in 0..<c { s += p[r * c + j] }
                    if s > 0 { for j in 0..<c { p[r * c + j] /= s } }
                }
            }
        }
    }

    /// Checks that a dataset's images and classes fit this model.
    public func checkCompatible(with data: LabeledImages) throws {
        guard data.rows * data.columns == inputFeatures else {
            throw DigitsError.dataMismatch("the data has \(data.rows)x\(data.columns) images but model '\(architecture.name)' "
                + "expects \(inputFeatures) pixels per image")
        }
        guard data.classes <= classes else {
            throw DigitsError.dataMismatch("the data has \(data.classes) classes but the model has \(classes) outputs")
        }
    }

    /// Runs the model over a whole dataset in batches: the predicted class of every sample and,
    /// when `loss` is given, the mean loss.
    public func predict(_ data: LabeledImages, batchSize: Int = 1000, loss: Loss? = nil) -> (predictions: [Int], loss: Double) {
        var predictions = [Int]()
        predictions.reserveCapacity(data.count)
        var total: Double = 0
        for batch in miniBatches(Array(0..<data.count), size: batchSize) {
            let x = data.inputs(batch, encoding: architecture.encoding)
            let out = network.forward(x, mode: .evaluation)
            predictions += out.argmaxRows()
            if let loss {
                total += Double(loss.evaluate(out, labels: data.labels(batch)).value) * Double(batch.count)
            }
        }
        return (predictions, data.count > 0 ? total / Double(data.count) : 0)
    }
}
