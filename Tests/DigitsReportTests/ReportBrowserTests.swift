// The HTML report as a person sees it: headless Chromium opens report.html from disk (no network) and
// every chart must have loaded and be drawn; a screenshot is kept under .build/test-artifacts/.

import Foundation
import XCTest
import Digits
import DigitsTestSupport
@testable import DigitsReport

final class ReportBrowserTests: XCTestCase {
    func testReportRendersEveryChartInChromium() async throws {
        guard let tools = ChromeDriver.locate() else { throw XCTSkip(ChromeDriver.missingMessage) }
        let data = try MNIST.load(DataLocator.locate(explicit: mnistFolder).files)
        var options = Recipe.lenet5.options
        options.epochs = 2
        let trainer = try Trainer(architecture: Recipe.lenet5.architecture, options: options)
        let history = try trainer.train(on: data.train.prefix(600), test: data.test.prefix(200))
        let report = try ModelReport.build(file: ModelFile(model: trainer.model, options: options, history: history),
                                           source: "lenet5.safetensors", test: data.test.prefix(500))
        let artifacts = packageRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let page = artifacts.appendingPathComponent("report.html")
        try report.writeHTML(to: page)

        let driver = try await ChromeDriver.start(tools)
        defer { driver.stop() }
        let session = try await driver.newSession(width: 1200, height: 2400)
        try await session.navigate(to: page)
        let expected = report.figures().map(\.name)
        // Each chart: its name, whether it loaded, its natural size and the size the tag declares.
        let charts = try await session.wait(for: "every chart to load") { () -> [[Any]]? in
            let answer = try await session.execute("""
                return Array.prototype.map.call(document.querySelectorAll('img.chart'), function (img) {
                  return [img.dataset.name, img.complete, img.naturalWidth, img.naturalHeight,
                          parseInt(img.getAttribute('width')), parseInt(img.getAttribute('height'))];
                });
                """) as? [[Any]]
            guard let answer, answer.count == expected.count, answer.allSatisfy({ ($0[1] as? Bool) == true }) else { return nil }
            return answer
        }
        XCTAssertEqual(charts.map { $0[0] as? String ?? "" }, expected)
        for chart in charts {
            let natural = (chart[2] as? NSNumber)?.intValue ?? 0, declared = (chart[4] as? NSNumber)?.intValue ?? -1
            XCTAssertGreaterThan(natural, 0, "\(chart[0]) did not decode in the browser")
            XCTAssertEqual(natural, declared, "\(chart[0])")
            XCTAssertEqual((chart[3] as? NSNumber)?.intValue, (chart[5] as? NSNumber)?.intValue, "\(chart[0])")
        }
        let headings = try await session.execute("return Array.prototype.map.call(document.querySelectorAll('h2'), function (h) { return h.textContent; });")
        XCTAssertEqual(headings as? [String], ["Model", "Training", "Evaluation on the test set", "Mistakes", "Inside the network"])

        // The screenshot shows drawn charts: many different colours, not a blank page.
        let png = try await session.screenshot()
        let shot = artifacts.appendingPathComponent("report.png")
        try png.write(to: shot)
        print("ReportBrowserTests: screenshot saved to \(shot.path)")
        let picture = try ImageDecoder.decode([UInt8](png), source: shot.path)
        let levels = Set(picture.bytes)
        XCTAssertGreaterThan(levels.count, 64, "the screenshot has \(levels.count) grey levels: the charts are not drawn")
        let dark = picture.pixels.filter { $0 < 0.5 }.count
        XCTAssertGreaterThan(Double(dark) / Double(picture.pixels.count), 0.01, "almost nothing dark on the page")
        try await session.close()
    }
}
