// PNGCodec: PNG through libpng's simplified API (png_image), which reports errors through
// png_image.message instead of longjmp-ing into the caller, so it is safe to call from Swift.
//
// Before libpng sees the file we walk its chunk list ourselves: the IHDR gives the size, checked against
// ImageLimits (a header claiming 100000x100000 is refused from its first 33 bytes, nothing allocated), and a
// chunk list that runs off the end of the file is reported as truncated rather than as libpng's generic error.
// The common PNGs (8-bit grey or colour, with or without alpha, not interlaced) never reach libpng: PNGDecoder
// reads them faster, to the same pixels, and can shrink them while it reads.

import CPNG

/// Reads and writes PNG files with libpng (reading the common ones with `PNGDecoder`).
enum PNGCodec {
    /// The eight bytes every PNG file begins with.
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Decodes a PNG to grey; with `minimumSide`, one that `PNGDecoder` reads may come back shrunk by 2, 4 or 8
    /// (the box average), as long as its longer side stays at least `minimumSide` pixels.
    static func decode(_ bytes: [UInt8], source: String, limits: ImageLimits, reducingTo minimumSide: Int? = nil) throws -> GrayImage {
        let structure = try checkStructure(bytes, source: source, limits: limits)
        if let image = try PNGDecoder.decode(bytes, structure, source: source, reducingTo: minimumSide) { return image }
        return try decodeWithLibpng(bytes, width: structure.width, height: structure.height, source: source)
    }

