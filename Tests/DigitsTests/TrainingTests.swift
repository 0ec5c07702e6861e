import XCTest
import Digits

/// A small synthetic dataset: class c lights up a band of rows, plus seeded noise.
func syntheticDigits(count: Int, seed: UInt64) throws -> LabeledImages {
    var rng = SeededGenerator(seed: seed)
    var images = [UInt8](repeating: 0, count: count * 784)
    var labels = [UInt8]()
    for i in 0..<count {
        let c = rng.nextInt(below: 10)
        labels.append(UInt8(c))
        for r in (2 * c + 3)..<(2 * c + 6) { for col in 4..<24 { images[i * 784 + r * 28 + col] = 200 } }
        for _ in 0..<30 { images[i * 784 + rng.nextInt(below: 784)] = UInt8(rng.nextInt(below: 256)) }
    }
    return try LabeledImages(images: images, labels: labels, rows: 28, columns: 28)
}

final class TrainingTests: XCTestCase {
    func testEveryRecipeLearnsTheSyntheticTask() throws {
        let train = try syntheticDigits(count: 600, seed: 1), test = try syntheticDigits(count: 200, seed: 2)
        for name in Recipe.names {
            var recipe = try Recipe.named(name)
            recipe.options.epochs = 2
            if recipe.options.batchSize == 1 { recipe.options.epochs = 1 }
            // These classes differ by a 2-row shift of the band, which is what augmentation draws: off here.
            recipe.options.augmentation = nil
            let trainer = try Trainer(architecture: recipe.architecture, options: recipe.options)
            let history = try trainer.train(on: train, test: test)
            XCTAssertEqual(history.count, recipe.options.epochs)
            XCTAssertGreaterThan(history.last?.testAccuracy ?? 0, 0.9, name)
        }
    }

    /// Same seed and options: bit-identical weights, whatever else ran before.
    func testSameSeedGivesBitIdenticalWeights() throws {
        let train = try syntheticDigits(count: 300, seed: 3)
        func weights(seed: UInt64) throws -> [[Float]] {
            var options = Recipe.mlp.options
            options.epochs = 2
            options.batchSize = 32
            options.seed = seed
            let trainer = try Trainer(architecture: Recipe.mlp.architecture, options: options)
            try trainer.train(on: train, test: nil)
            return trainer.model.network.parameters.map(\.value.storage)
        }
        let a = try weights(seed: 7), b = try weights(seed: 7), c = try weights(seed: 8)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
    }

    /// Same seed: bit-identical weights with 1 thread and with 2, on dense data (BLAS path) and sparse data
    /// (zero-skipping path).
    func testThreadCountDoesNotChangeTheWeights() throws {
        var rng = SeededGenerator(seed: 9)
        let denseImages = (0..<(512 * 784)).map { _ in UInt8(rng.nextInt(below: 256)) }
        let dense = try LabeledImages(images: denseImages, labels: (0..<512).map { UInt8($0 % 10) }, rows: 28, columns: 28)
        let sparse = try syntheticDigits(count: 512, seed: 6)
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        for data in [dense, sparse] {
            var runs: [[[Float]]] = []
            for threads in [1, 2] {
                BLAS.setThreads(threads)
                var options = Recipe.mlp.options
                options.epochs = 1
                let trainer = try Trainer(architecture: Recipe.mlp.architecture, options: options)
                try trainer.train(on: data, test: nil)
                runs.append(trainer.model.network.parameters.map(\.value.storage))
            }
            XCTAssertTrue(runs[0] == runs[1], "weights differ between 1 and 2 threads")
        }
    }

    func testDivergenceIsReportedWithEpochAndBatch() throws {
        let train = try syntheticDigits(count: 256, seed: 4)
        var options = Recipe.mlp.options
        options.optimizer = .sgd
        options.learningRate = 1e30
        options.batchSize = 64
        let trainer = try Trainer(architecture: Recipe.mlp.architecture, options: options)
        XCTAssertThrowsError(try trainer.train(on: train, test: nil)) { error in
            guard case DigitsError.nonFiniteLoss(let epoch, let batch, _) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(epoch, 1)
            XCTAssertGreaterThanOrEqual(batch, 1)
            XCTAssertTrue("\(error)".contains("lower learning rate"))
        }
    }

