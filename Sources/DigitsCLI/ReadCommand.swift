// `digits read`: the number written on a picture (postcode, amount, ID), one digit at a time.

import ArgumentParser
import Foundation
import Digits

struct ReadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Read a number written on one line: split the ink into digits, classify each, print the string.")

    @Argument(help: "The model file (.safetensors).")
    var modelFile: String
    @Argument(help: "The picture (PNG, JPEG, PGM/PPM).")
    var image: String
    @Flag(name: .long, help: "Print JSON with each digit's probability and box.")
    var json = false

    func run() throws {
        let recognizer = try DigitRecognizer(contentsOf: URL(fileURLWithPath: modelFile))
        let reading = try recognizer.readNumber(contentsOf: URL(fileURLWithPath: image))
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
