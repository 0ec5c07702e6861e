// The route handlers: each turns a request into a JSON (or HTML, or text) response and never throws,
// so every failure reaches the client as a status code with {"error": "..."}.

import Foundation
import Digits
import Hummingbird
import NIOCore

/// The body of every error response.
struct ErrorBody: Encodable {
    var error: String
}

/// `POST /api/predict`'s answer: the recognition plus the 28×28 picture the model saw.
struct PredictionBody: Encodable {
    var digit: Int
    var probability: Double
    var confident: Bool
    var top: [Recognition.Candidate]
    var probabilities: [Double]
    var inputPNG: String

    enum CodingKeys: String, CodingKey {
        case digit, probability, confident, top, probabilities
        case inputPNG = "input_png"
    }

    init(_ r: Recognition, inputPNG: [UInt8]) {
        digit = r.digit
        probability = r.probability
        confident = r.confident
        top = r.top
        probabilities = r.probabilities
        self.inputPNG = Data(inputPNG).base64EncodedString()
    }
}

/// `GET /healthz`'s answer.
struct HealthBody: Encodable {
    var status: String
    var model: String
}

/// Builds a JSON response; an unencodable value (such as a NaN probability) becomes a 500 error.
func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var status = status
    let data: Data
    if let encoded = try? encoder.encode(value) {
        data = encoded
    } else {
        status = .internalServerError
        data = Data(#"{"error":"the answer could not be encoded as JSON"}"#.utf8)
    }
    return textResponse(data, contentType: "application/json; charset=utf-8", status: status)
}

/// A `{"error": message}` response with `status`, and the error's extra headers (Retry-After, Allow).
func errorResponse(_ error: APIError) -> Response {
    var response = jsonResponse(ErrorBody(error: error.message), status: error.status)
    for (name, value) in error.headers {
        if let field = HTTPFields.Element.Name(name) { response.headers[field] = value }
    }
    return response
}

/// A response carrying `data` with the given content type.
func textResponse(_ data: Data, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = contentType
    headers[.cacheControl] = "no-store"
    var buffer = ByteBufferAllocator().buffer(capacity: data.count)
    buffer.writeBytes(data)
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: buffer))
}

/// The handlers, sharing the configuration, the recognizer and the metrics.
struct Handlers: Sendable {
    let configuration: ServerConfiguration
    let recognizer: SharedRecognizer
    let metrics: ServerMetrics
    let work: WorkQueue

    func indexPage() -> Response {
        textResponse(Data(IndexPage.html.utf8), contentType: "text/html; charset=utf-8")
    }

    func health() -> Response {
        jsonResponse(HealthBody(status: "ok", model: recognizer.modelName))
    }

