import XCTest
import Digits
import DigitsTestSupport

/// PyTorch-layout weights: a numpy script makes random weights with PyTorch's names and layouts, runs
/// the network's forward pass itself, and writes both; the imported model must give the same probabilities.
final class PyTorchImportTests: TemporaryDirectoryTestCase {
    /// A convolution without bias, a batch norm (with PyTorch's I64 `num_batches_tracked`) and a linear
    /// layer named so that alphabetical order (`classifier` < `features`) is not layer order.
    private var convBatchNorm: Architecture {
        let layers: [LayerSpec] = [.conv2d(inputChannels: 1, outputChannels: 4, kernel: 3, padding: .same), .batchNorm(features: 4),
                                   .relu, .maxPool2d(kernel: 2, stride: 2), .flatten, .dense(inputs: 4 * 14 * 14, outputs: 10)]
        return Architecture(name: "conv-bn", layers: layers, output: .softmax,
                            encoding: InputEncoding(normalize: false, layout: .image), initializer: .heNormal)
    }

    func testImportedModelsMatchNumpyForwardPasses() throws {
        guard let python = TestPython.find(importing: ["numpy"]) else { throw XCTSkip(TestPython.missingMessage(["numpy"])) }
        let made = try python.run(script: Self.script, arguments: [directory.path])
        XCTAssertEqual(made.status, 0, made.errors)
        guard made.status == 0 else { return }
        let cases: [(String, Architecture)] = [
            ("mlp", try Recipe.mlp.withHiddenUnits(64).architecture),
            ("lenet5", Recipe.lenet5.architecture),
            ("conv-bn", convBatchNorm),
        ]
        for (name, architecture) in cases {
            let url = directory.appendingPathComponent("\(name).safetensors")
            let file = try PyTorchImport.modelFile(contentsOf: url, architecture: architecture)
            XCTAssertEqual(file.metadata["imported_from"], "\(name).safetensors")
            let pixels = try floats(directory.appendingPathComponent("\(name).input.f32"))
            let expected = try floats(directory.appendingPathComponent("\(name).expected.f32"))
            let probabilities = file.model.probabilities(architecture.encoding.encode(pixels: pixels))
            XCTAssertEqual(probabilities.count, expected.count, name)
            let worst = zip(probabilities.storage, expected).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(worst, 1e-4, "\(name): max |digits − numpy|")
            // Saved and read back, the model gives the same probabilities.
            let saved = directory.appendingPathComponent("\(name).digits.safetensors")
            try file.write(to: saved)
            let reloaded = try ModelFile.read(contentsOf: saved)
            XCTAssertEqual(reloaded.model.probabilities(architecture.encoding.encode(pixels: pixels)), probabilities, name)
            XCTAssertTrue(reloaded.infoText.contains("imported from \(name).safetensors (pytorch layout"), reloaded.infoText)
        }
    }

