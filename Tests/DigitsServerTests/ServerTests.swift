// The server's HTTP behaviour, over a real loopback socket: each test starts the server on 127.0.0.1
// with a system-chosen port, talks to it with URLSession, and stops it.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
import Digits
import DigitsTestSupport
@testable import DigitsServer

final class ServerTests: XCTestCase {
    /// Starts a server with an untrained MLP on 127.0.0.1, port 0, runs `body` against it, and stops it.
    func withServer(_ configuration: ServerConfiguration = ServerConfiguration(),
                    _ body: (TestClient, DigitsServer) async throws -> Void) async throws {
        let recognizer = DigitRecognizer(model: Model(architecture: Recipe.mlp.architecture, seed: 1))
        try await withTestServer(recognizer: recognizer, configuration: configuration, body)
    }

    /// A 56×56 white picture with a dark vertical stroke, roughly a "1".
    func strokePicture() -> GrayImage {
        var image = GrayImage(width: 56, height: 56, repeating: 1)
        for y in 10..<46 { for x in 25..<31 { image[x, y] = 0 } }
        return image
    }

    /// Asserts that `answer` has `status` and a JSON body {"error": "..."} mentioning `mentioning`.
    func assertError(_ answer: HTTPAnswer, _ status: Int, mentioning: String,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(answer.status, status, answer.text, file: file, line: line)
        XCTAssertTrue(answer.contentType.hasPrefix("application/json"), answer.contentType, file: file, line: line)
        let error = try XCTUnwrap(try answer.json()["error"] as? String, answer.text, file: file, line: line)
        XCTAssertTrue(error.lowercased().contains(mentioning.lowercased()), "\(error) lacks '\(mentioning)'",
                      file: file, line: line)
    }

    /// Checks a prediction body: a digit, ten probabilities summing to 1, three top candidates, a 28x28 PNG.
    func assertPrediction(_ answer: HTTPAnswer, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(answer.status, 200, answer.text, file: file, line: line)
        let json = try answer.json()
        let probabilities = try XCTUnwrap(json["probabilities"] as? [Double], file: file, line: line)
        XCTAssertEqual(probabilities.count, 10, file: file, line: line)
        XCTAssertEqual(probabilities.reduce(0, +), 1, accuracy: 1e-4, file: file, line: line)
        let digit = try XCTUnwrap(json["digit"] as? Int, file: file, line: line)
        XCTAssertEqual(probabilities.indices.max { probabilities[$0] < probabilities[$1] }, digit, file: file, line: line)
        XCTAssertEqual((json["top"] as? [Any])?.count, 3, file: file, line: line)
        XCTAssertNotNil(json["confident"] as? Bool, file: file, line: line)
        XCTAssertNotNil(json["probability"] as? Double, file: file, line: line)
        let base64 = try XCTUnwrap(json["input_png"] as? String, file: file, line: line)
        let png = try XCTUnwrap(Data(base64Encoded: base64), "input_png is not base64", file: file, line: line)
        let seen = try ImageDecoder.decode([UInt8](png), source: "input_png")
        XCTAssertEqual(seen.width, 28, file: file, line: line)
        XCTAssertEqual(seen.height, 28, file: file, line: line)
    }

    func testIndexPageHasCanvas() async throws {
        try await withServer { client, _ in
            let answer = try await client.get("/")
            XCTAssertEqual(answer.status, 200)
            XCTAssertTrue(answer.contentType.hasPrefix("text/html"), answer.contentType)
            XCTAssertTrue(answer.text.contains("<canvas"))
            XCTAssertTrue(answer.text.contains("/api/predict"))
            XCTAssertFalse(answer.text.contains("http://") || answer.text.contains("https://"), "the page must not load anything")
        }
    }

    func testHealthz() async throws {
        try await withServer { client, _ in
            let answer = try await client.get("/healthz")
            XCTAssertEqual(answer.status, 200)
            let json = try answer.json()
            XCTAssertEqual(json["status"] as? String, "ok")
            XCTAssertEqual(json["model"] as? String, Recipe.mlp.architecture.name)
        }
    }

