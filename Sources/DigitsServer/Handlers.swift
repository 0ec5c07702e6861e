// The route handlers: each turns a request into a JSON (or HTML, or text) response and never throws,
// so every failure reaches the client as a status code with {"error": "..."}.

import Foundation
import Digits
import Hummingbird

/// A request that cannot be answered: the status to send and a sentence saying what is wrong.
struct APIError: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String
}

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

/// `POST /api/predict`'s JSON form.
struct PixelsRequest: Decodable {
    var pixels: [Double]

    enum CodingKeys: String, CodingKey { case pixels }

    /// Reads `pixels` value by value with the decoder's `Double` method: the generic `[Double]`
    /// conformance decodes each element through a dynamic cast, which made JSON decoding half of a
    /// JSON prediction's time (BENCHMARKS.md, serve load).
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        var list = try container.nestedUnkeyedContainer(forKey: .pixels)
        var pixels: [Double] = []
        pixels.reserveCapacity(list.count ?? 0)
        while !list.isAtEnd { pixels.append(try list.decode(Double.self)) }
        self.pixels = pixels
    }
}

/// `GET /healthz`'s answer.
struct HealthBody: Encodable {
    var status: String
    var model: String
}

/// The content types `POST /api/predict` and `/api/read` accept as encoded pictures.
let imageContentTypes: Set<String> = [
    "image/png", "image/jpeg", "image/jpg", "image/x-portable-graymap", "image/x-portable-pixmap",
    "image/x-portable-anymap", "application/octet-stream",
]

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

/// A `{"error": message}` response with `status`.
func errorResponse(_ error: APIError) -> Response {
    jsonResponse(ErrorBody(error: error.message), status: error.status)
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

    func indexPage() -> Response {
        textResponse(Data(IndexPage.html.utf8), contentType: "text/html; charset=utf-8")
    }

    func health() -> Response {
        jsonResponse(HealthBody(status: "ok", model: recognizer.modelName))
    }

    func metricsText() -> Response {
        textResponse(Data(metrics.prometheusText().utf8), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    func predict(_ request: Request) async -> Response {
        do {
            let kind = try bodyKind(request, allowJSON: true)
            let body = try await collectBody(request)
            if kind == .json {
                let pixels = try decodePixels(body)
                let recognition = recognizer.withRecognizer { $0.recognize(pixels: pixels) }
                let png = try encodePNG(GrayImage(width: PreparedDigit.side, height: PreparedDigit.side, pixels: pixels))
                return jsonResponse(PredictionBody(recognition, inputPNG: png))
            }
            let image = try decodeImage(body)
            let prepared: PreparedDigit
            do {
                prepared = try MNISTPreprocessor.prepare(image)
            } catch {
                throw APIError(status: .unprocessableContent, message: "the picture holds no digit to read: \(error)")
            }
            let recognition = recognizer.withRecognizer { $0.recognize(prepared: prepared) }
            return jsonResponse(PredictionBody(recognition, inputPNG: try encodePNG(prepared.image)))
        } catch let error as APIError {
            return errorResponse(error)
        } catch {
            return errorResponse(APIError(status: .internalServerError, message: "internal error: \(error)"))
        }
    }

    func read(_ request: Request) async -> Response {
        do {
            _ = try bodyKind(request, allowJSON: false)
            let image = try decodeImage(try await collectBody(request))
            let reading: NumberReading
            do {
                reading = try recognizer.withRecognizer { try $0.readNumber(image) }
            } catch {
                throw APIError(status: .unprocessableContent, message: "no number could be read from the picture: \(error)")
            }
            return jsonResponse(reading)
        } catch let error as APIError {
            return errorResponse(error)
        } catch {
            return errorResponse(APIError(status: .internalServerError, message: "internal error: \(error)"))
        }
    }

    // MARK: Helpers

    enum BodyKind { case json, image }

    /// Classifies the request by its Content-Type (parameters ignored); no Content-Type counts as an
    /// encoded picture, whose format is then recognised from its bytes.
    func bodyKind(_ request: Request, allowJSON: Bool) throws -> BodyKind {
        guard let raw = request.headers[.contentType] else { return .image }
        let type = raw.split(separator: ";", maxSplits: 1).first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if type == "application/json" {
            if allowJSON { return .json }
        } else if imageContentTypes.contains(type) {
            return .image
        }
        let accepted = (allowJSON ? ["application/json"] : []) + imageContentTypes.sorted()
        throw APIError(status: .unsupportedMediaType,
                       message: "unsupported Content-Type '\(raw)'; send one of: \(accepted.joined(separator: ", "))")
    }

    /// Reads the whole body, refusing (413) as soon as it exceeds `maxBodyBytes` or its declared length does.
    func collectBody(_ request: Request) async throws -> [UInt8] {
        let limit = configuration.maxBodyBytes
        let tooLarge = APIError(status: .contentTooLarge,
                                message: "the request body exceeds the limit of \(limit) bytes; send a smaller picture")
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw tooLarge
        }
        var bytes: [UInt8] = []
        do {
            for try await buffer in request.body {
                if bytes.count + buffer.readableBytes > limit { throw tooLarge }
                bytes.append(contentsOf: buffer.readableBytesView)
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(status: .badRequest, message: "the request body could not be read: \(error)")
        }
        return bytes
    }

    /// Decodes `{"pixels": [784 numbers in 0...1]}`, naming what is wrong when it is not that.
    func decodePixels(_ body: [UInt8]) throws -> [Float] {
        let request: PixelsRequest
        do {
            request = try JSONDecoder().decode(PixelsRequest.self, from: Data(body))
        } catch {
            throw APIError(status: .badRequest,
                           message: "the body is not JSON of the form {\"pixels\": [784 numbers in 0...1]}: \(describe(error))")
        }
        let side = PreparedDigit.side
        guard request.pixels.count == side * side else {
            throw APIError(status: .badRequest,
                           message: "'pixels' holds \(request.pixels.count) numbers; expected \(side * side) (28x28, row-major)")
        }
        if let index = request.pixels.firstIndex(where: { !$0.isFinite || $0 < 0 || $0 > 1 }) {
            throw APIError(status: .badRequest,
                           message: "'pixels'[\(index)] is \(request.pixels[index]); every value must be a finite number in 0...1 (ink bright)")
        }
        return request.pixels.map { Float($0) }
    }

    /// Decodes an encoded picture; undecodable bytes are 400, pictures above the limits 413.
    func decodeImage(_ body: [UInt8]) throws -> GrayImage {
        do {
            return try ImageDecoder.decode(body, source: "request body", limits: configuration.imageLimits)
        } catch let error as ImageError {
            if case .tooLarge = error {
                throw APIError(status: .contentTooLarge, message: error.description)
            }
            throw APIError(status: .badRequest, message: error.description)
        } catch {
            throw APIError(status: .badRequest, message: "request body: the picture could not be decoded: \(error)")
        }
    }

    func encodePNG(_ image: GrayImage) throws -> [UInt8] {
        do { return try image.pngData() } catch {
            throw APIError(status: .internalServerError, message: "the model's input could not be encoded as PNG: \(error)")
        }
    }

    /// A short description of a JSON decoding error: what is missing or mistyped, and where.
    func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.isEmpty ? "" : " at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        }
        switch error {
        case .keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
        case .typeMismatch(_, let c): return "wrong type\(path(c)): \(c.debugDescription)"
        case .valueNotFound(_, let c): return "null value\(path(c))"
        case .dataCorrupted(let c): return "malformed JSON\(path(c)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
