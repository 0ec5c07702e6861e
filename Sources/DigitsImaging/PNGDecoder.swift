// PNGDecoder: the PNGs people send (8-bit grey, grey+alpha, RGB or RGBA, not interlaced), decoded without
// libpng. The image data is inflated in one call by libdeflate, each scanline's filter is reversed in place,
// and the pixels become grey exactly as PNGCodec makes libpng's output grey (BT.601 luminance, alpha
// composited onto white), so both give the same picture, bit for bit.
//
// Asked for a reduced picture, it averages k×k blocks (k = 2, 4 or 8, chosen as for a JPEG) as the rows come:
// a row of column sums gathers k rows, then each block's sum is read off it, so the full-size grey picture is
// never built.
//
// Everything else goes to libpng: palettes, 16-bit and sub-byte samples, interlacing, transparency (tRNS), a
// gamma (gAMA) other than sRGB's, IDAT chunks split by other chunks, unknown critical chunks. Like libpng it
// checks the critical chunks' CRCs; unlike libpng, image data that inflates to more bytes than the picture
// needs is refused rather than warned about.

import CDeflate
import DigitsTensor

/// Decodes the common 8-bit, non-interlaced PNGs (see the file comment); `PNGCodec.decode` tries it first.
enum PNGDecoder {
    /// Decodes `b`, whose chunks `structure` lists, to grey; with `minimumSide`, shrunk by the factor
    /// `ImageDecoder.reduction` gives. Nil when the file is one for libpng.
    ///
    /// - Throws: `ImageError.corrupt` for a critical chunk with a wrong CRC, image data that does not inflate to
    ///   exactly the picture's size, or a row with an unknown filter type.
    static func decode(_ b: [UInt8], _ structure: PNGStructure, source: String, reducingTo minimumSide: Int?) throws -> GrayImage? {
        guard let channels = channels(b, structure),
              let inflater = libdeflate_alloc_decompressor() else { return nil }
        defer { libdeflate_free_decompressor(inflater) }
        func corrupt(_ detail: String) -> ImageError { .corrupt(source: source, format: .png, detail: detail) }
        let width = structure.width, height = structure.height
        let rowBytes = width * channels, rawCount = height * (1 + rowBytes)

        return try b.withUnsafeBytes { file -> GrayImage? in
            guard let base = file.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
            for chunk in structure.chunks where PNGStructure.isCritical(chunk.type) {
                let typeAndData = (chunk.data.lowerBound - 4)..<chunk.data.upperBound
                let stored = UInt32(PNGDecoder.be32(base + chunk.data.upperBound))
                let computed = libdeflate_crc32(0, base + typeAndData.lowerBound, typeAndData.count)
                guard stored == computed else {
                    throw corrupt("the \(String(decoding: b[typeAndData.prefix(4)], as: UTF8.self)) chunk at byte "
                                  + "\(chunk.data.lowerBound - 8) fails its CRC check")
                }
            }

            // The IDAT chunks (consecutive: `channels` checked) hold one zlib stream between them.
            let idat = structure.chunks.filter { $0.type == PNGStructure.IDAT }
            let compressedCount = idat.reduce(0) { $0 + $1.data.count }
            // DEFLATE expands at most 1032-fold: a header promising more than that is refused before allocating.
            guard rawCount <= compressedCount * 1032 else {
                throw corrupt("\(compressedCount) bytes of image data cannot hold the \(rawCount) bytes of \(width)x\(height) pixels")
            }
            let raw = UnsafeMutablePointer<UInt8>.allocate(capacity: rawCount)
            defer { raw.deallocate() }
            var produced = 0
            let result: libdeflate_result
            if idat.count == 1 {
                result = libdeflate_zlib_decompress(inflater, base + idat[0].data.lowerBound, compressedCount, raw, rawCount, &produced)
            } else {
                var joined: [UInt8] = []
                joined.reserveCapacity(compressedCount)
                for chunk in idat { joined += b[chunk.data] }
                result = joined.withUnsafeBytes { libdeflate_zlib_decompress(inflater, $0.baseAddress, $0.count, raw, rawCount, &produced) }
            }
            switch result {
            case LIBDEFLATE_SUCCESS where produced == rawCount:
                break
            case LIBDEFLATE_SUCCESS:
                throw corrupt("the image data inflates to \(produced) bytes; \(height) rows of \(width) pixels need \(rawCount)")
            case LIBDEFLATE_INSUFFICIENT_SPACE:
                throw corrupt("the image data inflates to more than the \(rawCount) bytes that \(height) rows of \(width) pixels need")
            default:
                throw corrupt("the image data is not a valid zlib stream")
            }

            let k = ImageDecoder.reduction(width: width, height: height, minimumSide: minimumSide)
            let outWidth = (width + k - 1) / k, outHeight = (height + k - 1) / k
            let pixels = try [Float](unsafeUninitializedCapacity: outWidth * outHeight) { buffer, initialized in
                guard let out = buffer.baseAddress else { return }
                if k == 1 {
                    try unfilterRows(raw, width: width, height: height, channels: channels, corrupt: corrupt) { y, row in
                        if channels == 1 {
                            Kernels.levels(row, out + y * width, count: width)
                        } else {
                            greyRow(row, out + y * width, count: width, channels: channels)
                        }
                    }
                } else {
                    try reduceRows(raw, width: width, height: height, channels: channels, by: k, into: out, corrupt: corrupt)
                }
                initialized = outWidth * outHeight
            }
            return GrayImage(width: outWidth, height: outHeight, unitPixels: pixels)
        }
    }

