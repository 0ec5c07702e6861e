// Inside: pictures of what a network's layers hold — the first layer's weights (filters, or 28x28 templates
// for dense layers) and what each layer makes of one picture.

import Foundation
import Digits

/// What one layer produced for one input picture.
public struct LayerOutput: Sendable {
    /// The layer's position, from 0.
    public var index: Int
    /// The layer's name, e.g. `Conv2D(1→16, 5x5)`.
    public var layer: String
    /// The output's shape for the one sample: `[channels, height, width]` or `[features]`.
    public var shape: [Int]
    /// The output values, in the shape's order.
    public var values: [Float]

    /// The share of outputs that are exactly zero (what ReLU switched off).
    public var zeroFraction: Double {
        values.isEmpty ? 0 : Double(values.filter { $0 == 0 }.count) / Double(values.count)
    }
}

/// Figures of a network's insides.
public enum Inside {
    /// Runs `model` on one picture (`pixels` in [0, 1], ink bright, `rows × columns`) and returns every layer's
    /// output, in order.
    public static func layerOutputs(of model: Model, pixels: [Float], rows: Int = 28, columns: Int = 28) -> [LayerOutput] {
        var x = model.architecture.encoding.encode(pixels: pixels, rows: rows, columns: columns)
        let names = model.summary().map(\.layer)
        return model.network.layers.enumerated().map { i, layer in
            x = layer.forward(x, mode: .evaluation)
            return LayerOutput(index: i, layer: names[i], shape: Array(x.shape.dropFirst()), values: x.storage)
        }
    }

    /// Pictures of the first layer's weights and of one example's first feature maps (convolutional models), or
    /// of the first dense layer's weights as 28x28 templates (dense models).
    static func figures(of model: Model, example: [UInt8], label: Int, rows: Int, columns: Int) -> [Figure] {
        guard let first = model.network.layers.first(where: { !$0.parameters.isEmpty }),
              let weight = first.parameters.first?.value else { return [] }
        var out: [Figure] = []
        if weight.rank == 4 {
            out.append(filterFigure(weight))
            let outputs = layerOutputs(of: model, pixels: example.map { Float($0) / 255 }, rows: rows, columns: columns)
            if let maps = outputs.first(where: { $0.shape.count == 3 }) {
                let tiles = mapTiles(maps, limit: 32)
                out.append(Figure(
                    name: "feature-maps", title: "Feature maps of test image 0 (a \(label)) after \(maps.layer)",
                    caption: "What each first-layer filter responds to in this picture: bright where the filter matches.",
                    canvas: Chart.tiles(tiles, columns: 8, scale: 3)))
            }
        } else if weight.rank == 2, weight.shape[0] == rows * columns {
            out.append(templateFigure(weight, rows: rows, columns: columns))
        }
        return out
    }

    /// The first convolution's filters, input channel 0 of each, in a diverging colormap.
    static func filterFigure(_ weight: Tensor) -> Figure {
        let (outputs, inputs, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let area = kh * kw
        let tiles = (0..<outputs).map { o -> Tile in
            let start = o * inputs * area
            let values = Array(weight.storage[start..<(start + area)])
            return Tile(width: kw, height: kh, values: values, colormap: .divergingScaled(values), caption: ["\(o)"])
        }
        return Figure(name: "filters", title: "First-layer filters",
                      caption: "Each \(kh)x\(kw) kernel of the first convolution: red weights add brightness under them, blue subtract.",
                      canvas: Chart.tiles(tiles, columns: 8, scale: max(4, 48 / max(kh, kw))))
    }

    /// The first dense layer's weights into each of its first units, drawn as `rows × columns` pictures.
    static func templateFigure(_ weight: Tensor, rows: Int, columns: Int, limit: Int = 40) -> Figure {
        let inputs = weight.shape[0], units = weight.shape[1]
        let shown = min(units, limit)
        let tiles = (0..<shown).map { u -> Tile in
            let values = (0..<inputs).map { weight.storage[$0 * units + u] }
            return Tile(width: columns, height: rows, values: values, colormap: .divergingScaled(values),
                        caption: [units <= 10 ? "CLASS \(u)" : "UNIT \(u)"])
        }
        return Figure(name: "weights", title: units <= 10 ? "Weights into each class" : "Weights into the first \(shown) hidden units",
                      caption: "Each picture is one unit's weights over the 28x28 input: red pixels raise its output, blue lower it.",
                      canvas: Chart.tiles(tiles, columns: 10, scale: 2))
    }

    /// Tiles for the channels of a `[channels, height, width]` output, each scaled to its own range.
    static func mapTiles(_ output: LayerOutput, limit: Int) -> [Tile] {
        let (c, h, w) = (output.shape[0], output.shape[1], output.shape[2])
        return (0..<min(c, limit)).map { k in
            let values = Array(output.values[(k * h * w)..<((k + 1) * h * w)])
            return Tile(width: w, height: h, values: values, colormap: .grayScaled(values), caption: ["\(k)"])
        }
    }

    /// A picture of one layer's output: channel maps for `[c, h, w]`, a strip of values for `[features]`.
    public static func outputFigure(_ output: LayerOutput) -> Figure {
        let title = "Layer \(output.index): \(output.layer), output \(output.shape.map(String.init).joined(separator: "x"))"
        let zeros = String(format: "%.0f%% of the values are zero.", output.zeroFraction * 100)
        if output.shape.count == 3 {
            return Figure(name: "layer-\(output.index)", title: title,
                          caption: "Each channel scaled to its own range, black lowest. " + zeros,
                          canvas: Chart.tiles(mapTiles(output, limit: 64), columns: 16, scale: output.shape[1] >= 14 ? 2 : 4))
        }
        let n = output.values.count
        let stripColumns = min(n, 64), stripRows = (n + stripColumns - 1) / stripColumns
        let padded = output.values + [Float](repeating: 0, count: stripRows * stripColumns - n)
        let tile = Tile(width: stripColumns, height: stripRows, values: padded, colormap: .divergingScaled(output.values),
                        caption: ["\(n) VALUES"])
        return Figure(name: "layer-\(output.index)", title: title,
                      caption: "One square per value, \(stripColumns) to a row: red positive, blue negative, white zero. " + zeros,
                      canvas: Chart.tiles([tile], columns: 1, scale: 8))
    }
}