    /// Weights that do not fit are refused with the name of the tensor at fault.
    func testWeightsThatDoNotFitAreRefused() throws {
        let architecture = try Recipe.mlp.withHiddenUnits(8).architecture
        func tensor(_ name: String, _ shape: [Int]) -> SafetensorsTensor {
            SafetensorsTensor(name: name, shape: shape, values: [Float](repeating: 0.5, count: shape.reduce(1, *)))
        }
        func refusal(_ tensors: [SafetensorsTensor]) -> String {
            do {
                _ = try PyTorchImport.model(architecture: architecture, weights: SafetensorsFile(tensors: tensors), source: "w.safetensors")
                return "accepted"
            } catch { return "\(error)" }
        }
        let good = [tensor("fc1.weight", [8, 784]), tensor("fc1.bias", [8]), tensor("fc2.weight", [10, 8]), tensor("fc2.bias", [10])]
        XCTAssertEqual(refusal(good), "accepted")
        XCTAssertEqual(refusal(Array(good.dropLast())), "accepted", "a missing bias is zero (bias=False)")
        let transposed = [tensor("fc1.weight", [784, 8])] + good.dropFirst()
        XCTAssertTrue(refusal(transposed).contains("tensor 'fc1.weight' has shape [784, 8] but layer 0, Dense(784→8), needs [8, 784]"),
                      refusal(transposed))
        XCTAssertTrue(refusal(Array(good.prefix(2))).contains("1 linear module (fc1) but 'mlp' has 2 dense layers"), refusal(Array(good.prefix(2))))
        XCTAssertFalse(refusal(transposed).contains("--hidden"), refusal(transposed))
        // Weights of a wider hidden layer: the message says which --hidden fits them.
        let wider = [tensor("fc1.weight", [32, 784]), tensor("fc1.bias", [32]), tensor("fc2.weight", [10, 32]), tensor("fc2.bias", [10])]
        XCTAssertTrue(refusal(wider).contains("its hidden layer has 32 units: import with --hidden 32"), refusal(wider))
        XCTAssertTrue(refusal(good + [tensor("fc2.weight_g", [10])]).contains("fc2.weight_g"))
        XCTAssertTrue(refusal([tensor("conv.weight", [4, 1, 3])] + good).contains("conv.weight"))
        var nan = good
        nan[3].values[2] = .nan
        XCTAssertTrue(refusal(nan).contains("'fc2.bias' holds NaN"), refusal(nan))
        // Modules in natural order: layers.2 before layers.10, though "layers.10" < "layers.2" as text.
        let numbered = [tensor("layers.10.weight", [10, 8]), tensor("layers.2.weight", [8, 784])]
        XCTAssertEqual(refusal(numbered), "accepted")
    }

    /// Files that are not PyTorch weights in safetensors are refused saying what they are and what to do.
    func testMisdirectedFilesAreNamedForWhatTheyAre() throws {
        // A digits model given to import: it already is one.
        let model = directory.appendingPathComponent("model.safetensors")
        try ModelFile(model: Model(architecture: Recipe.linearSVM.architecture, seed: 1), options: nil, history: []).write(to: model)
        XCTAssertThrowsError(try PyTorchImport.modelFile(contentsOf: model, architecture: Recipe.linearSVM.architecture)) {
            XCTAssertTrue("\($0)".contains("it already is a digits model file"), "\($0)")
        }
        // PyTorch weights given where a digits model is expected: import them.
        let weights = directory.appendingPathComponent("weights.safetensors")
        try SafetensorsFile(tensors: [SafetensorsTensor(name: "fc1.weight", shape: [1], values: [1])]).write(to: weights)
        XCTAssertThrowsError(try ModelFile.read(contentsOf: weights)) {
            XCTAssertTrue("\($0)".contains("digits import \(weights.path) --model NAME"), "\($0)")
        }
        // torch.save's zip archive and a bare pickle: not safetensors, and how to make one.
        for (bytes, what) in [([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 40), "zip archive"),
                              ([0x80, 0x04, 0x95] + [UInt8](repeating: 0x20, count: 40), "Python pickle")] {
            let url = directory.appendingPathComponent("torch.pt")
            try Data(bytes).write(to: url)
            XCTAssertThrowsError(try ModelFile.read(contentsOf: url)) { error in
                XCTAssertTrue("\(error)".contains(what) && "\(error)".contains("save_file"), "\(error)")
            }
        }
        // A safetensors file whose 640-byte header length begins like a pickle is still read as safetensors.
        var header = Array("{\"__metadata__\":{\"a\":\"".utf8)
        while header.count < 640 - 3 { header.append(UInt8(ascii: "x")) }
        header += Array("\"}}".utf8)
        let lookalike = [0x80, 0x02, 0, 0, 0, 0, 0, 0] + header
        XCTAssertEqual(try SafetensorsFile.decode(lookalike, source: "l").metadata["a"]?.count, 640 - 3 - 22)
    }

    // MARK: - Python

    /// The reference: random weights in PyTorch's layouts, saved as safetensors by hand, and numpy's forward pass.
    private static let script = #"""
        import json, struct, sys
        import numpy as np

        out = sys.argv[1]
        rng = np.random.default_rng(2024)

