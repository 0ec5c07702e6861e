// Charts: line charts of training curves, the confusion heat map, probability bars and sheets of small
// pictures (digits, filters, feature maps), each drawn on a Canvas.

import Foundation
import DigitsImaging

/// One named line of a line chart.
public struct Series: Sendable {
    /// The legend text.
    public var name: String
    /// The line's colour.
    public var color: RGB
    /// The points, in x order.
    public var points: [(x: Double, y: Double)]

    /// A series with these points.
    public init(name: String, color: RGB, points: [(x: Double, y: Double)]) {
        self.name = name
        self.color = color
        self.points = points
    }
}

/// Round tick positions covering `low...high`: about `count` steps of 1, 2 or 5 times a power of ten.
func niceTicks(low: Double, high: Double, count: Int = 5) -> [Double] {
    guard low.isFinite, high.isFinite, high > low, count > 0 else { return [low] }
    let rough = (high - low) / Double(count)
    let power = pow(10, floor(log10(rough)))
    // The nice step nearest the rough one on a log scale.
    let step = [1.0, 2, 5, 10].map { $0 * power }.min { abs(log($0 / rough)) < abs(log($1 / rough)) } ?? power
    var ticks: [Double] = []
    var t = (low / step).rounded(.up) * step
    while t <= high + step * 1e-9 {
        ticks.append(abs(t) < step * 1e-9 ? 0 : t)
        t += step
    }
    return ticks
}

/// A tick label with just enough decimals for `step`.
func tickLabel(_ value: Double, step: Double) -> String {
    let decimals = step >= 1 ? 0 : min(6, Int((-log10(step)).rounded(.up)))
    return String(format: "%.\(decimals)f", value)
}

/// Charts drawn as pictures.
public enum Chart {
    /// A line chart with axes, ticks, a title and a legend. The y range covers every point unless given.
    public static func line(title: String, xLabel: String, series: [Series], yRange: ClosedRange<Double>? = nil,
                            width: Int = 640, height: Int = 360) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        let left = 70, right = 20, top = 44, bottom = 52
        let plotW = width - left - right, plotH = height - top - bottom
        canvas.text(title, x: width / 2, y: 12, scale: 2, anchor: .center)
        let xs = series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
        let ys = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        var xLow = xs.min() ?? 0, xHigh = xs.max() ?? 1
        if xHigh <= xLow { xLow -= 0.5; xHigh += 0.5 }
        var yLow = yRange?.lowerBound ?? (ys.min() ?? 0), yHigh = yRange?.upperBound ?? (ys.max() ?? 1)
        if yHigh <= yLow { yLow -= 0.5; yHigh += 0.5 }
        if yRange == nil { let pad = (yHigh - yLow) * 0.05; yLow -= pad; yHigh += pad }
        let inset = 12   // keeps the first and last points off the axes
        func px(_ x: Double) -> Int { left + inset + Int(((x - xLow) / (xHigh - xLow) * Double(plotW - 2 * inset)).rounded()) }
        func py(_ y: Double) -> Int { top + plotH - Int(((y - yLow) / (yHigh - yLow) * Double(plotH)).rounded()) }

        let yTicks = niceTicks(low: yLow, high: yHigh)
        let yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        for t in yTicks {
            canvas.fill(x: left, y: py(t), width: plotW, height: 1, color: Palette.gridLine)
            canvas.text(tickLabel(t, step: yStep), x: left - 6, y: py(t) - 3, scale: 1, color: Palette.muted, anchor: .right)
        }
        let xTicks = niceTicks(low: xLow, high: xHigh, count: min(8, max(1, Int(xHigh - xLow))))
        let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1
        for t in xTicks {
            canvas.fill(x: px(t), y: top + plotH, width: 1, height: 5, color: Palette.axis)
            canvas.text(tickLabel(t, step: xStep), x: px(t), y: top + plotH + 8, scale: 1, color: Palette.muted, anchor: .center)
        }
        canvas.fill(x: left, y: top, width: 1, height: plotH + 1, color: Palette.axis)
        canvas.fill(x: left, y: top + plotH, width: plotW, height: 1, color: Palette.axis)
        canvas.text(xLabel, x: left + plotW / 2, y: height - 22, scale: 2, color: Palette.axis, anchor: .center)