    func testWeightAverageIsWhatIsTestedAndKept() throws {
        let data = try realMNIST()
        var options = Recipe.mlp.options
        options.epochs = 2
        let train = data.train.prefix(1500), test = data.test.prefix(300)
        let plain = try Trainer(architecture: Recipe.mlp.architecture, options: options)
        try plain.train(on: train, test: test)
        // d = 0: the average is the last weights, so nothing changes.
        options.averageDecay = 0
        let zero = try Trainer(architecture: Recipe.mlp.architecture, options: options)
        try zero.train(on: train, test: test)
        XCTAssertEqual(zero.model.network.parameters.map(\.value), plain.model.network.parameters.map(\.value))
        XCTAssertEqual(zero.history.map(\.testAccuracy), plain.history.map(\.testAccuracy))
        // d = 0.9: the kept model is the average, and its accuracy is what the history reports.
        options.averageDecay = 0.9
        let averaged = try Trainer(architecture: Recipe.mlp.architecture, options: options)
        try averaged.train(on: train, test: test)
        XCTAssertNotEqual(averaged.model.network.parameters.map(\.value), plain.model.network.parameters.map(\.value))
        XCTAssertEqual(try Evaluation.run(averaged.model, on: test).accuracy, try XCTUnwrap(averaged.history.last?.testAccuracy), accuracy: 1e-12)
    }

    func testNewTrainingOptionsAreCheckedAndOldFilesStillRead() throws {
        var o = Recipe.mlp.options
        o.labelSmoothing = 1
        XCTAssertThrowsError(try o.validate())
        o = Recipe.linearSVM.options
        o.labelSmoothing = 0.1                                  // hinge loss: no smoothing
        XCTAssertThrowsError(try o.validate())
        o = Recipe.mlp.options
        o.weightDecay = 0.01                                    // RMSprop: use --l2
        XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".contains("adamw"), "\($0)") }
        o.optimizer = .adamw
        XCTAssertNoThrow(try o.validate())
        o.clipNorm = 0
        XCTAssertThrowsError(try o.validate())
        o.clipNorm = nil
        o.averageDecay = 1
        XCTAssertThrowsError(try o.validate())
        // Options written before these fields existed read with their defaults.
        let old = #"{"epochs":5,"batchSize":128,"optimizer":"rmsprop","learningRate":0.001,"loss":"cross-entropy","l2":0,"seed":1,"shuffle":true}"#
        let decoded = try JSONDecoder().decode(TrainingOptions.self, from: Data(old.utf8))
        XCTAssertEqual(decoded, Recipe.mlp.options)
    }

    func testSummaryShapesAndParameterCounts() {
        let lenet = Model(architecture: Recipe.lenet5.architecture, seed: 1)
        XCTAssertEqual(lenet.network.parameterCount, 61_706)          // LeNet-5 with 28x28 inputs
        XCTAssertEqual(lenet.summary().map(\.outputShape)[5], [16, 5, 5])
        XCTAssertEqual(lenet.classes, 10)
        let mlp = Model(architecture: Recipe.mlp.architecture, seed: 1)
        XCTAssertEqual(mlp.network.parameterCount, 784 * 512 + 512 + 512 * 10 + 10)
        XCTAssertTrue(mlp.summaryText().contains("total parameters: 407050"))
        XCTAssertFalse(mlp.summaryText().contains("views"))
        XCTAssertTrue(Model(architecture: Recipe.best.architecture, seed: 1).summaryText().contains("reads each picture in 5 views"))
        // AlexNet's shape for 28x28: five convolutions, three pools (28 → 14 → 7 → 3), three dense layers.
        let alexnet = Model(architecture: try! Recipe.named("alexnet").architecture, seed: 1)
        let shapes = alexnet.summary().map(\.outputShape)
        XCTAssertEqual(shapes[2], [32, 14, 14])
        XCTAssertEqual(shapes[5], [64, 7, 7])
        XCTAssertEqual(shapes[12], [64, 3, 3])
        XCTAssertEqual(shapes.last, [10])
        XCTAssertEqual(alexnet.summary().filter { $0.layer.hasPrefix("Conv2D") }.count, 5)
        XCTAssertEqual(alexnet.summary().filter { $0.layer.hasPrefix("MaxPool2D") }.count, 3)
        XCTAssertEqual(alexnet.summary().filter { $0.layer.hasPrefix("Dropout") }.count, 2)
        XCTAssertEqual(alexnet.network.parameterCount, 641_930)
    }