    func metricsText() -> Response {
        textResponse(Data(metrics.prometheusText().utf8), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    func predict(_ request: Request, closed: EventLoopFuture<Void>? = nil) async -> Response {
        do {
            let kind = try bodyKind(request, allowJSON: true)
            let body = try await collectBody(request)
            let (recognizer, limits) = (self.recognizer, configuration.imageLimits)
            let answer = try await onWorkQueue(cancelledBy: closed) { () throws -> PredictionBody in
                if kind == .json {
                    let pixels = try RequestParsing.pixels(fromJSON: body)
                    let recognition = recognizer.withRecognizer { $0.recognize(pixels: pixels) }
                    let png = try Self.encodePNG(GrayImage(width: PreparedDigit.side, height: PreparedDigit.side, pixels: pixels))
                    return PredictionBody(recognition, inputPNG: png)
                }
                // One digit: the preprocessor works at MNISTPreprocessor.workingSize, so a large JPEG or PNG need not be decoded whole.
                let image = try RequestParsing.image(from: body, limits: limits, reducingTo: MNISTPreprocessor.workingSize)
                let prepared: PreparedDigit
                do {
                    prepared = try MNISTPreprocessor.prepare(image)
                } catch {
                    throw APIError(status: .unprocessableContent, message: "the picture holds no digit to read: \(error)")
                }
                let recognition = recognizer.withRecognizer { $0.recognize(prepared: prepared) }
                return PredictionBody(recognition, inputPNG: try Self.encodePNG(prepared.image))
            }
            return jsonResponse(answer)
        } catch let error as APIError {
            return errorResponse(error)
        } catch {
            return errorResponse(APIError(status: .internalServerError, message: "internal error: \(error)"))
        }
    }

    func read(_ request: Request, closed: EventLoopFuture<Void>? = nil) async -> Response {
        do {
            _ = try bodyKind(request, allowJSON: false)
            let body = try await collectBody(request)
            let (recognizer, limits) = (self.recognizer, configuration.imageLimits)
            let reading = try await onWorkQueue(cancelledBy: closed) { () throws -> NumberReading in
                let image = try RequestParsing.image(from: body, limits: limits)
                do {
                    return try recognizer.withRecognizer { try $0.readNumber(image) }
                } catch {
                    throw APIError(status: .unprocessableContent, message: "no number could be read from the picture: \(error)")
                }
            }
            return jsonResponse(reading)
        } catch let error as APIError {
            return errorResponse(error)
        } catch {
            return errorResponse(APIError(status: .internalServerError, message: "internal error: \(error)"))
        }
    }

    /// 405 for a route that exists but not for this method, naming the methods it takes.
    func methodNotAllowed(_ request: Request, allowed: String) -> Response {
        errorResponse(APIError(status: .methodNotAllowed,
                               message: "\(request.uri.path) takes \(allowed), not \(request.method.rawValue)",
                               headers: [("Allow", allowed)]))
    }

    // MARK: Helpers

    /// Classifies the request by its Content-Type (see `RequestParsing.bodyKind`).
    func bodyKind(_ request: Request, allowJSON: Bool) throws -> RequestParsing.BodyKind {
        try RequestParsing.bodyKind(contentType: request.headers[.contentType], allowJSON: allowJSON)
    }

    /// Reads the whole body, refusing (413) as soon as it exceeds `maxBodyBytes` or its declared length does,
    /// and (408) when it has not all arrived within `bodyTimeout`.
    func collectBody(_ request: Request) async throws -> [UInt8] {
        let limit = configuration.maxBodyBytes
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw Self.tooLarge(limit)
        }
        let body = request.body, timeout = configuration.bodyTimeout
        return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask { try await Self.readBody(body, limit: limit) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let bytes = first else {
                throw APIError(status: .requestTimeout,
                               message: "the request body did not arrive within \(timeout); send it at once")
            }
            return bytes
        }
    }

    static func tooLarge(_ limit: Int) -> APIError {
        APIError(status: .contentTooLarge, message: "the request body exceeds the limit of \(limit) bytes; send a smaller picture")
    }

    static func readBody(_ body: RequestBody, limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        do {
            for try await buffer in body {
                if bytes.count + buffer.readableBytes > limit { throw tooLarge(limit) }
                bytes.append(contentsOf: buffer.readableBytesView)
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(status: .badRequest, message: "the request body could not be read: \(error)")
        }
        return bytes
    }

    /// Runs `body` on the work queue, given up when `closed` completes (the client left); a refusal (queue
    /// full, deadline passed) becomes 503 with Retry-After.
    func onWorkQueue<T: Sendable>(cancelledBy closed: EventLoopFuture<Void>?,
                                  _ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await work.run(cancelledBy: closed, body)
        } catch let refusal as WorkRefusal {
            switch refusal {
            case .queueFull(let concurrent, let queued):
                throw APIError(status: .serviceUnavailable,
                               message: "the server is busy: \(concurrent) pictures are being read and \(queued) more are waiting; try again shortly",
                               headers: [("Retry-After", "1")])
            case .deadlineExceeded(let deadline):
                throw APIError(status: .serviceUnavailable,
                               message: "the picture was not read within \(deadline) (the server is busy, or the picture is very costly to decode)",
                               headers: [("Retry-After", "2")])
            case .cancelled:
                throw APIError(status: .serviceUnavailable, message: "the request was cancelled before it was read")
            }
        }
    }

    static func encodePNG(_ image: GrayImage) throws -> [UInt8] {
        do { return try image.pngData() } catch {
            throw APIError(status: .internalServerError, message: "the model's input could not be encoded as PNG: \(error)")
        }
    }

}
