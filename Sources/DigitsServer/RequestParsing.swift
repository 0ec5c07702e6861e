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
    /// Header fields the answer carries besides the JSON body, such as Retry-After with 503 or Allow with 405.
    public var headers: [(name: String, value: String)]

    /// An error answered with `status`, `message` and any extra `headers`.
    public init(status: HTTPResponse.Status, message: String, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    /// The status code and the message.
    public var description: String { "\(status.code) \(message)" }
}

/// `POST /api/predict`'s JSON form.
struct PixelsRequest: Decodable {
    var pixels: [Double]

    enum CodingKeys: String, CodingKey { case pixels }

    init(pixels: [Double]) {
        self.pixels = pixels
    }

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
        if let plain = PixelsJSON.parse(body) {
            request = PixelsRequest(pixels: plain)
        } else {
            do {
                request = try JSONDecoder().decode(PixelsRequest.self, from: Data(body))
            } catch {
                throw APIError(status: .badRequest,
                               message: "the body is not JSON of the form {\"pixels\": [784 numbers in 0...1]}: \(describe(error))")
            }
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

/// The plain form of `POST /api/predict`'s body, `{"pixels": [n, n, ...]}` with nothing else, read by hand:
/// every number as RFC 8259 writes it, converted as `Double(String)` does, so that a value too small for a
/// Double (`1e-400`, valid JSON) reads as 0 and one too large as infinity (then refused as out of range),
/// where Foundation's decoder calls the whole body malformed. Any other shape (more keys, nesting, a syntax
/// error) returns nil, and `JSONDecoder` reads it and names what is wrong.
enum PixelsJSON {
    static func parse(_ b: [UInt8]) -> [Double]? {
        var i = 0
        func skipSpace() { while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 } }
        func expect(_ c: UInt8) -> Bool {
            skipSpace()
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        func digits() -> Int {
            let start = i
            while i < b.count, (0x30...0x39).contains(b[i]) { i += 1 }
            return i - start
        }
        func number() -> Double? {
            skipSpace()
            let start = i
            if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
            // int = "0" / digit1-9 *DIGIT
            if i < b.count, b[i] == UInt8(ascii: "0") { i += 1 } else if digits() == 0 { return nil }
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                guard digits() > 0 else { return nil }
            }
            if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                i += 1
                if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
                guard digits() > 0 else { return nil }
            }
            guard i - start <= 400 else { return nil }  // let the decoder describe absurd literals
            return Double(String(decoding: b[start..<i], as: UTF8.self))
        }
        guard expect(UInt8(ascii: "{")), expect(UInt8(ascii: "\"")) else { return nil }
        let key = Array("pixels\"".utf8)
        guard i + key.count <= b.count, Array(b[i..<(i + key.count)]) == key else { return nil }
        i += key.count
        guard expect(UInt8(ascii: ":")), expect(UInt8(ascii: "[")) else { return nil }
        var values: [Double] = []
        values.reserveCapacity(PreparedDigit.side * PreparedDigit.side)
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "]") {
            i += 1
        } else {
            while true {
                guard let v = number() else { return nil }
                values.append(v)
                guard values.count <= 1 << 16 else { return nil }
                if expect(UInt8(ascii: ",")) { continue }
                guard expect(UInt8(ascii: "]")) else { return nil }
                break
            }
        }
        guard expect(UInt8(ascii: "}")) else { return nil }
        skipSpace()
        return i == b.count ? values : nil
    }
}
