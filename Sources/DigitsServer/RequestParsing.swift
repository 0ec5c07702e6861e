// What the server reads from a request body: its kind by Content-Type, the JSON pixel form, an encoded
// picture. Pure functions of bytes and strings, so the fuzzers and tests reach them without a socket.

import Foundation
import Digits
import Hummingbird

/// A request that cannot be answered: the status to send and a sentence saying what is wrong.
public struct APIError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status of the answer (4xx for the client's mistakes).
    public var status: HTTPResponse.Status
    /// What is wrong, for the `{"error": ...}` body.
    public var message: String

    /// An error answered with `status` and `message`.
    public init(status: HTTPResponse.Status, message: String) {
        self.status = status
        self.message = message
    }

    /// The status code and the message.
    public var description: String { "\(status.code) \(message)" }
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
        pixels.reserveCapacity(min(list.count ?? 0, PreparedDigit.side * PreparedDigit.side))
        while !list.isAtEnd { pixels.append(try list.decode(Double.self)) }
        self.pixels = pixels
    }
}

/// Reading request bodies; every failure is an `APIError` with a 4xx status naming what is wrong.
public enum RequestParsing {
    /// What a body holds, by its Content-Type.
    public enum BodyKind: Sendable { case json, image }

    /// The content types `POST /api/predict` and `/api/read` accept as encoded pictures.
    public static let imageContentTypes: Set<String> = [
        "image/png", "image/jpeg", "image/jpg", "image/x-portable-graymap", "image/x-portable-pixmap",
        "image/x-portable-anymap", "application/octet-stream",
    ]

    /// Classifies a body by its Content-Type (parameters such as `; charset=...` ignored, case-insensitive);
    /// no Content-Type counts as an encoded picture, whose format is then recognised from its bytes.
    /// Anything else is 415 Unsupported Media Type.
    public static func bodyKind(contentType raw: String?, allowJSON: Bool) throws(APIError) -> BodyKind {
        guard let raw else { return .image }
        let type = raw.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if type == "application/json" {
            if allowJSON { return .json }
        } else if imageContentTypes.contains(type) {
            return .image
        }
        let accepted = (allowJSON ? ["application/json"] : []) + imageContentTypes.sorted()
        throw APIError(status: .unsupportedMediaType,
                       message: "unsupported Content-Type '\(raw.prefix(100))'; send one of: \(accepted.joined(separator: ", "))")
    }

    /// Decodes `{"pixels": [784 numbers in 0...1]}` (row-major 28x28, ink bright); 400 naming what is wrong
    /// when the body is not that.
    public static func pixels(fromJSON body: [UInt8]) throws(APIError) -> [Float] {
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

    /// Decodes an encoded picture (PNG, JPEG, PGM/PPM); undecodable bytes are 400, pictures above `limits` 413.
    /// With `minimumSide`, a large JPEG or PNG may come back shrunk, its longer side still at least that long.
    public static func image(from body: [UInt8], limits: ImageLimits, reducingTo minimumSide: Int? = nil) throws(APIError) -> GrayImage {
        do {
            return try ImageDecoder.decode(body, source: "request body", limits: limits, reducingTo: minimumSide)
        } catch let error as ImageError {
            if case .tooLarge = error {
                throw APIError(status: .contentTooLarge, message: error.description)
            }
            throw APIError(status: .badRequest, message: error.description)
        } catch {
            throw APIError(status: .badRequest, message: "request body: the picture could not be decoded: \(error)")
        }
    }

    /// A short description of a JSON decoding error: what is missing or mistyped, and where.
    static func describe(_ error: any Error) -> String {
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
