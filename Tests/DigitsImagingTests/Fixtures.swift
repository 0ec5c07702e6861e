// Test fixtures: pictures the tests make themselves, encoded by libpng/libjpeg or written by hand.

import CPNG
@testable import DigitsImaging
import XCTest

enum Fixtures {
    /// A deterministic generator for noise (64-bit LCG), so failures reproduce.
    struct Noise {
        var state: UInt64
        mutating func uniform() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        /// Approximately normal (sum of four uniforms), mean 0, standard deviation `sigma`.
        mutating func normal(_ sigma: Float) -> Float {
            (uniform() + uniform() + uniform() + uniform() - 2) * sigma * 1.732
        }
    }

    /// Ink coverage in [0, 1] of a pen of `radius` along `points` (a polyline), anti-aliased.
    static func strokeCoverage(width: Int, height: Int, points: [(Float, Float)], radius: Float) -> [Float] {
        var cover = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let px = Float(x) + 0.5, py = Float(y) + 0.5
                var d = Float.infinity
                for s in 0..<(points.count - 1) {
                    let (ax, ay) = points[s], (bx, by) = points[s + 1]
                    let vx = bx - ax, vy = by - ay
                    let t = max(0, min(1, ((px - ax) * vx + (py - ay) * vy) / (vx * vx + vy * vy)))
                    let dx = px - (ax + t * vx), dy = py - (ay + t * vy)
                    d = min(d, (dx * dx + dy * dy).squareRoot())
                }
                cover[y * width + x] = max(0, min(1, radius + 0.5 - d))
            }
        }
        return cover
    }

    /// A "7"-like stroke, off-centre in a 200×150 canvas, as coverage.
    static func sevenCoverage() -> [Float] {
        strokeCoverage(width: 200, height: 150,
                       points: [(115, 25), (170, 25), (140, 120)], radius: 4)
    }

    /// An 8-bit PNG written by libpng from interleaved samples (`channels` 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA).
    static func png(width: Int, height: Int, channels: Int, samples: [UInt8]) -> [UInt8] {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        let formats: [UInt32] = [0, UInt32(PNG_FORMAT_GRAY), UInt32(PNG_FORMAT_FLAG_ALPHA),
                                 UInt32(PNG_FORMAT_FLAG_COLOR), UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)]
        image.format = formats[channels]
        var size: png_alloc_size_t = 0
        _ = samples.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        var out = [UInt8](repeating: 0, count: Int(size))
        _ = out.withUnsafeMutableBytes { dst in
            samples.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        png_image_free(&image)
        return Array(out.prefix(Int(size)))
    }

    /// A JPEG written by libjpeg's compressor (quality 95) from 8-bit grey (1 channel) or RGB (3 channels).
    static func jpeg(width: Int, height: Int, channels: Int, samples: [UInt8], progressive: Bool = false) -> [UInt8] {
        // The sizes are the tests' own, so a refusal is a broken test.
        try! JPEGEncoder.encode(width: width, height: height, channels: channels, samples: samples, quality: 95,
                                progressive: progressive)
    }

    /// The offset of the first occurrence of `marker` (0xFF, marker) in a JPEG.
    static func markerOffset(_ jpeg: [UInt8], _ marker: UInt8) -> Int? {
        (0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == marker }
    }
}
