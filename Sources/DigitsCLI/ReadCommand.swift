// `digits read`: the number written on a picture (postcode, amount, ID), one digit at a time.

import ArgumentParser
import Foundation
import Digits

struct ReadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Read a number written on one line: split the ink into digits, classify each, print the string.")

    @Argument(help: ArgumentHelp("[MODEL] PICTURE: the model file (default: the one `make train` saved, "
                                 + "models/default.safetensors or $DIGITS_MODEL), then the picture (PNG, JPEG, PGM/PPM).",
                                 valueName: "paths"))
    var paths: [String]

    func validate() throws {
        let rest = DefaultModel.split(paths).rest
        guard rest.count == 1 else {
            throw ValidationError("give one picture, after the model file if any (got \(rest.count) pictures)")
        }
    }
    @OptionGroup var views: ViewOptions
    @Flag(name: .long, help: "Print JSON with each digit's probability and box.")
    var json = false

    func run() throws {
        let (modelFile, rest) = DefaultModel.split(paths)
        let recognizer = try DigitRecognizer(contentsOf: DefaultModel.resolve(modelFile))
        views.apply(to: recognizer.model)
        let reading = try recognizer.readNumber(contentsOf: URL(fileURLWithPath: rest[0]))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(reading), as: UTF8.self))
        } else {
            let each = reading.digits.map { "\($0.digit) \(String(format: "%.2f", $0.probability))" }.joined(separator: ", ")
            print("\(reading.text)\(reading.confident ? "" : "  (NOT CONFIDENT)")  per digit: \(each)")
        }
    }
}
