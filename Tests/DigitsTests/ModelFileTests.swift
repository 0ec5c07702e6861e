import XCTest
import Digits

final class ModelFileTests: TemporaryDirectoryTestCase {
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

    func testAFileReSavedWithTensorsInAnotherOrderStillVerifies() throws {
        let model = Model(architecture: Recipe.lenet5.architecture, seed: 3)
        let file = try ModelFile(model: model, options: nil, history: []).encoded()
        // What Python's safetensors.save_file(load_file(m), out, metadata=...) does: the same tensors and
        // metadata, laid out in another order.
        let reordered = directory.appendingPathComponent("reordered.safetensors")
        try SafetensorsFile(tensors: file.tensors.reversed(), metadata: file.metadata).write(to: reordered)
        XCTAssertEqual(try SafetensorsFile.read(contentsOf: reordered).tensors.map(\.name), file.tensors.reversed().map(\.name))
        // The standardisation a reader in another language must apply is in the metadata.
        XCTAssertEqual([file.metadata["input_scale"], file.metadata["input_mean"], file.metadata["input_std"]],
                       ["0.00392156862745098", "0.1307", "0.3081"])
        let loaded = try ModelFile.read(contentsOf: reordered)
        XCTAssertEqual(loaded.model.network.parameters.map(\.value), model.network.parameters.map(\.value))
        // A file written before: its checksum was taken over the tensors in file order, and still verifies.
        var bytes: [UInt8] = []
        for t in file.tensors {
            bytes += Array(t.name.utf8) + [0]
            for d in t.shape { withUnsafeBytes(of: UInt64(d).littleEndian) { bytes += $0 } }
            t.values.withUnsafeBytes { bytes += $0 }
        }
        var old = file
        old.metadata["weights_sha256"] = SHA256.hexDigest(bytes)
        XCTAssertNotEqual(old.metadata["weights_sha256"], file.metadata["weights_sha256"])
        XCTAssertNoThrow(try ModelFile.decode(old, source: "old.safetensors"))
        // Either way a changed value is caught.
        old.tensors[1].values[0] += 1
        XCTAssertThrowsError(try ModelFile.decode(old, source: "old.safetensors")) { XCTAssertTrue("\($0)".contains("damaged"), "\($0)") }
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

    /// Model files record the code's git revision; `infoText` shows it with the options, seed and data.
    func testProvenanceIsRecordedAndShown() throws {
        let model = Model(architecture: Recipe.linearSVM.architecture, seed: 1)
        let url = directory.appendingPathComponent("svm.safetensors")
        var file = ModelFile(model: model, options: Recipe.linearSVM.options, history: [],
                             dataHashes: MNIST.knownSHA256ByRole, gitRevision: "0123abcd-dirty")
        file.metadata["command"] = "digits train --model linear-svm"
        try file.write(to: url)
        let loaded = try ModelFile.read(contentsOf: url)
        XCTAssertEqual(loaded.gitRevision, "0123abcd-dirty")
        let text = try ModelFile.infoText(contentsOf: url)
        for expected in ["git revision 0123abcd-dirty", "written by digits \(digitsVersion)", "seed 1", "sgd lr 0.05", "l2 0.0001",
                         "the official MNIST files", "command: digits train --model linear-svm"] {
            XCTAssertTrue(text.contains(expected), "\(expected) in \(text)")
        }
        XCTAssertNil(try ModelFile.decode(ModelFile(model: model, options: nil, history: [], gitRevision: nil).encoded(), source: "m").gitRevision)
    }

    /// The revision comes from $DIGITS_GIT_REVISION, else from git in the given folder, else is unknown.
    func testGitRevisionLookup() throws {
        XCTAssertEqual(Provenance.gitRevision(environment: ["DIGITS_GIT_REVISION": " v1.2 \n"], directory: directory), "v1.2")
        XCTAssertNil(Provenance.gitRevision(environment: [:], directory: directory), "not a repository")
        func git(_ arguments: String...) throws -> Int32 {
            let process = try Process.run(URL(fileURLWithPath: "/usr/bin/env"),
                                          arguments: ["git", "-C", directory.path, "-c", "user.name=t", "-c", "user.email=t@example.com"] + arguments)
            process.waitUntilExit()
            return process.terminationStatus
        }
        guard (try? git("init", "-q")) == 0 else { throw XCTSkip("git is not available") }
        try Data("a".utf8).write(to: directory.appendingPathComponent("a.txt"))
        XCTAssertEqual(try git("add", "a.txt"), 0)
        XCTAssertEqual(try git("commit", "-q", "-m", "one"), 0)
        let clean = try XCTUnwrap(Provenance.gitRevision(environment: [:], directory: directory))
        XCTAssertEqual(clean.count, 40, clean)
        try Data("b".utf8).write(to: directory.appendingPathComponent("a.txt"))
        XCTAssertEqual(Provenance.gitRevision(environment: [:], directory: directory), clean + "-dirty")
    }

    func testUnwritableOutputIsReportedBeforeTraining() {
        XCTAssertThrowsError(try checkWritable(directory.appendingPathComponent("no/such/folder/model.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
        XCTAssertNoThrow(try checkWritable(directory.appendingPathComponent("model.safetensors")))
    }
}
