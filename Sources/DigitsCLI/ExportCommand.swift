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
    @Option(name: .long, help: "'none' exports the model reading each picture once, for a model whose recipe reads several views (best).")
    var tta: String?

    func validate() throws {
        if let tta, tta != "none" {
            throw ValidationError("--tta must be 'none' for export: an ONNX graph reads each picture once (got '\(tta)')")
        }
    }

    func run() throws {
        let file = try ModelFile.read(contentsOf: URL(fileURLWithPath: modelFile))
        if tta == "none" { file.model.read(in: nil) }
        let url = URL(fileURLWithPath: onnx)
        try checkWritable(url)
        try ONNXExporter.write(file.model, to: url)
        print("wrote \(url.path)")
    }
}
