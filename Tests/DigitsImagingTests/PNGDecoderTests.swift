// PNGDecoder against libpng: PNGs written here by hand (every filter type, every 8-bit colour type, odd sizes)
// and by libpng; reduced decoding against a box average computed here; damaged image data; the PNGs that
// must still go to libpng.

import CDeflate
@testable import DigitsImaging
import XCTest

final class PNGDecoderTests: XCTestCase {
    // MARK: Writing PNGs by hand

    /// The PNG colour type of 8-bit pictures with `channels` samples per pixel (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA).
    static func colourType(_ channels: Int) -> UInt8 { [0, 0, 4, 2, 6][channels] }

    /// `count` deterministic pseudo-random bytes.
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = Fixtures.Noise(state: seed)
        return (0..<count).map { _ in UInt8(min(255, Int(rng.uniform() * 256))) }
    }

    /// The scanlines of `samples` (`width` pixels of `channels` bytes per row) as PNG stores them before
    /// compression: row y filtered with `filters[y % filters.count]` and preceded by that filter's type byte.
    static func filtered(_ samples: [UInt8], width: Int, height: Int, channels: Int, filters: [UInt8]) -> [UInt8] {
        let rowBytes = width * channels
        var out: [UInt8] = []
        for y in 0..<height {
            let type = filters[y % filters.count]
            out.append(type)
            for i in 0..<rowBytes {
                let x = Int(samples[y * rowBytes + i])
                let a = i >= channels ? Int(samples[y * rowBytes + i - channels]) : 0
                let b = y > 0 ? Int(samples[(y - 1) * rowBytes + i]) : 0
                let c = i >= channels && y > 0 ? Int(samples[(y - 1) * rowBytes + i - channels]) : 0
                let prediction: Int
                switch type {
                case 1: prediction = a
                case 2: prediction = b
                case 3: prediction = (a + b) / 2
                case 4:
                    // Paeth, written from the specification: the neighbour closest to a + b − c, ties to a, then b.
                    let p = a + b - c
                    let distances = [abs(p - a), abs(p - b), abs(p - c)]
                    prediction = distances[0] <= distances[1] && distances[0] <= distances[2] ? a : distances[1] <= distances[2] ? b : c
                default: prediction = 0
                }
                out.append(UInt8((x - prediction + 256) & 0xFF))
            }
        }
        return out
    }

    /// `data` compressed as a zlib stream by libdeflate.
    static func zlib(_ data: [UInt8]) -> [UInt8] {
        guard let compressor = libdeflate_alloc_compressor(6) else { return [] }
        defer { libdeflate_free_compressor(compressor) }
        var out = [UInt8](repeating: 0, count: libdeflate_zlib_compress_bound(compressor, data.count))
        let size = data.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { libdeflate_zlib_compress(compressor, input.baseAddress, input.count, $0.baseAddress, $0.count) }
        }
        return Array(out.prefix(size))
    }

    /// One chunk: length, type, data and the CRC of type and data.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeAndData = Array(type.utf8) + data
        let crc = typeAndData.withUnsafeBytes { libdeflate_crc32(0, $0.baseAddress, $0.count) }
        return be32(data.count) + typeAndData + be32(Int(crc))
    }

    static func be32(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8((v >> $0) & 0xFF) } }

    /// A PNG file: the signature, an IHDR, `chunks` as given (already framed by `chunk`), and an IEND.
    static func png(width: Int, height: Int, bitDepth: UInt8 = 8, colourType: UInt8, interlace: UInt8 = 0, _ chunks: [[UInt8]]) -> [UInt8] {
        let ihdr = be32(width) + be32(height) + [bitDepth, colourType, 0, 0, interlace]
        return PNGCodec.signature + chunk("IHDR", ihdr) + chunks.flatMap { $0 } + chunk("IEND", [])
    }

    /// An 8-bit PNG of `samples` filtered as `filters` says, its image data in one IDAT, with `before` chunks
    /// ahead of it.
    static func handmade(_ samples: [UInt8], width: Int, height: Int, channels: Int, filters: [UInt8] = [0, 1, 2, 3, 4],
                         before: [[UInt8]] = []) -> [UInt8] {
        let idat = zlib(filtered(samples, width: width, height: height, channels: channels, filters: filters))
        return png(width: width, height: height, colourType: colourType(channels), before + [chunk("IDAT", idat)])
    }

    // MARK: Checking

    /// The picture PNGDecoder makes of `png` (failing when it hands the file to libpng) and libpng's.
    func bothDecodings(_ png: [UInt8], reducingTo minimumSide: Int? = nil, file: StaticString = #filePath,
                       line: UInt = #line) throws -> (fast: GrayImage, libpng: GrayImage) {
        let structure = try PNGCodec.checkStructure(png, source: "t.png", limits: .default)
        let fast = try XCTUnwrap(try PNGDecoder.decode(png, structure, source: "t.png", reducingTo: minimumSide),
                                 "PNGDecoder handed the file to libpng", file: file, line: line)
        let libpng = try PNGCodec.decodeWithLibpng(png, width: structure.width, height: structure.height, source: "t.png")
        return (fast, libpng)
    }

    /// The average of each `k`×`k` block of `image`, those at the edges over the pixels they hold.
    func boxAverage(_ image: GrayImage, _ k: Int) -> GrayImage {
        let w = (image.width + k - 1) / k, h = (image.height + k - 1) / k
        var out = [Float](repeating: 0, count: w * h)
        for by in 0..<h {
            for bx in 0..<w {
                var sum = 0.0, n = 0
                for y in (by * k)..<min(by * k + k, image.height) {
                    for x in (bx * k)..<min(bx * k + k, image.width) { sum += Double(image[x, y]); n += 1 }
                }
                out[by * w + bx] = Float(sum / Double(n))
            }
        }
        return GrayImage(width: w, height: h, pixels: out)
    }

    /// Whether decoding `png` fails with `ImageError.corrupt` whose description names the file and contains `words`.
    func assertCorrupt(_ png: [UInt8], _ words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ImageDecoder.decode(png, source: "bad.png"), file: file, line: line) { error in
            guard case .corrupt(let source, .png, let detail)? = error as? ImageError else {
                return XCTFail("not a corrupt-PNG ImageError: \(error)", file: file, line: line)
            }
            XCTAssertEqual(source, "bad.png", file: file, line: line)
            XCTAssertTrue(detail.contains(words), "“\(detail)” does not say “\(words)”", file: file, line: line)
        }
    }

    // MARK: Tests

    func testEveryFilterAndColourTypeDecodesAsLibpngDoes() throws {
        for (width, height) in [(1, 1), (3, 5), (33, 17)] {
            for channels in 1...4 {
                let samples = Self.noise(width * height * channels, seed: UInt64(width * 10 + channels))
                for filters: [UInt8] in [[0], [1], [2], [3], [4], [4, 3, 2, 1, 0]] {
                    let png = Self.handmade(samples, width: width, height: height, channels: channels, filters: filters)
                    let (fast, libpng) = try bothDecodings(png)
                    XCTAssertEqual(fast, libpng, "\(width)x\(height), \(channels) channels, filters \(filters)")
                }
            }
        }
        // A photo-sized picture, a smooth ramp with noise, every filter by turns; through ImageDecoder.decode.
        let width = 641, height = 479
        for channels in 1...4 {
            let noise = Self.noise(width * height * channels, seed: 7)
            let samples = (0..<noise.count).map { UInt8(truncatingIfNeeded: ($0 / channels) % width / 3 + Int(noise[$0]) / 8) }
            let png = Self.handmade(samples, width: width, height: height, channels: channels)
            let (fast, libpng) = try bothDecodings(png)
            XCTAssertEqual(fast, libpng, "\(width)x\(height), \(channels) channels")
            XCTAssertEqual(try ImageDecoder.decode(png, source: "t.png"), libpng)
        }
    }

    func testPNGsWrittenByLibpngDecodeAsLibpngDoes() throws {
        // Large enough that libpng splits the image data over many IDAT chunks, and chooses its own filters.
        let noise = Self.noise(640 * 480 * 4, seed: 3)
        let grey = GrayImage(width: 640, height: 480, bytes: (0..<(640 * 480)).map { UInt8(truncatingIfNeeded: $0 % 640 / 4 + Int(noise[$0]) / 16) })
        var rgb = RGBImage(width: 33, height: 17)
        rgb.samples = Array(noise.prefix(33 * 17 * 3))
        let pngs = [try grey.pngData(), try rgb.pngData(),
                    Fixtures.png(width: 33, height: 17, channels: 2, samples: Array(noise.prefix(33 * 17 * 2))),
                    Fixtures.png(width: 640, height: 480, channels: 4, samples: noise)]
        for png in pngs {
            let (fast, libpng) = try bothDecodings(png)
            XCTAssertEqual(fast, libpng, "\(libpng.width)x\(libpng.height)")
        }
        XCTAssertEqual(try ImageDecoder.decode(pngs[0], source: "t.png"), grey)
    }

    func testReducedDecodingIsTheBoxAverage() throws {
        // 33x17: a minimum side of 17 allows halving, 9 quartering, 5 an eighth, 34 nothing.
        for channels in 1...4 {
            let png = Self.handmade(Self.noise(33 * 17 * channels, seed: 11), width: 33, height: 17, channels: channels)
            let full = try ImageDecoder.decode(png, source: "t.png")
            for (minimumSide, k) in [(17, 2), (9, 4), (5, 8), (34, 1)] {
                let reduced = try bothDecodings(png, reducingTo: minimumSide).fast
                let expected = boxAverage(full, k)
                XCTAssertEqual(reduced.width, expected.width); XCTAssertEqual(reduced.height, expected.height)
                for (r, e) in zip(reduced.pixels, expected.pixels) { XCTAssertEqual(r, e, accuracy: 1e-6, "\(channels) channels, k \(k)") }
            }
        }
        // A 641x479 photo asked for 160 px is read at a quarter, 161x120; a 640x480 one at 160x120, as a JPEG is.
        for channels in 1...4 {
            let png = Self.handmade(Self.noise(641 * 479 * channels, seed: 5), width: 641, height: 479, channels: channels)
            let reduced = try ImageDecoder.decode(png, source: "t.png", reducingTo: 160)
            let expected = boxAverage(try ImageDecoder.decode(png, source: "t.png"), 4)
            XCTAssertEqual(reduced.width, 161); XCTAssertEqual(reduced.height, 120)
            for (r, e) in zip(reduced.pixels, expected.pixels) { XCTAssertEqual(r, e, accuracy: 1e-6, "\(channels) channels") }
        }
        let samples = Self.noise(640 * 480, seed: 9)
        let png = Self.handmade(samples, width: 640, height: 480, channels: 1)
        let jpeg = Fixtures.jpeg(width: 640, height: 480, channels: 1, samples: samples)
        for file in [png, jpeg] {
            let reduced = try ImageDecoder.decode(file, source: "t", reducingTo: MNISTPreprocessor.workingSize)
            XCTAssertEqual(reduced.width, 160); XCTAssertEqual(reduced.height, 120)
        }
    }

    func testAReducedPhotoPreparesAsTheFullOneDoes() throws {
        // Dark ink on light, unevenly lit paper, 640x480, as the benchmark's photo.
        let width = 640, height = 480
        let cover = Fixtures.strokeCoverage(width: width, height: height, points: [(300, 90), (420, 90), (340, 400)], radius: 14)
        var photo = GrayImage(width: width, height: height)
        for y in 0..<height { for x in 0..<width { photo[x, y] = (0.85 + 0.1 * Float(x) / 640) * (1 - 0.85 * cover[y * width + x]) } }
        let png = try photo.pngData()
        let jpeg = try photo.jpegData(quality: 90)
        let full = try MNISTPreprocessor.prepare(try ImageDecoder.decode(png, source: "photo.png"))
        let fromPNG = try MNISTPreprocessor.prepare(try ImageDecoder.decode(png, source: "photo.png", reducingTo: 160))
        let fromJPEG = try MNISTPreprocessor.prepare(try ImageDecoder.decode(jpeg, source: "photo.jpg", reducingTo: 160))
        let pngDifference = zip(full.pixels, fromPNG.pixels).map { abs($0 - $1) }.max() ?? 1
        let jpegDifference = zip(full.pixels, fromJPEG.pixels).map { abs($0 - $1) }.max() ?? 1
        print("prepared 28x28 digit, largest difference from the full-size PNG's: reduced PNG \(pngDifference), reduced JPEG \(jpegDifference)")
        XCTAssertLessThan(pngDifference, 1e-4)
        XCTAssertLessThanOrEqual(pngDifference, jpegDifference)
    }

    func testDamagedImageDataIsAClearError() throws {
        let width = 7, height = 5, channels = 3
        let samples = Self.noise(width * height * channels, seed: 1)
        let raw = Self.filtered(samples, width: width, height: height, channels: channels, filters: [1, 2, 3, 4, 0])
        func file(_ idat: [UInt8]) -> [UInt8] { Self.png(width: width, height: height, colourType: 2, [Self.chunk("IDAT", idat)]) }
        XCTAssertNoThrow(try ImageDecoder.decode(file(Self.zlib(raw)), source: "good.png"))

        var badFilter = raw
        badFilter[3 * (1 + width * channels)] = 5
        assertCorrupt(file(Self.zlib(badFilter)), "row 3 (counting from 0) has filter type 5")
        assertCorrupt(file(Self.zlib(Array(raw.dropLast()))), "inflates to \(raw.count - 1) bytes")
        assertCorrupt(file(Self.zlib(raw + [0])), "inflates to more than the \(raw.count) bytes")
        var badAdler = Self.zlib(raw)
        badAdler[badAdler.count - 1] ^= 1
        assertCorrupt(file(badAdler), "not a valid zlib stream")
        var badMethod = Self.zlib(raw)
        badMethod[0] = 0x0F
        assertCorrupt(file(badMethod), "not a valid zlib stream")
        assertCorrupt(file([]), "0 bytes of image data cannot hold")

        // A wrong CRC: the IDAT's last byte (the file ends with IEND's 12 bytes).
        var badCRC = file(Self.zlib(raw))
        badCRC[badCRC.count - 13] ^= 0x80
        assertCorrupt(badCRC, "the IDAT chunk at byte 33 fails its CRC check")
    }

    func testOtherPNGsStillGoToLibpng() throws {
        func handled(_ png: [UInt8]) throws -> Bool {
            try PNGDecoder.channels(png, PNGCodec.checkStructure(png, source: "t.png", limits: .default)) != nil
        }
        let grey = Self.noise(15, seed: 2)
        let idat = Self.chunk("IDAT", Self.zlib(Self.filtered(grey, width: 3, height: 5, channels: 1, filters: [0])))
        XCTAssertTrue(try handled(Self.png(width: 3, height: 5, colourType: 0, [idat])))

        // Transparency by colour key: libpng's, and the keyed pixels come out white.
        let keyed = Self.png(width: 3, height: 5, colourType: 0, [Self.chunk("tRNS", [0, grey[4]]), idat])
        XCTAssertFalse(try handled(keyed))
        XCTAssertEqual(try ImageDecoder.decode(keyed, source: "t.png")[1, 1], 1)
        // sRGB's gamma changes nothing and stays on the fast path (to libpng's pixels); a linear gamma does not.
        let sRGB = Self.png(width: 3, height: 5, colourType: 0, [Self.chunk("gAMA", Self.be32(45455)), idat])
        let (fast, libpng) = try bothDecodings(sRGB)
        XCTAssertEqual(fast, libpng)
        XCTAssertFalse(try handled(Self.png(width: 3, height: 5, colourType: 0, [Self.chunk("gAMA", Self.be32(100_000)), idat])))
        // Sixteen bits, interlacing, a palette, image data split by another chunk, an unknown critical chunk.
        XCTAssertFalse(try handled(Self.png(width: 3, height: 5, bitDepth: 16, colourType: 0, [idat])))
        XCTAssertFalse(try handled(Self.png(width: 3, height: 5, colourType: 0, interlace: 1, [idat])))
        XCTAssertFalse(try handled(Self.png(width: 3, height: 5, colourType: 3, [Self.chunk("PLTE", [0, 0, 0]), idat])))
        XCTAssertFalse(try handled(Self.png(width: 3, height: 5, colourType: 0, [idat, Self.chunk("tEXt", Array("a\0b".utf8)), idat])))
        XCTAssertFalse(try handled(Self.png(width: 3, height: 5, colourType: 0, [Self.chunk("ABCD", []), idat])))
        // A text chunk, and a suggested palette for an RGB picture, change nothing.
        let rgb = Self.handmade(Self.noise(45, seed: 4), width: 3, height: 5, channels: 3,
                                before: [Self.chunk("tEXt", Array("a\0b".utf8)), Self.chunk("PLTE", [0, 0, 0])])
        let (fastRGB, libpngRGB) = try bothDecodings(rgb)
        XCTAssertEqual(fastRGB, libpngRGB)
    }
}
