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
    @Option(name: .long, help: "Distort training images on the fly: 'standard' (shift 2 px, rotate 10°, scale 10%) or e.g. shift:2,rotate:10,scale:0.1.")
    var augment: String?
    @Option(name: .long, help: "Evaluate and save an exponential moving average of the weights with this decay, e.g. 0.999.")
    var average: Float?
    @Option(name: .long, help: "Seed for initial weights and shuffling.")
    var seed: UInt64?
    @Option(name: .long, help: "Where to save the trained model (.safetensors).")
    var output: String?
    @Option(name: .long, help: "Write every epoch's metrics to this file as JSON lines.")
    var log: String?
    @Flag(name: .long, help: "One plain line per epoch, no live progress bar.")
    var quiet = false
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let optimizer, OptimizerKind(rawValue: optimizer) == nil {
            throw ValidationError("unknown optimizer '\(optimizer)'; choose one of \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
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
                throw ValidationError("--schedule '\(schedule)' is not constant, cosine, step:EVERY:FACTOR (e.g. step:3:0.1) or one-cycle[:WARMUP] (e.g. one-cycle:0.3)")
            }
            recipe.options.schedule = parsed
        }
        if let seed { recipe.options.seed = seed }
        if let labelSmoothing { recipe.options.labelSmoothing = labelSmoothing }
        if let weightDecay { recipe.options.weightDecay = weightDecay }
        if let clipNorm { recipe.options.clipNorm = clipNorm }
        if let average { recipe.options.averageDecay = average }
        if let augment {
            guard let parsed = Augmentation(parsing: augment) else {
                throw ValidationError("--augment '\(augment)' is not 'standard' or shift:PX,rotate:DEG,scale:FRACTION (e.g. shift:2,rotate:10,scale:0.1)")
            }
            recipe.options.augmentation = parsed
        }
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
        let trainer = try Trainer(architecture: recipe.architecture, options: o)
        let history = try trainer.train(on: data.train, test: data.test, onEvent: printer.handle)
        let seconds = history.reduce(0) { $0 + $1.seconds }
        if let last = history.last, let accuracy = last.testAccuracy {
            writeLine("test accuracy: \(String(format: "%.2f", accuracy * 100))% after \(history.count) epochs (\(String(format: "%.1f", seconds)) s training)")
        }
        if let outputURL {
            try ModelFile(model: trainer.model, options: o, history: history, dataHashes: data.sha256).write(to: outputURL)
            writeLine("saved \(outputURL.path)")
        }
    }
}
