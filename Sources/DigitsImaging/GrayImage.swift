// GrayImage: the one picture type of DigitsImaging, a grid of grey levels that every decoder produces
// and the MNIST preprocessor consumes.

import DigitsTensor

/// A greyscale picture: `width × height` intensities as `Float` in [0, 1], row-major (the x index varies fastest),
/// where 0 is black and 1 is white, as the picture looks to a person (no inversion).
public struct GrayImage: Equatable, Sendable {
    /// The number of columns.
    public let width: Int
    /// The number of rows.
    public let height: Int
    /// The intensities, row by row from the top; `pixels.count == width * height`, each in [0, 1].
    public var pixels: [Float]

    /// A picture of the given size holding `pixels` row-major; values are clamped to [0, 1].
    public init(width: Int, height: Int, pixels: [Float]) {
        precondition(width >= 0 && height >= 0, "GrayImage: negative size \(width)x\(height)")
        precondition(pixels.count == width * height,
                     "GrayImage: \(pixels.count) pixels do not fill \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels.map { $0.isNaN ? 0 : min(max($0, 0), 1) }
    }

    /// A picture of the given size with every pixel set to `value` (white by default).
    public init(width: Int, height: Int, repeating value: Float = 1) {
        precondition(width >= 0 && height >= 0, "GrayImage: negative size \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = [Float](repeating: min(max(value, 0), 1), count: width * height)
    }

    /// The intensity at column `x`, row `y` (both from the top-left corner).
    @inlinable public subscript(x: Int, y: Int) -> Float {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// The pixels as 8-bit grey levels (0 black, 255 white), rounded to nearest.
    public var bytes: [UInt8] {
        pixels.map { UInt8(clamping: Int(($0 * 255).rounded())) }
    }

    /// A picture from 8-bit grey levels (0 black, 255 white), row-major.
    public init(width: Int, height: Int, bytes: [UInt8]) {
        precondition(bytes.count == width * height,
                     "GrayImage: \(bytes.count) bytes do not fill \(width)x\(height)")
        self.width = width
        self.height = height
        var pixels = [Float](repeating: 0, count: bytes.count)
        bytes.withUnsafeBufferPointer { b in
            pixels.withUnsafeMutableBufferPointer { p in
                guard let from = b.baseAddress, let to = p.baseAddress else { return }
                Kernels.levels(from, to, count: b.count)
            }
        }
        self.pixels = pixels
    }

    /// A picture holding `pixels` that the caller has made sure are in [0, 1] already (decoders).
    init(width: Int, height: Int, unitPixels pixels: [Float]) {
        precondition(pixels.count == width * height, "GrayImage: \(pixels.count) pixels do not fill \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// This picture encoded as an 8-bit greyscale PNG file, written by libpng.
    public func pngData() throws -> [UInt8] {
        try PNGCodec.encode(self)
    }

    /// One line of characters per row, from " " (intensity 0) through ".:-=+*#%" to "@" (intensity 1), for a
    /// terminal; MNIST digits (ink bright) come out as ink drawn in heavy characters.
    public var asciiArt: String {
        let ramp = Array(" .:-=+*#%@")
        var lines: [String] = []
        for y in 0..<height {
            var line = ""
            for x in 0..<width {
                line.append(ramp[min(ramp.count - 1, Int((self[x, y] * Float(ramp.count - 1)).rounded()))])
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// This picture as a binary PGM (P5) file with maxval 255; the simplest format to open in any viewer.
    public func pgmData() -> [UInt8] {
        Array("P5\n\(width) \(height)\n255\n".utf8) + bytes
    }
}
