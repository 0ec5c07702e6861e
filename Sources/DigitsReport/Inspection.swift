// Inspection: one dataset image with its label, as a terminal shows it and as a picture.

import Digits

/// A dataset image picked by index, with its label.
public struct Inspection: Sendable {
    /// Which split it came from (`train` or `test`).
    public var split: String
    /// Its index in the split.
    public var index: Int
    /// Its label.
    public var label: Int
    /// The picture, ink bright on black as the dataset stores it.
    public var image: GrayImage

    /// Picks image `index` of `data`; throws when the index is outside the split.
    public init(_ data: LabeledImages, index: Int, split: String) throws {
        guard index >= 0, index < data.count else {
            throw DigitsError.invalidOption("--index \(index) is outside the \(split) set, which has images 0 to \(data.count - 1)")
        }
        self.split = split
        self.index = index
        label = data.labels([index])[0]
        image = GrayImage(width: data.columns, height: data.rows, bytes: Array(data.pixels(of: index)))
    }

    /// A heading line and the picture as ASCII art.
    public var text: String {
        "\(split) image \(index): label \(label)\n" + image.asciiArt + "\n"
    }

    /// The picture scaled up `scale` times with its split, index and label written under it.
    public func canvas(scale: Int = 8) -> Canvas {
        Chart.tiles([Tile(width: image.width, height: image.height, values: image.pixels, colormap: .gray(low: 0, high: 1),
                          caption: ["\(split) #\(index)", "LABEL \(label)"])],
                    columns: 1, scale: max(1, scale))
    }
}
