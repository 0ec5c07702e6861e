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

/// Options for how much of the machine to use.
struct ComputeOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for matrix products (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func apply() {
        BLAS.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
    }
}
