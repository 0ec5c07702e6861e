// The `digits` command: a root command listing its subcommands. Each subcommand parses its options
// and calls the Digits library; no training, data or model logic lives here.

import ArgumentParser

@main
struct DigitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digits",
        abstract: "Handwritten digit recognition: train, evaluate and use models on MNIST-style data.",
        subcommands: [TrainCommand.self, EvaluateCommand.self, ImportCommand.self, PredictCommand.self, ReadCommand.self, SummaryCommand.self, InfoCommand.self, ModelsCommand.self, ExportCommand.self, ServeCommand.self, DownloadCommand.self,
                      ReportCommand.self, InspectCommand.self, ExplainCommand.self, EnsembleCommand.self])
}
