// Options shared by every command that reads a dataset.

import ArgumentParser
import Foundation
import Digits
import DigitsData

/// Where the IDX files come from.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Folder holding the four MNIST files (raw or .gz). Default: $DIGITS_DATA, ./data/mnist, ../shared/datasets/mnist.")
    var data: String?

    @Option(name: .long, help: "Training images IDX file (use with the other three to train on any IDX dataset).")
    var trainImages: String?
    @Option(name: .long, help: "Training labels IDX file.")
    var trainLabels: String?
    @Option(name: .long, help: "Test images IDX file.")
    var testImages: String?
    @Option(name: .long, help: "Test labels IDX file.")
    var testLabels: String?

    func validate() throws {
        let named = [trainImages, trainLabels, testImages, testLabels].compactMap { $0 }
        if !named.isEmpty && named.count != 4 {
            throw ValidationError("--train-images, --train-labels, --test-images and --test-labels go together: give all four.")
        }
    }

    /// Loads the dataset these options point at.
    func load() throws -> MNIST {
        if let ti = trainImages, let tl = trainLabels, let vi = testImages, let vl = testLabels {
            return try MNIST.load(DatasetFiles(trainImagesPath: ti, trainLabelsPath: tl, testImagesPath: vi, testLabelsPath: vl))
        }
        return try MNIST.load(DataLocator.locate(explicit: data).files)
    }
}

/// How a saved model reads each picture: `evaluate`, `ensemble`, `predict`, `read` and `serve`.
struct ViewOptions: ParsableArguments {
    @Option(name: .long, help: "Test-time augmentation: 'shifts' (the picture and its four 1-pixel shifts, probabilities averaged) or 'none'. Default: the model's own.")
    var tta: String?

    func validate() throws {
        if let tta, tta != "none", TestTimeAugmentation(named: tta) == nil {
            throw ValidationError("--tta must be 'none' or 'shifts' (got '\(tta)')")
        }
    }

    /// Makes `model` read pictures as --tta says (unchanged without it).
    func apply(to model: Model) {
        guard let tta else { return }
        model.read(in: TestTimeAugmentation(named: tta))
    }
}

/// What a saved model is judged on and how it reads the pictures: `evaluate` and `ensemble`.
struct JudgingOptions: ParsableArguments {
    @Option(name: .long, help: "Judge on the last N training images instead of the test set: the ones `digits train --validation N` held out.")
    var validation: Int?
    @OptionGroup var views: ViewOptions

    func validate() throws {
        if let validation, validation < 1 { throw ValidationError("--validation must be at least 1 image") }
    }

    /// The images to judge on: the test set, or the held-out tail of the training set.
    func judgingSet(of data: MNIST) throws -> (images: LabeledImages, name: String) {
        guard let validation else { return (data.test, "test set") }
        guard validation < data.train.count else {
            throw ValidationError("--validation \(validation) leaves no training images: the training set has \(data.train.count)")
        }
        return (data.train.suffix(validation), "last \(validation) training images")
    }

    /// Makes `model` read pictures as --tta says (unchanged without it).
    func apply(to model: Model) { views.apply(to: model) }
}

/// Options for how much of the machine to use.
struct ComputeOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for matrix products (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be 1 to 256 (got \(threads))") }
    }

    func apply() {
        BLAS.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
    }
}
