// `digits report`, `digits inspect`, `digits explain`: pictures of a model, of a dataset image, and of one
// picture's way through a network.

import ArgumentParser
import Foundation
import Digits
import DigitsReport

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML report of a model: layers, training curves, confusion matrix, "
            + "per-class scores, misclassified test images and what the first layer learned.")

    @Argument(help: "The model file (.safetensors).")
    var modelFile: String
    @Option(name: .long, help: "The HTML file to write.")
    var output = "report.html"
    @Option(name: .long, help: "Also write every chart as a PNG file into this folder.")
    var png: String?
    @Option(name: .long, help: "How many misclassified test images to show.")
    var gallery = 40
    @Option(name: .long, help: "The test image whose feature maps are drawn.")
    var example = 0
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if !(0...10_000).contains(gallery) { throw ValidationError("--gallery must be 0 to 10000 (got \(gallery))") }
    }

    func run() throws {
        compute.apply()
        let url = URL(fileURLWithPath: output)
        try checkWritable(url)
        let file = try ModelFile.read(contentsOf: URL(fileURLWithPath: modelFile))
        let data = try dataOptions.load()
        let report = try ModelReport.build(file: file, source: modelFile, test: data.test, galleryLimit: gallery, exampleIndex: example)
        try report.writeHTML(to: url)
        print("\(output): report on \(report.modelName), test accuracy \(String(format: "%.2f%%", report.evaluation.accuracy * 100))")
        if let png {
            for written in try report.writePNGs(to: URL(fileURLWithPath: png)) { print(written.path) }
        }
    }
}

/// Which part of a dataset.
enum Split: String, ExpressibleByArgument, CaseIterable {
    case train, test
}

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show one dataset image with its label: ASCII art on the terminal, or a PNG with --output.")

    @Option(name: .long, help: "The image's index in the split.")
    var index: Int
    @Option(name: .long, help: "train or test.")
    var split = Split.test
    @Option(name: .long, help: "Write the image, scaled up with its label, to this PNG file.")
    var output: String?
    @Option(name: .long, help: "How many times to scale the image up in the PNG.")
    var scale = 8
    @OptionGroup var dataOptions: DataOptions

    func validate() throws {
        if !(1...64).contains(scale) { throw ValidationError("--scale must be between 1 and 64") }
    }

    func run() throws {
        let data = try dataOptions.load()
        let inspection = try Inspection(split == .train ? data.train : data.test, index: index, split: split.rawValue)
        if let output {
            let url = URL(fileURLWithPath: output)
            try AtomicFile.write(inspection.canvas(scale: scale).pngData(), to: url)
            print("\(output): \(split.rawValue) image \(index), label \(inspection.label)")
        } else {
            print(inspection.text, terminator: "")
        }
    }
}

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Follow one picture through a model: the 28x28 input it sees, each layer's output and the 10 probabilities.")

    @Argument(help: "The model file (.safetensors).")
    var modelFile: String
    @Argument(help: "A picture (PNG, JPEG, PGM/PPM); or use --index for a test image.")
    var image: String?
    @Option(name: .long, help: "Explain this test-set image instead of a picture.")
    var index: Int?
    @Option(name: .long, help: "Write the sheet to this file: .html for a page, anything else for a PNG.")
    var output: String?
    @OptionGroup var dataOptions: DataOptions

    func validate() throws {
        if (image == nil) == (index == nil) { throw ValidationError("give either a picture or --index N") }
    }

    func run() throws {
        let recognizer = try DigitRecognizer(contentsOf: URL(fileURLWithPath: modelFile))
        let pixels: [Float]
        if let image {
            pixels = try recognizer.prepare(contentsOf: URL(fileURLWithPath: image)).pixels
        } else {
            let test = try dataOptions.load().test
            pixels = try Inspection(test, index: index ?? 0, split: "test").image.pixels
        }
        let explanation = Explanation(recognizer: recognizer, pixels: pixels)
        print(explanation.text, terminator: "")
        if let output {
            try explanation.write(to: URL(fileURLWithPath: output))
            print("wrote \(output)")
        }
    }
}
