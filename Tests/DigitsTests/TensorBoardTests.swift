import XCTest
import Foundation
import Digits
import DigitsTestSupport

/// TensorBoard event files: the bytes of one event by hand, then a short training run read back by
/// TensorBoard's own record reader (which checks both CRCs of every record) and its EventAccumulator.
final class TensorBoardTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("digits-tensorboard-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testScalarEventBytes() {
        let bytes = TensorBoardEventFile.scalarEvent(["a": 1], step: 3, wallTime: 1)
        XCTAssertEqual(bytes, [
            0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F,          // wall_time (1, fixed64) = 1.0
            0x10, 0x03,                                   // step (2, varint) = 3
            0x2A, 0x0A,                                   // summary (5, length-delimited), 10 bytes
            0x0A, 0x08,                                   //   value (1), 8 bytes
            0x0A, 0x01, 0x61,                             //     tag (1) = "a"
            0x15, 0x00, 0x00, 0x80, 0x3F,                 //     simple_value (2, fixed32) = 1.0
        ])
    }

    func testFileStartsWithTheVersionEventAndIsNamedForTensorBoard() throws {
        let file = try TensorBoardEventFile(directory: directory, wallTime: 1_700_000_000.5)
        let name = file.url.lastPathComponent
        XCTAssertTrue(name.hasPrefix("events.out.tfevents.1700000000."), name)
        XCTAssertTrue(name.hasSuffix(".digits"), name)
        let bytes = try [UInt8](Data(contentsOf: file.url))
        // One record: 8 + 4 length bytes, the event, 4 CRC bytes.
        let event: [UInt8] = [0x09] + Array(withUnsafeBytes(of: (1_700_000_000.5 as Double).bitPattern.littleEndian) { Array($0) })
            + [0x10, 0x00, 0x1A, 0x0D] + Array("brain.Event:2".utf8)
        XCTAssertEqual(bytes, TFRecord.frame(event))
    }

    func testUnwritableFolderIsReported() throws {
        let blocker = directory.appendingPathComponent("file")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: blocker.path, contents: Data()))
        XCTAssertThrowsError(try TensorBoardTrainingLog(directory: blocker.appendingPathComponent("run"))) { error in
            guard case DigitsError.unwritableOutput(let path, _)? = error as? DigitsError else {
                return XCTFail("expected unwritableOutput, got \(error)")
            }
            XCTAssertEqual(path, blocker.appendingPathComponent("run").path)
        }
        XCTAssertThrowsError(try TensorBoardTrainingLog(directory: directory, everySteps: 0))
    }

    /// Two epochs of 20 batches, a point every 5 steps: TensorBoard reads every record and finds each
    /// scalar at the right steps with the trainer's values.
    func testTensorBoardReadsATrainingRun() throws {
        let modules = ["tensorboard"]
        guard let python = TestPython.find(importing: modules) else { throw XCTSkip(TestPython.missingMessage(modules)) }
        let train = try syntheticDigits(count: 640, seed: 21), test = try syntheticDigits(count: 100, seed: 22)
        var options = Recipe.mlp.options
        options.epochs = 2
        options.batchSize = 32
        let log = try TensorBoardTrainingLog(directory: directory, everySteps: 5)
        let history = try Trainer(architecture: Recipe.mlp.architecture, options: options)
            .train(on: train, test: test, onEvent: log.handle)
        try log.finish()

        let result = try python.run(script: Self.readScript, arguments: [log.file.url.path, directory.path])
        XCTAssertEqual(result.status, 0, result.errors)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], result.output)
        XCTAssertEqual(json["file_version"] as? String, "brain.Event:2")
        // The version event, 8 per-step points, 2 epoch events.
        XCTAssertEqual(json["records"] as? Int, 1 + 8 + 2)
        let scalars = try XCTUnwrap(json["scalars"] as? [String: [[Double]]])
        XCTAssertEqual(Set(scalars.keys), ["batch/loss", "batch/accuracy", "batch/learning_rate",
                                           "epoch/train_loss", "epoch/train_accuracy", "epoch/test_loss",
                                           "epoch/test_accuracy", "epoch/learning_rate"])
        for tag in ["batch/loss", "batch/accuracy", "batch/learning_rate"] {
            XCTAssertEqual(scalars[tag]?.map { Int($0[0]) }, [5, 10, 15, 20, 25, 30, 35, 40], tag)
        }
        XCTAssertEqual(scalars["batch/learning_rate"]?.map { Float($0[1]) }, Array(repeating: options.learningRate, count: 8))
        func epochValues(_ tag: String) -> [Float]? { scalars[tag]?.map { Float($0[1]) } }
        for tag in ["epoch/train_loss", "epoch/train_accuracy", "epoch/test_loss", "epoch/test_accuracy"] {
            XCTAssertEqual(scalars[tag]?.map { Int($0[0]) }, [1, 2], tag)
        }
        XCTAssertEqual(epochValues("epoch/train_loss"), history.map { Float($0.trainLoss) })
        XCTAssertEqual(epochValues("epoch/train_accuracy"), history.map { Float($0.trainAccuracy) })
        XCTAssertEqual(epochValues("epoch/test_loss"), history.compactMap { $0.testLoss.map(Float.init) })
        XCTAssertEqual(epochValues("epoch/test_accuracy"), history.compactMap { $0.testAccuracy.map(Float.init) })
        XCTAssertEqual(epochValues("epoch/learning_rate"), history.map(\.learningRate))
        // Each point covers 5 batches of 32 samples, so an epoch's 4 points average to its record.
        let losses = try XCTUnwrap(scalars["batch/loss"]).map { $0[1] }
        let accuracies = try XCTUnwrap(scalars["batch/accuracy"]).map { $0[1] }
        for (e, record) in history.enumerated() {
            let points = (4 * e)..<(4 * e + 4)
            XCTAssertEqual(points.map { losses[$0] }.reduce(0, +) / 4, record.trainLoss, accuracy: 1e-5 * record.trainLoss)
            XCTAssertEqual(points.map { accuracies[$0] }.reduce(0, +) / 4, record.trainAccuracy, accuracy: 1e-6)
            XCTAssertTrue(points.allSatisfy { (0...1).contains(accuracies[$0]) })
        }
    }

    /// Reads the file record by record with TensorBoard's reader (CRCs checked, a bad one raises),
    /// then the folder with EventAccumulator; prints the first event's version, the record count and
    /// every scalar series as [step, value] pairs.
    private static let readScript = """
        import json, sys
        from tensorboard.compat.proto import event_pb2
        from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        path, folder = sys.argv[1:3]
        reader = pywrap_tensorflow.PyRecordReader_New(path)
        events = []
        while True:
            try:
                reader.GetNext()
            except errors.OutOfRangeError:
                break
            events.append(event_pb2.Event.FromString(reader.record()))
        accumulator = EventAccumulator(folder)
        accumulator.Reload()
        scalars = {tag: [[s.step, s.value] for s in accumulator.Scalars(tag)]
                   for tag in accumulator.Tags()["scalars"]}
        print(json.dumps({"file_version": events[0].file_version, "records": len(events), "scalars": scalars}))
        """
}
