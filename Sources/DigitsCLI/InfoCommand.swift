// `digits info`: what a model file holds and where it came from.

import ArgumentParser
import Foundation
import Digits

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a model file's architecture, training options, seed, history, data hashes and code revision.")

    @Argument(help: "The model file or checkpoint (.safetensors).")
    var modelFile: String

    func run() throws {
        print(try ModelFile.infoText(contentsOf: URL(fileURLWithPath: modelFile)), terminator: "")
    }
}
