// Decoders on pictures made by the tests, and every malformed case we can think of.

import DigitsImaging
import Foundation
import XCTest

final class DecoderTests: XCTestCase {
    /// A 7×5 ramp of grey levels.
    let rampW = 7, rampH = 5
    var ramp: [UInt8] { (0..<35).map { UInt8($0 * 7) } }

    func assertError(_ bytes: [UInt8], limits: ImageLimits = .default, file: StaticString = #filePath, line: UInt = #line,
                     _ check: (ImageError) -> Bool) {
        do {
            let image = try ImageDecoder.decode(bytes, source: "test.bin", limits: limits)
            XCTFail("decoded \(image.width)x\(image.height), expected an error", file: file, line: line)
        } catch let error as ImageError {
            XCTAssertTrue(check(error), "unexpected error: \(error)", file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix("test.bin: ") || error.description.contains("test.bin"), file: file, line: line)
        } catch {
            XCTFail("not an ImageError: \(error)", file: file, line: line)
        }
    }

    // MARK: Netpbm

    func testBinaryPGM() throws {
        let file = Array("P5\n# made by hand\n7 5\n255\n".utf8) + ramp
        let image = try ImageDecoder.decode(file, source: "ramp.pgm")
        XCTAssertEqual(image.width, 7); XCTAssertEqual(image.height, 5)
        XCTAssertEqual(image.bytes, ramp)
    }

    func testASCIIPGMAndSixteenBit() throws {
        let ascii = Array("P2 3 1 # comment\n 4\n0 2 4\n".utf8)
        XCTAssertEqual(try ImageDecoder.decode(ascii, source: "a.pgm").pixels, [0, 0.5, 1])
        let wide = Array("P5 2 1 65535\n".utf8) + [0xFF, 0xFF, 0x80, 0x00]
        let image = try ImageDecoder.decode(wide, source: "w.pgm")
        XCTAssertEqual(image.pixels[0], 1)
        XCTAssertEqual(image.pixels[1], Float(0x8000) / 65535, accuracy: 1e-6)
    }

    func testPPMUsesLuminance() throws {
        let binary = Array("P6 3 1 255\n".utf8) + [255, 0, 0, 0, 255, 0, 0, 0, 255]
        let ascii = Array("P3 3 1 255 255 0 0  0 255 0  0 0 255".utf8)
        for file in [binary, ascii] {
            let image = try ImageDecoder.decode(file, source: "rgb.ppm")
            XCTAssertEqual(image.pixels[0], 0.299, accuracy: 1e-5)
            XCTAssertEqual(image.pixels[1], 0.587, accuracy: 1e-5)
            XCTAssertEqual(image.pixels[2], 0.114, accuracy: 1e-5)
        }
    }

    func testMalformedNetpbm() {
        assertError(Array("P5 2 2 0\n".utf8) + [0, 0, 0, 0]) { if case .corrupt = $0 { true } else { false } }
        assertError(Array("P5 2 2 255\n".utf8) + [0, 0, 0]) { if case .truncated = $0 { true } else { false } }
        assertError(Array("P2 2 2 255\n1 2 3".utf8)) { if case .truncated = $0 { true } else { false } }
        assertError(Array("P2 2 1 10\n1 11".utf8)) { if case .corrupt = $0 { true } else { false } }
        assertError(Array("P5 0 3 255\n".utf8)) { if case .zeroSize = $0 { true } else { false } }
        assertError(Array("P5 2 x 255\n".utf8)) { if case .corrupt = $0 { true } else { false } }
        assertError(Array("P5 100000 100000 255\n".utf8)) { if case .tooLarge = $0 { true } else { false } }
        assertError(Array("P5 2".utf8)) { if case .truncated = $0 { true } else { false } }
    }

    func testNetpbmHeaderAloneClaimingMillionsOfPixelsIsTruncated() {
        // 17 bytes claiming 6324×6324 colour pixels (480 MB as floats): refused from the bytes that are
        // there, before anything the size of the claim is allocated; binary and ASCII alike.
        for header in ["P6 6324 6324 255", "P6 6324 6324 255\n", "P3 6324 6324 255\n1 2 3", "P2 4000 4000 65535 7"] {
            assertError(Array(header.utf8)) { if case .truncated = $0 { true } else { false } }
        }
        // Just enough ASCII for the samples claimed still decodes.
        XCTAssertEqual(try ImageDecoder.decode(Array("P2 2 1 9\n1 9".utf8), source: "tiny.pgm").pixels, [Float(1) / 9, 1])
    }

    // MARK: PNG