    func testHiddenUnits() throws {
        let recipe = try Recipe.named("mlp-sigmoid").withHiddenUnits(64)
        XCTAssertEqual(recipe.architecture.layers, [.dense(inputs: 784, outputs: 64), .sigmoid, .dense(inputs: 64, outputs: 10), .sigmoid])
        XCTAssertThrowsError(try Recipe.linearSVM.withHiddenUnits(10))
        XCTAssertThrowsError(try Recipe.mlp.withHiddenUnits(0))
    }

    func testBadOptionsAreRefused() {
        var options = Recipe.mlp.options
        options.batchSize = 0
        XCTAssertThrowsError(try Trainer(architecture: Recipe.mlp.architecture, options: options))
        options = Recipe.mlp.options
        options.learningRate = .nan
        XCTAssertThrowsError(try Trainer(architecture: Recipe.mlp.architecture, options: options))
        XCTAssertThrowsError(try Recipe.named("resnet")) { error in
            XCTAssertTrue("\(error)".contains("linear-svm"))
        }
    }

    func testWrongImageSizeIsRefused() throws {
        let small = try LabeledImages(images: [UInt8](repeating: 0, count: 4 * 16), labels: [0, 1, 2, 3], rows: 4, columns: 4)
        let trainer = try Trainer(architecture: Recipe.mlp.architecture, options: Recipe.mlp.options)
        XCTAssertThrowsError(try trainer.train(on: small, test: nil)) { error in
            XCTAssertTrue("\(error)".contains("4x4"), "\(error)")
        }
    }

    func testEmptyDatasetIsRefusedBeforeTraining() throws {
        let empty = try LabeledImages(images: [], labels: [], rows: 28, columns: 28)
        let some = try syntheticDigits(count: 4, seed: 1)
        let trainer = try Trainer(architecture: Recipe.mlp.architecture, options: Recipe.mlp.options)
        for (train, test) in [(empty, some), (some, empty)] {
            XCTAssertThrowsError(try trainer.train(on: train, test: test)) { error in
                XCTAssertTrue("\(error)".contains("holds no images"), "\(error)")
            }
        }
        XCTAssertTrue(trainer.history.isEmpty)
    }

    func testBatchesAndEncoding() throws {
        let data = try syntheticDigits(count: 10, seed: 5)
        let order = data.epochOrder(seed: 1, epoch: 1)
        XCTAssertEqual(order.sorted(), Array(0..<10))
        XCTAssertEqual(order, data.epochOrder(seed: 1, epoch: 1))
        XCTAssertNotEqual(order, data.epochOrder(seed: 1, epoch: 2))
        XCTAssertEqual(miniBatches(order, size: 4).map(\.count), [4, 4, 2])
        let flat = data.inputs([3, 1], encoding: InputEncoding())
        XCTAssertEqual(flat.shape, [2, 784])
        XCTAssertEqual(flat.storage[0], Float(data.images[3 * 784]) / 255)
        XCTAssertTrue(flat.storage.allSatisfy { $0 >= 0 && $0 <= 1 })
        let image = data.inputs([3], encoding: InputEncoding(normalize: true, layout: .image))
        XCTAssertEqual(image.shape, [1, 1, 28, 28])
        XCTAssertEqual(image.storage[0], (Float(data.images[3 * 784]) / 255 - 0.1307) / 0.3081, accuracy: 1e-6)
        XCTAssertEqual(data.labels([3, 1]), [Int(data.labels[3]), Int(data.labels[1])])
    }

    func testClassificationReport() {
        // truth:     0 0 1 1 2
        // predicted: 0 1 1 1 0
        let r = ClassificationReport(predictions: [0, 1, 1, 1, 0], labels: [0, 0, 1, 1, 2], classes: 3)
        XCTAssertEqual(r.accuracy, 0.6, accuracy: 1e-12)
        XCTAssertEqual(r.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
        XCTAssertEqual(r.precision, [0.5, 2.0 / 3, 0])
        XCTAssertEqual(r.recall, [0.5, 1, 0])
        XCTAssertEqual(r.f1[1], 0.8, accuracy: 1e-12)
        XCTAssertEqual(r.support, [2, 2, 1])
        XCTAssertEqual(r.mostConfused().first?.count, 1)
        XCTAssertTrue(r.text.contains("accuracy: 60.00%"))
    }
}
