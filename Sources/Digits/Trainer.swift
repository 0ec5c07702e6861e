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

/// Where a run stands: the epoch in progress and how much of it is done, with that epoch's running totals.
public struct TrainingPosition: Codable, Equatable, Sendable {
    /// The epoch in progress or next to begin, from 1; one past the last epoch once the run is complete.
    public var epoch: Int
    /// Batches of that epoch already trained.
    public var batch: Int
    /// Σ (batch loss × batch size) over those batches.
    public var lossSum: Double
    /// How many of their samples were classified right.
    public var correct: Int
    /// How many samples they held.
    public var seen: Int
    /// Seconds spent training them.
    public var seconds: Double

    /// The start of epoch `epoch`: nothing of it done yet.
    public init(epoch: Int = 1) {
        self.epoch = epoch
        batch = 0
        lossSum = 0
        correct = 0
        seen = 0
        seconds = 0
    }
}

/// Trains a model with given options and records each epoch; can save its whole state between batches
/// (`checkpoint()`) and carry on from such a state (`init(resuming:)`) with bit-identical results.
public final class Trainer {
    /// The model being trained.
    public let model: Model
    /// The options in force.
    public let options: TrainingOptions
    /// SHA-256 of the training data files by role, recorded in checkpoints.
    public let dataHashes: [String: String]
    /// The records of the epochs run so far.
    public private(set) var history: [EpochRecord] = []
    /// Where the run stands.
    public private(set) var position = TrainingPosition()
    private let loss: Loss
    private let optimizer: Optimizer
    private let penalty: L2Penalty

    /// A trainer for a fresh model of `architecture`, initialised from `options.seed`.
    public init(architecture: Architecture, options: TrainingOptions, dataHashes: [String: String] = [:]) throws {
        try options.validate()
        try architecture.validate()
        let model = Model(architecture: architecture, seed: options.seed)
        self.model = model
        self.options = options
        self.dataHashes = dataHashes
        self.loss = options.loss.makeLoss(labelSmoothing: options.labelSmoothing)
        self.optimizer = options.optimizer.makeOptimizer(learningRate: options.learningRate, weightDecay: options.weightDecay)
        self.penalty = L2Penalty(lambda: options.l2)
        self.average = options.averageDecay.map {
            WeightAverage(of: model.network.parameters + model.network.buffers, decay: $0)
        }
    }

    /// The moving average of the weights, when the options ask for one.
    private let average: WeightAverage?
    /// Whether the model holds the average (after a finished run) rather than the trained weights.
    private var averageInModel = false

    /// A trainer that carries on the run saved in `checkpoint` from the batch where it stopped: its
    /// weights, optimizer state, random generators, position and history are taken over.
    public init(resuming checkpoint: TrainingCheckpoint) throws {
        try checkpoint.options.validate()
        self.model = checkpoint.model
        self.options = checkpoint.options
        self.dataHashes = checkpoint.dataHashes
        self.history = checkpoint.history
        self.position = checkpoint.position
        self.loss = options.loss.makeLoss(labelSmoothing: options.labelSmoothing)
        self.optimizer = options.optimizer.makeOptimizer(learningRate: options.learningRate, weightDecay: options.weightDecay)
        self.penalty = L2Penalty(lambda: options.l2)
        self.average = options.averageDecay.map {
            WeightAverage(of: checkpoint.model.network.parameters + checkpoint.model.network.buffers, decay: $0)
        }
        if let average {
            guard checkpoint.averages.count == average.averages.count else {
                throw DigitsError.badCheckpoint(path: "in-memory checkpoint", reason: "it holds no moving average of the weights")
            }
            average.restore(checkpoint.averages)
        }
        do {
            try optimizer.restore(checkpoint.optimizerState, parameters: model.network.parameters)
        } catch let error as OptimizerStateError {
            throw DigitsError.badCheckpoint(path: "in-memory checkpoint", reason: error.description)
        }
        for (name, layer) in model.network.randomLayers {
            guard let generator = checkpoint.generators[name] else {
                throw DigitsError.badCheckpoint(path: "in-memory checkpoint", reason: "it has no generator state for \(name)")
            }
            layer.generator = generator
        }
    }

    /// Whether every epoch has been run.
    public var isComplete: Bool { position.epoch > options.epochs }

    /// The run's whole state as it stands, to save and resume from. (`train` writes it between batches and
    /// after each epoch; with weight averaging, a finished run's model holds the average, so take checkpoints
    /// from `train`, not after it.)
    public func checkpoint() -> TrainingCheckpoint {
        TrainingCheckpoint(model: model, options: options, history: history, dataHashes: dataHashes,
                           position: position, optimizerState: optimizer.state,
                           generators: Dictionary(uniqueKeysWithValues: model.network.randomLayers.map { ($0.name, $0.layer.generator) }),
                           averages: average?.averages ?? [])
    }

