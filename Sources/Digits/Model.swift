// A trained (or fresh) model: an architecture, its network, and how to turn outputs into probabilities.

import Foundation
import DigitsTensor
import DigitsNN
import DigitsData

/// A network together with what it is: its architecture, input encoding and output kind.
public final class Model {
    /// What the model is.
    public private(set) var architecture: Architecture
    /// The layers and their parameters.
    public let network: Sequential

    /// A fresh model of `architecture` with initial weights drawn from `seed`.
    public init(architecture: Architecture, seed: UInt64) {
        self.architecture = architecture
        self.network = Sequential(specs: architecture.layers, initializer: architecture.initializer, seed: seed)
    }

    /// Makes the model read each picture in `views` from now on, averaging its probabilities over them
    /// (nil: the picture as it is), whatever its architecture says.
    public func read(in views: TestTimeAugmentation?) {
        architecture.testTimeAugmentation = views
    }

    /// The shape of one input sample: [784] for flat inputs, [1, 28, 28] for images.
    public var inputShape: [Int] { architecture.inputShape }

    /// The number of input values per sample.
    public var inputFeatures: Int { inputShape.reduce(1, *) }

    /// The number of classes (the width of the last layer's output).
    public var classes: Int { outputShapes().last?.last ?? 0 }

    /// Each layer's output shape for one sample (batch dimension dropped).
    public func outputShapes() -> [[Int]] {
        var shape = [1] + inputShape
        return network.layers.map { layer in
            shape = layer.outputShape(for: shape)
            return Array(shape.dropFirst())
        }
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

    /// Checks that a dataset holds images, and that their size and classes fit this model.
    public func checkCompatible(with data: LabeledImages) throws {
        guard data.count > 0 else {
            throw DigitsError.dataMismatch("the dataset holds no images (its IDX files say 0 of them): nothing to train on or measure")
        }
        guard data.rows * data.columns == inputFeatures else {
            throw DigitsError.dataMismatch("the data has \(data.rows)x\(data.columns) images but model '\(architecture.name)' "
                + "expects \(inputFeatures) pixels per image")
        }
        guard data.classes <= classes else {
            throw DigitsError.dataMismatch("the data has \(data.classes) classes but the model has \(classes) outputs")
        }
    }

    /// The batch size of `predict` and `probabilities` unless told otherwise: 128. Larger batches do not run
    /// faster: with 1000 pictures `best`'s first activations are 100 MB and every layer streams them through
    /// memory, while 128 keep them (12.8 MB) in the processor's cache; evaluating `best` on the test set in
    /// its 5 views took 40.5 s in batches of 1000 and 21.0 s in batches of 128, with the same predictions.
    public static let evaluationBatchSize = 128

    /// Runs the model over a whole dataset in batches: the predicted class of every sample and,
    /// when `loss` is given, the mean loss.
    public func predict(_ data: LabeledImages, batchSize: Int = Model.evaluationBatchSize, loss: Loss? = nil) -> (predictions: [Int], loss: Double) {
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

extension Model {
    /// Class probabilities for every sample of `data`, row-major: `count × classes` values, read in the
    /// views of the architecture's test-time augmentation, if it has one.
    public func probabilities(of data: LabeledImages, batchSize: Int = Model.evaluationBatchSize) -> [Float] {
        probabilities(of: data, views: architecture.testTimeAugmentation, batchSize: batchSize)
    }

    /// Class probabilities for every sample of `data`, row-major: `count × classes` values; with `views`, the
    /// mean over the views, p(c | x) = 1/V Σ_v p(c | T_v(x)); without, the picture as it is.
    public func probabilities(of data: LabeledImages, views: TestTimeAugmentation?, batchSize: Int = Model.evaluationBatchSize) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(data.count * classes)
        let encoding = architecture.encoding
        for batch in miniBatches(Array(0..<data.count), size: batchSize) {
            guard let views else {
                out += probabilities(data.inputs(batch, encoding: encoding)).storage
                continue
            }
            var sum = [Float](repeating: 0, count: batch.count * classes)
            for view in views.views {
                let p = probabilities(data.inputs(batch, encoding: encoding, view: view)).storage
                for i in sum.indices { sum[i] += p[i] }
            }
            let scale = 1 / Float(views.views.count)
            out += sum.map { $0 * scale }
        }
        return out
    }

    /// Class probabilities for pictures already scaled to [0, 1] (`pixels`: n · 28 · 28 values), read in the
    /// views of the architecture's test-time augmentation, if it has one: [n, classes].
    public func probabilities(pixels: [Float], rows: Int = 28, columns: Int = 28) -> Tensor {
        let encoding = architecture.encoding
        guard let views = architecture.testTimeAugmentation?.views else {
            return probabilities(encoding.encode(pixels: pixels, rows: rows, columns: columns))
        }
        // All views of all pictures in one batch, view-major: rows v·n ..< (v+1)·n are view v.
        let size = rows * columns, n = pixels.count / size
        var warped = [Float](repeating: 0, count: views.count * pixels.count)
        pixels.withUnsafeBufferPointer { src in
            warped.withUnsafeMutableBufferPointer { dst in
                for (v, view) in views.enumerated() {
                    for i in 0..<n {
                        Augmentation.warp(src.baseAddress! + i * size, rows: rows, columns: columns, by: view,
                                          into: dst.baseAddress! + (v * n + i) * size)
                    }
                }
            }
        }
        let all = probabilities(encoding.encode(pixels: warped, rows: rows, columns: columns)).storage
        var mean = Tensor(shape: [n, classes])
        let scale = 1 / Float(views.count)
        mean.withUnsafeMutableBufferPointer { m in
            for v in 0..<views.count { for j in 0..<(n * classes) { m[j] += all[v * n * classes + j] * scale } }
        }
        return mean
    }
}

/// One row of a model summary: a layer, its output shape for one sample, and its parameter count.
public struct LayerSummary: Codable, Equatable, Sendable {
    /// The layer's position, from 0.
    public var index: Int
    /// The layer's name, e.g. `Dense(784→512)`.
    public var layer: String
    /// The output shape for one sample.
    public var outputShape: [Int]
    /// The number of trainable scalars.
    public var parameters: Int
}

extension Model {
    /// Each layer with its output shape and parameter count, input first.
    public func summary() -> [LayerSummary] {
        zip(network.layers.indices, outputShapes()).map { i, shape in
            LayerSummary(index: i, layer: architecture.layers[i].displayName, outputShape: shape,
                         parameters: network.layers[i].parameters.reduce(0) { $0 + $1.value.count })
        }
    }

    /// The summary as a text table with totals.
    public func summaryText() -> String {
        var s = "model: \(architecture.name), input \(inputShape.map(String.init).joined(separator: "x")), "
            + "\(architecture.encoding.formula) for each pixel byte b\n"
        s += "  #  layer" + String(repeating: " ", count: 29) + "output shape     parameters\n"
        for row in summary() {
            let name = row.layer.padding(toLength: 34, withPad: " ", startingAt: 0)
            let shape = row.outputShape.map(String.init).joined(separator: "x").padding(toLength: 14, withPad: " ", startingAt: 0)
            s += pad("\(row.index)", 3) + "  " + name + " " + shape + pad("\(row.parameters)", 13) + "\n"
        }
        s += "total parameters: \(network.parameterCount)\n"
        if let views = architecture.testTimeAugmentation?.views {
            s += "reads each picture in \(views.count) views (test-time augmentation), averaging their probabilities\n"
        }
        return s
    }
}
