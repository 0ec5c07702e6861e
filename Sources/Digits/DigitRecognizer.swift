// Reading a digit off a user's own picture: decode, prepare as MNIST was prepared, classify.
// The command line, the server and Swift callers all go through `DigitRecognizer`.

import Foundation
import DigitsImaging

/// What a model read from one picture.
public struct Recognition: Codable, Equatable, Sendable {
    /// One candidate class and its probability.
    public struct Candidate: Codable, Equatable, Sendable {
        /// The digit.
        public var digit: Int
        /// Its probability.
        public var probability: Double

        /// A candidate `digit` with its `probability`.
        public init(digit: Int, probability: Double) {
            self.digit = digit
            self.probability = probability
        }
    }

    /// The most probable digit.
    public var digit: Int
    /// Its probability.
    public var probability: Double
    /// The three most probable digits, most probable first.
    public var top: [Candidate]
    /// All class probabilities, indexed by digit.
    public var probabilities: [Double]
    /// False when the top probability, or its margin over the second, is below the recognizer's thresholds.
    public var confident: Bool
}

/// Reads digits off pictures with a trained model.
///
///     let recognizer = try DigitRecognizer(contentsOf: URL(fileURLWithPath: "mlp.safetensors"))
///     let result = try recognizer.recognize(contentsOf: URL(fileURLWithPath: "my-digit.png"))
///     print(result.digit, result.probability, result.confident)
public final class DigitRecognizer {
    /// The model that classifies.
    public let model: Model
    /// Below this top probability a reading is flagged as not confident (default 0.6).
    public var minimumProbability: Double
    /// Below this gap between the top two probabilities a reading is flagged as not confident (default 0.2).
    public var minimumMargin: Double
    /// Size limits for decoded pictures.
    public var limits: ImageLimits

    /// A recognizer using `model`.
    public init(model: Model, minimumProbability: Double = 0.6, minimumMargin: Double = 0.2, limits: ImageLimits = .default) {
        self.model = model
        self.minimumProbability = minimumProbability
        self.minimumMargin = minimumMargin
        self.limits = limits
    }

    /// A recognizer for the model saved at `url` (a digits `.safetensors` model file).
    public convenience init(contentsOf url: URL) throws {
        self.init(model: try ModelFile.read(contentsOf: url).model)
    }

    /// Decodes the picture file at `url` (PNG, JPEG, PGM or PPM), prepares it and classifies it.
    public func recognize(contentsOf url: URL) throws -> Recognition {
        recognize(prepared: try prepare(contentsOf: url))
    }

    /// Decodes the picture file at `url` within this recognizer's limits and prepares it as MNIST was
    /// prepared: the 28x28 digit the model will see.
    public func prepare(contentsOf url: URL) throws -> PreparedDigit {
        try MNISTPreprocessor.prepare(ImageDecoder.decode(readPicture(url), source: url.path, limits: limits,
                                                          reducingTo: MNISTPreprocessor.workingSize))
    }

    /// The bytes of the picture file at `url` (a regular file of at most `limits.maxEncodedBytes`), or an error naming it.
    func readPicture(_ url: URL) throws -> [UInt8] {
        do throws(RegularFileError) {
            return try RegularFile.read(path: url.path, maxBytes: limits.maxEncodedBytes)
        } catch {
            throw DigitsError.invalidOption("cannot read the picture: \(error)")
        }
    }

    /// Decodes an encoded picture, prepares it and classifies it; `source` names it in errors.
    public func recognize(encoded bytes: [UInt8], source: String) throws -> Recognition {
        // The preprocessor works at MNISTPreprocessor.workingSize at most, so a large JPEG or PNG need not be decoded whole.
        try recognize(ImageDecoder.decode(bytes, source: source, limits: limits, reducingTo: MNISTPreprocessor.workingSize))
    }

    /// Prepares a decoded picture as MNIST was prepared (`MNISTPreprocessor`) and classifies it.
    public func recognize(_ image: GrayImage) throws -> Recognition {
        recognize(prepared: try MNISTPreprocessor.prepare(image))
    }

    /// Classifies a prepared 28x28 digit.
    public func recognize(prepared digit: PreparedDigit) -> Recognition {
        recognize(pixels: digit.pixels)
    }

    /// Classifies 784 pixels in [0, 1], ink bright on black, as MNIST stores them.
    public func recognize(pixels: [Float]) -> Recognition {
        let p = model.probabilities(pixels: pixels).storage.map(Double.init)
        let ranked = p.indices.sorted { p[$0] > p[$1] }
        let top = ranked.prefix(3).map { Recognition.Candidate(digit: $0, probability: p[$0]) }
        let margin = p[ranked[0]] - (ranked.count > 1 ? p[ranked[1]] : 0)
        return Recognition(digit: ranked[0], probability: p[ranked[0]], top: top, probabilities: p,
                           confident: p[ranked[0]] >= minimumProbability && margin >= minimumMargin)
    }
}

/// What a model read from a picture of a number written on one line.
public struct NumberReading: Codable, Equatable, Sendable {
    /// The digits read, left to right, e.g. "90210".
    public var text: String
    /// Each digit's reading, left to right.
    public var digits: [Recognition]
    /// Where each digit was found in the picture: x, y, width, height in pixels.
    public var boxes: [[Int]]
    /// True when every digit's reading is confident.
    public var confident: Bool
}

extension DigitRecognizer {
    /// Splits the ink of a picture into digits (`NumberSegmenter`), classifies each, and returns the string.
    public func readNumber(_ image: GrayImage) throws -> NumberReading {
        let segments = try NumberSegmenter.segment(image)
        let readings = segments.map { recognize(prepared: $0.digit) }
        return NumberReading(text: readings.map { String($0.digit) }.joined(), digits: readings,
                             boxes: segments.map { [$0.boundingBox.x, $0.boundingBox.y, $0.boundingBox.width, $0.boundingBox.height] },
                             confident: readings.allSatisfy(\.confident))
    }

    /// Decodes an encoded picture and reads the number on it; `source` names it in errors.
    public func readNumber(encoded bytes: [UInt8], source: String) throws -> NumberReading {
        try readNumber(ImageDecoder.decode(bytes, source: source, limits: limits))
    }

    /// Reads the number on the picture file at `url`.
    public func readNumber(contentsOf url: URL) throws -> NumberReading {
        try readNumber(encoded: readPicture(url), source: url.path)
    }
}