    func testGreyPNGRoundTrip() throws {
        let image = GrayImage(width: rampW, height: rampH, bytes: ramp)
        let png = try image.pngData()
        XCTAssertEqual(ImageDecoder.sniff(png), .png)
        XCTAssertEqual(try ImageDecoder.decode(png, source: "ramp.png"), image)
    }

    func testColourPNGWithAlphaOnWhite() throws {
        // Pure red opaque, pure blue opaque, black fully transparent, black half transparent.
        let rgba: [UInt8] = [255, 0, 0, 255, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0, 0, 128]
        let image = try ImageDecoder.decode(Fixtures.png(width: 4, height: 1, channels: 4, samples: rgba), source: "c.png")
        XCTAssertEqual(image.pixels[0], 0.299, accuracy: 0.003)
        XCTAssertEqual(image.pixels[1], 0.114, accuracy: 0.003)
        XCTAssertEqual(image.pixels[2], 1, accuracy: 0.003)
        XCTAssertEqual(image.pixels[3], 1 - 128.0 / 255, accuracy: 0.01)
    }

    func testMalformedPNG() throws {
        let png = try GrayImage(width: 40, height: 30, bytes: [UInt8](repeating: 90, count: 1200)).pngData()
        // Truncated at several places.
        for cut in [10, 30, png.count / 2, png.count - 5] {
            assertError(Array(png.prefix(cut))) { if case .truncated = $0 { true } else { false } }
        }
        // A damaged IDAT (CRC and data): libpng's own error, reported as corrupt.
        var damaged = png
        let idat = (0..<(png.count - 4)).first { Array(png[$0..<($0 + 4)]) == Array("IDAT".utf8) } ?? 0
        for i in (idat + 6)..<(idat + 12) { damaged[i] ^= 0x5A }
        assertError(damaged) { if case .corrupt = $0 { true } else { false } }
        // Damaged signature.
        var signature = png
        signature[1] = 0
        assertError(signature) { if case .unknownFormat = $0 { true } else { false } }
    }