        def save(path, tensors):
            # safetensors: 8-byte little-endian header length, JSON header, data (laid out by name, as the
            # safetensors library does, so file order is not module order).
            header, blobs, offset = {}, [], 0
            for name in sorted(tensors):
                a = tensors[name]
                dtype = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[a.dtype]
                raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
                header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
                blobs.append(raw)
                offset += len(raw)
            text = json.dumps(header).encode()
            text += b" " * (-len(text) % 8)
            with open(path, "wb") as f:
                f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

        def normal(*shape, std=0.1):
            return rng.normal(0, std, shape).astype(np.float32)

        def linear(x, w, b):
            return x @ w.T + b

        def conv(x, w, b, pad):
            x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
            kh, kw = w.shape[2:]
            windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))   # N, C, OH, OW, kh, kw
            y = np.einsum("nchwij,ocij->nohw", windows, w)
            return y if b is None else y + b[None, :, None, None]

        def pool(x):
            n, c, h, w = x.shape
            return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))

        def relu(x):
            return np.maximum(x, 0)

        def softmax(z):
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

        def write(name, weights, pixels, probabilities):
            save(f"{out}/{name}.safetensors", weights)
            pixels.astype("<f4").tofile(f"{out}/{name}.input.f32")
            probabilities.astype("<f4").tofile(f"{out}/{name}.expected.f32")

        pixels = (rng.random((6, 784)) * (rng.random((6, 784)) < 0.3)).astype(np.float32)
        images = pixels.reshape(6, 1, 28, 28)
        standardised = (images - 0.1307) / 0.3081

        # mlp (nn.Sequential(Linear, ReLU, Linear)): 0.weight, 2.weight
        w = {"0.weight": normal(64, 784), "0.bias": normal(64), "2.weight": normal(10, 64), "2.bias": normal(10)}
        p = softmax(linear(relu(linear(pixels, w["0.weight"], w["0.bias"])), w["2.weight"], w["2.bias"]))
        write("mlp", w, pixels, p)

        # lenet5 as a class: conv1, conv2, fc1, fc2, fc3; standardised inputs
        w = {"conv1.weight": normal(6, 1, 5, 5, std=0.3), "conv1.bias": normal(6),
             "conv2.weight": normal(16, 6, 5, 5), "conv2.bias": normal(16),
             "fc1.weight": normal(120, 400), "fc1.bias": normal(120), "fc2.weight": normal(84, 120), "fc2.bias": normal(84),
             "fc3.weight": normal(10, 84, std=0.3), "fc3.bias": normal(10)}
        x = pool(relu(conv(standardised, w["conv1.weight"], w["conv1.bias"], 2)))
        x = pool(relu(conv(x, w["conv2.weight"], w["conv2.bias"], 0))).reshape(6, -1)
        x = relu(linear(x, w["fc1.weight"], w["fc1.bias"]))
        x = relu(linear(x, w["fc2.weight"], w["fc2.bias"]))
        write("lenet5", w, pixels, softmax(linear(x, w["fc3.weight"], w["fc3.bias"])))

        # features = (Conv2d(bias=False), BatchNorm2d, ReLU, MaxPool2d), classifier = (Flatten, Linear)
        w = {"features.0.weight": normal(4, 1, 3, 3, std=0.5),
             "features.1.weight": (1 + normal(4)), "features.1.bias": normal(4),
             "features.1.running_mean": normal(4), "features.1.running_var": (0.5 + rng.random(4)).astype(np.float32),
             "features.1.num_batches_tracked": np.array(937, dtype=np.int64),
             "classifier.1.weight": normal(10, 784), "classifier.1.bias": normal(10)}
        x = conv(images, w["features.0.weight"], None, 1)
        scale = w["features.1.weight"] / np.sqrt(w["features.1.running_var"] + 1e-5)
        x = (x - w["features.1.running_mean"][None, :, None, None]) * scale[None, :, None, None] + w["features.1.bias"][None, :, None, None]
        x = pool(relu(x)).reshape(6, -1)
        write("conv-bn", w, pixels, softmax(linear(x, w["classifier.1.weight"], w["classifier.1.bias"])))
        """#

    /// Float32 values from a file written by numpy as little-endian "<f4" (this machine's order).
    private func floats(_ url: URL) throws -> [Float] {
        try Data(contentsOf: url).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
