// `digits ensemble`: several models averaging their probabilities, evaluated on the test set.

import ArgumentParser
import Foundation
import Digits

struct EnsembleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ensemble",
        abstract: "Evaluate several models together: their class probabilities are averaged and the largest wins.")

    @Argument(help: "Two or more model files (.safetensors).")
    var modelFiles: [String]
    @Flag(name: .long, help: "Print the ensemble's report as JSON.")
    var json = false
    @OptionGroup var judging: JudgingOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if modelFiles.count < 2 { throw ValidationError("give at least two model files") }
    }

    func run() throws {
        compute.apply()
        let models = try modelFiles.map { try ModelFile.read(contentsOf: URL(fileURLWithPath: $0)).model }
        models.forEach(judging.apply(to:))
        let (images, _) = try judging.judgingSet(of: try dataOptions.load())
        let (report, members) = try Ensemble(models).evaluate(on: images)
        if json {
            print(try report.jsonText())
            return
        }
        for (path, accuracy) in zip(modelFiles, members) {
            print("\(path): \(String(format: "%.2f%%", accuracy * 100))")
        }
        print("ensemble of \(models.count): \(String(format: "%.2f%%", report.accuracy * 100))")
        print(report.text, terminator: "")
    }
}
