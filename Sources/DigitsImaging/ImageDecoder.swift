// ImageDecoder: turns the bytes of a user's picture into a GrayImage, choosing the format by its magic
// bytes (never by the file name) and refusing oversized pictures from the header, before allocating.

/// Decodes PNG, JPEG and Netpbm (PGM/PPM) pictures to greyscale.
///
/// Colour becomes grey by luminance, Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as in JPEG's YCbCr);
/// transparency is composited onto white, as a viewer shows it on a white page.
public enum ImageDecoder {
    /// Decodes `bytes`, recognising the format by its first bytes.
    ///
    /// - Parameters:
    ///   - bytes: the whole encoded file.
    ///   - source: a name for messages, usually the path.
    ///   - limits: encoded-size and pixel-count bounds checked before decoding.
    ///   - minimumSide: when given, a large JPEG or PNG may come back shrunk by 2, 4 or 8 on each side (sizes
    ///     rounded up), much faster than decoding every pixel, by the largest factor that keeps its longer side at
    ///     least this long: a JPEG through libjpeg's scaled inverse DCT, a PNG as the average of each 2×2, 4×4 or 8×8
    ///     block (those at the right and bottom edges averaged over the pixels they hold). PNGs that libpng
    ///     reads (palette, 16-bit, fewer than 8 bits, interlaced, with transparency or an unusual gamma) and
    ///     PGM/PPM always come back at full size.
    /// - Throws: `ImageError` naming `source`, the problem and the remedy.
    public static func decode(_ bytes: [UInt8], source: String, limits: ImageLimits = .default,
                              reducingTo minimumSide: Int? = nil) throws -> GrayImage {
        if bytes.isEmpty { throw ImageError.empty(source: source) }
        if bytes.count > limits.maxEncodedBytes {
            throw ImageError.tooLarge(source: source, what: "\(bytes.count) bytes", limit: "\(limits.maxEncodedBytes) bytes")
        }
        guard let format = sniff(bytes) else {
            throw ImageError.unknownFormat(source: source, detail: describeUnknown(bytes))
        }
        switch format {
        case .png: return try PNGCodec.decode(bytes, source: source, limits: limits, reducingTo: minimumSide)
        case .jpeg: return try JPEGDecoder.decode(bytes, source: source, limits: limits, reducingTo: minimumSide)
        case .pgm, .ppm: return try NetpbmDecoder.decode(bytes, source: source, limits: limits)
        }
    }

    /// The factor, 1, 2, 4 or 8, by which a `width × height` picture may be shrunk on each side (rounding up)
    /// with its longer side still at least `minimumSide` pixels: the largest such, 1 without `minimumSide`.
    static func reduction(width: Int, height: Int, minimumSide: Int?) -> Int {
        guard let minimumSide else { return 1 }
        let longer = max(width, height)
        var factor = 1
        while factor < 8 && (longer + 2 * factor - 1) / (2 * factor) >= minimumSide { factor *= 2 }
        return factor
    }

    /// The format whose magic bytes begin `bytes`, or nil.
    public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
        if bytes.starts(with: PNGCodec.signature) { return .png }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if bytes.count >= 2 && bytes[0] == UInt8(ascii: "P") {
            switch bytes[1] {
            case UInt8(ascii: "2"), UInt8(ascii: "5"): return .pgm
            case UInt8(ascii: "3"), UInt8(ascii: "6"): return .ppm
            default: return nil
            }
        }
        return nil
    }

    /// Names well-known formats we do not read, otherwise shows the first bytes.
    static func describeUnknown(_ b: [UInt8]) -> String {
        func starts(_ s: String) -> Bool { b.starts(with: Array(s.utf8)) }
        if starts("GIF8") { return "a GIF file" }
        if starts("BM") { return "a BMP file" }
        if starts("RIFF") && b.count >= 12 && Array(b[8..<12]) == Array("WEBP".utf8) { return "a WebP file" }
        if b.count >= 12 && Array(b[4..<8]) == Array("ftyp".utf8) { return "a HEIC/AVIF/MP4 file" }
        if starts("II*\0") || starts("MM\0*") { return "a TIFF file" }
        if starts("P1") || starts("P4") { return "a PBM bitmap" }
        if starts("%PDF") { return "a PDF document" }
        if starts("<svg") || starts("<?xml") { return "an SVG/XML document" }
        let head = b.prefix(8).map { String($0, radix: 16, uppercase: true) }.map { $0.count == 1 ? "0" + $0 : $0 }
        return "first bytes \(head.joined(separator: " "))"
    }

    /// Luminance of 8-bit RGB in [0, 1]: 0.299 R + 0.587 G + 0.114 B.
    @inline(__always)
    static func luminance(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Float {
        if r == g && g == b { return Float(r) / 255 }  // grey stays exactly grey
        return (0.299 * Float(r) + 0.587 * Float(g) + 0.114 * Float(b)) / 255
    }
}
