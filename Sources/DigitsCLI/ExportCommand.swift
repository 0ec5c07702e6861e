// `digits export`: writes a saved model in another ecosystem's format.

import ArgumentParser
import Foundation
import DigitsExport

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a saved model as ONNX (opset 13): input [N,1,28,28] pixels in [0,1], output class probabilities.")

    @Argument(help: "The model file (.safetensors) written by `digits train --output`.")
    var modelFile: String
    @Option(name: .long, help: "Where to write the ONNX model.")
    var onnx: String

    func run() throws {
        let file = try ModelFile.read(contentsOf: URL(fileURLWithPath: modelFile))
        let url = URL(fileURLWithPath: onnx)
        try checkWritable(url)
        try ONNXExporter.write(file.model, to: url)
        print("wrote \(url.path)")
    }
}
