// What the server tests share: a server on a loopback port with a system-chosen number, and a
// URLSession client for it.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
import Digits
@testable import DigitsServer

/// An HTTP answer: status, Content-Type and body.
struct HTTPAnswer {
    var status: Int
    var contentType: String
    var body: Data
    /// The answer's header fields, by lower-cased name.
    var headers: [String: String] = [:]

    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: body) as? [String: Any], "not a JSON object: \(text)")
    }
}

/// A running server and a client for it.
struct TestClient {
    let base: URL
    let session: URLSession

    func send(_ method: String, _ path: String, body: Data? = nil, contentType: String? = nil) async throws -> HTTPAnswer {
        var request = URLRequest(url: base.appendingPathComponent(path), timeoutInterval: 10)
        request.httpMethod = method
        request.httpBody = body
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        let session = self.session
        return try await withCheckedThrowingContinuation { continuation in
            session.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else if let http = response as? HTTPURLResponse {
                    continuation.resume(returning: HTTPAnswer(
                        status: http.statusCode,
                        contentType: http.value(forHTTPHeaderField: "Content-Type") ?? "",
                        body: data ?? Data(),
                        headers: Dictionary(http.allHeaderFields.map { ("\($0.key)".lowercased(), "\($0.value)") },
                                            uniquingKeysWith: { a, _ in a })))
                } else {
                    continuation.resume(throwing: URLError(.badServerResponse))
                }
            }.resume()
        }
    }

    func get(_ path: String) async throws -> HTTPAnswer { try await send("GET", path) }

    func post(_ path: String, _ body: Data, contentType: String?) async throws -> HTTPAnswer {
        try await send("POST", path, body: body, contentType: contentType)
    }
}

/// Starts a server answering with `recognizer` on 127.0.0.1, port 0 (whatever `configuration` says of the
/// address), runs `body` against it, and stops it.
func withTestServer(recognizer: sending DigitRecognizer, configuration: ServerConfiguration = ServerConfiguration(),
                    _ body: (TestClient, DigitsServer) async throws -> Void) async throws {
    var configuration = configuration
    configuration.host = "127.0.0.1"
    configuration.port = 0
    let server = DigitsServer(recognizer: recognizer, configuration: configuration)
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let app = server.makeApplication(onServerRunning: { port in continuation.yield(port) })
    let task = Task {
        defer { continuation.finish() }
        try await app.run()
    }
    // The stream ends without a port if the server fails to start; a watchdog bounds the wait.
    let watchdog = Task {
        try await Task.sleep(for: .seconds(20))
        continuation.finish()
    }
    var iterator = ports.makeAsyncIterator()
    let port = await iterator.next()
    watchdog.cancel()
    let sessionConfiguration = URLSessionConfiguration.ephemeral
    sessionConfiguration.timeoutIntervalForRequest = 10
    sessionConfiguration.timeoutIntervalForResource = 20
    let session = URLSession(configuration: sessionConfiguration)
    do {
        let port = try XCTUnwrap(port, "the server did not start")
        try await body(TestClient(base: URL(string: "http://127.0.0.1:\(port)")!, session: session), server)
    } catch {
        session.invalidateAndCancel()
        task.cancel()
        _ = await task.result
        throw error
    }
    session.invalidateAndCancel()
    task.cancel()
    _ = await task.result
}