        for s in series {
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite }
            for (a, b) in zip(points, points.dropFirst()) {
                canvas.line(from: (px(a.x), py(a.y)), to: (px(b.x), py(b.y)), color: s.color, thickness: 2)
            }
            for p in points { canvas.fill(x: px(p.x) - 2, y: py(p.y) - 2, width: 5, height: 5, color: s.color) }
        }
        // The legend sits on the title's line, right-aligned, clear of the data.
        var legendX = width - right - series.reduce(0) { $0 + 40 + BitmapFont.width(of: $1.name, scale: 1) }
        for s in series {
            canvas.fill(x: legendX, y: 14, width: 14, height: 4, color: s.color)
            canvas.text(s.name, x: legendX + 20, y: 12, scale: 1, color: Palette.axis)
            legendX += 40 + BitmapFont.width(of: s.name, scale: 1)
        }
        return canvas
    }

    /// The confusion matrix as a heat map: rows are true classes, columns predictions, each cell shaded by its
    /// share of the row (off-diagonal errors stand out against the pale rest) and labelled with its count.
    public static func confusion(_ matrix: [[Int]], cell: Int = 44) -> Canvas {
        let n = matrix.count
        let left = 64, top = 56
        var canvas = Canvas(width: left + n * cell + 20, height: top + n * cell + 20)
        canvas.text("PREDICTED", x: left + n * cell / 2, y: 8, scale: 2, anchor: .center)
        canvas.text("TRUE", x: 4, y: top - 18, scale: 2, color: Palette.muted)
        for i in 0..<n {
            canvas.text("\(i)", x: left + i * cell + cell / 2, y: top - 18, scale: 2, anchor: .center)
            canvas.text("\(i)", x: left - 8, y: top + i * cell + cell / 2 - 7, scale: 2, anchor: .right)
            let total = max(matrix[i].reduce(0, +), 1)
            for j in 0..<n {
                let share = Float(matrix[i][j]) / Float(total)
                // Errors are rare: scale them so that 5% of a row is already dark.
                let shade: Float = i == j ? share : min(1, share * 20)
                let color = i == j ? Colormap.blues(low: 0, high: 1).color(shade)
                                   : RGB.white.mixed(with: Palette.red, Double(shade))
                canvas.fill(x: left + j * cell, y: top + i * cell, width: cell, height: cell, color: color)
                canvas.stroke(x: left + j * cell, y: top + i * cell, width: cell + 1, height: cell + 1, color: Palette.gridLine)
                let ink: RGB = shade > 0.55 ? .white : .black
                canvas.text("\(matrix[i][j])", x: left + j * cell + cell / 2, y: top + i * cell + cell / 2 - 3,
                            scale: 1, color: ink, anchor: .center)
            }
        }
        return canvas
    }

    /// Horizontal bars, one per label, each as long as its value (0...1) with the value printed beside it;
    /// the bar at `highlight` is drawn in the accent colour.
    public static func bars(_ values: [Double], labels: [String], highlight: Int? = nil, title: String? = nil,
                            width: Int = 420) -> Canvas {
        let row = 22, top = title == nil ? 8 : 34, left = 40, barW = width - left - 80
        var canvas = Canvas(width: width, height: top + values.count * row + 8)
        if let title { canvas.text(title, x: 8, y: 10, scale: 2) }
        for (i, v) in values.enumerated() {
            let y = top + i * row
            let value = v.isFinite ? min(max(v, 0), 1) : 0
            canvas.text(i < labels.count ? labels[i] : "\(i)", x: left - 10, y: y + 4, scale: 2, anchor: .right)
            canvas.fill(x: left, y: y + 2, width: barW, height: row - 6, color: RGB(240, 240, 240))
            canvas.fill(x: left, y: y + 2, width: Int((value * Double(barW)).rounded()), height: row - 6,
                        color: i == highlight ? Palette.orange : Palette.blue)
            canvas.text(String(format: "%.3f", v), x: left + barW + 8, y: y + 7, scale: 1, color: Palette.axis)
        }
        return canvas
    }

    /// A sheet of small pictures in rows of `columns`, each scaled up `scale` times, with up to two caption
    /// lines under each.
    public static func tiles(_ tiles: [Tile], columns: Int, scale: Int, title: String? = nil) -> Canvas {
        let tileW = tiles.map(\.width).max() ?? 1, tileH = tiles.map(\.height).max() ?? 1
        let captionLines = tiles.map(\.caption.count).max() ?? 0
        let cellW = max(tileW * scale, tiles.flatMap(\.caption).map { BitmapFont.width(of: $0, scale: 1) }.max() ?? 0) + 10
        let cellH = tileH * scale + captionLines * 10 + 10
        let cols = max(1, min(columns, tiles.count))
        let rows = (tiles.count + cols - 1) / cols
        let top = title == nil ? 4 : 30
        var canvas = Canvas(width: cols * cellW + 4, height: top + rows * cellH + 4)
        if let title { canvas.text(title, x: 6, y: 8, scale: 2) }
        for (i, tile) in tiles.enumerated() {
            let x = 4 + (i % cols) * cellW, y = top + (i / cols) * cellH
            canvas.grid(tile.values, columns: tile.width, rows: tile.height, x: x, y: y, cell: scale, colormap: tile.colormap)
            canvas.stroke(x: x - 1, y: y - 1, width: tile.width * scale + 2, height: tile.height * scale + 2, color: Palette.gridLine)
            for (line, caption) in tile.caption.enumerated() {
                canvas.text(caption, x: x, y: y + tile.height * scale + 4 + line * 10, scale: 1,
                            color: line == 0 ? .black : Palette.muted)
            }
        }
        return canvas
    }
}

/// One small picture on a tile sheet: a grid of values, how to colour them, and its caption lines.
public struct Tile: Sendable {
    /// Columns of the grid.
    public var width: Int
    /// Rows of the grid.
    public var height: Int
    /// The values, row-major.
    public var values: [Float]
    /// How values become colours.
    public var colormap: Colormap
    /// Text under the picture, one string a line.
    public var caption: [String]

    /// A tile showing `values` (`width × height`, row-major).
    public init(width: Int, height: Int, values: [Float], colormap: Colormap, caption: [String] = []) {
        precondition(values.count == width * height, "Tile: \(values.count) values for \(width)x\(height)")
        self.width = width
        self.height = height
        self.values = values
        self.colormap = colormap
        self.caption = caption
    }
}
