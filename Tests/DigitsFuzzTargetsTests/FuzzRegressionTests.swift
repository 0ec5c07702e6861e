// Replays every input kept for the fuzz targets — the seeds in Fuzz/corpus and the inputs that once
// crashed, hung or over-allocated in Fuzz/regressions — through the same functions the fuzzers run.

import Foundation
import XCTest
import Digits
import DigitsFuzzTargets
import DigitsTestSupport

final class FuzzRegressionTests: XCTestCase {
    /// The files under Fuzz/`folder`/`target`, sorted, dot-files left out.
    func inputs(_ folder: String, _ target: String) throws -> [URL] {
        let dir = packageRoot.appendingPathComponent("Fuzz/\(folder)/\(target)")
        guard FileManager.default.fileExists(atPath: dir.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    func testEveryKeptInputRunsToTheEnd() throws {
        XCTAssertEqual(Set(FuzzTargets.all.keys), ["architecture", "idx", "image", "safetensors", "server"])
        for (name, run) in FuzzTargets.all.sorted(by: { $0.key < $1.key }) {
            let seeds = try inputs("corpus", name)
            XCTAssertFalse(seeds.isEmpty, "Fuzz/corpus/\(name) holds no seed inputs")
            for url in seeds + (try inputs("regressions", name)) {
                // A crash ends the test process; a hang or a huge allocation shows as a slow input.
                let start = Date()
                run(try [UInt8](Data(contentsOf: url)))
                XCTAssertLessThan(Date().timeIntervalSince(start), 10, "\(name): \(url.lastPathComponent) took too long")
            }
        }
    }

    /// The seeds are meant to be valid, so the fuzzers start inside each format; a few checks that they are.
    func testSeedsAreWellFormed() throws {
        let png = try Data(contentsOf: packageRoot.appendingPathComponent("Fuzz/corpus/image/stroke.png"))
        let picture = try ImageDecoder.decode([UInt8](png), source: "stroke.png")
        XCTAssertEqual(picture.width, 12)
        let idx = try Data(contentsOf: packageRoot.appendingPathComponent("Fuzz/corpus/idx/images.idx.gz"))
        let file = try IDXFile.parse(try Gzip.decompress([UInt8](idx), source: "images.idx.gz", limit: 1 << 20), source: "images.idx.gz")
        XCTAssertEqual(file.dimensions, [3, 4, 4])
    }
}
