// A training run: epochs of shuffled mini-batches, forward, loss, backward, update; then a test pass.

import Foundation
import DigitsTensor
import DigitsNN
import DigitsData

/// One epoch's results, as kept in the model file's history and the JSONL log.
public struct EpochRecord: Codable, Equatable, Sendable {
    /// The epoch number, from 1.
    public var epoch: Int
    /// The mean training loss over the epoch's batches (penalty included).
    public var trainLoss: Double
    /// The fraction of training samples classified right during the epoch.
    public var trainAccuracy: Double
    /// The mean loss on the test set after the epoch, if one was given.
    public var testLoss: Double?
    /// The test accuracy after the epoch, if a test set was given.
    public var testAccuracy: Double?
    /// Seconds spent training (not testing) in this epoch.
    public var seconds: Double
    /// Training samples per second.
    public var samplesPerSecond: Double
    /// The step size used.
    public var learningRate: Float
}

/// Where a run is inside an epoch, for progress displays.
public struct BatchProgress: Sendable {
    /// The epoch number, from 1, and the total.
    public var epoch: Int, epochs: Int
    /// Batches done in this epoch, and the epoch's total.
    public var batch: Int, batches: Int
    /// Samples done in this epoch, and the epoch's total.
    public var samples: Int, totalSamples: Int
    /// The mean loss and accuracy over the epoch's batches so far.
    public var loss: Double, accuracy: Double
    /// Seconds since the epoch began.
    public var elapsed: Double
    /// The learning rate of this batch's step.
    public var learningRate: Float

    /// The step number counted over the whole run, from 1: (epoch − 1) × batches + batch.
    public var step: Int { (epoch - 1) * batches + batch }
}

/// What a training run reports as it goes.
public enum TrainingEvent: Sendable {
    /// A batch finished.
    case batch(BatchProgress)
    /// An epoch finished (and was tested).
    case epoch(EpochRecord)
}

/// Trains a model with given options and records each epoch.
public final class Trainer {
    /// The model being trained.
    public let model: Model
    /// The options in force.
    public let options: TrainingOptions
    /// The records of the epochs run so far.
    public private(set) var history: [EpochRecord] = []
    private let loss: Loss
    private let optimizer: Optimizer
    private let penalty: L2Penalty

    /// A trainer for a fresh model of `architecture`, initialised from `options.seed`.
    public init(architecture: Architecture, options: TrainingOptions) throws {
        try options.validate()
        self.model = Model(architecture: architecture, seed: options.seed)
        self.options = options
        self.loss = options.loss.makeLoss()
        self.optimizer = options.optimizer.makeOptimizer(learningRate: options.learningRate)
        self.penalty = L2Penalty(lambda: options.l2)
    }

    /// Runs `options.epochs` epochs on `train`, testing on `test` after each; reports through `onEvent`.
    /// Throws `DigitsError.nonFiniteLoss` as soon as a batch's loss is NaN or infinite.
    @discardableResult
    public func train(on train: LabeledImages, test: LabeledImages?,
                      onEvent: (TrainingEvent) -> Void = { _ in }) throws -> [EpochRecord] {
        try model.checkCompatible(with: train)
        if let test { try model.checkCompatible(with: test) }
        let encoding = model.architecture.encoding
        let parameters = model.network.parameters
        let lastEpoch = history.count + options.epochs
        for epoch in (history.count + 1)...lastEpoch {
            let start = DispatchTime.now().uptimeNanoseconds
            let order = train.epochOrder(seed: options.seed, epoch: epoch, shuffle: options.shuffle)
            let batches = miniBatches(order, size: options.batchSize)
            let totalSteps = batches.count * lastEpoch
            var lossSum: Double = 0, correct = 0, seen = 0
            for (b, batch) in batches.enumerated() {
                optimizer.learningRate = options.schedule.rate(base: options.learningRate,
                                                               step: (epoch - 1) * batches.count + b,
                                                               totalSteps: totalSteps, epoch: epoch)
                let x = train.inputs(batch, encoding: encoding)
                let y = train.labels(batch)
                let output = model.network.forward(x, mode: .training)          // forward
                let result = loss.evaluate(output, labels: y)                    // L and ∂L/∂output
                model.network.backward(result.gradient)                          // ∂L/∂θ by backpropagation
                let r = penalty.apply(to: parameters)                            // + λΣW², ∂/∂W += 2λW
                let value = Double(result.value) + Double(r)
                guard value.isFinite else {
                    throw DigitsError.nonFiniteLoss(epoch: epoch, batch: b + 1, learningRate: optimizer.learningRate)
                }
                optimizer.step(parameters)                                       // θ ← update(θ, ∂L/∂θ)
                lossSum += value * Double(batch.count)
                for (p, t) in zip(output.argmaxRows(), y) where p == t { correct += 1 }
                seen += batch.count
                onEvent(.batch(BatchProgress(
                    epoch: epoch, epochs: lastEpoch,
                    batch: b + 1, batches: batches.count, samples: seen, totalSamples: order.count,
                    loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                    elapsed: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                    learningRate: optimizer.learningRate)))
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            var record = EpochRecord(epoch: epoch, trainLoss: lossSum / Double(max(seen, 1)),
                                     trainAccuracy: Double(correct) / Double(max(seen, 1)),
                                     testLoss: nil, testAccuracy: nil, seconds: seconds,
                                     samplesPerSecond: Double(seen) / seconds, learningRate: optimizer.learningRate)
            if let test {
                let (predictions, testLoss) = model.predict(test, loss: loss)
                let right = zip(predictions, test.labels(0..<test.count)).filter { $0 == $1 }.count
                record.testLoss = testLoss
                record.testAccuracy = Double(right) / Double(max(test.count, 1))
            }
            history.append(record)
            onEvent(.epoch(record))
        }
        return history
    }
}
