// PreparedDigit: a user's picture after MNIST's preparation, with the numbers that explain how it got there.

import DigitsTensor

/// A 28×28 digit prepared as MNIST's were, ink bright (1) on black (0), plus diagnostics of each step.
public struct PreparedDigit: Equatable, Sendable {
    /// The side of the square field: 28.
    public static let side = 28

    /// A rectangle in pixels, from its top-left corner.
    public struct Box: Equatable, Sendable {
        /// The left column.
        public var x: Int
        /// The top row.
        public var y: Int
        /// The number of columns.
        public var width: Int
        /// The number of rows.
        public var height: Int
    }

    /// The 784 intensities, row-major, in [0, 1]; ink is bright.
    public var pixels: [Float]
    /// True when the picture was dark ink on a light background and so was inverted.
    public var inverted: Bool
    /// The ink's bounding box in the source picture's pixels.
    public var boundingBox: Box
    /// Output pixels per source pixel in the size normalisation (the longer side of the box becomes 20).
    public var scale: Double
    /// The digit's box inside the 28×28 field after placement (its longer side is at most 20).
    public var placedBox: Box
    /// The intensity-weighted centre of mass in the field, as (column, row) pixel indices; near (14, 14).
    public var centreOfMass: (x: Double, y: Double)

    /// Equality of the pixels and every diagnostic.
    public static func == (a: PreparedDigit, b: PreparedDigit) -> Bool {
        a.pixels == b.pixels && a.inverted == b.inverted && a.boundingBox == b.boundingBox && a.scale == b.scale
            && a.placedBox == b.placedBox && a.centreOfMass == b.centreOfMass
    }

    /// The digit as a tensor of `shape` (default `[1, 1, 28, 28]`, NCHW; `[1, 784]` for a dense network).
    public func tensor(shape: [Int] = [1, 1, 28, 28]) -> Tensor {
        Tensor(shape: shape, values: pixels)
    }

    /// The digit as a 28×28 picture (ink white on black, as MNIST shows it).
    public var image: GrayImage {
        GrayImage(width: Self.side, height: Self.side, pixels: pixels)
    }

    /// 28 lines of 28 characters for a terminal, ink drawn dark-to-heavy (see `GrayImage.asciiArt`).
    public var asciiArt: String { image.asciiArt }

    /// The 28×28 digit as an 8-bit greyscale PNG file (ink white on black), for `--show-input`.
    public func pngData() throws -> [UInt8] {
        try image.pngData()
    }
}
