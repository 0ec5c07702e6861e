import XCTest
import Digits

final class ModelFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("digits-modelfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testRoundTripKeepsWeightsAndProvenance() throws {
        let train = try syntheticDigits(count: 200, seed: 1)
        var options = Recipe.mlp.options
        options.epochs = 1
        let trainer = try Trainer(architecture: Recipe.mlp.architecture, options: options)
        let history = try trainer.train(on: train, test: train)
        let url = directory.appendingPathComponent("mlp.safetensors")
        try ModelFile(model: trainer.model, options: options, history: history, dataHashes: ["train-images": "abc"]).write(to: url)

        let loaded = try ModelFile.read(contentsOf: url)
        XCTAssertEqual(loaded.model.architecture, Recipe.mlp.architecture)
        XCTAssertEqual(loaded.options, options)
        XCTAssertEqual(loaded.history, history)
        XCTAssertEqual(loaded.dataHashes, ["train-images": "abc"])
        XCTAssertEqual(loaded.metadata["seed"], "1")
        for (a, b) in zip(trainer.model.network.parameters, loaded.model.network.parameters) {
            XCTAssertEqual(a.name, b.name)
            XCTAssertEqual(a.value, b.value)
        }
        let x = train.inputs(0..<20, encoding: InputEncoding())
        XCTAssertEqual(trainer.model.probabilities(x), loaded.model.probabilities(x))
        let names = try SafetensorsFile.read(contentsOf: url).tensors.map(\.name)
        XCTAssertEqual(names, ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"])
    }

    func testForeignOrDamagedFilesAreRefused() throws {
        let url = directory.appendingPathComponent("other.safetensors")
        try SafetensorsFile(tensors: [SafetensorsTensor(name: "x", shape: [1], values: [1])]).write(to: url)
        XCTAssertThrowsError(try ModelFile.read(contentsOf: url)) { error in
            XCTAssertTrue("\(error)".contains("not a usable digits model"), "\(error)")
        }
        // A digits model whose tensor has the wrong shape.
        let model = Model(architecture: Recipe.linearSVM.architecture, seed: 1)
        var file = try ModelFile(model: model, options: nil, history: []).encoded()
        file.tensors[0] = SafetensorsTensor(name: "layers.0.weight", shape: [5, 784], values: [Float](repeating: 0, count: 5 * 784))
        file.metadata["weights_sha256"] = nil          // a file without the checksum: the shape check must catch it
        XCTAssertThrowsError(try ModelFile.decode(file, source: "bad.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("layers.0.weight"), "\(error)")
        }
        // One weight changed on disk: the checksum catches it.
        let damaged = directory.appendingPathComponent("damaged.safetensors")
        try ModelFile(model: model, options: nil, history: []).write(to: damaged)
        var raw = [UInt8](try Data(contentsOf: damaged))
        raw[raw.count - 3] ^= 0x40
        try Data(raw).write(to: damaged)
        XCTAssertThrowsError(try ModelFile.read(contentsOf: damaged)) { error in
            XCTAssertTrue("\(error)".contains("damaged"), "\(error)")
        }
        // Truncated bytes.
        let good = directory.appendingPathComponent("good.safetensors")
        try ModelFile(model: model, options: nil, history: []).write(to: good)
        let bytes = try Data(contentsOf: good)
        let cut = directory.appendingPathComponent("cut.safetensors")
        try bytes.prefix(bytes.count / 2).write(to: cut)
        XCTAssertThrowsError(try ModelFile.read(contentsOf: cut))
    }

    func testUnwritableOutputIsReportedBeforeTraining() {
        XCTAssertThrowsError(try checkWritable(directory.appendingPathComponent("no/such/folder/model.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
        XCTAssertNoThrow(try checkWritable(directory.appendingPathComponent("model.safetensors")))
    }
}
