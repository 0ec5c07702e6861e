import Foundation
import XCTest
import DigitsData

final class DataLocatorTests: XCTestCase {
    /// Writes the four standard files (tiny but valid) into `directory`, compressed or not.
    private func writeDataset(in directory: URL, names: MNISTFileNames = .standard, gzip: Bool,
                              trainCount: Int = 3, testCount: Int = 2, testRows: Int = 28) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let files: [(String, [UInt8])] = [
            (names.trainImages, imagesFile(count: trainCount)),
            (names.trainLabels, labelsFile((0..<trainCount).map { UInt8($0 % 10) })),
            (names.testImages, imagesFile(count: testCount, rows: testRows)),
            (names.testLabels, labelsFile((0..<testCount).map { UInt8(9 - $0 % 10) })),
        ]
        for (name, bytes) in files {
            try write(gzip ? gzipCompress(bytes) : bytes, to: gzip ? name + ".gz" : name, in: directory)
        }
    }

    func testCandidateOrder() {
        let cwd = URL(fileURLWithPath: "/work/project")
        XCTAssertEqual(DataLocator.candidateDirectories(explicit: nil, environment: [:], currentDirectory: cwd).map(\.path),
                       ["/work/project/data/mnist", "/work/shared/datasets/mnist"])
        XCTAssertEqual(DataLocator.candidateDirectories(explicit: nil, environment: ["DIGITS_DATA": "/d"],
                                                        currentDirectory: cwd).map(\.path),
                       ["/d", "/work/project/data/mnist", "/work/shared/datasets/mnist"])
        XCTAssertEqual(DataLocator.candidateDirectories(explicit: nil, environment: ["DIGITS_DATA": "rel"],
                                                        currentDirectory: cwd).first?.path, "/work/project/rel")
        XCTAssertEqual(DataLocator.candidateDirectories(explicit: nil, environment: ["DIGITS_DATA": ""],
                                                        currentDirectory: cwd).count, 2)
        // An explicit --data directory is the only one searched.
        XCTAssertEqual(DataLocator.candidateDirectories(explicit: "mine", environment: ["DIGITS_DATA": "/d"],
                                                        currentDirectory: cwd).map(\.path),
                       ["/work/project/mine"])
    }

    func testLocateOrderAndNotFound() throws {
        let root = try makeTemporaryDirectory(self)
        let project = root.appendingPathComponent("project")
        try FileManager.default.createDirectory(at: project, withIntermediateDirectories: true)
        let envDir = root.appendingPathComponent("env")
        let shared = root.appendingPathComponent("shared/datasets/mnist")
        let local = project.appendingPathComponent("data/mnist")
        let env = ["DIGITS_DATA": envDir.path]

        // Nothing anywhere: every directory is listed with what it lacks, and the way out is named.
        let error = thrownError(DataLocatorError.self) {
            _ = try DataLocator.locate(explicit: nil, environment: env, currentDirectory: project)
        }
        guard case let .notFound(searched)? = error else { return XCTFail("expected notFound") }
        XCTAssertEqual(searched.map(\.origin), ["$DIGITS_DATA", "./data/mnist", "../shared/datasets/mnist"])
        XCTAssertEqual(searched.map(\.exists), [false, false, false])
        let text = error?.description ?? ""
        for dir in [envDir, local, shared] { XCTAssertTrue(text.contains(dir.standardizedFileURL.path), text) }
        XCTAssertTrue(text.contains("digits download --to data/mnist"))
        XCTAssertTrue(text.contains("--data DIR"))
        XCTAssertTrue(text.contains("DIGITS_DATA"))

        // The shared copy (gzipped) is found when it is the only one.
        try writeDataset(in: shared, gzip: true)
        let a = try DataLocator.locate(explicit: nil, environment: env, currentDirectory: project)
        XCTAssertEqual(a.directory.path, shared.standardizedFileURL.path)
        XCTAssertEqual(a.trainImages.lastPathComponent, "train-images-idx3-ubyte.gz")

        // ./data/mnist (raw) comes before it.
        try writeDataset(in: local, gzip: false)
        let b = try DataLocator.locate(explicit: nil, environment: env, currentDirectory: project)
        XCTAssertEqual(b.directory.path, local.path)
        XCTAssertEqual(b.testLabels.lastPathComponent, "t10k-labels-idx1-ubyte")

        // $DIGITS_DATA with only three of the files is passed over; with all four it wins.
        try writeDataset(in: envDir, gzip: true)
        try FileManager.default.removeItem(at: envDir.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        XCTAssertEqual(try DataLocator.locate(explicit: nil, environment: env, currentDirectory: project).directory.path,
                       local.path)
        try writeDataset(in: envDir, gzip: true)
        XCTAssertEqual(try DataLocator.locate(explicit: nil, environment: env, currentDirectory: project).directory.path,
                       envDir.path)

        // An explicit directory is the only one looked at, even when others hold the files.
        let partial = root.appendingPathComponent("partial")
        try writeDataset(in: partial, gzip: false)
        try FileManager.default.removeItem(at: partial.appendingPathComponent("train-labels-idx1-ubyte"))
        let explicitError = thrownError(DataLocatorError.self) {
            _ = try DataLocator.locate(explicit: partial.path, environment: env, currentDirectory: project)
        }
        guard case let .notFound(only)? = explicitError else { return XCTFail("expected notFound") }
        XCTAssertEqual(only.map(\.directory.path), [partial.path])
        XCTAssertEqual(only.map(\.origin), ["--data"])
        XCTAssertEqual(only.map(\.missing), [["train-labels-idx1-ubyte"]])
        XCTAssertTrue(explicitError?.description.contains("missing train-labels-idx1-ubyte[.gz]") ?? false)
    }

    func testCustomNamesAndExplicitFiles() throws {
        let dir = try makeTemporaryDirectory(self)
        let names = MNISTFileNames(trainImages: "a-images", trainLabels: "a-labels", testImages: "b-images", testLabels: "b-labels")
        try writeDataset(in: dir, names: names, gzip: true)
        let location = try DataLocator.locate(explicit: dir.path, names: names, environment: [:], currentDirectory: dir)
        XCTAssertEqual(location.testImages.lastPathComponent, "b-images.gz")

        let files = try DatasetFiles(trainImagesPath: "a-images.gz", trainLabelsPath: "a-labels.gz",
                                     testImagesPath: dir.appendingPathComponent("b-images.gz").path,
                                     testLabelsPath: "b-labels.gz", currentDirectory: dir)
        XCTAssertEqual(files, location.files)
        let missing = thrownError(DatasetError.self) {
            _ = try DatasetFiles(trainImagesPath: "a-images.gz", trainLabelsPath: "nope", testImagesPath: "b-images.gz",
                                 testLabelsPath: "b-labels.gz", currentDirectory: dir)
        }
        XCTAssertEqual(missing, .missingFile(role: "train-labels", path: dir.appendingPathComponent("nope").path))
        XCTAssertTrue(missing?.description.contains("digits download") ?? false)
    }

    func testLoadSyntheticDatasetWithHashes() throws {
        let gzDir = try makeTemporaryDirectory(self)
        try writeDataset(in: gzDir, gzip: true)
        let rawDir = try makeTemporaryDirectory(self)
        try writeDataset(in: rawDir, gzip: false)

        let fromGz = try MNIST.load(try DataLocator.locate(explicit: gzDir.path, environment: [:], currentDirectory: gzDir).files)
        let fromRaw = try MNIST.load(try DataLocator.locate(explicit: rawDir.path, environment: [:], currentDirectory: rawDir).files)
        XCTAssertEqual(fromGz.train, fromRaw.train)
        XCTAssertEqual(fromGz.test, fromRaw.test)
        XCTAssertEqual(fromGz.train.count, 3)
        XCTAssertEqual(fromGz.test.count, 2)
        // The hashes are those of the uncompressed files, whichever form is stored.
        XCTAssertEqual(fromGz.sha256, fromRaw.sha256)
        XCTAssertEqual(fromGz.sha256["train-images"], SHA256.hexDigest(imagesFile(count: 3)))
        XCTAssertEqual(Set(fromGz.sha256.keys), ["train-images", "train-labels", "test-images", "test-labels"])
        XCTAssertFalse(fromGz.isOfficialMNIST)
    }

    func testTrainAndTestSizesMustAgree() throws {
        let dir = try makeTemporaryDirectory(self)
        try writeDataset(in: dir, gzip: false, testRows: 20)
        let files = try DataLocator.locate(explicit: dir.path, environment: [:], currentDirectory: dir).files
        guard case .imageSizeMismatch(_, 28, 28, _, 20, 28)? = thrownError(DatasetError.self, { _ = try MNIST.load(files) })
        else { return XCTFail("expected imageSizeMismatch") }
    }
}

