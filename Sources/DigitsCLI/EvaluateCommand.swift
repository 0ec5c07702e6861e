// `digits evaluate`: accuracy, per-class precision/recall/F1 and the confusion matrix of a saved model.

import ArgumentParser
import Foundation
import Digits

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a saved model on the test set: accuracy, per-class precision, recall, F1, confusion matrix.")

    @Argument(help: "The model file (.safetensors) written by `digits train --output`.")
    var modelFile: String
    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false
    @OptionGroup var judging: JudgingOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let file = try ModelFile.read(contentsOf: URL(fileURLWithPath: modelFile))
        judging.apply(to: file.model)
        let (images, setName) = try judging.judgingSet(of: try dataOptions.load())
        let report = try Evaluation.run(file.model, on: images)
        if json {
            print(try report.jsonText())
        } else {
            let views = file.model.architecture.testTimeAugmentation.map { ", \($0.views.count) views averaged" } ?? ""
            print("model: \(file.model.architecture.name) (\(modelFile)) on the \(setName)\(views)")
            print(report.text, terminator: "")
        }
    }
}
