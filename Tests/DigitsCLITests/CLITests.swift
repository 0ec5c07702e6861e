import XCTest
import Foundation
import Digits

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

    /// Runs `digits` (or another of the package's executables, `program`) with `arguments`; returns the exit
    /// status, standard output and standard error. With `interruptWhen`, sends SIGINT (as Ctrl-C does) as
    /// soon as standard output contains that text.
    private func digits(_ arguments: [String], program: String = "digits", environment: [String: String] = [:],
                        interruptWhen marker: String? = nil) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = products.appendingPathComponent(program)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["DIGITS_DATA"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        // Output goes to files, which can be read while the process runs.
        let name = UUID().uuidString
        let outURL = directory.appendingPathComponent("\(name).out"), errURL = directory.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }
        process.standardOutput = out
        process.standardError = err
        try process.run()
        if let marker {
            let deadline = Date().addingTimeInterval(120)
            while process.isRunning, Date() < deadline,
                  !((try? String(contentsOf: outURL, encoding: .utf8))?.contains(marker) ?? false) {
                usleep(2_000)
            }
            process.interrupt()
        }
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: outURL, encoding: .utf8), try String(contentsOf: errURL, encoding: .utf8))
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
        XCTAssertTrue(eval.out.contains("on the test set"), eval.out)
        let viewed = try digits(["evaluate", model, "--validation", "500", "--tta", "shifts", "--data", dataDirectory])
        XCTAssertEqual(viewed.status, 0, viewed.err)
        XCTAssertTrue(viewed.out.contains("on the last 500 training images, 5 views averaged"), viewed.out)
        XCTAssertTrue(viewed.out.contains("/500)"), viewed.out)
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

    func testHostileFilesAndOutOfRangeOptionsAreRefusedWithoutASignal() throws {
        // Devices and folders are not read (`/dev/zero` would be read until memory ran out).
        for arguments in [["info", "/dev/zero"], ["info", directory.path], ["predict", "/dev/zero", "/dev/zero"]] {
            let r = try digits(arguments)
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.err)")
            XCTAssertTrue(r.err.contains("not a regular file"), r.err)
        }
        // A model file whose architecture cannot be built (a max-pool of stride 0) is refused naming the layer.
        let crafted = directory.appendingPathComponent("pool0.safetensors")
        let architecture = #"{"name":"x","layers":[{"maxPool2d":{"kernel":2,"stride":0}},{"flatten":{}}],"output":"scores","encoding":{"layout":"image","normalize":false},"initializer":{"normal":{"std":0.001}}}"#
        var header = [UInt8](try JSONSerialization.data(withJSONObject: ["__metadata__": ["format": "digits-model", "architecture": architecture]]))
        while header.count % 8 != 0 { header.append(0x20) }
        let length = (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) }
        try Data(length + header).write(to: crafted)
        for arguments in [["info", crafted.path], ["summary", crafted.path], ["evaluate", crafted.path, "--data", dataDirectory]] {
            let r = try digits(arguments)
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.err)")
            XCTAssertTrue(r.err.contains("layer 0 (MaxPool2D(2×2, stride 0)): the stride is 0"), "\(arguments): \(r.err)")
        }
        // Options outside their range: a message naming the option, never an abort.
        let cases: [([String], String)] = [
            (["train", "--model", "mlp", "--hidden", "100000000"], "--hidden must be in 1...65536"),
            (["train", "--model", "mlp", "--batch-size", "100000000"], "--batch-size must be in 1...65536"),
            (["train", "--model", "mlp", "--epochs", "1000000000"], "--epochs must be in 1...100000"),
            (["train", "--model", "mlp", "--threads", "100000"], "--threads must be 1 to 256"),
            (["report", crafted.path, "--gallery", "100000000"], "--gallery must be 0 to 10000"),
            // Issue 24: 1e300 seconds overflowed the conversion to milliseconds and died with SIGILL.
            (["serve", crafted.path, "--idle-timeout", "1e300"], "--idle-timeout must be 0.001 to 86400 seconds"),
            (["serve", crafted.path, "--body-timeout=-inf"], "--body-timeout must be 0.001 to 86400 seconds"),
            (["serve", crafted.path, "--max-body-bytes", "99999999999"], "--max-body-bytes must be 1 to 1000000000"),
        ]
        for (arguments, message) in cases {
            let r = try digits(arguments + (arguments[0] == "serve" ? [] : ["--data", dataDirectory]))
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertLessThan(r.status, 128, "\(arguments) ended by a signal")
            XCTAssertTrue(r.err.contains(message), "\(arguments): \(r.err)")
        }
    }

    func testBenchmarkRejectsBadArgumentsClearly() throws {
        let unknown = try digits(["layers", "resnet"], program: "digits-bench", environment: ["DIGITS_DATA": dataDirectory])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.err.contains("unknown model 'resnet'"), unknown.err)
        let missing = try digits(["layers"], program: "digits-bench")
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.err.contains("usage: digits-bench layers MODEL"), missing.err)
        let noModel = try digits(["infer", directory.appendingPathComponent("none.safetensors").path], program: "digits-bench",
                                 environment: ["DIGITS_DATA": dataDirectory])
        XCTAssertEqual(noModel.status, 1)
        XCTAssertTrue(noModel.err.contains("none.safetensors"), noModel.err)
    }

    /// `predict`, `read` and `serve` without a model file use the default model ($DIGITS_MODEL, else
    /// models/default.safetensors in the current folder), and say how to make it when there is none.
    func testCommandsWithoutAModelUseTheDefaultModel() throws {
        let picture = directory.appendingPathComponent("seven.pgm")
        let data = try MNIST.load(DataLocator.locate(explicit: dataDirectory).files)
        try Data(Array("P5 28 28 255\n".utf8) + Array(data.test.pixels(of: 0))).write(to: picture)
        for arguments in [["predict", picture.path], ["read", picture.path], ["serve"]] {
            let r = try digits(arguments)
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.err)")
            XCTAssertTrue(r.err.contains("no model file was given and there is no default model at \(directory.path)/models/default.safetensors"), r.err)
            XCTAssertTrue(r.err.contains("make train"), r.err)
        }
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("models"), withIntermediateDirectories: true)
        let trained = try digits(["train", "--model", "linear-svm", "--epochs", "1", "--quiet", "--output", "models/default.safetensors",
                                  "--data", dataDirectory])
        XCTAssertEqual(trained.status, 0, trained.err)
        let predicted = try digits(["predict", picture.path, "--json"])
        XCTAssertEqual(predicted.status, 0, predicted.err)
        let named = try digits(["predict", "models/default.safetensors", picture.path, "--json"])
        XCTAssertEqual(predicted.out, named.out)
        let read = try digits(["read", picture.path])
        XCTAssertEqual(read.status, 0, read.err)
        // The views a model reads can be chosen where it reads pictures, as with evaluate.
        let shifted = try digits(["predict", picture.path, "--tta", "shifts", "--json"])
        XCTAssertEqual(shifted.status, 0, shifted.err)
        XCTAssertNotEqual(shifted.out, named.out, "five views averaged gave the very same probabilities as one")
        // DIGITS_MODEL names another default; a missing one is reported as such.
        let moved = directory.appendingPathComponent("elsewhere.safetensors")
        try FileManager.default.moveItem(at: directory.appendingPathComponent("models/default.safetensors"), to: moved)
        let viaEnvironment = try digits(["predict", picture.path, "--json"], environment: ["DIGITS_MODEL": moved.path])
        XCTAssertEqual(viaEnvironment.out, named.out)
        let missing = try digits(["predict", picture.path], environment: ["DIGITS_MODEL": "/nonexistent.safetensors"])
        XCTAssertTrue(missing.err.contains("/nonexistent.safetensors (from DIGITS_MODEL)"), missing.err)
        XCTAssertEqual(DefaultModel.split(["a.png", "b.jpg"]).model, nil)
        XCTAssertEqual(DefaultModel.split(["m.bin", "b.jpg"]).model, "m.bin")
        XCTAssertEqual(DefaultModel.split(["m.safetensors"]).rest, ["m.safetensors"])
    }

    func testModelsListsEveryRecipe() throws {
        let r = try digits(["models"])
        XCTAssertEqual(r.status, 0)
        for name in ["linear-svm", "mlp-sigmoid", "mlp"] { XCTAssertTrue(r.out.contains(name)) }
    }

    func testNewOptionsRefuseBadValues() throws {
        let cases: [([String], String)] = [
            (["train", "--augment", "spin:3"], "--augment 'spin:3' is not 'standard', 'none'"),
            (["train", "--weight-decay", "0.1"], "--optimizer adamw"),
            (["train", "--label-smoothing", "1.5"], "--label-smoothing"),
            (["train", "--clip-norm", "0"], "--clip-norm"),
            (["train", "--average", "1"], "--average"),
            (["ensemble", "one.safetensors"], "at least two model files"),
            (["report", "m.safetensors", "--gallery", "-1"], "--gallery"),
            (["inspect", "--index", "0", "--scale", "0"], "--scale"),
            (["train", "--validation", "0"], "--validation must be at least 1"),
            (["train", "--validation", "60000", "--data", dataDirectory], "leaves no training images"),
            (["serve", "m.safetensors", "--idle-timeout", "0"], "--idle-timeout"),
            (["serve", "m.safetensors", "--body-timeout", "nan"], "--body-timeout"),
            (["evaluate", "m.safetensors", "--tta", "wobble"], "--tta must be 'none' or 'shifts'"),
            (["serve", "m.safetensors", "--tta", "wobble"], "--tta must be 'none' or 'shifts'"),
            (["predict", "m.safetensors", "a.png", "--tta", "wobble"], "--tta must be 'none' or 'shifts'"),
            (["read", "a.png", "--tta", "wobble"], "--tta must be 'none' or 'shifts'"),
            (["evaluate", "m.safetensors", "--validation", "0"], "--validation must be at least 1"),
        ]
        for (arguments, expected) in cases {
            let r = try digits(arguments)
            XCTAssertNotEqual(r.status, 0, arguments.joined(separator: " "))
            XCTAssertTrue(r.err.contains(expected), "\(arguments.joined(separator: " ")): \(r.err)")
        }
    }

    func testReportInspectAndExplain() throws {
        let model = directory.appendingPathComponent("svm.safetensors").path
        let train = try digits(["train", "--model", "linear-svm", "--epochs", "1", "--quiet", "--data", dataDirectory, "--output", model])
        XCTAssertEqual(train.status, 0, train.err)

        let report = try digits(["report", model, "--output", "r.html", "--png", "charts", "--gallery", "5", "--data", dataDirectory])
        XCTAssertEqual(report.status, 0, report.err)
        XCTAssertTrue(report.out.contains("r.html: report on linear-svm, test accuracy "), report.out)
        let html = try String(contentsOf: directory.appendingPathComponent("r.html"), encoding: .utf8)
        XCTAssertEqual(html.components(separatedBy: "<img class=\"chart\"").count - 1, 5)
        let charts = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("charts").path).sorted()
        XCTAssertEqual(charts, ["accuracy.png", "confusion.png", "loss.png", "misclassified.png", "weights.png"])

        let inspect = try digits(["inspect", "--index", "1", "--data", dataDirectory])
        XCTAssertEqual(inspect.status, 0, inspect.err)
        XCTAssertTrue(inspect.out.hasPrefix("test image 1: label 2\n"), inspect.out)
        XCTAssertTrue(inspect.out.contains("@"), inspect.out)
        let outside = try digits(["inspect", "--index", "60000", "--split", "train", "--data", dataDirectory])
        XCTAssertNotEqual(outside.status, 0)
        XCTAssertTrue(outside.err.contains("0 to 59999"), outside.err)

        let explain = try digits(["explain", model, "--index", "0", "--output", "e.png", "--data", dataDirectory])
        XCTAssertEqual(explain.status, 0, explain.err)
        XCTAssertTrue(explain.out.contains("Dense(784→10)"), explain.out)
        XCTAssertTrue(explain.out.contains("answer: "), explain.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("e.png").path))
        let neither = try digits(["explain", model])
        XCTAssertNotEqual(neither.status, 0)
        XCTAssertTrue(neither.err.contains("either a picture or --index"), neither.err)
    }
    /// Ctrl-C during training saves a checkpoint and says how to resume; the resumed run ends with the
    /// weights of an unbroken one. A resume with other options is refused.
    func testInterruptedTrainingResumesToTheSameModel() throws {
        let data = try writeSyntheticIDX(trainCount: 6000, testCount: 200)
        let common = ["train", "--model", "mlp", "--hidden", "128", "--epochs", "3", "--batch-size", "4", "--quiet"] + data
        let straight = directory.appendingPathComponent("straight.safetensors").path
        let unbroken = try digits(common + ["--output", straight], environment: ["DIGITS_GIT_REVISION": "feedface"])
        XCTAssertEqual(unbroken.status, 0, unbroken.err)

        let model = directory.appendingPathComponent("broken.safetensors").path
        let log = directory.appendingPathComponent("broken.jsonl").path
        let checkpoint = directory.appendingPathComponent("broken.checkpoint.safetensors").path
        let stopped = try digits(common + ["--output", model, "--log", log], interruptWhen: "training mlp")
        XCTAssertEqual(stopped.status, 130, stopped.out + stopped.err)
        XCTAssertTrue(stopped.err.contains("Continue it with:\n  digits train --resume \(checkpoint) --output \(model) --log \(log)"), stopped.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: model), "no model before the run is complete")
        let info = try digits(["info", checkpoint])
        XCTAssertEqual(info.status, 0, info.err)
        XCTAssertTrue(info.out.contains("checkpoint: epoch "), info.out)

        let refused = try digits(["train", "--resume", checkpoint, "--lr", "0.5", "--quiet"] + data)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.err.contains("--lr is 0.001 in the checkpoint but 0.5 was asked for"), refused.err)

        let resumed = try digits(["train", "--resume", checkpoint, "--output", model, "--log", log, "--quiet"] + data)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertTrue(resumed.out.contains("resuming mlp from \(checkpoint)"), resumed.out)
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count, 3)
        let weights = try metadata(model)["weights_sha256"]
        XCTAssertNotNil(weights)
        XCTAssertEqual(weights, try metadata(straight)["weights_sha256"], "resumed and unbroken runs end with the same weights")

        let provenance = try digits(["info", straight])
        XCTAssertTrue(provenance.out.contains("git revision feedface"), provenance.out)
        XCTAssertTrue(provenance.out.contains("command: digits train --model mlp --hidden 128"), provenance.out)
        XCTAssertTrue(provenance.out.contains("schedule constant"), provenance.out)
    }

    /// A small IDX dataset (class c lights a band of rows, plus noise); returns the options naming its four files.
    private func writeSyntheticIDX(trainCount: Int, testCount: Int) throws -> [String] {
        var state: UInt64 = 12345
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        func idx(_ dimensions: [Int], _ payload: [UInt8]) -> Data {
            var bytes: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
            for d in dimensions { bytes += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: d >> $0) } }
            return Data(bytes + payload)
        }
        var options: [String] = []
        for (role, count) in [("train", trainCount), ("test", testCount)] {
            var images = [UInt8](repeating: 0, count: count * 784), labels: [UInt8] = []
            for i in 0..<count {
                let c = next(10)
                labels.append(UInt8(c))
                for p in (2 * c + 3) * 28 ..< (2 * c + 6) * 28 { images[i * 784 + p] = 200 }
                for _ in 0..<40 { images[i * 784 + next(784)] = UInt8(next(256)) }
            }
            let imagesURL = directory.appendingPathComponent("\(role)-images"), labelsURL = directory.appendingPathComponent("\(role)-labels")
            try idx([count, 28, 28], images).write(to: imagesURL)
            try idx([count], labels).write(to: labelsURL)
            options += ["--\(role)-images", imagesURL.path, "--\(role)-labels", labelsURL.path]
        }
        return options
    }

    /// The `__metadata__` of a safetensors file.
    private func metadata(_ path: String) throws -> [String: String] {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let length = bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8 ..< 8 + length])) as? [String: Any]
        return header?["__metadata__"] as? [String: String] ?? [:]
    }

    func testImportAndInfo() throws {
        let python = ProcessInfo.processInfo.environment["DIGITS_ONNX_PYTHON"].map { [$0] } ?? ["/usr/bin/env", "python3"]
        let weights = directory.appendingPathComponent("torch.safetensors").path
        let make = try Process.run(URL(fileURLWithPath: python[0]), arguments: python.dropFirst() + ["-c", Self.torchWeights, weights])
        make.waitUntilExit()
        guard make.terminationStatus == 0 else { throw XCTSkip("no Python with numpy (\(python.joined(separator: " "))) to write the weights") }
        let model = directory.appendingPathComponent("imported.safetensors").path
        let imported = try digits(["import", weights, "--model", "mlp", "--hidden", "16", "--output", model])
        XCTAssertEqual(imported.status, 0, imported.err)
        let info = try digits(["info", model])
        XCTAssertTrue(info.out.contains("imported from torch.safetensors (pytorch layout, sha256 "), info.out)
        let eval = try digits(["evaluate", model, "--data", dataDirectory])
        XCTAssertEqual(eval.status, 0, eval.err)
        XCTAssertTrue(eval.out.contains("accuracy"), eval.out)
        let wrong = try digits(["import", weights, "--model", "lenet5", "--output", model])
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.err.contains("torch.safetensors: cannot import: it holds 2 linear modules (fc1, fc2) but 'lenet5' has 3 dense layers"), wrong.err)
    }

    /// Writes random PyTorch-layout weights for mlp with 16 hidden units (fc1, fc2) as safetensors.
    private static let torchWeights = """
        import json, struct, sys
        import numpy as np
        rng = np.random.default_rng(1)
        tensors = {"fc1.weight": (16, 784), "fc1.bias": (16,), "fc2.weight": (10, 16), "fc2.bias": (10,)}
        header, data = {}, b""
        for name, shape in tensors.items():
            raw = rng.normal(0, 0.05, shape).astype("<f4").tobytes()
            header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
            data += raw
        text = json.dumps(header).encode()
        open(sys.argv[1], "wb").write(struct.pack("<Q", len(text)) + text + data)
        """
}
