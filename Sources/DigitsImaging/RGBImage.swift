// RGBImage: a colour picture that digits draws (charts, heat maps, filter sheets) and writes as PNG.

/// A colour picture: `width × height` pixels of three 8-bit samples (red, green, blue), row-major from the top.
public struct RGBImage: Equatable, Sendable {
    /// The number of columns.
    public let width: Int
    /// The number of rows.
    public let height: Int
    /// The samples, `r, g, b` per pixel, row by row; `samples.count == width * height * 3`.
    public var samples: [UInt8]

    /// A picture of the given size filled with one colour (white by default).
    public init(width: Int, height: Int, fill: RGB = .white) {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)x\(height)")
        self.width = width
        self.height = height
        samples = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            samples[3 * i] = fill.r
            samples[3 * i + 1] = fill.g
            samples[3 * i + 2] = fill.b
        }
    }

    /// The colour at column `x`, row `y`; writes outside the picture are ignored, reads outside are black.
    public subscript(x: Int, y: Int) -> RGB {
        get {
            guard x >= 0, y >= 0, x < width, y < height else { return .black }
            let i = 3 * (y * width + x)
            return RGB(samples[i], samples[i + 1], samples[i + 2])
        }
        set {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let i = 3 * (y * width + x)
            samples[i] = newValue.r
            samples[i + 1] = newValue.g
            samples[i + 2] = newValue.b
        }
    }

    /// This picture encoded as an 8-bit RGB PNG file, written by libpng.
    public func pngData() throws -> [UInt8] {
        try PNGCodec.encode(self)
    }
}

/// One colour as 8-bit red, green and blue.
public struct RGB: Equatable, Hashable, Sendable {
    /// Red, 0-255.
    public var r: UInt8
    /// Green, 0-255.
    public var g: UInt8
    /// Blue, 0-255.
    public var b: UInt8

    /// The colour with these samples.
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    /// Black.
    public static let black = RGB(0, 0, 0)
    /// White.
    public static let white = RGB(255, 255, 255)

    /// The colour a fraction `t` (0...1) of the way from `self` to `other`.
    public func mixed(with other: RGB, _ t: Double) -> RGB {
        let t = t.isNaN ? 0 : min(max(t, 0), 1)
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) + (Double(b) - Double(a)) * t).rounded()) }
        return RGB(mix(r, other.r), mix(g, other.g), mix(b, other.b))
    }

    /// `#rrggbb`, as CSS writes it.
    public var hex: String {
        let digits = Array("0123456789abcdef")
        return "#" + [r, g, b].map { String([digits[Int($0 >> 4)], digits[Int($0 & 15)]]) }.joined()
    }
}
