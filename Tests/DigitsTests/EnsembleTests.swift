import XCTest
import Digits

final class EnsembleTests: XCTestCase {
    private func quick(_ recipe: Recipe, _ data: MNIST, seed: UInt64) throws -> Model {
        var options = recipe.options
        options.epochs = 1
        options.seed = seed
        let trainer = try Trainer(architecture: recipe.architecture, options: options)
        try trainer.train(on: data.train.prefix(2000), test: nil)
        return trainer.model
    }

    func testProbabilitiesAreTheMembersMeanAndTheAnswerTheirArgmax() throws {
        let data = try realMNIST()
        let test = data.test.prefix(300)
        let a = try quick(Recipe.linearSVM, data, seed: 1), b = try quick(Recipe.mlp, data, seed: 2)
        let ensemble = try Ensemble([a, b])
        let p = try ensemble.probabilities(of: test)
        let pa = a.probabilities(of: test), pb = b.probabilities(of: test)
        for i in p.indices { XCTAssertEqual(p[i], (pa[i] + pb[i]) / 2, accuracy: 1e-6) }
        let (report, members) = try ensemble.evaluate(on: test)
        let labels = test.labels(0..<test.count)
        var right = 0
        for i in 0..<test.count {
            let row = Array(p[(i * 10)..<((i + 1) * 10)])
            if row.firstIndex(of: row.max()!) == labels[i] { right += 1 }
        }
        XCTAssertEqual(report.accuracy, Double(right) / 300, accuracy: 1e-12)
        XCTAssertEqual(members.count, 2)
        XCTAssertEqual(members[1], try Evaluation.run(b, on: test).accuracy, accuracy: 1e-12)
        // A model voting with itself answers as it does alone.
        XCTAssertEqual(try Ensemble([b, b]).evaluate(on: test).ensemble.accuracy, members[1], accuracy: 1e-12)
    }

    func testMembersMustAgreeOnTheClasses() throws {
        XCTAssertThrowsError(try Ensemble([]))
        var arch = Recipe.mlp.architecture
        arch.layers[arch.layers.count - 1] = .dense(inputs: 512, outputs: 5)
        XCTAssertThrowsError(try Ensemble([Model(architecture: Recipe.mlp.architecture, seed: 1), Model(architecture: arch, seed: 1)])) {
            XCTAssertTrue("\($0)".contains("5 classes"), "\($0)")
        }
    }
}
