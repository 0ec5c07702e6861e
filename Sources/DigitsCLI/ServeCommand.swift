// `digits serve`: the HTTP API and the draw-a-digit page for a saved model.

import ArgumentParser
import Foundation
import Digits
import DigitsServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over HTTP: a draw-a-digit page at /, POST /api/predict and /api/read, /healthz, /metrics.")

    @Argument(help: "The model file (.safetensors).")
    var modelFile: String
    @Option(name: .long, help: "Address to listen on.")
    var host: String = "127.0.0.1"
    @Option(name: .long, help: "Port to listen on.")
    var port: Int = 8080
    @Option(name: .long, help: "Largest request body accepted, in bytes.")
    var maxBodyBytes: Int = 5_000_000

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        guard maxBodyBytes > 0 else { throw ValidationError("--max-body-bytes must be positive") }
    }

    func run() async throws {
        let recognizer = try DigitRecognizer(contentsOf: URL(fileURLWithPath: modelFile))
        let server = DigitsServer(recognizer: recognizer,
                                  configuration: ServerConfiguration(host: host, port: port, maxBodyBytes: maxBodyBytes))
        print("serving \(modelFile) on http://\(host):\(port)/")
        try await server.run()
    }
}
