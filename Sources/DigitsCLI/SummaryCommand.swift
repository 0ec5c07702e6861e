// `digits summary`: a model's layers with their output shapes and parameter counts.

import ArgumentParser
import Foundation
import Digits

struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Print each layer of a model with its output shape and parameter count, and the totals.")

    @Option(name: .long, help: "A model name (\(Recipe.names.joined(separator: ", "))).")
    var model: String?
    @Argument(help: "Or a model file (.safetensors).")
    var modelFile: String?

    func validate() throws {
        if (model == nil) == (modelFile == nil) { throw ValidationError("give either --model NAME or a model file") }
    }

    func run() throws {
        let m: Model
        if let model {
            m = Model(architecture: try Recipe.named(model).architecture, seed: 1)
        } else {
            m = try ModelFile.read(contentsOf: URL(fileURLWithPath: modelFile ?? "")).model
        }
        print(m.summaryText(), terminator: "")
    }
}
