// `digits serve`: the HTTP API and the draw-a-digit page for a saved model.

import ArgumentParser
import Foundation
import Digits
import DigitsServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over HTTP: a draw-a-digit page at /, POST /api/predict and /api/read, /healthz, /metrics.")

    @Argument(help: "The model file (.safetensors; default: the one `make train` saved, models/default.safetensors or $DIGITS_MODEL).")
    var modelFile: String?
    @OptionGroup var views: ViewOptions
    @Option(name: .long, help: "Address to listen on.")
    var host: String = "127.0.0.1"
    @Option(name: .long, help: "Port to listen on.")
    var port: Int = 8080
    @Option(name: .long, help: "Largest request body accepted, in bytes.")
    var maxBodyBytes: Int = 5_000_000
    @Option(name: .long, help: "Seconds a connection may wait with no request in progress before it is closed.")
    var idleTimeout: Double = 10
    @Option(name: .long, help: "Seconds a request body may take to arrive before the answer is 408 (keep it below --idle-timeout).")
    var bodyTimeout: Double = 5
    @Option(name: .long, help: "Pictures decoded and read at once (default: one per core).")
    var workers: Int?
    @Option(name: .long, help: "Requests that may wait for a worker; one more gets 503 (default: 4 per worker).")
    var queue: Int?
    @Option(name: .long, help: "Seconds a request's reading may take, waiting included, before the answer is 503.")
    var deadline: Double = 10

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        guard (1...Self.maxBodyLimit).contains(maxBodyBytes) else {
            throw ValidationError("--max-body-bytes must be 1 to \(Self.maxBodyLimit) (got \(maxBodyBytes))")
        }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must be 1 to 256 (got \(workers))") }
        if let queue, !(0...100_000).contains(queue) { throw ValidationError("--queue must be 0 to 100000 (got \(queue))") }
        for (flag, seconds) in [("--idle-timeout", idleTimeout), ("--body-timeout", bodyTimeout), ("--deadline", deadline)] {
            guard seconds.isFinite, (Self.shortestTimeout...Self.longestTimeout).contains(seconds) else {
                throw ValidationError("\(flag) must be \(Self.shortestTimeout) to \(Int(Self.longestTimeout)) seconds (got \(seconds))")
            }
        }
    }

    /// The largest `--max-body-bytes` (1 GB): a picture worth reading is far smaller.
    static let maxBodyLimit = 1_000_000_000
    /// The range of `--idle-timeout` and `--body-timeout`: a millisecond to a day.
    static let shortestTimeout = 0.001, longestTimeout = 86_400.0

    func run() async throws {
        let model = try DefaultModel.resolve(modelFile)
        let recognizer = try DigitRecognizer(contentsOf: model)
        views.apply(to: recognizer.model)
        let server = DigitsServer(recognizer: recognizer,
                                  configuration: ServerConfiguration(host: host, port: port, maxBodyBytes: maxBodyBytes,
                                                                     idleTimeout: .milliseconds(Int64(idleTimeout * 1000)),
                                                                     bodyTimeout: .milliseconds(Int64(bodyTimeout * 1000)),
                                                                     work: WorkLimits(concurrent: workers ?? ProcessInfo.processInfo.activeProcessorCount,
                                                                                      queued: queue,
                                                                                      deadline: .milliseconds(Int64(deadline * 1000)))))
        print("serving \(model.path) on http://\(host):\(port)/")
        try await server.run()
    }
}
