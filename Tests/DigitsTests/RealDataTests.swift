import XCTest
import Digits

/// The real MNIST files from ../shared/datasets/mnist beside the package.
func realMNIST() throws -> MNIST {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = root.deletingLastPathComponent().appendingPathComponent("shared/datasets/mnist")
    return try MNIST.load(DataLocator.locate(explicit: ProcessInfo.processInfo.environment["DIGITS_DATA"] ?? dir.path).files)
}

/// An `mlp` trained on the real MNIST for `epochs` epochs with the recipe's other options (seed 1).
func trainedMLP(on data: MNIST, epochs: Int) throws -> Model {
    var options = Recipe.mlp.options
    options.epochs = epochs
    let trainer = try Trainer(architecture: Recipe.mlp.architecture, options: options)
    try trainer.train(on: data.train, test: nil)
    return trainer.model
}

final class RealDataTests: XCTestCase {
    /// One epoch of the `mlp` recipe on the real MNIST reaches at least 96% test accuracy.
    func testMLPOneEpochOnMNIST() throws {
        let data = try realMNIST()
        XCTAssertTrue(data.isOfficialMNIST)
        var options = Recipe.mlp.options
        options.epochs = 1
        let trainer = try Trainer(architecture: Recipe.mlp.architecture, options: options)
        let history = try trainer.train(on: data.train, test: data.test)
        let accuracy = try XCTUnwrap(history.last?.testAccuracy)
        print("mlp, 1 epoch: test accuracy \(accuracy), \(history[0].seconds) s")
        XCTAssertGreaterThanOrEqual(accuracy, 0.96)
        let report = try Evaluation.run(trainer.model, on: data.test)
        XCTAssertEqual(report.accuracy, accuracy, accuracy: 1e-12)
        XCTAssertEqual(report.support.reduce(0, +), 10_000)
    }
}
