// NetpbmDecoder: PGM (P2 ASCII, P5 binary) and PPM (P3 ASCII, P6 binary) in pure Swift.
// Header: magic, width, height, maxval as whitespace-separated decimals with `#` comments between them;
// binary data follows a single whitespace byte, one byte per sample when maxval < 256, else two (big-endian).

/// Reads Netpbm greymaps and pixmaps.
enum NetpbmDecoder {
    static func decode(_ bytes: [UInt8], source: String, limits: ImageLimits) throws -> GrayImage {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P") else {
            throw ImageError.unknownFormat(source: source, detail: ImageDecoder.describeUnknown(bytes))
        }
        let kind = bytes[1]
        let format: ImageFormat = (kind == UInt8(ascii: "2") || kind == UInt8(ascii: "5")) ? .pgm : .ppm
        let binary = kind == UInt8(ascii: "5") || kind == UInt8(ascii: "6")
        let channels = format == .pgm ? 1 : 3
        var reader = TokenReader(bytes: bytes, position: 2, source: source, format: format)

        let width = try reader.integer("width")
        let height = try reader.integer("height")
        let maxval = try reader.integer("maxval")
        try limits.check(width: width, height: height, source: source, format: format)
        guard (1...65535).contains(maxval) else {
            throw ImageError.corrupt(source: source, format: format, detail: "maxval \(maxval) is outside 1...65535")
        }
        let samples = width * height * channels
        let scale = 1 / Float(maxval)
        // The header's size is only a claim: nothing is allocated from it until the file is known to hold that
        // many samples (binary: the exact byte count; ASCII: at least a digit and a separator per sample).
        let bytesPerSample = maxval < 256 ? 1 : 2
        let start = reader.position + 1
        if binary {
            // Exactly one whitespace byte separates maxval from the data.
            guard reader.position < bytes.count, TokenReader.isSpace(bytes[reader.position]) else {
                throw ImageError.truncated(source: source, format: format, detail: "no pixel data after the header")
            }
            let needed = samples * bytesPerSample
            guard bytes.count - start >= needed else {
                throw ImageError.truncated(source: source, format: format,
                                           detail: "\(bytes.count - start) bytes of pixel data, \(width)x\(height) needs \(needed)")
            }
        } else if bytes.count - reader.position < 2 * samples - 1 {
            throw ImageError.truncated(source: source, format: format,
                                       detail: "\(bytes.count - reader.position) bytes after the header cannot hold the \(samples) samples of \(width)x\(height)")
        }
        var values = [Float](repeating: 0, count: samples)

        if binary {
            for i in 0..<samples {
                let v = bytesPerSample == 1
                    ? Int(bytes[start + i])
                    : Int(bytes[start + 2 * i]) << 8 | Int(bytes[start + 2 * i + 1])
                guard v <= maxval else {
                    throw ImageError.corrupt(source: source, format: format, detail: "sample \(i) is \(v), above maxval \(maxval)")
                }
                values[i] = Float(v) * scale
            }
        } else {
            for i in 0..<samples {
                let v = try reader.integer("sample \(i) of \(samples)")
                guard v <= maxval else {
                    throw ImageError.corrupt(source: source, format: format, detail: "sample \(i) is \(v), above maxval \(maxval)")
                }
                values[i] = Float(v) * scale
            }
        }
        if channels == 1 { return GrayImage(width: width, height: height, pixels: values) }
        var grey = [Float](repeating: 0, count: width * height)
        for p in 0..<grey.count {
            grey[p] = 0.299 * values[3 * p] + 0.587 * values[3 * p + 1] + 0.114 * values[3 * p + 2]
        }
        return GrayImage(width: width, height: height, pixels: grey)
    }
}

/// Reads the decimal tokens of a Netpbm header, skipping whitespace and `#` comments.
private struct TokenReader {
    let bytes: [UInt8]
    var position: Int
    let source: String
    let format: ImageFormat

    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (0x09...0x0D).contains(c) }

    mutating func integer(_ name: String) throws -> Int {
        while position < bytes.count {
            let c = bytes[position]
            if Self.isSpace(c) { position += 1 }
            else if c == UInt8(ascii: "#") {
                while position < bytes.count && bytes[position] != 0x0A && bytes[position] != 0x0D { position += 1 }
            } else { break }
        }
        guard position < bytes.count else {
            throw ImageError.truncated(source: source, format: format, detail: "the file ends before the \(name)")
        }
        var value = 0
        var digits = 0
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
            digits += 1
            guard digits <= 9 else {
                throw ImageError.corrupt(source: source, format: format, detail: "the \(name) has more than 9 digits")
            }
            value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
            position += 1
        }
        guard digits > 0 else {
            throw ImageError.corrupt(source: source, format: format,
                                     detail: "expected a number for the \(name) at byte \(position), found 0x\(String(bytes[position], radix: 16))")
        }
        return value
    }
}
