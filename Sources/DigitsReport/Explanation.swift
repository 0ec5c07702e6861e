// Explanation: one picture followed through a network — the 28x28 input the model sees, what every layer
// produced, and the ten probabilities at the end — as text, a PNG sheet or an HTML page.

import Foundation
import Digits

/// What a model did with one picture, layer by layer.
public struct Explanation: Sendable {
    /// The 28x28 input in [0, 1], ink bright on black, as the model sees it.
    public var input: [Float]
    /// Every layer's output, first to last.
    public var layers: [LayerOutput]
    /// The answer: digit, probabilities and confidence.
    public var recognition: Recognition

    /// Follows `pixels` (784 values in [0, 1], ink bright, as `MNISTPreprocessor` prepares them) through the
    /// recognizer's model.
    public init(recognizer: DigitRecognizer, pixels: [Float]) {
        input = pixels
        layers = Inside.layerOutputs(of: recognizer.model, pixels: pixels)
        recognition = recognizer.recognize(pixels: pixels)
    }

    /// One line per layer (shape, value range, share of zeros), then the probabilities.
    public var text: String {
        var s = ""
        for layer in layers {
            let low = layer.values.min() ?? 0, high = layer.values.max() ?? 0
            let name = layer.layer.padding(toLength: max(34, layer.layer.count), withPad: " ", startingAt: 0)
            let shape = layer.shape.map(String.init).joined(separator: "x")
            s += String(format: "%2d  ", layer.index) + name + " " + shape.padding(toLength: max(10, shape.count), withPad: " ", startingAt: 0)
                + String(format: "  min %8.3f  max %8.3f  zeros %3.0f%%\n", low, high, layer.zeroFraction * 100)
        }
        s += "probabilities: " + recognition.probabilities.enumerated()
            .map { String(format: "%d:%.3f", $0.offset, $0.element) }.joined(separator: " ") + "\n"
        s += "answer: \(recognition.digit) (\(String(format: "%.1f%%", recognition.probability * 100)))"
            + (recognition.confident ? "" : ", not confident") + "\n"
        return s
    }

    /// The input, every layer and the probabilities as figures, in order.
    public func figures() -> [Figure] {
        let inputTile = Tile(width: 28, height: 28, values: input, colormap: .gray(low: 0, high: 1), caption: ["28X28 INPUT"])
        var out = [Figure(name: "input", title: "The picture the model sees",
                          caption: "Your picture after preprocessing: ink bright on black, fitted into 20x20, centred by mass in 28x28.",
                          canvas: Chart.tiles([inputTile], columns: 1, scale: 6))]
        out += layers.map(Inside.outputFigure)
        out.append(Figure(name: "probabilities", title: "Probabilities",
                          caption: "The model's answer is the longest bar.",
                          canvas: Chart.bars(recognition.probabilities, labels: (0..<recognition.probabilities.count).map(String.init),
                                             highlight: recognition.digit)))
        return out
    }

    /// Every figure on one picture, each under its title.
    public func sheet() -> Canvas {
        Canvas.stacked(figures().map { figure in
            var titled = Canvas(width: max(figure.canvas.width, BitmapFont.width(of: figure.title, scale: 2) + 12),
                                height: figure.canvas.height + 26)
            titled.text(figure.title, x: 6, y: 6, scale: 2)
            titled.draw(figure.canvas, x: 0, y: 26)
            return titled
        }, gap: 12)
    }

    /// The explanation as one self-contained HTML page.
    public func html() throws -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>digits explain: \(recognition.digit)</title>
        <style>\(reportStyle)</style></head><body>
        <h1>The model reads \(recognition.digit)</h1>
        <p class="big">\(String(format: "%.1f%%", recognition.probability * 100)) sure\(recognition.confident ? "" : " (not confident)")</p>
        <pre>\(htmlEscaped(text))</pre>
        \(try figures().map(htmlFigure).joined(separator: "\n"))
        </body></html>

        """
    }

    /// Writes the explanation to `url`: an HTML page when the name ends in `.html`, a PNG sheet otherwise.
    public func write(to url: URL) throws {
        if url.pathExtension.lowercased() == "html" || url.pathExtension.lowercased() == "htm" {
            try writeAtomically(Array(try html().utf8), to: url)
        } else {
            try writeAtomically(try sheet().pngData(), to: url)
        }
    }
}
