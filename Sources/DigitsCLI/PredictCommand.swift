// `digits predict`: the digit on each picture, with its probability and the top 3.

import ArgumentParser
import Foundation
import Digits

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Read the digit on each picture (PNG, JPEG, PGM/PPM): prepared as MNIST was, then classified.")

    @Argument(help: ArgumentHelp("[MODEL] PICTURE...: the model file (default: the one `make train` saved, "
                                 + "models/default.safetensors or $DIGITS_MODEL), then one or more pictures.",
                                 valueName: "paths"))
    var paths: [String]

    /// The model named first, if any.
    var modelFile: String? { DefaultModel.split(paths).model }
    /// The pictures.
    var images: [String] { DefaultModel.split(paths).rest }
    @OptionGroup var views: ViewOptions
    @Flag(name: .long, help: "Print JSON with all 10 probabilities.")
    var json = false
    @Option(name: .long, help: "Flag a reading as not confident below this top probability.")
    var minProbability: Double = 0.6
    @Option(name: .long, help: "Flag a reading as not confident below this margin between the top two.")
    var minMargin: Double = 0.2
    @Option(name: .long, help: "Write the 28x28 picture the model sees: a folder for PNG files, or '-' for ASCII art.")
    var showInput: String?

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one picture") }
        guard (0...1).contains(minProbability), (0...1).contains(minMargin) else {
            throw ValidationError("--min-probability and --min-margin must be between 0 and 1")
        }
    }

    func run() throws {
        let recognizer = try DigitRecognizer(contentsOf: DefaultModel.resolve(modelFile))
        views.apply(to: recognizer.model)
        recognizer.minimumProbability = minProbability
        recognizer.minimumMargin = minMargin
        var results: [[String: Any]] = []
        var failed = false
        for path in images {
            do {
                let prepared = try recognizer.prepare(contentsOf: URL(fileURLWithPath: path))
                try showPrepared(prepared, for: path)
                let r = recognizer.recognize(prepared: prepared)
                if json {
                    results.append(["image": path, "digit": r.digit, "probability": r.probability, "confident": r.confident,
                                    "probabilities": r.probabilities])
                } else {
                    let top = r.top.map { "\($0.digit) \(String(format: "%.3f", $0.probability))" }.joined(separator: ", ")
                    print("\(path): \(r.digit) (p = \(String(format: "%.3f", r.probability)))\(r.confident ? "" : " NOT CONFIDENT")  top 3: \(top)")
                }
            } catch {
                failed = true
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                if json { results.append(["image": path, "error": "\(error)"]) }
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
        if failed { throw ExitCode(1) }
    }

    private func showPrepared(_ digit: PreparedDigit, for path: String) throws {
        guard let showInput else { return }
        if showInput == "-" {
            FileHandle.standardError.write(Data("\(path):\n\(digit.asciiArt)\n".utf8))
        } else {
            let dir = URL(fileURLWithPath: showInput)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent + "-28x28.png"
            try AtomicFile.write(digit.pngData(), to: dir.appendingPathComponent(name))
        }
    }
}