    /// The samples per pixel (1 to 4) when this decoder reads the file, nil when it is one for libpng.
    static func channels(_ b: [UInt8], _ structure: PNGStructure) -> Int? {
        // The IHDR (the first chunk, as checkStructure made sure): width, height, then at data offsets 8 to 12
        // the bit depth, colour type, compression method, filter method and interlace method.
        let ihdr = structure.chunks[0].data.lowerBound
        guard b[ihdr + 8] == 8, b[ihdr + 10] == 0, b[ihdr + 11] == 0, b[ihdr + 12] == 0 else { return nil }
        let channels: Int
        switch b[ihdr + 9] {
        case 0: channels = 1
        case 2: channels = 3
        case 4: channels = 2
        case 6: channels = 4
        default: return nil
        }
        var idatRuns = 0, previous = PNGStructure.IHDR
        for chunk in structure.chunks.dropFirst() {
            switch chunk.type {
            case PNGStructure.IDAT:
                if previous != PNGStructure.IDAT { idatRuns += 1 }
            case PNGStructure.IEND:
                break
            case PNGStructure.PLTE:
                // A suggested palette for a colour picture changes nothing; anywhere else libpng has its say.
                guard channels >= 3, idatRuns == 0 else { return nil }
            case PNGStructure.tRNS:
                return nil
            case PNGStructure.gAMA:
                // sRGB's gamma, 1/2.2, is written as 45455; libpng changes nothing for it.
                let i = chunk.data.lowerBound
                guard chunk.data.count == 4,
                      (45_000...46_000).contains(Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]))
                else { return nil }
            default:
                guard !PNGStructure.isCritical(chunk.type) else { return nil }
            }
            previous = chunk.type
        }
        return idatRuns == 1 ? channels : nil
    }

    /// Reverses the filter of each of the `height` scanlines at `raw` (a filter-type byte, then `width` pixels of
    /// `channels` bytes) in place, top to bottom, handing each to `take` with its row index once it is done.
    @inline(__always)
    static func unfilterRows(_ raw: UnsafeMutablePointer<UInt8>, width: Int, height: Int, channels: Int,
                             corrupt: (String) -> ImageError,
                             _ take: (Int, UnsafePointer<UInt8>) throws -> Void) throws {
        let rowBytes = width * channels
        // The row above the first is all zeros.
        let zeros = UnsafeMutablePointer<UInt8>.allocate(capacity: rowBytes)
        zeros.initialize(repeating: 0, count: rowBytes)
        defer { zeros.deallocate() }
        var above = UnsafePointer(zeros)
        for y in 0..<height {
            let filter = raw[y * (1 + rowBytes)], row = raw + y * (1 + rowBytes) + 1
            guard unfilter(filter, row, above: above, count: rowBytes, bytesPerPixel: channels) else {
                throw corrupt("row \(y) (counting from 0) has filter type \(filter); PNG defines types 0 to 4")
            }
            try take(y, row)
            above = UnsafePointer(row)
        }
    }

    /// The average of each `k`×`k` block of the picture whose filtered scanlines are at `raw`, written row-major to
    /// `out` (⌈width / k⌉ × ⌈height / k⌉ values; a block at the right or bottom edge averages the pixels it holds).
    private static func reduceRows(_ raw: UnsafeMutablePointer<UInt8>, width: Int, height: Int, channels: Int, by k: Int,
                                   into out: UnsafeMutablePointer<Float>, corrupt: (String) -> ImageError) throws {
        let outWidth = (width + k - 1) / k
        // Sums down each column of the current band of k rows: grey levels 0...255 for a grey picture (whole
        // numbers, so exact), intensities in [0, 1] for the others.
        let unit: Float = channels == 1 ? 255 : 1
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: width)
        sums.initialize(repeating: 0, count: width)
        let line = UnsafeMutablePointer<Float>.allocate(capacity: width)
        line.initialize(repeating: 0, count: width)
        defer { sums.deallocate(); line.deallocate() }
        try unfilterRows(raw, width: width, height: height, channels: channels, corrupt: corrupt) { y, row in
            if channels == 1 {
                addLevels(row, sums, count: width)
            } else {
                greyRow(row, line, count: width, channels: channels)
                for x in 0..<width { sums[x] += line[x] }
            }
            guard y % k == k - 1 || y == height - 1 else { return }
            let rows = y % k + 1, target = out + (y / k) * outWidth
            for bx in 0..<outWidth {
                let x0 = bx * k, x1 = min(x0 + k, width)
                var s: Float = 0
                for x in x0..<x1 { s += sums[x] }
                target[bx] = s / (Float(rows * (x1 - x0)) * unit)
            }
            sums.update(repeating: 0, count: width)
        }
    }

    /// Adds the `count` grey levels at `row` to the sums at `sums`.
    @inline(__always)
    private static func addLevels(_ row: UnsafePointer<UInt8>, _ sums: UnsafeMutablePointer<Float>, count: Int) {
        var x = 0
        while x + 16 <= count {
            let levels = SIMD16<Float>(UnsafeRawPointer(row + x).loadUnaligned(as: SIMD16<UInt8>.self))
            let s = UnsafeRawPointer(sums + x).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(sums + x).storeBytes(of: s + levels, as: SIMD16<Float>.self)
            x += 16
        }
        while x < count { sums[x] += Float(row[x]); x += 1 }
    }

    /// Writes the grey intensity of each of the `count` pixels of `channels` (2, 3 or 4) samples at `row` to `to`.
    @inline(__always)
    static func greyRow(_ row: UnsafePointer<UInt8>, _ to: UnsafeMutablePointer<Float>, count: Int, channels: Int) {
        switch channels {
        case 2: for x in 0..<count { to[x] = onWhite(row[2 * x], row[2 * x], row[2 * x], alpha: row[2 * x + 1]) }
        case 3: for x in 0..<count { to[x] = onWhite(row[3 * x], row[3 * x + 1], row[3 * x + 2], alpha: 255) }
        default: for x in 0..<count { to[x] = onWhite(row[4 * x], row[4 * x + 1], row[4 * x + 2], alpha: row[4 * x + 3]) }
        }
    }

    /// The grey intensity of an 8-bit colour with alpha, composited onto white: alpha × luminance + (1 − alpha).
    @inline(__always)
    static func onWhite(_ r: UInt8, _ g: UInt8, _ b: UInt8, alpha: UInt8) -> Float {
        let y = ImageDecoder.luminance(r, g, b)
        let a = Float(alpha) / 255
        return min(1, a * y + (1 - a))
    }

    /// Reverses PNG filter `type` (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth) on the `count` bytes at `row`, given
    /// the row above, already reversed; false for an unknown type.
    @inline(__always)
    static func unfilter(_ type: UInt8, _ row: UnsafeMutablePointer<UInt8>, above: UnsafePointer<UInt8>,
                         count: Int, bytesPerPixel bpp: Int) -> Bool {
        switch type {
        case 0:
            break
        case 1:
            var i = bpp
            while i < count { row[i] &+= row[i - bpp]; i += 1 }
        case 2:
            var i = 0
            while i + 16 <= count {
                let sum = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD16<UInt8>.self)
                    &+ UnsafeRawPointer(above + i).loadUnaligned(as: SIMD16<UInt8>.self)
                UnsafeMutableRawPointer(row + i).storeBytes(of: sum, as: SIMD16<UInt8>.self)
                i += 16
            }
            while i < count { row[i] &+= above[i]; i += 1 }
        case 3:
            for i in 0..<min(bpp, count) { row[i] &+= above[i] >> 1 }
            var i = bpp
            while i < count { row[i] &+= UInt8((UInt16(row[i - bpp]) + UInt16(above[i])) >> 1); i += 1 }
        case 4:
            // With no pixel to the left, Paeth's predictor is the byte above.
            for i in 0..<min(bpp, count) { row[i] &+= above[i] }
            var i = bpp
            while i < count {
                row[i] &+= paeth(row[i - bpp], above[i], above[i - bpp])
                i += 1
            }
        default:
            return false
        }
        return true
    }

    /// Paeth's predictor: of the left (`a`), upper (`b`) and upper-left (`c`) bytes, the one nearest a + b − c,
    /// preferring a, then b, on ties.
    @inline(__always)
    static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let a = Int16(a), b = Int16(b), c = Int16(c)
        let pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c)
        return UInt8(truncatingIfNeeded: pa <= pb && pa <= pc ? a : (pb <= pc ? b : c))
    }

    /// The big-endian 32-bit number at `p`.
    @inline(__always)
    static func be32(_ p: UnsafePointer<UInt8>) -> Int {
        Int(p[0]) << 24 | Int(p[1]) << 16 | Int(p[2]) << 8 | Int(p[3])
    }
}
