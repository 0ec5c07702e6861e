// The draw-a-digit page in a real browser: headless Chromium, driven through chromedriver, draws on
// the canvas with the mouse and with a finger, and the page must show what the model read.

import Foundation
import XCTest
import Digits
import DigitsTestSupport
@testable import DigitsServer

final class BrowserTests: XCTestCase {
    /// What the page shows, as read by a script in it.
    struct PageState {
        var digit: String
        var status: String
        var confidence: String
        /// The natural size of the "what the model sees" picture (0 until it has loaded).
        var seenWidth: Int, seenHeight: Int
        /// Each bar's label, fill width in percent, printed value and whether it is marked best.
        var bars: [(label: String, width: Double, text: String, best: Bool)]
    }

    private static let stateScript = """
        var img = document.getElementById('seen');
        var bars = Array.prototype.map.call(document.querySelectorAll('#bars .bar'), function (b) {
          return [b.children[0].textContent, parseFloat(b.querySelector('.fill').style.width),
                  b.children[2].textContent, b.classList.contains('best')];
        });
        return { digit: document.getElementById('digit').textContent,
                 status: document.getElementById('status').textContent,
                 confidence: document.getElementById('confidence').textContent,
                 seen: img.hasAttribute('src') && img.complete ? [img.naturalWidth, img.naturalHeight] : [0, 0],
                 bars: bars };
        """

    private func state(_ session: WebDriverSession) async throws -> PageState {
        let answer = try await session.execute(Self.stateScript)
        let value = try XCTUnwrap(answer as? [String: Any], "the page state script answered \(String(describing: answer))")
        let seen = value["seen"] as? [Int] ?? [0, 0]
        let bars = (value["bars"] as? [[Any]] ?? []).map { b in
            (label: b[0] as? String ?? "", width: (b[1] as? NSNumber)?.doubleValue ?? .nan,
             text: b[2] as? String ?? "", best: b[3] as? Bool ?? false)
        }
        return PageState(digit: value["digit"] as? String ?? "", status: value["status"] as? String ?? "",
                         confidence: value["confidence"] as? String ?? "",
                         seenWidth: seen.first ?? 0, seenHeight: seen.last ?? 0, bars: bars)
    }

    /// Waits until the page shows a prediction (or an error) after a stroke.
    private func prediction(_ session: WebDriverSession) async throws -> PageState {
        try await session.wait(for: "a prediction on the page") {
            let s = try await state(session)
            return (s.digit != "?" && s.seenWidth > 0) || !s.status.isEmpty ? s : nil
        }
    }

    /// An `mlp` trained for one epoch on the real MNIST.
    private static func trainedModel() throws -> Model {
        let data = try MNIST.load(DataLocator.locate(explicit: mnistFolder).files)
        var options = Recipe.mlp.options
        options.epochs = 1
        let trainer = try Trainer(architecture: Recipe.mlp.architecture, options: options)
        try trainer.train(on: data.train, test: nil)
        return trainer.model
    }

    /// Checks what the page shows against what the API answers for the canvas as it is now.
    private func assertShows(_ digit: String, _ shown: PageState, session: WebDriverSession, client: TestClient,
                             file: StaticString = #filePath, line: UInt = #line) async throws {
        XCTAssertEqual(shown.status, "", "the page reported an error", file: file, line: line)
        XCTAssertEqual(shown.digit, digit, file: file, line: line)
        XCTAssertEqual(shown.seenWidth, 28, "the model's 28x28 input is shown", file: file, line: line)
        XCTAssertEqual(shown.seenHeight, 28, file: file, line: line)
        XCTAssertEqual(shown.bars.map(\.label), (0..<10).map(String.init), file: file, line: line)
        XCTAssertEqual(shown.bars.filter(\.best).map(\.label), [digit], "the best bar is the digit shown", file: file, line: line)
        XCTAssertEqual(shown.bars.map(\.width).reduce(0, +), 100, accuracy: 0.6, "bars are probabilities", file: file, line: line)
        XCTAssertEqual(shown.bars.map(\.width).max(), shown.bars.first(where: \.best)?.width, file: file, line: line)

        // The same canvas, sent by the test: the page shows the API's answer.
        let canvas = try await session.execute("return document.getElementById('pad').toDataURL('image/png');")
        let dataURL = try XCTUnwrap(canvas as? String, file: file, line: line)
        let png = try XCTUnwrap(Data(base64Encoded: String(dataURL.drop { $0 != "," }.dropFirst())), file: file, line: line)
        let answer = try await client.post("/api/predict", png, contentType: "image/png")
        XCTAssertEqual(answer.status, 200, answer.text, file: file, line: line)
        let json = try answer.json()
        XCTAssertEqual((json["digit"] as? Int).map(String.init), digit, file: file, line: line)
        let probabilities = try XCTUnwrap(json["probabilities"] as? [Double], file: file, line: line)
        XCTAssertEqual(probabilities.count, 10, file: file, line: line)
        for (bar, p) in zip(shown.bars, probabilities) {
            // Printed with one decimal, e.g. "97.3%".
            let printed = try XCTUnwrap(Double(bar.text.dropLast()), bar.text, file: file, line: line)
            XCTAssertEqual(printed, 100 * p, accuracy: 0.051, "bar \(bar.label)", file: file, line: line)
        }
    }

