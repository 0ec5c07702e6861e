// `digits train`: trains a named model with its recipe (or overrides) and saves it.

import ArgumentParser
import Foundation
import Digits

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on MNIST (or any IDX dataset of 28x28 images) and report its test accuracy.")

    @Option(name: .long, help: "Model to train: \(Recipe.names.joined(separator: ", ")).")
    var model: String = "mlp"
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
    @Option(name: .long, help: "Learning-rate schedule: constant, cosine or step:EVERY:FACTOR (default: the recipe's).")
    var schedule: String?
    @Option(name: .long, help: "L2 penalty λ on the weights (default: the recipe's).")
    var l2: Float?
    @Option(name: .long, help: "Seed for initial weights and shuffling.")
    var seed: UInt64?
    @Option(name: .long, help: "Where to save the trained model (.safetensors).")
    var output: String?
    @Option(name: .long, help: "Write every epoch's metrics to this file as JSON lines.")
    var log: String?
    @Option(name: .long, help: "Write TensorBoard event files (loss, accuracy, learning rate) to this folder.")
    var tensorboard: String?
    @Option(name: .long, help: "With --tensorboard, a per-step point every N steps.")
    var tensorboardEvery: Int = TensorBoardTrainingLog.defaultEverySteps
    @Flag(name: .long, help: "One plain line per epoch, no live progress bar.")
    var quiet = false
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let optimizer, OptimizerKind(rawValue: optimizer) == nil {
            throw ValidationError("unknown optimizer '\(optimizer)'; choose one of \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard tensorboardEvery >= 1 else { throw ValidationError("--tensorboard-every must be at least 1") }
        _ = try trainingPlan()
    }

    /// The recipe for `--model` with the command line's overrides applied.
    func trainingPlan() throws -> Recipe {
        var recipe = try Recipe.named(model)
        if let hidden { recipe = try recipe.withHiddenUnits(hidden) }
        if let epochs { recipe.options.epochs = epochs }
        if let batchSize { recipe.options.batchSize = batchSize }
        if let optimizer, let kind = OptimizerKind(rawValue: optimizer) { recipe.options.optimizer = kind }
        if let lr { recipe.options.learningRate = lr }
        if let l2 { recipe.options.l2 = l2 }
        if let schedule {
            guard let parsed = LearningRateSchedule(parsing: schedule) else {
                throw ValidationError("--schedule '\(schedule)' is not constant, cosine or step:EVERY:FACTOR (e.g. step:3:0.1)")
            }
            recipe.options.schedule = parsed
        }
        if let seed { recipe.options.seed = seed }
        try recipe.options.validate()
        return recipe
    }

    func run() throws {
        compute.apply()
        let recipe = try trainingPlan()
        let outputURL = output.map { URL(fileURLWithPath: $0) }
        if let outputURL { try checkWritable(outputURL) }
        let data = try dataOptions.load()
        let printer = try ProgressPrinter(live: !quiet && ProgressPrinter.stderrIsTerminal,
                                          logURL: log.map { URL(fileURLWithPath: $0) })
        let o = recipe.options
        writeLine("training \(recipe.architecture.name): \(o.epochs) epochs, batch \(o.batchSize), \(o.optimizer.rawValue) lr \(o.learningRate), seed \(o.seed), \(data.train.count) training images")
        let tensorboardLog = try tensorboard.map {
            try TensorBoardTrainingLog(directory: URL(fileURLWithPath: $0), everySteps: tensorboardEvery)
        }
        let trainer = try Trainer(architecture: recipe.architecture, options: o)
        let history = try trainer.train(on: data.train, test: data.test) { event in
            printer.handle(event)
            tensorboardLog?.handle(event)
        }
        let seconds = history.reduce(0) { $0 + $1.seconds }
        if let last = history.last, let accuracy = last.testAccuracy {
            writeLine("test accuracy: \(String(format: "%.2f", accuracy * 100))% after \(history.count) epochs (\(String(format: "%.1f", seconds)) s training)")
        }
        if let outputURL {
            try ModelFile(model: trainer.model, options: o, history: history, dataHashes: data.sha256).write(to: outputURL)
            writeLine("saved \(outputURL.path)")
        }
        if let tensorboardLog {
            try tensorboardLog.finish()
            writeLine("TensorBoard events: \(tensorboardLog.file.url.path)")
        }
    }
}
