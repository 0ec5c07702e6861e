// `digits train`: trains a named model with its recipe (or overrides) and saves it.

import ArgumentParser
import Foundation
import Digits

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on MNIST (or any IDX dataset of 28x28 images) and report its test accuracy.")

    @Option(name: .long, help: "Model to train: \(Recipe.names.joined(separator: ", ")) (default: mlp).")
    var model: String?
    @Option(name: .long, help: "Units in the hidden layer of mlp or mlp-sigmoid (default: 512 and 200).")
    var hidden: Int?
    @Option(name: .long, help: "Passes over the training set (default: the model's recipe).")
    var epochs: Int?
    @Option(name: .long, help: "Samples per gradient step (default: the recipe's).")
    var batchSize: Int?
    @Option(name: .long, help: "Update rule: \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")) (default: the recipe's).")
    var optimizer: String?
    @Option(name: .long, help: "Learning rate (default: the recipe's).")
    var lr: Float?
    @Option(name: .long, help: "Learning-rate schedule: constant, cosine, step:EVERY:FACTOR or one-cycle[:WARMUP] (default: the recipe's).")
    var schedule: String?
    @Option(name: .long, help: "L2 penalty λ on the weights (default: the recipe's).")
    var l2: Float?
    @Option(name: .long, help: "Label smoothing ε for cross-entropy, e.g. 0.1 (default: the recipe's, usually 0).")
    var labelSmoothing: Float?
    @Option(name: .long, help: "AdamW's decoupled weight decay λ (with --optimizer adamw; default 0.01).")
    var weightDecay: Float?
    @Option(name: .long, help: "Clip the gradients' joint L2 norm to this value.")
    var clipNorm: Float?
    @Option(name: .long, help: "Distort training images on the fly: 'standard' (shift 2 px, rotate 10°, scale 10%), e.g. shift:2,rotate:10,scale:0.1, or 'none' (off, even where the recipe has it).")
    var augment: String?
    @Option(name: .long, help: "Evaluate and save an exponential moving average of the weights with this decay, e.g. 0.999.")
    var average: Float?
    @Option(name: .long, help: "Seed for initial weights and shuffling.")
    var seed: UInt64?
    @Option(name: .long, help: "Where to save the trained model (.safetensors).")
    var output: String?
    @Option(name: .long, help: "Write every epoch's metrics to this file as JSON lines (appended to when resuming).")
    var log: String?
    @Option(name: .long, help: "Save the run's state here after every epoch and on Ctrl-C (default with --output: NAME.checkpoint.safetensors beside it).")
    var checkpoint: String?
    @Option(name: .long, help: "Continue the run saved in this checkpoint; options given must match the checkpoint's.")
    var resume: String?
    @Option(name: .long, help: "Write TensorBoard event files (loss, accuracy, learning rate) to this folder.")
    var tensorboard: String?
    @Option(name: .long, help: "With --tensorboard, a per-step point every N steps.")
    var tensorboardEvery: Int = TensorBoardTrainingLog.defaultEverySteps
    @Option(name: .long, help: "Hold out the last N training images and test on them after each epoch instead of the test set (to tune a recipe without looking at the test set).")
    var validation: Int?
    @Flag(name: .long, help: "One plain line per epoch, no live progress bar.")
    var quiet = false
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let optimizer, OptimizerKind(rawValue: optimizer) == nil {
            throw ValidationError("unknown optimizer '\(optimizer)'; choose one of \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard tensorboardEvery >= 1 else { throw ValidationError("--tensorboard-every must be at least 1") }
        if let validation, validation < 1 { throw ValidationError("--validation must be at least 1 image") }
        if resume == nil { _ = try trainingPlan(base: Recipe.named(model ?? "mlp")) }
    }

    /// `base` with the command line's overrides applied.
    func trainingPlan(base: Recipe) throws -> Recipe {
        var recipe = base
        if let hidden { recipe = try recipe.withHiddenUnits(hidden) }
        if let epochs { recipe.options.epochs = epochs }
        if let batchSize { recipe.options.batchSize = batchSize }
        if let optimizer, let kind = OptimizerKind(rawValue: optimizer) { recipe.options.optimizer = kind }
        if let lr { recipe.options.learningRate = lr }
        if let l2 { recipe.options.l2 = l2 }
        if let schedule {
            guard let parsed = LearningRateSchedule(parsing: schedule) else {
                throw ValidationError("--schedule '\(schedule)' is not constant, cosine, step:EVERY:FACTOR (e.g. step:3:0.1) or one-cycle[:WARMUP] (e.g. one-cycle:0.3)")
            }
            recipe.options.schedule = parsed
        }
        if let seed { recipe.options.seed = seed }
        if let labelSmoothing { recipe.options.labelSmoothing = labelSmoothing }
        if let weightDecay { recipe.options.weightDecay = weightDecay }
        if let clipNorm { recipe.options.clipNorm = clipNorm }
        if let average { recipe.options.averageDecay = average }
        if augment == "none" {
            recipe.options.augmentation = nil
        } else if let augment {
            guard let parsed = Augmentation(parsing: augment) else {
                throw ValidationError("--augment '\(augment)' is not 'standard', 'none' or shift:PX,rotate:DEG,scale:FRACTION (e.g. shift:2,rotate:10,scale:0.1)")
            }
            recipe.options.augmentation = parsed
        }
        try recipe.options.validate()
        return recipe
    }

    func run() throws {
        if let warning = Machine.current.blasFallbackWarning {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        // From here on Ctrl-C stops the run at the next batch boundary and saves it.
        let stop = StopRequest()
        stop.stopOnInterrupt {
            FileHandle.standardError.write(Data("\nstopping after this batch (Ctrl-C again to quit without saving)\n".utf8))
        }
        compute.apply()
        let outputURL = output.map { URL(fileURLWithPath: $0) }
        if let outputURL { try checkWritable(outputURL) }
        let resumeURL = resume.map { URL(fileURLWithPath: $0) }
        let checkpointURL = checkpoint.map { URL(fileURLWithPath: $0) } ?? resumeURL
            ?? outputURL.map(TrainingCheckpoint.defaultURL(forOutput:))
        if let checkpointURL { try checkWritable(checkpointURL) }
        let data = try dataOptions.load()
        // With --validation the run trains on the first images and is judged on the held-out last ones;
        // the hold-out joins the data's identity, so a checkpoint cannot be resumed with another split.
        var trainSet = data.train, evaluationSet = data.test, evaluationName = "test", dataHashes = data.sha256
        if let validation {
            guard validation < data.train.count else {
                throw ValidationError("--validation \(validation) leaves no training images: the training set has \(data.train.count)")
            }
            trainSet = data.train.prefix(data.train.count - validation)
            evaluationSet = data.train.suffix(validation)
            evaluationName = "validation"
            dataHashes["validation"] = "last \(validation) training images"
        }
        let trainer: Trainer
        if let resumeURL {
            let saved = try TrainingCheckpoint.read(contentsOf: resumeURL)
            // The checkpoint's own settings, with the command line's overrides: any difference is refused.
            var asked = try trainingPlan(base: Recipe(architecture: saved.model.architecture, options: saved.options))
            if let model { asked.architecture.name = model }
            try saved.checkResumable(architecture: asked.architecture, options: asked.options, dataHashes: dataHashes,
                                     source: resumeURL.path)
            trainer = try Trainer(resuming: saved)
            let p = saved.position
            writeLine("resuming \(saved.model.architecture.name) from \(resumeURL.path): epoch \(p.epoch) of \(saved.options.epochs), "
                + "\(p.batch) batches of it done")
        } else {
            let recipe = try trainingPlan(base: Recipe.named(model ?? "mlp"))
            let o = recipe.options
            writeLine("training \(recipe.architecture.name): \(o.epochs) epochs, batch \(o.batchSize), \(o.optimizer.rawValue) lr \(o.learningRate), seed \(o.seed), \(trainSet.count) training images"
                + (validation.map { ", \($0) held out for validation" } ?? ""))
            trainer = try Trainer(architecture: recipe.architecture, options: o, dataHashes: dataHashes)
        }
        let printer = try ProgressPrinter(live: !quiet && ProgressPrinter.stderrIsTerminal,
                                          logURL: log.map { URL(fileURLWithPath: $0) }, appendingLog: resumeURL != nil,
                                          evaluationName: evaluationName)
        let tensorboardLog = try tensorboard.map {
            try TensorBoardTrainingLog(directory: URL(fileURLWithPath: $0), everySteps: tensorboardEvery)
        }
        do {
            try trainer.train(on: trainSet, test: evaluationSet, checkpointURL: checkpointURL, stop: stop) { event in
                printer.handle(event)
                tensorboardLog?.handle(event)
            }
        } catch DigitsError.trainingStopped(let epoch, let batch, let batches, let saved) {
            var message = "stopped in epoch \(epoch) after batch \(batch) of \(batches)"
            if let saved {
                message += "; the run so far is in \(saved). Continue it with:\n  digits train --resume \(saved)"
                if let output { message += " --output \(output)" }
                if let log { message += " --log \(log)" }
            } else {
                message += "; nothing was saved (give --checkpoint FILE or --output FILE to make a run resumable)"
            }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            throw ExitCode(130)
        }
        let history = trainer.history
        let seconds = history.reduce(0) { $0 + $1.seconds }
        if let last = history.last, let accuracy = last.testAccuracy {
            writeLine("\(evaluationName) accuracy: \(String(format: "%.2f", accuracy * 100))% after \(history.count) epochs (\(String(format: "%.1f", seconds)) s training)")
        }
        // The history reads each picture once; a model with test-time augmentation answers from all its views.
        if let views = trainer.model.architecture.testTimeAugmentation, !history.isEmpty {
            let report = try Evaluation.run(trainer.model, on: evaluationSet)
            writeLine("\(evaluationName) accuracy reading \(views.views.count) views of each picture: "
                + "\(String(format: "%.2f", report.accuracy * 100))%")
        }
        if let outputURL {
            var file = ModelFile(model: trainer.model, options: trainer.options, history: history, dataHashes: trainer.dataHashes)
            file.metadata["command"] = (["digits"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
            if let validation { file.metadata["history-tested-on"] = "validation: the last \(validation) training images" }
            try file.write(to: outputURL)
            writeLine("saved \(outputURL.path)")
        }
        if let tensorboardLog {
            try tensorboardLog.finish()
            writeLine("TensorBoard events: \(tensorboardLog.file.url.path)")
        }
    }
}
