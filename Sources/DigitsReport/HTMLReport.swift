// The report as one self-contained HTML file: inline style, every chart an embedded PNG, no network needed.

import Foundation
import Digits

/// Escapes `text` for HTML element content and attribute values.
func htmlEscaped(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}

/// A figure as an HTML `<figure>` with its PNG embedded as a data URL.
func htmlFigure(_ figure: Figure) throws -> String {
    let png = Data(try figure.canvas.pngData()).base64EncodedString()
    return """
    <figure id="fig-\(figure.name)"><h3>\(htmlEscaped(figure.title))</h3>
    <img class="chart" data-name="\(figure.name)" width="\(figure.canvas.width)" height="\(figure.canvas.height)" alt="\(htmlEscaped(figure.title))" src="data:image/png;base64,\(png)">
    <figcaption>\(htmlEscaped(figure.caption))</figcaption></figure>
    """
}

/// The page's style: readable type, tables with rules, charts at their natural size.
let reportStyle = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{font-size:1em;margin:.5em 0}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}figure{margin:1em 0}figcaption{color:#666;font-size:.9em}
img.chart{max-width:100%;height:auto;image-rendering:pixelated;border:1px solid #eee}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}.big{font-size:1.4em;font-weight:600}
"""

/// A two-column-or-more HTML table; `left` columns are left-aligned.
func htmlTable(header: [String], rows: [[String]], left: Set<Int> = [0]) -> String {
    func cell(_ tag: String, _ i: Int, _ text: String) -> String {
        "<\(tag)\(left.contains(i) ? " class=\"l\"" : "")>\(htmlEscaped(text))</\(tag)>"
    }
    let head = "<tr>" + header.enumerated().map { cell("th", $0, $1) }.joined() + "</tr>"
    let body = rows.map { "<tr>" + $0.enumerated().map { cell("td", $0, $1) }.joined() + "</tr>" }.joined(separator: "\n")
    return "<table>\n\(head)\n\(body)\n</table>"
}

extension ModelReport {
    /// The whole report as one HTML document.
    public func html() throws -> String {
        let figures = figures()
        func section(_ names: [String]) throws -> String {
            try figures.filter { names.contains($0.name) }.map(htmlFigure).joined(separator: "\n")
        }
        let accuracy = String(format: "%.2f%%", evaluation.accuracy * 100)
        var page = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>digits report: \(htmlEscaped(modelName))</title>
        <style>\(reportStyle)</style></head><body>
        <h1>\(htmlEscaped(modelName))</h1>
        <p class="big" id="accuracy">Test accuracy \(accuracy)</p>
        <p>\(misclassifiedCount) of \(evaluation.support.reduce(0, +)) test images misclassified · \(parameterCount) parameters · \(htmlEscaped(source))</p>

        """
        page += "<h2>Model</h2>\n" + htmlTable(
            header: ["#", "layer", "output shape", "parameters"],
            rows: layers.map { ["\($0.index)", $0.layer, $0.outputShape.map(String.init).joined(separator: "×"), "\($0.parameters)"] }
                + [["", "total", "", "\(parameterCount)"]],
            left: [1]) + "\n<pre>\(htmlEscaped(provenance))</pre>\n"

        page += "<h2>Training</h2>\n"
        if history.isEmpty {
            page += "<p>This model file keeps no training history.</p>\n"
        } else {
            page += try section(["loss", "accuracy"]) + "\n" + htmlTable(
                header: ["epoch", "train loss", "train acc %", "test loss", "test acc %", "seconds", "learning rate"],
                rows: history.map { r in
                    ["\(r.epoch)", String(format: "%.4f", r.trainLoss), String(format: "%.2f", r.trainAccuracy * 100),
                     r.testLoss.map { String(format: "%.4f", $0) } ?? "–",
                     r.testAccuracy.map { String(format: "%.2f", $0 * 100) } ?? "–",
                     String(format: "%.1f", r.seconds), String(format: "%.3g", Double(r.learningRate))]
                }) + "\n"
        }

        page += "<h2>Evaluation on the test set</h2>\n" + (try section(["confusion"])) + "\n<h3>Per class</h3>\n"
        page += htmlTable(header: ["digit", "precision", "recall", "F1", "support"],
                          rows: evaluation.precision.indices.map { c in
                              ["\(c)", String(format: "%.4f", evaluation.precision[c]), String(format: "%.4f", evaluation.recall[c]),
                               String(format: "%.4f", evaluation.f1[c]), "\(evaluation.support[c])"]
                          })
        let pairs = evaluation.mostConfused(limit: 8)
        page += "\n<h3>Most confused pairs</h3>\n" + (pairs.isEmpty ? "<p>None: every test image is right.</p>"
            : htmlTable(header: ["true", "predicted as", "count"], rows: pairs.map { ["\($0.truth)", "\($0.predicted)", "\($0.count)"] }))

        page += "\n<h2>Mistakes</h2>\n"
        page += misclassified.isEmpty ? "<p>No test image is misclassified.</p>\n"
            : "<p>The first \(misclassified.count) of \(misclassifiedCount) misclassified test images.</p>\n" + (try section(["misclassified"]))

        let insideNames = inside.map(\.name)
        if !insideNames.isEmpty {
            page += "\n<h2>Inside the network</h2>\n" + (try section(insideNames))
        }
        page += "\n<footer><p>Made by digits \(digitsVersion) with <code>digits report</code>.</p></footer>\n</body></html>\n"
        return page
    }

    /// Writes the HTML report to `url` atomically.
    public func writeHTML(to url: URL) throws {
        try writeAtomically(Array(try html().utf8), to: url)
    }
}