    /// Decodes a PNG of the given size (from `checkStructure`) with libpng, at full size.
    static func decodeWithLibpng(_ bytes: [UInt8], width: Int, height: Int, source: String) throws -> GrayImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let began = bytes.withUnsafeBytes { raw in
            png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count)
        }
        guard began != 0 else {
            let message = Self.message(of: &image)
            png_image_free(&image)
            throw ImageError.corrupt(source: source, format: .png, detail: "libpng: \(message)")
        }
        guard Int(image.width) == width, Int(image.height) == height else {
            png_image_free(&image)
            throw ImageError.corrupt(source: source, format: .png, detail: "libpng reads a different size than the IHDR")
        }
        // A grey picture without transparency is read as 8-bit grey levels directly.
        if image.format & UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA | PNG_FORMAT_FLAG_COLORMAP) == 0 {
            image.format = UInt32(PNG_FORMAT_GRAY)
            var levels = [UInt8](repeating: 0, count: width * height)
            let finished = levels.withUnsafeMutableBytes { raw in png_image_finish_read(&image, nil, raw.baseAddress, 0, nil) }
            let message = finished == 0 ? Self.message(of: &image) : ""
            png_image_free(&image)
            guard finished != 0 else { throw ImageError.corrupt(source: source, format: .png, detail: "libpng: \(message)") }
            return GrayImage(width: width, height: height, bytes: levels)
        }
        // Otherwise 8-bit sRGB RGBA, not premultiplied; we convert to grey ourselves so the weights are BT.601's.
        image.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        let finished = rgba.withUnsafeMutableBytes { raw in
            png_image_finish_read(&image, nil, raw.baseAddress, 0, nil)
        }
        guard finished != 0 else {
            let message = Self.message(of: &image)
            png_image_free(&image)
            throw ImageError.corrupt(source: source, format: .png, detail: "libpng: \(message)")
        }
        png_image_free(&image)

        var grey = [Float](repeating: 1, count: width * height)
        for p in 0..<grey.count {
            grey[p] = PNGDecoder.onWhite(rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2], alpha: rgba[4 * p + 3])
        }
        return GrayImage(width: width, height: height, unitPixels: grey)
    }

    /// Checks the signature and IHDR, applies `limits`, and walks the chunks to IEND; returns the size and
    /// the chunk list.
    static func checkStructure(_ b: [UInt8], source: String, limits: ImageLimits) throws -> PNGStructure {
        func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        guard b.starts(with: signature) else {
            throw ImageError.corrupt(source: source, format: .png, detail: "the PNG signature is damaged")
        }
        guard b.count >= 8 + 8 + 13 else {
            throw ImageError.truncated(source: source, format: .png, detail: "\(b.count) bytes, too short for the IHDR header")
        }
        guard be32(12) == PNGStructure.IHDR, be32(8) == 13 else {
            throw ImageError.corrupt(source: source, format: .png, detail: "the first chunk is not a 13-byte IHDR")
        }
        let width = be32(16), height = be32(20)
        try limits.check(width: width, height: height, source: source, format: .png)

        // Walk the chunk list: length (4) type (4) data (length) CRC (4), until IEND.
        var chunks: [PNGStructure.Chunk] = []
        var pos = 8
        var sawData = false
        while true {
            guard pos + 8 <= b.count else {
                throw ImageError.truncated(source: source, format: .png,
                                           detail: "the file ends at byte \(b.count) before the IEND chunk\(sawData ? "" : " and before any image data")")
            }
            let length = be32(pos)
            guard length <= 0x7FFF_FFFF else {
                throw ImageError.corrupt(source: source, format: .png, detail: "chunk at byte \(pos) has length \(length)")
            }
            let letters = b[(pos + 4)..<(pos + 8)]
            guard letters.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw ImageError.corrupt(source: source, format: .png, detail: "chunk at byte \(pos) has an invalid type")
            }
            guard pos + 12 + length <= b.count else {
                throw ImageError.truncated(source: source, format: .png,
                                           detail: "chunk \(String(decoding: letters, as: UTF8.self)) at byte \(pos) needs \(length + 12) bytes, \(b.count - pos) remain")
            }
            let type = be32(pos + 4)
            chunks.append(PNGStructure.Chunk(type: type, data: (pos + 8)..<(pos + 8 + length)))
            if type == PNGStructure.IDAT { sawData = true }
            if type == PNGStructure.IEND { break }
            pos += 12 + length
        }
        guard sawData else {
            throw ImageError.corrupt(source: source, format: .png, detail: "no IDAT chunk holds image data")
        }
        return PNGStructure(width: width, height: height, chunks: chunks)
    }

    /// Encodes `image` as an 8-bit greyscale PNG with png_image_write_to_memory.
    static func encode(_ image: GrayImage) throws -> [UInt8] {
        try encode(width: image.width, height: image.height, format: UInt32(PNG_FORMAT_GRAY), samples: image.bytes)
    }

    /// Encodes `image` as an 8-bit RGB PNG.
    static func encode(_ image: RGBImage) throws -> [UInt8] {
        try encode(width: image.width, height: image.height, format: UInt32(PNG_FORMAT_RGB), samples: image.samples)
    }

    /// Encodes 8-bit `samples` (row-major, channels as `format` says) as a PNG file: libpng's simplified
    /// API measures the output first, then writes it.
    private static func encode(width: Int, height: Int, format: UInt32, samples: [UInt8]) throws -> [UInt8] {
        guard width > 0, height > 0 else {
            throw ImageError.encodingFailed(format: .png, detail: "the picture is \(width)x\(height)")
        }
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(width)
        png.height = UInt32(height)
        png.format = format
        var size: png_alloc_size_t = 0
        let measured = samples.withUnsafeBytes { raw in
            png_image_write_to_memory(&png, nil, &size, 0, raw.baseAddress, 0, nil)
        }
        guard measured != 0, size > 0 else {
            let message = Self.message(of: &png)
            png_image_free(&png)
            throw ImageError.encodingFailed(format: .png, detail: "libpng: \(message)")
        }
        var out = [UInt8](repeating: 0, count: Int(size))
        let written = out.withUnsafeMutableBytes { dst in
            samples.withUnsafeBytes { raw in
                png_image_write_to_memory(&png, dst.baseAddress, &size, 0, raw.baseAddress, 0, nil)
            }
        }
        guard written != 0 else {
            let message = Self.message(of: &png)
            png_image_free(&png)
            throw ImageError.encodingFailed(format: .png, detail: "libpng: \(message)")
        }
        png_image_free(&png)
        return Array(out.prefix(Int(size)))
    }

    /// The NUL-terminated text in png_image.message.
    static func message(of image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let text = raw.prefix { $0 != 0 }
            return text.isEmpty ? "unknown error" : String(decoding: text, as: UTF8.self)
        }
    }
}

/// A PNG file's size and chunk list, as `PNGCodec.checkStructure` finds them.
struct PNGStructure {
    /// One chunk of the file.
    struct Chunk {
        /// The chunk's four-letter type as a big-endian number (see the constants below).
        let type: Int
        /// Where the chunk's data lies in the file; its type is the 4 bytes before, its CRC the 4 bytes after.
        let data: Range<Int>
    }

    /// The picture's size from the IHDR, within the limits the file was checked against.
    let width: Int, height: Int
    /// Every chunk from the IHDR to the IEND, in file order.
    let chunks: [Chunk]

    /// "IHDR", the header.
    static let IHDR = 0x4948_4452
    /// "PLTE", the palette.
    static let PLTE = 0x504C_5445
    /// "IDAT", image data.
    static let IDAT = 0x4944_4154
    /// "IEND", the end.
    static let IEND = 0x4945_4E44
    /// "tRNS", transparency for pictures without an alpha channel.
    static let tRNS = 0x7452_4E53
    /// "gAMA", the samples' gamma.
    static let gAMA = 0x6741_4D41

    /// Whether a chunk of `type` is critical (its first letter is upper-case): a decoder must understand it.
    static func isCritical(_ type: Int) -> Bool { type & 0x2000_0000 == 0 }
}