    func testPNGClaimingHugeSizeFailsFast() throws {
        var png = try GrayImage(width: 2, height: 2, bytes: [0, 0, 0, 0]).pngData()
        // IHDR width and height to 100000 (the CRC is now wrong too: we must refuse before libpng reads it).
        for (offset, value) in [(16, 100_000), (20, 100_000)] {
            for k in 0..<4 { png[offset + k] = UInt8((value >> (24 - 8 * k)) & 0xFF) }
        }
        let start = Date()
        assertError(png) { if case .tooLarge = $0 { true } else { false } }
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.05)
        // And a zero width.
        for k in 0..<4 { png[16 + k] = 0 }
        assertError(png) { if case .zeroSize = $0 { true } else { false } }
    }

    // MARK: JPEG

    func testGreyAndColourJPEG() throws {
        let w = 48, h = 32
        var grey = [UInt8](repeating: 0, count: w * h)
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                grey[y * w + x] = UInt8(x * 5)
                rgb[3 * (y * w + x)] = UInt8(x * 5); rgb[3 * (y * w + x) + 1] = UInt8(y * 7); rgb[3 * (y * w + x) + 2] = 100
            }
        }
        for progressive in [false, true] {
            let g = try ImageDecoder.decode(Fixtures.jpeg(width: w, height: h, channels: 1, samples: grey, progressive: progressive), source: "g.jpg")
            XCTAssertEqual(g.width, w); XCTAssertEqual(g.height, h)
            let gError = zip(g.bytes, grey).map { abs(Int($0) - Int($1)) }.max() ?? 99
            XCTAssertLessThanOrEqual(gError, 6)
            let c = try ImageDecoder.decode(Fixtures.jpeg(width: w, height: h, channels: 3, samples: rgb, progressive: progressive), source: "c.jpg")
            var total: Float = 0
            for p in 0..<(w * h) {
                let y = (0.299 * Float(rgb[3 * p]) + 0.587 * Float(rgb[3 * p + 1]) + 0.114 * Float(rgb[3 * p + 2])) / 255
                total += abs(c.pixels[p] - y)
            }
            XCTAssertLessThan(total / Float(w * h), 0.02)
        }
    }

    func testLargeJPEGDecodesReducedWhenAsked() throws {
        // A 640x480 picture: left half dark, right half light.
        let w = 640, h = 480
        let samples = (0..<(w * h)).map { UInt8($0 % w < w / 2 ? 30 : 220) }
        let jpeg = Fixtures.jpeg(width: w, height: h, channels: 1, samples: samples)
        let full = try ImageDecoder.decode(jpeg, source: "big.jpg")
        XCTAssertEqual([full.width, full.height], [640, 480])
        // 640 / 2 = 320 ≥ 200 but 640 / 4 = 160 < 200: halved.
        let half = try ImageDecoder.decode(jpeg, source: "big.jpg", reducingTo: 200)
        XCTAssertEqual([half.width, half.height], [320, 240])
        XCTAssertEqual(try ImageDecoder.decode(jpeg, source: "big.jpg", reducingTo: 80).width, 80)       // the most: 1/8
        XCTAssertEqual(try ImageDecoder.decode(jpeg, source: "big.jpg", reducingTo: 1000).width, 640)    // never enlarged
        // The reduced picture is the same picture: each half pixel is the mean of its 2x2 block, near enough.
        var worst: Float = 0
        for y in stride(from: 4, to: 236, by: 7) {
            for x in stride(from: 4, to: 316, by: 7) where abs(x - 160) > 4 {
                let mean = (full[2 * x, 2 * y] + full[2 * x + 1, 2 * y] + full[2 * x, 2 * y + 1] + full[2 * x + 1, 2 * y + 1]) / 4
                worst = max(worst, abs(half[x, y] - mean))
            }
        }
        XCTAssertLessThan(worst, 0.03)
    }

    func sampleJPEG() -> [UInt8] {
        Fixtures.jpeg(width: 16, height: 16, channels: 1, samples: (0..<256).map { UInt8($0) })
    }

    func testMalformedJPEGHeaders() throws {
        let jpeg = sampleJPEG()
        let sof = try XCTUnwrap(Fixtures.markerOffset(jpeg, 0xC0))
        let dht = try XCTUnwrap(Fixtures.markerOffset(jpeg, 0xC4))
        let sos = try XCTUnwrap(Fixtures.markerOffset(jpeg, 0xDA))
        // Truncated: in the header, and in the scan data.
        assertError(Array(jpeg.prefix(sof + 6))) { if case .truncated = $0 { true } else { false } }
        assertError(Array(jpeg.prefix(jpeg.count - 10))) { if case .truncated = $0 { true } else { false } }
        assertError(Array(jpeg.prefix(3))) { if case .truncated = $0 { true } else { false } }
        // 12-bit precision.
        var precision = jpeg; precision[sof + 4] = 12
        assertError(precision) { if case .unsupported = $0 { true } else { false } }
        // Zero height.
        var zero = jpeg; zero[sof + 5] = 0; zero[sof + 6] = 0
        assertError(zero) { if case .zeroSize = $0 { true } else { false } }
        // Huge size from the header.
        var huge = jpeg; huge[sof + 5] = 0xFF; huge[sof + 6] = 0xFF; huge[sof + 7] = 0xFF; huge[sof + 8] = 0xFF
        assertError(huge) { if case .tooLarge = $0 { true } else { false } }
        // Over-subscribed Huffman table: every count 255.
        var huffman = jpeg
        for i in (dht + 5)..<(dht + 21) { huffman[i] = 255 }
        assertError(huffman) { if case .corrupt = $0 { true } else { false } }
        // A scan naming a component the frame does not have.
        var component = jpeg; component[sos + 5] = 9
        assertError(component) { if case .corrupt = $0 { true } else { false } }
        // Sampling factor 0.
        var sampling = jpeg; sampling[sof + 11] = 0x01
        assertError(sampling) { if case .corrupt = $0 { true } else { false } }
        // Unknown marker in the header.
        var unknown = jpeg; unknown[dht + 1] = 0xC8
        assertError(unknown) { if case .corrupt = $0 { true } else { false } }
        // No EOI at all but otherwise whole: truncated.
        assertError(Array(jpeg.dropLast(2))) { if case .truncated = $0 { true } else { false } }
    }

    /// Issue 24's scan bomb: a 30 KB progressive JPEG whose 6000×6000 frame is followed by 3,000 empty scans
    /// (each a pass over the whole frame: about 16 s of decoding). Its scans are counted and it is refused
    /// before libjpeg sees it; a progressive file with a normal number of scans still decodes.
    static func scanBomb(width: Int, height: Int, scans: Int) -> [UInt8] {
        func segment(_ marker: UInt8, _ payload: [UInt8]) -> [UInt8] {
            [0xFF, marker, UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 0xFF)] + payload
        }
        var j: [UInt8] = [0xFF, 0xD8]
        j += segment(0xDB, [0] + [UInt8](repeating: 1, count: 64))
        j += segment(0xC2, [8, UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF), 1, 1, 0x11, 0])
        j += segment(0xC4, [0x00, 1] + [UInt8](repeating: 0, count: 15) + [0])
        j += segment(0xC4, [0x10, 1] + [UInt8](repeating: 0, count: 15) + [0])
        j += segment(0xDA, [1, 1, 0, 0, 0, 0])
        for _ in 1..<scans { j += segment(0xDA, [1, 1, 0, 1, 0x3F, 0]) }
        return j + [0xFF, 0xD9]
    }

    func testJPEGWithThousandsOfScansIsRefusedBeforeDecoding() throws {
        let bomb = Self.scanBomb(width: 6000, height: 6000, scans: 3000)
        XCTAssertLessThan(bomb.count, 31_000)
        assertError(bomb) { error in
            guard case .tooLarge(_, let what, let limit) = error else { return false }
            return what.contains("more than 100 scans") && limit.contains("100 scans")
        }
        // The cap is a limit like the others: a caller may lower it, and a file at the cap passes the count.
        let tight = ImageLimits(maxEncodedBytes: 1 << 20, maxPixels: 1 << 20, maxJPEGScans: 5)
        XCTAssertThrowsError(try ImageDecoder.decode(Self.scanBomb(width: 64, height: 64, scans: 6), source: "b.jpg", limits: tight))
        XCTAssertEqual(try ImageDecoder.decode(Self.scanBomb(width: 64, height: 64, scans: 5), source: "b.jpg", limits: tight).width, 64)
        // libjpeg's own progressive script (6 scans for grey, 10 for colour) is well within the default.
        let progressive = Fixtures.jpeg(width: 32, height: 32, channels: 3, samples: [UInt8](repeating: 90, count: 32 * 32 * 3),
                                        progressive: true)
        XCTAssertEqual(try ImageDecoder.decode(progressive, source: "p.jpg").width, 32)
    }

    /// A fault only libjpeg notices (width 65535 > its 65500 maximum) goes through the error_exit fallback.
    func testLibjpegFatalErrorIsReportedNotFatal() throws {
        var jpeg = sampleJPEG()
        let sof = try XCTUnwrap(Fixtures.markerOffset(jpeg, 0xC0))
        jpeg[sof + 7] = 0xFF; jpeg[sof + 8] = 0xFF
        assertError(jpeg) { error in
            if case .corrupt(_, .jpeg, let detail) = error { return detail.contains("libjpeg") } else { return false }
        }
        // And the decoder still works afterwards, many times over (no leaked state, no crash).
        for _ in 0..<50 { assertError(jpeg) { _ in true } }
        XCTAssertEqual(try ImageDecoder.decode(sampleJPEG(), source: "ok.jpg").width, 16)
    }

    func testCorruptScanDataDecodesTolerantly() throws {
        var jpeg = Fixtures.jpeg(width: 64, height: 64, channels: 1, samples: [UInt8](repeating: 128, count: 4096))
        let sos = try XCTUnwrap(Fixtures.markerOffset(jpeg, 0xDA))
        for i in (sos + 20)..<min(jpeg.count - 4, sos + 60) where jpeg[i] != 0xFF && jpeg[i] ^ 0x3C != 0xFF { jpeg[i] ^= 0x3C }
        let image = try ImageDecoder.decode(jpeg, source: "noisy.jpg")
        XCTAssertEqual(image.width, 64)
    }

    func testExifOrientationRotates() throws {
        // A 2×1 grey JPEG (left black, right white) tagged "rotate 90° clockwise" becomes 1×2, black on top.
        let base = Fixtures.jpeg(width: 16, height: 8, channels: 1,
                                 samples: (0..<128).map { $0 % 16 < 8 ? 0 : 255 })
        let tiff: [UInt8] = [0x4D, 0x4D, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]
        let payload = Array("Exif".utf8) + [0, 0] + tiff
        let app1: [UInt8] = [0xFF, 0xE1, UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 0xFF)] + payload
        let tagged = Array(base.prefix(2)) + app1 + Array(base.dropFirst(2))
        let image = try ImageDecoder.decode(tagged, source: "phone.jpg")
        XCTAssertEqual(image.width, 8); XCTAssertEqual(image.height, 16)
        XCTAssertLessThan(image[3, 2], 0.1)
        XCTAssertGreaterThan(image[3, 13], 0.9)
    }

    // MARK: Sniffing

    func testEmptyUnknownAndOversizedInputs() {
        assertError([]) { if case .empty = $0 { true } else { false } }
        assertError(Array("GIF89a........".utf8)) { error in
            if case .unknownFormat(_, let d) = error { d.contains("GIF") } else { false }
        }
        assertError([1, 2, 3]) { if case .unknownFormat = $0 { true } else { false } }
        assertError([UInt8](repeating: 0, count: 100), limits: ImageLimits(maxEncodedBytes: 50, maxPixels: 10)) {
            if case .tooLarge = $0 { true } else { false }
        }
    }
}