/// The real MNIST, from the shared datasets directory beside the package (skipped where it is absent).
final class RealMNISTTests: XCTestCase {
    func testRealMNIST() throws {
        // #filePath is <package>/Tests/DigitsDataTests/DataLocatorTests.swift.
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let location: MNISTLocation
        do {
            location = try DataLocator.locate(explicit: nil, environment: [:], currentDirectory: packageRoot)
        } catch {
            throw XCTSkip("MNIST not found beside the package: \(error)")
        }
        let mnist = try MNIST.load(location.files)
        XCTAssertEqual(mnist.train.count, 60_000)
        XCTAssertEqual(mnist.test.count, 10_000)
        XCTAssertEqual([mnist.train.rows, mnist.train.columns, mnist.test.rows, mnist.test.columns], [28, 28, 28, 28])
        XCTAssertEqual(mnist.train.images.count, 60_000 * 784)
        XCTAssertEqual(mnist.sha256["train-images"], "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db")
        XCTAssertEqual(mnist.sha256["train-labels"], "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5")
        XCTAssertEqual(mnist.sha256["test-images"], "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7")
        XCTAssertEqual(mnist.sha256["test-labels"], "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2")
        XCTAssertTrue(mnist.isOfficialMNIST)
        XCTAssertEqual(mnist.train.labels.prefix(5), [5, 0, 4, 1, 9])
        XCTAssertEqual(mnist.test.labels.prefix(3), [7, 2, 1])
    }
}
