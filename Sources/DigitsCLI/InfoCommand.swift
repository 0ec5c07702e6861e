// `digits info`: what a model file holds and where it came from.

import ArgumentParser
import Foundation
import Digits

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a model file's architecture, training options, seed, history and data hashes.")

    @Argument(help: "The model file (.safetensors).")
    var modelFile: String

    func run() throws {
        print(try ModelFile.read(contentsOf: URL(fileURLWithPath: modelFile)).infoText, terminator: "")
    }
}
