// Canvas: the drawing primitives every chart is made of (rectangles, lines, text, value grids), over an RGBImage.

import DigitsImaging

/// Where a piece of text sits relative to the x coordinate it is drawn at.
public enum TextAnchor: Sendable {
    /// The text starts at x.
    case left
    /// The text is centred on x.
    case center
    /// The text ends at x.
    case right
}

/// A colour picture being drawn on; coordinates are pixels from the top-left corner, and anything
/// drawn outside the picture is clipped.
public struct Canvas: Sendable {
    /// The pixels drawn so far.
    public private(set) var image: RGBImage

    /// A blank canvas of the given size.
    public init(width: Int, height: Int, background: RGB = .white) {
        image = RGBImage(width: width, height: height, fill: background)
    }

    /// The canvas's width in pixels.
    public var width: Int { image.width }
    /// The canvas's height in pixels.
    public var height: Int { image.height }

    /// Fills the rectangle with top-left corner (`x`, `y`) and the given size.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: RGB) {
        let x0 = max(x, 0), y0 = max(y, 0), x1 = min(x + w, width), y1 = min(y + h, height)
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 { for xx in x0..<x1 { image[xx, yy] = color } }
    }

    /// Draws the outline of a rectangle, one pixel wide.
    public mutating func stroke(x: Int, y: Int, width w: Int, height h: Int, color: RGB) {
        fill(x: x, y: y, width: w, height: 1, color: color)
        fill(x: x, y: y + h - 1, width: w, height: 1, color: color)
        fill(x: x, y: y, width: 1, height: h, color: color)
        fill(x: x + w - 1, y: y, width: 1, height: h, color: color)
    }

    /// Draws a straight line from (`x0`, `y0`) to (`x1`, `y1`) with a square pen `thickness` pixels wide
    /// (Bresenham's algorithm, stepping one pixel at a time along the longer axis).
    public mutating func line(from p0: (x: Int, y: Int), to p1: (x: Int, y: Int), color: RGB, thickness: Int = 1) {
        var (x, y) = p0
        let dx = abs(p1.x - x), dy = -abs(p1.y - y)
        let sx = x < p1.x ? 1 : -1, sy = y < p1.y ? 1 : -1
        var error = dx + dy
        let half = (thickness - 1) / 2
        while true {
            fill(x: x - half, y: y - half, width: thickness, height: thickness, color: color)
            if x == p1.x && y == p1.y { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }

    /// Draws `text` in the built-in 5x7 font, each font pixel `scale` pixels square, with its top at `y`.
    public mutating func text(_ text: String, x: Int, y: Int, scale: Int = 2, color: RGB = .black, anchor: TextAnchor = .left) {
        let w = BitmapFont.width(of: text, scale: scale)
        var left: Int
        switch anchor {
        case .left: left = x
        case .center: left = x - w / 2
        case .right: left = x - w
        }
        for character in text {
            for row in 0..<BitmapFont.glyphHeight {
                for column in 0..<BitmapFont.glyphWidth where BitmapFont.isInked(character, column: column, row: row) {
                    fill(x: left + column * scale, y: y + row * scale, width: scale, height: scale, color: color)
                }
            }
            left += BitmapFont.advance * scale
        }
    }

    /// Draws a `columns × rows` grid of values (row-major) with each value a `cell`-pixel square coloured by `colormap`.
    public mutating func grid(_ values: [Float], columns: Int, rows: Int, x: Int, y: Int, cell: Int, colormap: Colormap) {
        precondition(values.count == columns * rows, "Canvas.grid: \(values.count) values for \(columns)x\(rows)")
        for r in 0..<rows {
            for c in 0..<columns {
                fill(x: x + c * cell, y: y + r * cell, width: cell, height: cell, color: colormap.color(values[r * columns + c]))
            }
        }
    }

    /// Copies `other` onto this canvas with its top-left corner at (`x`, `y`).
    public mutating func draw(_ other: Canvas, x: Int, y: Int) {
        for yy in 0..<other.height { for xx in 0..<other.width { image[x + xx, y + yy] = other.image[xx, yy] } }
    }

    /// The canvases one under another, left-aligned, on a canvas as wide as the widest.
    public static func stacked(_ parts: [Canvas], gap: Int = 8, background: RGB = .white) -> Canvas {
        let width = parts.map(\.width).max() ?? 1
        let height = parts.reduce(0) { $0 + $1.height } + gap * max(parts.count - 1, 0)
        var out = Canvas(width: max(width, 1), height: max(height, 1), background: background)
        var y = 0
        for part in parts {
            out.draw(part, x: 0, y: y)
            y += part.height + gap
        }
        return out
    }

    /// The picture as an RGB PNG file.
    public func pngData() throws -> [UInt8] { try image.pngData() }
}

/// How values become colours.
public enum Colormap: Sendable {
    /// Grey levels: `low` black to `high` white.
    case gray(low: Float, high: Float)
    /// White at `low` to deep blue at `high`, for counts and probabilities.
    case blues(low: Float, high: Float)
    /// Blue for negative, white for zero, red for positive, saturating at ±`limit`: for weights.
    case diverging(limit: Float)

    /// The colour of `value`.
    public func color(_ value: Float) -> RGB {
        let v = value.isFinite ? value : 0
        switch self {
        case .gray(let low, let high):
            let t = high > low ? Double((v - low) / (high - low)) : 0
            return RGB.black.mixed(with: .white, t)
        case .blues(let low, let high):
            let t = high > low ? Double((v - low) / (high - low)) : 0
            return RGB.white.mixed(with: Palette.deepBlue, t)
        case .diverging(let limit):
            let t = limit > 0 ? Double(v / limit) : 0
            return t < 0 ? RGB.white.mixed(with: Palette.blue, -t) : RGB.white.mixed(with: Palette.red, t)
        }
    }

    /// A grey colormap spanning the smallest to the largest of `values`.
    public static func grayScaled(_ values: [Float]) -> Colormap {
        let finite = values.filter(\.isFinite)
        return .gray(low: finite.min() ?? 0, high: finite.max() ?? 1)
    }

    /// A diverging colormap saturating at the largest magnitude in `values`.
    public static func divergingScaled(_ values: [Float]) -> Colormap {
        .diverging(limit: values.filter(\.isFinite).map(abs).max() ?? 1)
    }
}

/// The colours the charts use, chosen to stay apart for colour-blind readers.
public enum Palette {
    /// Training series.
    public static let blue = RGB(31, 119, 180)
    /// Test series.
    public static let orange = RGB(255, 127, 14)
    /// Positive weights.
    public static let red = RGB(214, 39, 40)
    /// A third series.
    public static let green = RGB(44, 160, 44)
    /// The dark end of the heat map.
    public static let deepBlue = RGB(8, 48, 107)
    /// Axes and grid lines.
    public static let axis = RGB(90, 90, 90)
    /// Light grid lines.
    public static let gridLine = RGB(225, 225, 225)
    /// Secondary text.
    public static let muted = RGB(110, 110, 110)
}
