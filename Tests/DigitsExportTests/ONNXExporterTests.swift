import XCTest
import Foundation
import DigitsTestSupport
@testable import DigitsExport

/// Exported models checked by the ONNX checker and run by onnxruntime, against `Model.probabilities`.
///
/// The onnxruntime tests need a Python with `onnx`, `onnxruntime` and `numpy` (`TestPython`: the
/// `.venv-test` that scripts/setup makes, or `$DIGITS_ONNX_PYTHON`), and are skipped when none has them.
final class ONNXExporterTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("digits-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: - Without Python

    func testHeaderFieldsComeFirst() throws {
        let bytes = try ONNXExporter.export(Model(architecture: Recipe.linearSVM.architecture, seed: 1))
        // ModelProto: ir_version (1) = 7, then producer_name (2) = "digits".
        XCTAssertEqual(Array(bytes.prefix(10)), [0x08, 0x07, 0x12, 0x06] + Array("digits".utf8))
        // The opset import (field 8, length 4: domain "" and version 13) closes the file.
        XCTAssertEqual(Array(bytes.suffix(6)), [0x42, 0x04, 0x0A, 0x00, 0x10, 0x0D])
    }

    func testWriteIsTheExportAndReportsAnUnwritablePath() throws {
        let model = Model(architecture: Recipe.mlp.architecture, seed: 3)
        let url = directory.appendingPathComponent("mlp.onnx")
        try ONNXExporter.write(model, to: url)
        XCTAssertEqual(try [UInt8](Data(contentsOf: url)), try ONNXExporter.export(model))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0 != "mlp.onnx" }
        XCTAssertEqual(leftovers, [], "no temporary file may be left behind")

        let missing = directory.appendingPathComponent("no/such/dir/mlp.onnx")
        XCTAssertThrowsError(try ONNXExporter.write(model, to: missing)) { error in
            guard case DigitsError.unwritableOutput(let path, _)? = error as? DigitsError else {
                return XCTFail("expected unwritableOutput, got \(error)")
            }
            XCTAssertEqual(path, missing.path)
        }
    }

    func testOutputThatIsNotOneScorePerClassIsRefused() {
        let architecture = custom("no-head", [.conv2d(inputChannels: 1, outputChannels: 2, kernel: 5)],
                                  output: .softmax, encoding: InputEncoding(layout: .image))
        XCTAssertThrowsError(try ONNXExporter.export(Model(architecture: architecture, seed: 1))) { error in
            XCTAssertEqual(error as? ONNXExportError, .unsupportedOutputShape([2, 24, 24]))
            XCTAssertTrue("\(error)".contains("Flatten"))
        }
    }

    func testAModelReadingSeveralViewsIsRefusedUntilToldToReadOne() throws {
        let model = Model(architecture: try Recipe.named("best").architecture, seed: 1)
        let views = try XCTUnwrap(model.architecture.testTimeAugmentation).views.count
        XCTAssertThrowsError(try ONNXExporter.export(model)) { error in
            XCTAssertEqual(error as? ONNXExportError, .testTimeAugmentation(views: views))
            XCTAssertTrue("\(error)".contains("--tta none"), "\(error)")
        }
        model.read(in: nil)
        XCTAssertNoThrow(try ONNXExporter.export(model))
    }

    // MARK: - Through onnxruntime

    func testMLPRecipe() throws {
        try checkAgainstOnnxRuntime(Model(architecture: Recipe.mlp.architecture, seed: 1))
    }

    /// A trained `mlp` and a fresh `lenet5` over all 10,000 MNIST test images: same class for every
    /// image, probabilities within 1e-4.
    func testEveryMNISTTestImage() throws {
        _ = try Self.pythonWithOnnxRuntime()
        let data = try MNIST.load(DataLocator.locate(explicit: mnistFolder).files)
        var options = Recipe.mlp.options
        options.epochs = 1
        let trainer = try Trainer(architecture: Recipe.mlp.architecture, options: options)
        try trainer.train(on: data.train, test: nil)
        try checkAgainstOnnxRuntime(trainer.model, pictures: data.test.images)
        try checkAgainstOnnxRuntime(Model(architecture: Recipe.lenet5.architecture, seed: 4), pictures: data.test.images)
    }

    func testLeNet5Recipe() throws {
        try checkAgainstOnnxRuntime(Model(architecture: Recipe.lenet5.architecture, seed: 2))
    }

    func testCNNRecipe() throws {
        try checkAgainstOnnxRuntime(Model(architecture: Recipe.cnn.architecture, seed: 3))
    }

    func testMLPSigmoidRecipe() throws {
        try checkAgainstOnnxRuntime(Model(architecture: Recipe.mlpSigmoid(hidden: 200).architecture, seed: 4))
    }

    func testLinearSVMRecipe() throws {
        try checkAgainstOnnxRuntime(Model(architecture: Recipe.linearSVM.architecture, seed: 5))
    }

    /// Strided 'same' padding (an odd total: the extra row and column at the bottom and right), asymmetric
    /// explicit padding, batch norm on channels and on features, average pooling, dropout, tanh.
    func testBatchNormAvgPoolAndPadding() throws {
        let architecture = custom(
            "bn-avgpool",
            [.conv2d(inputChannels: 1, outputChannels: 4, kernel: 3, stride: 2, padding: .same),   // 28 → 14
                     .batchNorm(features: 4), .relu,
                     .avgPool2d(kernel: 2, stride: 2),                                                      // 14 → 7
                     .conv2d(inputChannels: 4, outputChannels: 6, kernelHeight: 3, kernelWidth: 2,
                             strideHeight: 1, strideWidth: 2, padding: .explicit(top: 1, bottom: 0, left: 2, right: 1)),
                     .maxPool2d(kernel: 2, stride: 1),                                                      // 6x5 → 5x4
                     .flatten, .dropout(rate: 0.5),
                     .dense(inputs: 6 * 5 * 4, outputs: 32), .batchNorm(features: 32), .tanh,
                     .dense(inputs: 32, outputs: 10)],
            output: .softmax, encoding: InputEncoding(normalize: true, layout: .image))
        let model = Model(architecture: architecture, seed: 6)
        XCTAssertEqual(model.outputShapes()[4], [6, 6, 5])
        randomizeBatchNorm(model, seed: 7)
        try checkAgainstOnnxRuntime(model)
    }

    /// A flat model with standardised inputs: Sub/Div then Flatten in front of the layers.
    func testFlatStandardisedScores() throws {
        let architecture = custom(
            "flat-standardised",
            [.dense(inputs: 784, outputs: 64), .batchNorm(features: 64), .relu, .dropout(rate: 0.2),
                     .dense(inputs: 64, outputs: 10)],
            output: .scores, encoding: InputEncoding(normalize: true, layout: .flat))
        let model = Model(architecture: architecture, seed: 8)
        randomizeBatchNorm(model, seed: 9)
        try checkAgainstOnnxRuntime(model)
    }

    // MARK: - Helpers

    /// An architecture of our own, built from a recipe's (`Architecture` has no public memberwise initializer).
    private func custom(_ name: String, _ layers: [LayerSpec], output: OutputKind, encoding: InputEncoding) -> Architecture {
        var architecture = Recipe.lenet5.architecture                   // He-normal initial weights
        architecture.name = name
        architecture.layers = layers
        architecture.output = output
        architecture.encoding = encoding
        return architecture
    }

    /// Gives every batch norm layer non-trivial statistics, scale and shift (fresh ones are the identity).
    private func randomizeBatchNorm(_ model: Model, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        for case let norm as BatchNorm in model.network.layers {
            let c = norm.features
            norm.weight.value = Tensor(shape: [c], values: (0..<c).map { _ in 0.5 + rng.nextUniform() })
            norm.bias.value = Tensor(shape: [c], values: (0..<c).map { _ in rng.nextNormal(std: 0.3) })
            norm.runningMean.value = Tensor(shape: [c], values: (0..<c).map { _ in rng.nextNormal(std: 0.5) })
            norm.runningVariance.value = Tensor(shape: [c], values: (0..<c).map { _ in 0.2 + 2 * rng.nextUniform() })
        }
    }

    /// `count` MNIST-like 28x28 pictures as bytes: a few thick strokes inside the central 20x20 box,
    /// dark background, plus one blank picture.
    private func syntheticPictures(count: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        var pixels = [UInt8](repeating: 0, count: count * 784)
        for n in 1..<count {                                            // picture 0 stays blank
            var (y, x) = (Float(4 + rng.nextInt(below: 20)), Float(4 + rng.nextInt(below: 20)))
            for _ in 0..<(2 + rng.nextInt(below: 3)) {
                let (ty, tx) = (Float(4 + rng.nextInt(below: 20)), Float(4 + rng.nextInt(below: 20)))
                for step in 0...20 {
                    let t = Float(step) / 20
                    let (cy, cx) = (y + (ty - y) * t, x + (tx - x) * t)
                    for dy in -2...2 {
                        for dx in -2...2 {
                            let (py, px) = (Int(cy.rounded()) + dy, Int(cx.rounded()) + dx)
                            guard (0..<28).contains(py), (0..<28).contains(px) else { continue }
                            let d = (Float(py) - cy) * (Float(py) - cy) + (Float(px) - cx) * (Float(px) - cx)
                            let ink = UInt8(max(0, min(255, 255 * (1.6 - d / 3) + 20 * rng.nextUniform())))
                            let i = n * 784 + py * 28 + px
                            pixels[i] = max(pixels[i], ink)
                        }
                    }
                }
                (y, x) = (ty, tx)
            }
        }
        return pixels
    }

    /// Exports `model`, checks it with `onnx.checker` (full check, shape inference included), runs it in
    /// onnxruntime on synthetic pictures and compares with `Model.probabilities` on the same pictures.
    private func checkAgainstOnnxRuntime(_ model: Model, pictures: [UInt8]? = nil,
                                         file: StaticString = #filePath, line: UInt = #line) throws {
        let python = try Self.pythonWithOnnxRuntime()
        let pixels = pictures ?? syntheticPictures(count: 32, seed: 11)
        let count = pixels.count / 784
        let unit = pixels.map { Float($0) / 255 }                       // the ONNX graph's input
        let table = model.architecture.encoding.table                   // what Model is fed, as in training
        let encoded = Tensor(shape: [count] + model.inputShape, values: pixels.map { table[Int($0)] })
        let expected = model.probabilities(encoded)

        let modelURL = directory.appendingPathComponent("\(model.architecture.name).onnx")
        let inputURL = directory.appendingPathComponent("input.f32")
        let outputURL = directory.appendingPathComponent("output.f32")
        try ONNXExporter.write(model, to: modelURL)
        try Data(unit.withUnsafeBytes { Array($0) }).write(to: inputURL)

        let result = try python.run(script: Self.runScript, arguments: [modelURL.path, inputURL.path, String(count), outputURL.path])
        guard result.status == 0 else {
            return XCTFail("onnx checker / onnxruntime failed for \(model.architecture.name):\n\(result.output)\(result.errors)", file: file, line: line)
        }
        let data = try Data(contentsOf: outputURL)
        let actual = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(actual.count, expected.count, "output size", file: file, line: line)
        guard actual.count == expected.count else { return }

        let classes = expected.columns
        var worst: Float = 0
        for i in 0..<actual.count { worst = max(worst, abs(actual[i] - expected.storage[i])) }
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(model.architecture.name): max |onnxruntime − Model|", file: file, line: line)
        for r in 0..<count {
            let e = Array(expected.storage[r * classes ..< (r + 1) * classes])
            let a = Array(actual[r * classes ..< (r + 1) * classes])
            let sorted = e.sorted(by: >)
            guard sorted[0] - sorted[1] > 1e-5 else { continue }        // a near tie: either class is right
            XCTAssertEqual(a.firstIndex(of: a.max()!), e.firstIndex(of: e.max()!),
                           "\(model.architecture.name): predicted class of picture \(r)", file: file, line: line)
        }
    }

    /// Loads the model, runs the checker, evaluates the batch and writes the probabilities as raw float32.
    private static let runScript = """
        import sys
        import numpy as np
        import onnx
        import onnxruntime as ort

        model_path, input_path, count, output_path = sys.argv[1:5]
        model = onnx.load(model_path)
        onnx.checker.check_model(model, full_check=True)
        assert model.ir_version == 7 and model.opset_import[0].version == 13, (model.ir_version, model.opset_import)
        x = np.fromfile(input_path, dtype="<f4").reshape(int(count), 1, 28, 28)
        session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == ["input"], session.get_inputs()
        assert [o.name for o in session.get_outputs()] == ["probabilities"], session.get_outputs()
        (y,) = session.run(["probabilities"], {"input": x})
        assert y.dtype == np.float32 and y.shape[0] == int(count), (y.dtype, y.shape)
        y.astype("<f4").tofile(output_path)
        """

    /// The first interpreter that imports onnx, onnxruntime and numpy; skips the test when there is none.
    private static func pythonWithOnnxRuntime() throws -> TestPython {
        let modules = ["onnx", "onnxruntime", "numpy"]
        guard let python = TestPython.find(importing: modules) else { throw XCTSkip(TestPython.missingMessage(modules)) }
        return python
    }
}
