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
    @Option(name: .long, help: "Seconds a connection may wait with no request in progress before it is closed.")
    var idleTimeout: Double = 10
    @Option(name: .long, help: "Seconds a request body may take to arrive before the answer is 408.")
    var bodyTimeout: Double = 10

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        guard maxBodyBytes > 0 else { throw ValidationError("--max-body-bytes must be positive") }
        guard idleTimeout > 0, idleTimeout.isFinite else { throw ValidationError("--idle-timeout must be a positive number of seconds") }
        guard bodyTimeout > 0, bodyTimeout.isFinite else { throw ValidationError("--body-timeout must be a positive number of seconds") }
    }

    func run() async throws {
        let recognizer = try DigitRecognizer(contentsOf: URL(fileURLWithPath: modelFile))
        let server = DigitsServer(recognizer: recognizer,
                                  configuration: ServerConfiguration(host: host, port: port, maxBodyBytes: maxBodyBytes,
                                                                     idleTimeout: .milliseconds(Int64(idleTimeout * 1000)),
                                                                     bodyTimeout: .milliseconds(Int64(bodyTimeout * 1000))))
        print("serving \(modelFile) on http://\(host):\(port)/")
        try await server.run()
    }
}