    /// Runs the epochs left (up to `options.epochs` in all) on `train`, testing on `test` after each;
    /// reports through `onEvent`. With `checkpointURL` the run's state is written there after every epoch.
    ///
    /// Between batches it checks `stop`: once a stop is requested it writes the checkpoint (when asked for)
    /// and throws `DigitsError.trainingStopped`. Throws `DigitsError.nonFiniteLoss` as soon as a batch's
    /// loss is NaN or infinite.
    @discardableResult
    public func train(on train: LabeledImages, test: LabeledImages?, checkpointURL: URL? = nil, stop: StopRequest? = nil,
                      onEvent: (TrainingEvent) -> Void = { _ in }) throws -> [EpochRecord] {
        try model.checkCompatible(with: train)
        if let test { try model.checkCompatible(with: test) }
        let encoding = model.architecture.encoding
        let parameters = model.network.parameters
        if averageInModel { average?.swap(); averageInModel = false }             // the trained weights, not the average
        while position.epoch <= options.epochs {
            let epoch = position.epoch
            let order = train.epochOrder(seed: options.seed, epoch: epoch, shuffle: options.shuffle)
            let batches = miniBatches(order, size: options.batchSize)
            let totalSteps = batches.count * options.epochs
            guard position.batch < batches.count || batches.isEmpty else {
                throw DigitsError.dataMismatch("the run stopped after batch \(position.batch) of epoch \(epoch), but this "
                    + "training set has only \(batches.count) batches of \(options.batchSize): it is not the data the run began with")
            }
            let start = DispatchTime.now().uptimeNanoseconds, secondsBefore = position.seconds
            while position.batch < batches.count {
                if stop?.isRequested == true {
                    if let checkpointURL { try checkpoint().write(to: checkpointURL) }
                    throw DigitsError.trainingStopped(epoch: epoch, batch: position.batch, batches: batches.count,
                                                      checkpoint: checkpointURL?.path)
                }
                let b = position.batch, batch = batches[b], step = (epoch - 1) * batches.count + b
                optimizer.learningRate = options.schedule.rate(base: options.learningRate, step: step,
                                                               totalSteps: totalSteps, epoch: epoch)
                let x = options.augmentation.map {
                    train.augmentedInputs(batch, encoding: encoding, augmentation: $0, seed: options.seed, epoch: epoch)
                } ?? train.inputs(batch, encoding: encoding)
                let y = train.labels(batch)
                let output = model.network.forward(x, mode: .training)          // forward
                let result = loss.evaluate(output, labels: y)                    // L and ∂L/∂output
                model.network.backward(result.gradient)                          // ∂L/∂θ by backpropagation
                let r = penalty.apply(to: parameters)                            // + λΣW², ∂/∂W += 2λW
                let value = Double(result.value) + Double(r)
                guard value.isFinite else {
                    throw DigitsError.nonFiniteLoss(epoch: epoch, batch: b + 1, learningRate: optimizer.learningRate)
                }
                if let clipNorm = options.clipNorm { GradientClipping.clip(parameters, maxNorm: clipNorm) }
                optimizer.step(parameters)                                       // θ ← update(θ, ∂L/∂θ)
                average?.update(step: step)                                      // w̄ ← d w̄ + (1 − d) w
                position.batch += 1
                position.lossSum += value * Double(batch.count)
                for (p, t) in zip(output.argmaxRows(), y) where p == t { position.correct += 1 }
                position.seen += batch.count
                position.seconds = secondsBefore + Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                onEvent(.batch(BatchProgress(
                    epoch: epoch, epochs: options.epochs,
                    batch: position.batch, batches: batches.count, samples: position.seen, totalSamples: order.count,
                    loss: position.lossSum / Double(position.seen), accuracy: Double(position.correct) / Double(position.seen),
                    elapsed: position.seconds, learningRate: optimizer.learningRate)))
            }
            let seen = max(position.seen, 1), seconds = position.seconds
            var record = EpochRecord(epoch: epoch, trainLoss: position.lossSum / Double(seen),
                                     trainAccuracy: Double(position.correct) / Double(seen),
                                     testLoss: nil, testAccuracy: nil, seconds: seconds,
                                     samplesPerSecond: Double(position.seen) / seconds, learningRate: optimizer.learningRate)
            if let test {
                average?.swap()                                                  // with weight averaging, test the average
                let (predictions, testLoss) = model.predict(test, loss: loss)
                average?.swap()
                let right = zip(predictions, test.labels(0..<test.count)).filter { $0 == $1 }.count
                record.testLoss = testLoss
                record.testAccuracy = Double(right) / Double(max(test.count, 1))
            }
            history.append(record)
            position = TrainingPosition(epoch: epoch + 1)
            if let checkpointURL { try checkpoint().write(to: checkpointURL) }
            onEvent(.epoch(record))
        }
        // A finished run with weight averaging leaves the average in the model, to be saved.
        if let average, !averageInModel { average.swap(); averageInModel = true }
        return history
    }
}
