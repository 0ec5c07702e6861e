import Foundation
import XCTest
@testable import Digits

/// A model file's architecture is a stranger's claim: it is checked before anything is built from it.
final class ArchitectureValidationTests: XCTestCase {
    /// A digits model file holding `architectureJSON` and no tensors, as a crafted file would.
    private func craftedModel(_ architectureJSON: String) -> SafetensorsFile {
        SafetensorsFile(tensors: [], metadata: ["format": ModelFile.formatTag, "architecture": architectureJSON])
    }

    /// The architecture JSON of the issue's reproducers: layers as given, scores out, no standardisation.
    private func reproducer(_ layers: String, layout: String = "flat") -> String {
        #"{"name":"x","layers":\#(layers),"output":"scores","encoding":{"layout":"\#(layout)","normalize":false},"initializer":{"normal":{"std":0.001}}}"#
    }

    private func assertRefused(_ file: SafetensorsFile, mentioning words: [String], file source: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ModelFile.decode(file, source: "crafted.safetensors"), file: source, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("crafted.safetensors: not a usable digits model"), text, file: source, line: line)
            for word in words { XCTAssertTrue(text.contains(word), "'\(word)' not in: \(text)", file: source, line: line) }
        }
    }

    func testTheIssuesReproducersAreRefusedNamingTheLayer() {
        // A max-pool of stride 0 (divided by zero on the first request) and a dense layer of -1 inputs.
        assertRefused(craftedModel(reproducer(#"[{"maxPool2d":{"kernel":2,"stride":0}},{"flatten":{}}]"#, layout: "image")),
                      mentioning: ["layer 0", "MaxPool2D", "stride is 0"])
        assertRefused(craftedModel(reproducer(#"[{"dense":{"inputs":-1,"outputs":10}}]"#)),
                      mentioning: ["layer 0", "Dense", "input count is -1"])
    }

    func testEveryKindOfImpossibleLayerIsRefused() throws {
        let image = InputEncoding(normalize: false, layout: .image)
        let flat = InputEncoding(normalize: false, layout: .flat)
        let cases: [(InputEncoding, [LayerSpec], [String])] = [
            (flat, [], ["no layers"]),
            (flat, [.dense(inputs: 100, outputs: 10)], ["layer 0", "784 features, not 100"]),
            (image, [.dense(inputs: 784, outputs: 10)], ["Flatten"]),
            (image, [.conv2d(inputChannels: 3, outputChannels: 4, kernel: 3), .flatten], ["1 channels, not 3"]),
            (image, [.conv2d(inputChannels: 1, outputChannels: 4, kernel: 29), .flatten], ["29×29 kernel does not fit"]),
            (image, [.conv2d(inputChannels: 1, outputChannels: 4, kernel: 3, stride: 0), .flatten], ["stride is 0"]),
            (image, [.conv2d(inputChannels: 1, outputChannels: 4, kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                             padding: .explicit(top: -2, bottom: 0, left: 0, right: 0)), .flatten], ["top padding is -2"]),
            (image, [.maxPool2d(kernel: 30, stride: 2), .flatten], ["30×30 window does not fit"]),
            (image, [.avgPool2d(kernel: 0, stride: 1), .flatten], ["window side is 0"]),
            (flat, [.dense(inputs: 784, outputs: 10), .dropout(rate: 1.5)], ["rate is 1.5"]),
            (flat, [.dense(inputs: 784, outputs: 10), .batchNorm(features: 12)], ["10 features or channels, not 12"]),
            (flat, [.dense(inputs: 784, outputs: 1)], ["1 class scores"]),
            (flat, [.dense(inputs: 784, outputs: 5000)], ["5000 class scores"]),
            (image, [.conv2d(inputChannels: 1, outputChannels: 4, kernel: 3)], ["not a flat list"]),
            (flat, [.dense(inputs: 784, outputs: 100_000_000)], ["above the limit of 65536"]),
            (flat, [.dense(inputs: 784, outputs: 65_536), .dense(inputs: 65_536, outputs: 65_536), .dense(inputs: 65_536, outputs: 10)],
             ["layer 1", "more than 134217728 parameters"]),
            (image, [.conv2d(inputChannels: 1, outputChannels: 65_536, kernelHeight: 1, kernelWidth: 1, strideHeight: 1, strideWidth: 1,
                             padding: .explicit(top: 500, bottom: 500, left: 500, right: 500)), .flatten, .dense(inputs: 1, outputs: 10)],
             ["layer 0", "activations would exceed"]),
        ]
        for (encoding, layers, words) in cases {
            let architecture = Architecture(name: "crafted", layers: layers, output: .softmax, encoding: encoding, initializer: .zeros)
            XCTAssertThrowsError(try architecture.validate(), "\(layers)") { error in
                for word in words { XCTAssertTrue("\(error)".contains(word), "'\(word)' not in: \(error)") }
            }
            let json = String(decoding: try JSONEncoder().encode(architecture), as: UTF8.self)
            assertRefused(craftedModel(json), mentioning: words)
        }
    }

    func testEveryRecipeIsValidAndShapesMatchTheBuiltNetwork() throws {
        for name in Recipe.names {
            let architecture = try Recipe.named(name).architecture
            let shapes = try architecture.validate()
            XCTAssertEqual(shapes, Model(architecture: architecture, seed: 1).outputShapes(), name)
            XCTAssertEqual(shapes.last, [10], name)
        }
        // The counts LayerChain adds up are the built layers' own.
        let best = Model(architecture: try Recipe.named("best").architecture, seed: 1)
        XCTAssertEqual(best.architecture.layers.map(\.parameterCount).reduce(0, +),
                       (best.network.parameters + best.network.buffers).map(\.value.count).reduce(0, +))
    }

    func testHiddenUnitsAndTrainingSizesAreBounded() throws {
        XCTAssertThrowsError(try Recipe.mlp.withHiddenUnits(100_000_000)) { XCTAssertTrue("\($0)".contains("--hidden must be in 1...65536"), "\($0)") }
        XCTAssertNoThrow(try Recipe.mlp.withHiddenUnits(65_536).architecture.validate())
        var options = Recipe.mlp.options
        options.batchSize = 10_000_000
        XCTAssertThrowsError(try options.validate()) { XCTAssertTrue("\($0)".contains("--batch-size must be in 1...65536"), "\($0)") }
    }
}