    /// Saves a screenshot under .build/test-artifacts/ and checks that the canvas in it shows the ink.
    private func saveScreenshot(_ session: WebDriverSession, pad: WebElement, name: String,
                                file: StaticString = #filePath, line: UInt = #line) async throws {
        let png = try await session.screenshot()
        let folder = packageRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent(name)
        try png.write(to: url)
        print("BrowserTests: screenshot saved to \(url.path)")
        let picture = try ImageDecoder.decode([UInt8](png), source: url.path)
        let rect = try await session.rect(of: pad)
        var ink = 0, total = 0
        for y in Int(rect.y) + 2 ..< Int(rect.y + rect.height) - 2 {
            for x in Int(rect.x) + 2 ..< Int(rect.x + rect.width) - 2 where x < picture.width && y < picture.height {
                total += 1
                if picture[x, y] > 0.5 { ink += 1 }
            }
        }
        XCTAssertGreaterThan(total, 200 * 200, "the canvas lies inside the screenshot", file: file, line: line)
        let share = Double(ink) / Double(max(total, 1))
        XCTAssertTrue((0.02...0.4).contains(share), "share of inked canvas pixels in the screenshot: \(share)", file: file, line: line)
    }

    func testDrawingDigitsShowsWhatTheModelReads() async throws {
        guard let tools = ChromeDriver.locate() else { throw XCTSkip(ChromeDriver.missingMessage) }
        let recognizer = DigitRecognizer(model: try Self.trainedModel())
        try await withTestServer(recognizer: recognizer) { client, _ in
            let driver = try await ChromeDriver.start(tools)
            defer { driver.stop() }
            let session = try await driver.newSession(width: 1100, height: 720)
            try await session.navigate(to: client.base)
            let pad = try await session.findElement(css: "#pad")
            let initial = try await state(session)
            XCTAssertEqual(initial.digit, "?")
            XCTAssertEqual(initial.bars.count, 10)

            // A "1" with the mouse: one vertical stroke down the middle of the 280x280 canvas.
            try await session.drag(on: pad, through: stride(from: -90.0, through: 90, by: 10).map { (x: 4 - $0 / 30, y: $0) })
            try await assertShows("1", try await prediction(session), session: session, client: client)
            try await saveScreenshot(session, pad: pad, name: "draw-page-1.png")

            // Clear empties the canvas and the answer.
            try await session.click(try await session.findElement(css: "#clear"))
            let cleared = try await state(session)
            XCTAssertEqual(cleared.digit, "?")
            XCTAssertEqual(cleared.seenWidth, 0)
            XCTAssertTrue(cleared.bars.allSatisfy { $0.width == 0 })

            // A "7" with a finger: touch pointer events, a bar across the top and a stroke down to the left.
            var seven: [(x: Double, y: Double)] = stride(from: -70.0, through: 70, by: 10).map { (x: $0, y: -90) }
            seven += stride(from: 0.1, through: 1, by: 0.1).map { t in (x: 70 - 90 * t, y: -90 + 190 * t) }
            try await session.drag(on: pad, through: seven, pointer: .touch)
            try await assertShows("7", try await prediction(session), session: session, client: client)
            try await saveScreenshot(session, pad: pad, name: "draw-page-7.png")
            try await session.close()
        }
    }
}
