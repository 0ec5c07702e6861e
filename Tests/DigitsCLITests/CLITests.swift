import XCTest
import Foundation

/// Runs the built `digits` executable end to end.
final class CLITests: XCTestCase {
    private var directory: URL!

    /// The folder of the build's products (where `digits` sits beside the test bundle).
    private var products: URL {
        var url = Bundle(for: CLITests.self).bundleURL
        if url.pathExtension == "xctest" { url.deleteLastPathComponent() }
        return url
    }

    private var dataDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/datasets/mnist").path
    }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("digits-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `digits` with `arguments`; returns the exit status, standard output and standard error.
    private func digits(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = products.appendingPathComponent("digits")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["DIGITS_DATA"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    func testTrainSaveEvaluate() throws {
        let model = directory.appendingPathComponent("svm.safetensors").path
        let log = directory.appendingPathComponent("log.jsonl").path
        let runs = directory.appendingPathComponent("runs/svm")
        let train = try digits(["train", "--model", "linear-svm", "--epochs", "2", "--quiet", "--data", dataDirectory,
                                "--output", model, "--log", log, "--tensorboard", runs.path])
        XCTAssertEqual(train.status, 0, train.err)
        XCTAssertTrue(train.out.contains("epoch 2: train loss"), train.out)
        let events = try FileManager.default.contentsOfDirectory(atPath: runs.path)
        XCTAssertEqual(events.count, 1, "\(events)")
        XCTAssertTrue(events.allSatisfy { $0.hasPrefix("events.out.tfevents.") }, "\(events)")
        XCTAssertTrue(train.out.contains("TensorBoard events: \(runs.path)/events.out.tfevents."), train.out)
        XCTAssertTrue(train.out.contains("test accuracy: "), train.out)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let record = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any]
        XCTAssertEqual(record?["epoch"] as? Int, 2)
        XCTAssertGreaterThan(record?["testAccuracy"] as? Double ?? 0, 0.85)

        let eval = try digits(["evaluate", model, "--data", dataDirectory])
        XCTAssertEqual(eval.status, 0, eval.err)
        XCTAssertTrue(eval.out.contains("confusion matrix"), eval.out)
        XCTAssertTrue(eval.out.contains("precision"), eval.out)
        let json = try digits(["evaluate", model, "--json", "--data", dataDirectory])
        XCTAssertEqual(json.status, 0, json.err)
        let report = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        XCTAssertEqual((report?["confusion"] as? [[Int]])?.count, 10)
        let info = try digits(["info", model])
        XCTAssertEqual(info.status, 0, info.err)
        XCTAssertTrue(info.out.contains("the official MNIST files"), info.out)
        XCTAssertTrue(info.out.contains("seed 1"), info.out)
        XCTAssertTrue(info.out.contains("epochs run: 2"), info.out)
        let onnx = directory.appendingPathComponent("svm.onnx").path
        let export = try digits(["export", model, "--onnx", onnx])
        XCTAssertEqual(export.status, 0, export.err)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: onnx)))
        XCTAssertEqual(Array(bytes.prefix(2)), [0x08, 0x07])            // ModelProto.ir_version = 7
        let badExport = try digits(["export", model, "--onnx", "/no/such/dir/m.onnx"])
        XCTAssertNotEqual(badExport.status, 0)
        XCTAssertTrue(badExport.err.contains("does not exist"), badExport.err)
        // A hand-made PGM picture: a dark vertical stroke on light paper.
        var pgm = [UInt8]("P5\n60 80\n255\n".utf8)
        for y in 0..<80 { for x in 0..<60 { pgm.append((27...33).contains(x) && (10..<70).contains(y) ? 20 : 230) } }
        let picture = directory.appendingPathComponent("stroke.pgm")
        try Data(pgm).write(to: picture)
        let predict = try digits(["predict", model, picture.path, "--show-input", "-"])
        XCTAssertEqual(predict.status, 0, predict.err)
        XCTAssertTrue(predict.out.contains("top 3:"), predict.out)
        XCTAssertTrue(predict.err.contains("#") || predict.err.contains("@"), "ASCII art of the prepared digit: \(predict.err)")
        let predictJSON = try digits(["predict", model, picture.path, "--json"])
        let readings = try JSONSerialization.jsonObject(with: Data(predictJSON.out.utf8)) as? [[String: Any]]
        XCTAssertEqual((readings?.first?["probabilities"] as? [Double])?.count, 10)
        let notPicture = directory.appendingPathComponent("notes.txt")
        try Data("hello".utf8).write(to: notPicture)
        let badPredict = try digits(["predict", model, notPicture.path])
        XCTAssertNotEqual(badPredict.status, 0)
        XCTAssertTrue(badPredict.err.contains("notes.txt"), badPredict.err)
        // The printed accuracy agrees with the one at the end of training.
        let accuracy = try XCTUnwrap(report?["accuracy"] as? Double)
        XCTAssertTrue(train.out.contains(String(format: "%.2f%%", accuracy * 100)), "\(accuracy) vs \(train.out)")
    }

    func testBadInputGivesClearErrorsAndNonZeroExit() throws {
        let unknown = try digits(["train", "--model", "resnet"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.err.contains("unknown model 'resnet'"), unknown.err)

        let noData = try digits(["train", "--model", "linear-svm", "--data", directory.appendingPathComponent("nowhere").path])
        XCTAssertNotEqual(noData.status, 0)
        XCTAssertTrue(noData.err.contains("digits download"), noData.err)

        let badOutput = try digits(["train", "--model", "linear-svm", "--data", dataDirectory, "--output", "/no/such/dir/m.safetensors"])
        XCTAssertNotEqual(badOutput.status, 0)
        XCTAssertTrue(badOutput.err.contains("does not exist"), badOutput.err)
        XCTAssertFalse(badOutput.out.contains("epoch 1"), "the output path must be checked before training")

        let badNumber = try digits(["train", "--epochs", "0"])
        XCTAssertNotEqual(badNumber.status, 0)
        XCTAssertTrue(badNumber.err.contains("--epochs"), badNumber.err)

        let garbage = directory.appendingPathComponent("garbage.safetensors")
        try Data("not a model at all".utf8).write(to: garbage)
        let badModel = try digits(["evaluate", garbage.path, "--data", dataDirectory])
        XCTAssertNotEqual(badModel.status, 0)
        XCTAssertTrue(badModel.err.contains("garbage.safetensors"), badModel.err)

        let partial = try digits(["train", "--train-images", "x"])
        XCTAssertNotEqual(partial.status, 0)
        XCTAssertTrue(partial.err.contains("give all four"), partial.err)
    }

    func testModelsListsEveryRecipe() throws {
        let r = try digits(["models"])
        XCTAssertEqual(r.status, 0)
        for name in ["linear-svm", "mlp-sigmoid", "mlp"] { XCTAssertTrue(r.out.contains(name)) }
    }
}