    func testPredictPNGAndPGM() async throws {
        try await withServer { client, _ in
            let picture = strokePicture()
            try assertPrediction(try await client.post("/api/predict", Data(try picture.pngData()), contentType: "image/png"))
            try assertPrediction(try await client.post("/api/predict", Data(picture.pgmData()),
                                                       contentType: "image/x-portable-graymap"))
            try assertPrediction(try await client.post("/api/predict", Data(picture.pgmData()),
                                                       contentType: "application/octet-stream"))
            // A 640x480 JPEG photo (decoded at reduced size for one digit) reads as the Swift API reads it.
            var photo = GrayImage(width: 640, height: 480, repeating: 0.9)
            for y in 100..<400 { for x in 290..<330 { photo[x, y] = 0.1 } }
            let jpeg = try photo.jpegData()
            let answer = try await client.post("/api/predict", Data(jpeg), contentType: "image/jpeg")
            try assertPrediction(answer)
            let direct = try DigitRecognizer(model: Model(architecture: Recipe.mlp.architecture, seed: 1))
                .recognize(encoded: jpeg, source: "photo.jpg")
            let served = try XCTUnwrap(try answer.json()["probabilities"] as? [Double])
            for (a, b) in zip(served, direct.probabilities) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        }
    }

    func testPredictPixels() async throws {
        try await withServer { client, _ in
            var pixels = [Double](repeating: 0, count: 784)
            for y in 4..<24 { for x in 12..<16 { pixels[y * 28 + x] = 1 } }
            let body = try JSONSerialization.data(withJSONObject: ["pixels": pixels])
            let answer = try await client.post("/api/predict", body, contentType: "application/json; charset=utf-8")
            try assertPrediction(answer)
            // The picture returned is the one sent.
            let json = try answer.json()
            let png = try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(json["input_png"] as? String)))
            let seen = try ImageDecoder.decode([UInt8](png), source: "input_png")
            XCTAssertEqual(seen.pixels.map(Double.init), pixels)
        }
    }

    func testPredictRejectsBadJSON() async throws {
        try await withServer { client, _ in
            try assertError(try await client.post("/api/predict", Data("{\"pixels\": [1, 2".utf8), contentType: "application/json"),
                            400, mentioning: "JSON")
            try assertError(try await client.post("/api/predict", Data("{\"pixel\": []}".utf8), contentType: "application/json"),
                            400, mentioning: "pixels")
            try assertError(try await client.post("/api/predict", Data("{\"pixels\": \"abc\"}".utf8), contentType: "application/json"),
                            400, mentioning: "wrong type")
            let short = try JSONSerialization.data(withJSONObject: ["pixels": [Double](repeating: 0.5, count: 783)])
            try assertError(try await client.post("/api/predict", short, contentType: "application/json"),
                            400, mentioning: "783")
            var high = [Double](repeating: 0, count: 784)
            high[100] = 1.5
            try assertError(try await client.post("/api/predict", try JSONSerialization.data(withJSONObject: ["pixels": high]),
                                                  contentType: "application/json"),
                            400, mentioning: "[100]")
            high[100] = -0.25
            try assertError(try await client.post("/api/predict", try JSONSerialization.data(withJSONObject: ["pixels": high]),
                                                  contentType: "application/json"),
                            400, mentioning: "0...1")
            // NaN is not JSON: a client that writes it anyway gets a 400, not a crash.
            let nan = "{\"pixels\": [NaN" + String(repeating: ", 0", count: 783) + "]}"
            try assertError(try await client.post("/api/predict", Data(nan.utf8), contentType: "application/json"),
                            400, mentioning: "JSON")
            // A number too large for a Double is refused too.
            let huge = "{\"pixels\": [1e999" + String(repeating: ", 0", count: 783) + "]}"
            let answer = try await client.post("/api/predict", Data(huge.utf8), contentType: "application/json")
            try assertError(answer, 400, mentioning: "finite number in 0...1")
        }
    }

    /// Numbers as RFC 8259 writes them are read, 1e-400 (valid JSON, too small for a Double: 0) included;
    /// what is not JSON still gets the decoder's description.
    func testPredictReadsEveryJSONNumberForm() async throws {
        try await withServer { client, _ in
            let forms = ["1e-400", "0", "-0", "0.0", "1", "1E0", "5e-1", "0.25E+0", "1.0e-2"]
            let values = (0..<784).map { forms[$0 % forms.count] }
            let body = " {\n \"pixels\" : [ " + values.joined(separator: " ,\t") + " ] } \n"
            try assertPrediction(try await client.post("/api/predict", Data(body.utf8), contentType: "application/json"))
            XCTAssertEqual(PixelsJSON.parse(Array(#"{"pixels":[1e-400,0.5,-0,2E+1]}"#.utf8)), [0, 0.5, 0, 20])
            // Not JSON numbers: left to the decoder (nil here), which names the fault.
            for bad in ["01", "1.", ".5", "+1", "1e", "0x10", "--1", "1 2"] {
                XCTAssertNil(PixelsJSON.parse(Array("{\"pixels\":[\(bad)]}".utf8)), bad)
            }
            XCTAssertNil(PixelsJSON.parse(Array(#"{"pixels":[1],"x":2}"#.utf8)))
            XCTAssertNil(PixelsJSON.parse(Array(#"{"pixels":[1]} x"#.utf8)))
            let leading = "{\"pixels\": [01" + String(repeating: ", 0", count: 783) + "]}"
            try assertError(try await client.post("/api/predict", Data(leading.utf8), contentType: "application/json"),
                            400, mentioning: "JSON")
            // Other keys beside "pixels" are still accepted, through the decoder.
            let extra = "{\"model\": \"x\", \"pixels\": [" + Array(repeating: "0", count: 784).joined(separator: ",") + "]}"
            try assertPrediction(try await client.post("/api/predict", Data(extra.utf8), contentType: "application/json"))
        }
    }

    func testPredictRejectsBadPicturesAndTypes() async throws {
        try await withServer { client, _ in
            try assertError(try await client.post("/api/predict", Data("this is not a picture".utf8), contentType: "image/png"),
                            400, mentioning: "request body")
            try assertError(try await client.post("/api/predict", Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]),
                                                  contentType: "image/png"),
                            400, mentioning: "PNG")
            try assertError(try await client.post("/api/predict", Data(), contentType: "image/png"),
                            400, mentioning: "empty")
            try assertError(try await client.post("/api/predict", Data("a=1".utf8), contentType: "text/plain"),
                            415, mentioning: "text/plain")
            try assertError(try await client.post("/api/read", Data("{}".utf8), contentType: "application/json"),
                            415, mentioning: "Content-Type")
            // A blank picture decodes but holds no digit.
            let blank = GrayImage(width: 40, height: 40, repeating: 1)
            let answer = try await client.post("/api/predict", Data(try blank.pngData()), contentType: "image/png")
            XCTAssertEqual(answer.status, 422, answer.text)
            XCTAssertNotNil(try answer.json()["error"] as? String)
            // Unknown routes and methods answer with JSON errors too.
            try assertError(try await client.get("/nope"), 404, mentioning: "not found")
        }
    }

    func testOversizedBodyIs413() async throws {
        try await withServer(ServerConfiguration(maxBodyBytes: 10_000)) { client, _ in
            let big = Data(repeating: 7, count: 20_000)
            try assertError(try await client.post("/api/predict", big, contentType: "image/png"), 413, mentioning: "10000")
            // A picture whose header declares more pixels than allowed is refused before decoding.
            let bomb = Data("P5\n100000 100000\n255\n".utf8) + Data(repeating: 0, count: 100)
            try assertError(try await client.post("/api/predict", bomb, contentType: "image/x-portable-graymap"),
                            413, mentioning: "too large")
            // The server still answers afterwards.
            let health = try await client.get("/healthz")
            XCTAssertEqual(health.status, 200)
        }
    }

    /// A sender that stalls is cut off: half a request head gets the connection closed (idle timeout),
    /// half a body gets 408 (body timeout) or, when the idle timeout is the shorter, a closed connection;
    /// the server goes on answering others.
    func testSlowSendersAreCutOff() async throws {
        let partialBody = "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: 100\r\n\r\n0123456789"
        try await withServer(ServerConfiguration(idleTimeout: .milliseconds(300), bodyTimeout: .seconds(30))) { client, _ in
            let port = try XCTUnwrap(client.base.port)
            let head = try loopbackStall(port: port, sending: Array("POST /api/predict HTTP/1.1\r\nHost: 127".utf8), wait: 10)
            XCTAssertTrue(head.closed, "a connection stalled inside its head was left open")
            XCTAssertTrue(head.received.isEmpty, String(decoding: head.received, as: UTF8.self))
            let body = try loopbackStall(port: port, sending: Array(partialBody.utf8), wait: 10)
            XCTAssertTrue(body.closed, "a connection stalled inside its body was left open")
            let health = try await client.get("/healthz")
            XCTAssertEqual(health.status, 200)
        }
        try await withServer(ServerConfiguration(idleTimeout: .seconds(30), bodyTimeout: .milliseconds(300))) { client, _ in
            let port = try XCTUnwrap(client.base.port)
            let start = Date()
            let body = try loopbackStall(port: port, sending: Array(partialBody.utf8), wait: 10)
            let answer = String(decoding: body.received, as: UTF8.self)
            XCTAssertTrue(answer.hasPrefix("HTTP/1.1 408"), answer)
            XCTAssertTrue(answer.contains("did not arrive"), answer)
            XCTAssertLessThan(Date().timeIntervalSince(start), 5, "the 408 came late")
            let health = try await client.get("/healthz")
            XCTAssertEqual(health.status, 200)
        }
    }

    /// Waits (without blocking a thread) until `queue` has `running` pieces of work running and `waiting` waiting.
    func waitFor(_ queue: WorkQueue, running: Int, waiting: Int = 0) async throws {
        for _ in 0..<2000 where queue.load != (running, waiting) { try await Task.sleep(for: .milliseconds(5)) }
        XCTAssertTrue(queue.load == (running, waiting), "load \(queue.load), expected \((running, waiting))")
    }

    /// While every work slot is held by a slow picture, a further request is refused at once with 503 and
    /// Retry-After (the queue holds none), and `/healthz` and `/metrics` still answer: they never wait for work.
    func testBusyServerAnswers503AndStillAnswersHealthChecks() async throws {
        let configuration = ServerConfiguration(work: WorkLimits(concurrent: 1, queued: 0, deadline: .seconds(60)))
        try await withServer(configuration) { client, server in
            let gate = DispatchSemaphore(value: 0)
            let slow = Task { try await server.work.run { gate.wait() } }
            try await waitFor(server.work, running: 1)
            let png = Data(try strokePicture().pngData())
            let busy = try await client.post("/api/predict", png, contentType: "image/png")
            try assertError(busy, 503, mentioning: "busy")
            XCTAssertEqual(busy.headers["retry-after"], "1")
            try assertError(try await client.post("/api/read", png, contentType: "image/png"), 503, mentioning: "busy")
            let health = try await client.get("/healthz"), metrics = try await client.get("/metrics")
            XCTAssertEqual(health.status, 200)
            XCTAssertEqual(metrics.status, 200)
            gate.signal()
            try await slow.value
            try await waitFor(server.work, running: 0)
            try assertPrediction(try await client.post("/api/predict", png, contentType: "image/png"))
        }
    }

    /// A request that waits past the deadline is answered 503 then, and leaves the queue without running.
    func testWorkPastTheDeadlineIs503() async throws {
        let configuration = ServerConfiguration(work: WorkLimits(concurrent: 1, queued: 1, deadline: .milliseconds(300)))
        try await withServer(configuration) { client, server in
            let gate = DispatchSemaphore(value: 0)
            let slow = Task { try? await server.work.run { gate.wait() } }
            try await waitFor(server.work, running: 1)
            let late = try await client.post("/api/predict", Data(try strokePicture().pngData()), contentType: "image/png")
            try assertError(late, 503, mentioning: "not read within")
            XCTAssertNotNil(late.headers["retry-after"])
            try await waitFor(server.work, running: 1, waiting: 0)
            gate.signal()
            await slow.value
            let health = try await client.get("/healthz")
            XCTAssertEqual(health.status, 200)
        }
    }

    /// A request whose task is cancelled while it waits (its client left) leaves the queue, and its work never runs.
    func testCancelledWorkLeavesTheQueueWithoutRunning() async throws {
        let queue = WorkQueue(limits: WorkLimits(concurrent: 1, queued: 4, deadline: .seconds(60)))
        let gate = DispatchSemaphore(value: 0)
        let slow = Task { try await queue.run { gate.wait() } }
        try await waitFor(queue, running: 1)
        let ran = Counter()
        let waiter = Task { try await queue.run { ran.add() } }
        try await waitFor(queue, running: 1, waiting: 1)
        waiter.cancel()
        do {
            try await waiter.value
            XCTFail("cancelled work ran")
        } catch let refusal as WorkRefusal {
            XCTAssertEqual(refusal, .cancelled)
        }
        try await waitFor(queue, running: 1, waiting: 0)
        gate.signal()
        try await slow.value
        try await waitFor(queue, running: 0)
        XCTAssertEqual(ran.value, 0)
        // The queue goes on: the next piece of work runs.
        let seven = try await queue.run { 7 }
        XCTAssertEqual(seven, 7)
    }

    /// A client that sends its picture and leaves while the picture waits for a worker: its closed connection
    /// takes the request out of the queue, and the picture is never decoded.
    func testAClientThatLeavesIsDroppedFromTheQueue() async throws {
        let configuration = ServerConfiguration(work: WorkLimits(concurrent: 1, queued: 4, deadline: .seconds(60)))
        try await withServer(configuration) { client, server in
            let gate = DispatchSemaphore(value: 0)
            let slow = Task { try await server.work.run { gate.wait() } }
            try await waitFor(server.work, running: 1)
            let port = try XCTUnwrap(client.base.port)
            let picture = Array("P5 28 28 255\n".utf8) + [UInt8](repeating: 0, count: 28 * 28)
            let request = Array("POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/x-portable-graymap\r\nContent-Length: \(picture.count)\r\n\r\n".utf8) + picture
            // Sent whole; no answer comes while the worker is held, and the socket is closed after 1 s.
            let stall = Task.detached { try loopbackStall(port: port, sending: request, wait: 1) }
            try await waitFor(server.work, running: 1, waiting: 1)
            let reply = try await stall.value
            XCTAssertTrue(reply.received.isEmpty, String(decoding: reply.received, as: UTF8.self))
            try await waitFor(server.work, running: 1, waiting: 0)
            gate.signal()
            try await slow.value
            try await waitFor(server.work, running: 0)
            XCTAssertEqual(server.metrics.count(route: "/api/predict", status: 200), 0)
        }
    }

    /// The API routes take POST, the pages GET: another method is 405 naming the one allowed, not 404.
    func testWrongMethodIs405WithAllow() async throws {
        try await withServer { client, _ in
            let get = try await client.get("/api/predict")
            try assertError(get, 405, mentioning: "takes POST")
            XCTAssertEqual(get.headers["allow"], "POST")
            try assertError(try await client.send("PUT", "/api/read"), 405, mentioning: "takes POST")
            let post = try await client.post("/healthz", Data(), contentType: nil)
            try assertError(post, 405, mentioning: "takes GET")
            XCTAssertEqual(post.headers["allow"], "GET")
        }
    }

    /// HTTP whose framing does not parse gets the JSON error body every refusal has (Hummingbird alone sent
    /// an empty 400), and the connection is closed.
    func testUnparsableFramingGetsAJSON400() async throws {
        try await withServer { client, _ in
            let port = try XCTUnwrap(client.base.port)
            let cases: [(String, String)] = [
                ("Content-Length: 5\r\nContent-Length: 7", "more than once"),
                ("Content-Length: -1", "not a length"),
                ("Content-Length: 5\r\nTransfer-Encoding: chunked", "framing cannot be parsed"),
            ]
            for (fields, words) in cases {
                let request = "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n\(fields)\r\n\r\nhello"
                let reply = try loopbackStall(port: port, sending: Array(request.utf8), wait: 10)
                let text = String(decoding: reply.received, as: UTF8.self)
                XCTAssertTrue(text.hasPrefix("HTTP/1.1 400"), "\(fields): \(text)")
                XCTAssertTrue(text.lowercased().contains("content-type: application/json"), text)
                XCTAssertTrue(text.contains(#"{"error":"the request is not valid HTTP/1.1: "#) && text.contains(words), "\(fields): \(text)")
                XCTAssertTrue(reply.closed, "\(fields): the connection was left open")
            }
            let health = try await client.get("/healthz")
            XCTAssertEqual(health.status, 200)
        }
    }

    /// A chunked body over the limit gets its 413 and the connection is closed then, instead of the rest of
    /// the body being read to the end (here it never ends: the idle timeout is 30 s, the wait 10 s).
    func testOverLimitChunkedBodyIsNotReadToTheEnd() async throws {
        try await withServer(ServerConfiguration(maxBodyBytes: 10_000, idleTimeout: .seconds(30), bodyTimeout: .seconds(20))) { client, _ in
            let port = try XCTUnwrap(client.base.port)
            let chunk = String(repeating: "x", count: 20_000)
            let request = "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
                + String(20_000, radix: 16) + "\r\n" + chunk + "\r\n"
            let reply = try loopbackStall(port: port, sending: Array(request.utf8), wait: 10)
            let text = String(decoding: reply.received, as: UTF8.self)
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 413"), text)
            XCTAssertTrue(text.contains("10000"), text)
            XCTAssertTrue(reply.closed, "the connection was kept open to read the rest of the body")
            let health = try await client.get("/healthz")
            XCTAssertEqual(health.status, 200)
        }
    }

    func testReadTwoStrokes() async throws {
        try await withServer { client, _ in
            var image = GrayImage(width: 120, height: 60, repeating: 1)
            for y in 10..<50 {
                for x in 25..<31 { image[x, y] = 0 }
                for x in 85..<91 { image[x, y] = 0 }
            }
            let answer = try await client.post("/api/read", Data(try image.pngData()), contentType: "image/png")
            XCTAssertEqual(answer.status, 200, answer.text)
            let json = try answer.json()
            let text = try XCTUnwrap(json["text"] as? String)
            XCTAssertEqual(text.count, 2)
            XCTAssertTrue(text.allSatisfy(\.isNumber))
            XCTAssertEqual((json["digits"] as? [Any])?.count, 2)
            XCTAssertEqual((json["boxes"] as? [[Int]])?.count, 2)
        }
    }

    func testMetricsCountRequests() async throws {
        try await withServer { client, server in
            _ = try await client.get("/healthz")
            _ = try await client.get("/healthz")
            _ = try await client.post("/api/predict", Data("junk".utf8), contentType: "image/png")
            _ = try await client.post("/api/predict", Data(try strokePicture().pngData()), contentType: "image/png")
            _ = try await client.get("/no/such/route")
            let answer = try await client.get("/metrics")
            XCTAssertEqual(answer.status, 200)
            XCTAssertTrue(answer.contentType.hasPrefix("text/plain"), answer.contentType)
            let text = answer.text
            XCTAssertTrue(text.contains("# TYPE digits_http_requests_total counter"), text)
            XCTAssertTrue(text.contains("digits_http_requests_total{route=\"/healthz\",status=\"200\"} 2"), text)
            XCTAssertTrue(text.contains("digits_http_requests_total{route=\"/api/predict\",status=\"400\"} 1"), text)
            XCTAssertTrue(text.contains("digits_http_requests_total{route=\"/api/predict\",status=\"200\"} 1"), text)
            XCTAssertTrue(text.contains("digits_http_requests_total{route=\"other\",status=\"404\"} 1"), text)
            XCTAssertTrue(text.contains("# TYPE digits_http_request_duration_seconds histogram"), text)
            XCTAssertTrue(text.contains("digits_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 2"), text)
            XCTAssertTrue(text.contains("digits_http_request_duration_seconds_count{route=\"/api/predict\"} 2"), text)
            XCTAssertEqual(server.metrics.count(route: "/healthz", status: 200), 2)
        }
    }

    func testMetricsHistogramIsCumulative() {
        let metrics = ServerMetrics()
        metrics.record(route: "/healthz", status: 200, seconds: 0.0005)
        metrics.record(route: "/healthz", status: 200, seconds: 0.3)
        metrics.record(route: "/healthz", status: 200, seconds: 5)
        let text = metrics.prometheusText()
        XCTAssertTrue(text.contains("digits_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.001\"} 1"), text)
        XCTAssertTrue(text.contains("digits_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.5\"} 2"), text)
        XCTAssertTrue(text.contains("digits_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"1.0\"} 2"), text)
        XCTAssertTrue(text.contains("digits_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 3"), text)
        XCTAssertTrue(text.contains("digits_http_requests_total{route=\"/healthz\",status=\"200\"} 3"), text)
    }
}

/// A count that Dispatch threads may add to.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
