// A training observer that writes a run's curves to a TensorBoard event file.

import Foundation

/// Writes a training run's scalars to a `TensorBoardEventFile`, as a `TrainingEvent` observer:
///
///     let log = try TensorBoardTrainingLog(directory: URL(fileURLWithPath: "runs/mlp"))
///     try trainer.train(on: data.train, test: data.test, onEvent: log.handle)
///     try log.finish()
///
/// Every `everySteps` steps, and at the last step of each epoch, at step = (epoch − 1) × batches + batch:
///
///     batch/loss           mean training loss over the batches since the previous point
///     batch/accuracy       fraction of their samples classified right
///     batch/learning_rate  the step's learning rate
///
/// After each epoch, at step = the epoch number:
///
///     epoch/train_loss, epoch/train_accuracy   over the epoch (as `EpochRecord`)
///     epoch/test_loss, epoch/test_accuracy     when the run has a test set
///     epoch/learning_rate                      the rate of the epoch's last step
///
/// Writing never stops training: the first error is kept, later events are dropped, and `finish()`
/// throws it.
public final class TensorBoardTrainingLog {
    /// The default spacing of the per-step points.
    public static let defaultEverySteps = 20

    /// The event file written.
    public let file: TensorBoardEventFile
    /// The spacing of the per-step points.
    public let everySteps: Int
    /// The first write error, if any.
    public private(set) var error: (any Error)?

    // Running sums at the previous per-step point, within the current epoch.
    private var markEpoch = 0, markSamples = 0
    private var markLossSum = 0.0, markCorrect = 0.0

    /// A log writing a new event file in `directory` (created if needed), a per-step point every
    /// `everySteps` steps (at least 1).
    public init(directory: URL, everySteps: Int = TensorBoardTrainingLog.defaultEverySteps) throws {
        guard everySteps >= 1 else {
            throw DigitsError.invalidOption("the TensorBoard step interval must be at least 1, not \(everySteps)")
        }
        self.everySteps = everySteps
        self.file = try TensorBoardEventFile(directory: directory)
    }

    /// Records one training event.
    public func handle(_ event: TrainingEvent) {
        switch event {
        case .batch(let p):
            if p.epoch != markEpoch { (markEpoch, markSamples, markLossSum, markCorrect) = (p.epoch, 0, 0, 0) }
            guard p.step % everySteps == 0 || p.batch == p.batches else { return }
            // The progress holds running means over the epoch; the sums recover the interval's share.
            let lossSum = p.loss * Double(p.samples), correct = p.accuracy * Double(p.samples)
            let samples = Double(max(p.samples - markSamples, 1))
            write(["batch/loss": Float((lossSum - markLossSum) / samples),
                   "batch/accuracy": Float((correct - markCorrect) / samples),
                   "batch/learning_rate": p.learningRate], step: p.step)
            (markSamples, markLossSum, markCorrect) = (p.samples, lossSum, correct)
        case .epoch(let r):
            var scalars: [String: Float] = [
                "epoch/train_loss": Float(r.trainLoss),
                "epoch/train_accuracy": Float(r.trainAccuracy),
                "epoch/learning_rate": r.learningRate,
            ]
            if let loss = r.testLoss { scalars["epoch/test_loss"] = Float(loss) }
            if let accuracy = r.testAccuracy { scalars["epoch/test_accuracy"] = Float(accuracy) }
            write(scalars, step: r.epoch)
        }
    }

    /// Throws the first error met while writing, if any.
    public func finish() throws {
        if let error { throw error }
    }

    private func write(_ scalars: [String: Float], step: Int) {
        guard error == nil else { return }
        do { try file.writeScalars(scalars, step: step) } catch { self.error = error }
    }
}
