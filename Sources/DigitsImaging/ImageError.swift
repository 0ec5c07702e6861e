// ImageError and ImageLimits: what can go wrong when reading a user's picture, and the bounds that keep
// a hostile or mistaken file from costing more memory or time than a digit is worth.

/// Bounds checked against a picture's header before anything is decoded or allocated.
public struct ImageLimits: Equatable, Sendable {
    /// The largest encoded file accepted, in bytes.
    public var maxEncodedBytes: Int
    /// The largest picture accepted, in pixels (width × height).
    public var maxPixels: Int
    /// The most scans a JPEG may hold. Decoding costs about one pass over the whole picture per scan, so a
    /// small file of thousands of empty scans over a large frame is a bomb in time rather than memory.
    /// libjpeg's own progressive scripts write 6 (grey) to 10 (colour) scans, and encoders tuned for size
    /// rarely pass 20-30; 100 costs well under a second on a 40-megapixel frame.
    public var maxJPEGScans: Int

    /// 20 MB encoded, 40 megapixels and 100 JPEG scans: any phone photo passes, a decompression bomb does not.
    public static let `default` = ImageLimits(maxEncodedBytes: 20_000_000, maxPixels: 40_000_000)

    /// Limits with the given bounds.
    public init(maxEncodedBytes: Int, maxPixels: Int, maxJPEGScans: Int = 100) {
        self.maxEncodedBytes = maxEncodedBytes
        self.maxPixels = maxPixels
        self.maxJPEGScans = maxJPEGScans
    }

    /// Throws when a header's dimensions are zero or exceed `maxPixels`; overflow-safe.
    func check(width: Int, height: Int, source: String, format: ImageFormat) throws {
        if width <= 0 || height <= 0 {
            throw ImageError.zeroSize(source: source, format: format, width: width, height: height)
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || pixels > maxPixels {
            throw ImageError.tooLarge(source: source,
                                      what: "\(width)x\(height) pixels (\(overflow ? "overflow" : String(pixels)))",
                                      limit: "\(maxPixels) pixels")
        }
    }
}

/// The picture formats that `ImageDecoder` reads.
public enum ImageFormat: String, Equatable, Sendable {
    /// Portable Network Graphics, decoded by digits' own decoder (with libdeflate) or, for the rarer kinds, by libpng.
    case png = "PNG"
    /// JPEG (JFIF/Exif), decoded by libjpeg-turbo.
    case jpeg = "JPEG"
    /// Netpbm greymap, binary (P5) or ASCII (P2).
    case pgm = "PGM"
    /// Netpbm pixmap, binary (P6) or ASCII (P3).
    case ppm = "PPM"
}

/// A picture that could not be read; each description names the source, says what is wrong and what to do.
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input holds no bytes.
    case empty(source: String)
    /// The leading bytes match none of the supported formats; `detail` names the format when it is recognised.
    case unknownFormat(source: String, detail: String)
    /// The file ends before the format says it should.
    case truncated(source: String, format: ImageFormat, detail: String)
    /// The file's structure or data is invalid.
    case corrupt(source: String, format: ImageFormat, detail: String)
    /// The file uses a feature of its format that is not supported (such as CMYK JPEG or 12-bit samples).
    case unsupported(source: String, format: ImageFormat, detail: String)
    /// The encoded size or the header's dimensions exceed `ImageLimits`.
    case tooLarge(source: String, what: String, limit: String)
    /// The header gives a width or height of zero.
    case zeroSize(source: String, format: ImageFormat, width: Int, height: Int)
    /// Writing a picture failed (the encoder's message).
    case encodingFailed(format: ImageFormat, detail: String)

    /// A sentence naming the source and the problem, ending with what to do.
    public var description: String {
        switch self {
        case .empty(let source):
            return "\(source): the file is empty; check the path and that the picture was saved completely."
        case .unknownFormat(let source, let detail):
            return "\(source): not a picture this tool reads (\(detail)); convert it to PNG, JPEG or PGM and try again."
        case .truncated(let source, let format, let detail):
            return "\(source): the \(format.rawValue) file is truncated (\(detail)); copy or download it again in full."
        case .corrupt(let source, let format, let detail):
            return "\(source): the \(format.rawValue) file is corrupt (\(detail)); re-export the picture from the program that made it."
        case .unsupported(let source, let format, let detail):
            return "\(source): this \(format.rawValue) file uses an unsupported feature (\(detail)); re-save it as an ordinary 8-bit PNG or JPEG."
        case .tooLarge(let source, let what, let limit):
            return "\(source): the picture is too large (\(what), limit \(limit)); crop or shrink it around the digit and try again."
        case .zeroSize(let source, let format, let width, let height):
            return "\(source): the \(format.rawValue) header gives an empty picture (\(width)x\(height)); re-export a picture with content."
        case .encodingFailed(let format, let detail):
            return "writing \(format.rawValue) failed (\(detail)); check the picture's size and the free memory, then try again."
        }
    }
}
