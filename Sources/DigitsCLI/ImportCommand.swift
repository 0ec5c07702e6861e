// `digits import`: PyTorch weights (a state_dict saved as safetensors) into a digits model file.

import ArgumentParser
import Foundation
import Digits

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn PyTorch weights (a state_dict saved as safetensors) into a digits model file.",
        discussion: """
            Linear weights [out, in] are transposed to digits' [in, out]; convolution weights [out, in, kh, kw] and \
            batch-norm weight, bias, running_mean and running_var are taken as they are (num_batches_tracked is ignored). \
            Modules are matched to the model's layers of the same kind in the natural order of their names \
            (0, 1, ..., fc1, fc2, conv1, features.0, ...), and every shape is checked.
            """)

    @Argument(help: "The PyTorch weights (.safetensors).")
    var weights: String
    @Option(name: .long, help: "The model they were trained in: \(Recipe.names.joined(separator: ", ")).")
    var model: String
    @Option(name: .long, help: "Units in the hidden layer of mlp or mlp-sigmoid (default: 512 and 200).")
    var hidden: Int?
    @Flag(name: .long, inversion: .prefixedNo,
          help: "Whether the network was trained on standardised inputs, (x − 0.1307)/0.3081, rather than pixels in [0, 1] (default: the model's recipe).")
    var standardize: Bool?
    @Option(name: .long, help: "Where to write the digits model (.safetensors).")
    var output: String

    func run() throws {
        var recipe = try Recipe.named(model)
        if let hidden { recipe = try recipe.withHiddenUnits(hidden) }
        if let standardize { recipe.architecture.encoding.normalize = standardize }
        let url = URL(fileURLWithPath: output)
        try checkWritable(url)
        let file = try PyTorchImport.modelFile(contentsOf: URL(fileURLWithPath: weights), architecture: recipe.architecture)
        try file.write(to: url)
        print("imported \(weights) as \(recipe.architecture.name) (\(file.model.network.parameterCount) parameters); wrote \(url.path)")
    }
}
