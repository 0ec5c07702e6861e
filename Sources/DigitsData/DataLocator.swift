// Where the MNIST files are found, and loading them as one dataset.
//
// Search order: the directory given with --data (and then nothing else), $DIGITS_DATA,
// ./data/mnist, ../shared/datasets/mnist. Each file may be stored raw or gzip-compressed
// (its name plus ".gz"). Any IDX dataset laid out like MNIST can be named file by file instead.

import Foundation

/// The four roles of the files in an MNIST-style dataset; the raw value ("train-images", ...) is the role's key.
public enum DatasetRole: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The training images (idx3-ubyte).
    case trainImages = "train-images"
    /// The training labels (idx1-ubyte).
    case trainLabels = "train-labels"
    /// The test images (idx3-ubyte).
    case testImages = "test-images"
    /// The test labels (idx1-ubyte).
    case testLabels = "test-labels"

    /// The role's key, such as "train-images".
    public var description: String { rawValue }
}

/// The names of the four files of an MNIST-style dataset, without any ".gz" suffix.
public struct MNISTFileNames: Sendable, Equatable {
    /// The training images file name.
    public var trainImages: String
    /// The training labels file name.
    public var trainLabels: String
    /// The test images file name.
    public var testImages: String
    /// The test labels file name.
    public var testLabels: String

    /// Names for the four files.
    public init(trainImages: String, trainLabels: String, testImages: String, testLabels: String) {
        self.trainImages = trainImages
        self.trainLabels = trainLabels
        self.testImages = testImages
        self.testLabels = testLabels
    }

    /// The names MNIST is published under.
    public static let standard = MNISTFileNames(
        trainImages: "train-images-idx3-ubyte", trainLabels: "train-labels-idx1-ubyte",
        testImages: "t10k-images-idx3-ubyte", testLabels: "t10k-labels-idx1-ubyte")

    /// The name for one role.
    public func name(for role: DatasetRole) -> String {
        switch role {
        case .trainImages: return trainImages
        case .trainLabels: return trainLabels
        case .testImages: return testImages
        case .testLabels: return testLabels
        }
    }

    /// The four names in role order: train images, train labels, test images, test labels.
    public var all: [String] { DatasetRole.allCases.map { name(for: $0) } }
}

/// The four files of a dataset, by role.
public struct DatasetFiles: Sendable, Equatable {
    /// The training images file (raw or gzip-compressed IDX).
    public let trainImages: URL
    /// The training labels file.
    public let trainLabels: URL
    /// The test images file.
    public let testImages: URL
    /// The test labels file.
    public let testLabels: URL

    /// The four files as given, without checking that they exist.
    public init(trainImages: URL, trainLabels: URL, testImages: URL, testLabels: URL) {
        self.trainImages = trainImages
        self.trainLabels = trainLabels
        self.testImages = testImages
        self.testLabels = testLabels
    }

    /// The four files from paths (relative ones resolved against `currentDirectory`, "~" expanded), each checked to exist.
    public init(trainImagesPath: String, trainLabelsPath: String, testImagesPath: String, testLabelsPath: String,
                currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) throws(DatasetError) {
        func checked(_ path: String, _ role: DatasetRole) throws(DatasetError) -> URL {
            let url = resolvePath(path, against: currentDirectory)
            guard isRegularFile(url) else { throw .missingFile(role: role.rawValue, path: url.path) }
            return url
        }
        self.init(trainImages: try checked(trainImagesPath, .trainImages),
                  trainLabels: try checked(trainLabelsPath, .trainLabels),
                  testImages: try checked(testImagesPath, .testImages),
                  testLabels: try checked(testLabelsPath, .testLabels))
    }

    /// The file for one role.
    public func url(for role: DatasetRole) -> URL {
        switch role {
        case .trainImages: return trainImages
        case .trainLabels: return trainLabels
        case .testImages: return testImages
        case .testLabels: return testLabels
        }
    }
}

/// Where `DataLocator.locate` found a complete set of MNIST files.
public struct MNISTLocation: Sendable, Equatable {
    /// The directory that holds all four files.
    public let directory: URL
    /// The four files found there (each the raw name or the name plus ".gz").
    public let files: DatasetFiles

    /// The training images file.
    public var trainImages: URL { files.trainImages }
    /// The training labels file.
    public var trainLabels: URL { files.trainLabels }
    /// The test images file.
    public var testImages: URL { files.testImages }
    /// The test labels file.
    public var testLabels: URL { files.testLabels }
}

/// One directory `DataLocator.locate` looked in, and what it lacked.
public struct SearchedDirectory: Sendable, Equatable {
    /// The directory, as an absolute file URL.
    public let directory: URL
    /// Why it was searched: "--data", "$DIGITS_DATA", "./data/mnist" or "../shared/datasets/mnist".
    public let origin: String
    /// Whether the directory exists.
    public let exists: Bool
    /// The file names (without ".gz") found neither raw nor compressed there.
    public let missing: [String]
}

/// Why no dataset files were found.
public enum DataLocatorError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No searched directory held all four files; `searched` lists each directory and what it lacked.
    case notFound(searched: [SearchedDirectory])

    /// A message listing each directory looked in and what was missing there, ending with how to get the files.
    public var description: String {
        switch self {
        case let .notFound(searched):
            var lines = ["MNIST files not found. Looked in:"]
            for s in searched {
                let what = s.exists
                    ? "missing " + s.missing.map { "\($0)[.gz]" }.joined(separator: ", ")
                    : "no such directory"
                lines.append("  \(s.directory.path) (\(s.origin)): \(what)")
            }
            if searched.isEmpty { lines.append("  (no directories)") }
            lines.append("Each file may be stored raw or gzip-compressed (its name plus .gz). To get them, run "
                         + "`digits download --to data/mnist`, or pass --data DIR naming a directory that holds them, "
                         + "or set DIGITS_DATA=DIR.")
            return lines.joined(separator: "\n")
        }
    }
}

/// Finds the MNIST files on disk.
public struct DataLocator {
    /// The directories to search, in order, each with a short note of where it came from.
    static func candidates(explicit: String?, environment: [String: String],
                           currentDirectory: URL) -> [(url: URL, origin: String)] {
        if let explicit, !explicit.isEmpty {
            return [(resolvePath(explicit, against: currentDirectory), "--data")]
        }
        var result: [(url: URL, origin: String)] = []
        if let env = environment["DIGITS_DATA"], !env.isEmpty {
            result.append((resolvePath(env, against: currentDirectory), "$DIGITS_DATA"))
        }
        result.append((resolvePath("data/mnist", against: currentDirectory), "./data/mnist"))
        result.append((resolvePath("../shared/datasets/mnist", against: currentDirectory), "../shared/datasets/mnist"))
        return result
    }

    /// The directories searched, in order: the explicit `--data` directory if given (and then only it);
    /// otherwise `$DIGITS_DATA` if set, `./data/mnist`, and `../shared/datasets/mnist`, relative to `currentDirectory`.
    public static func candidateDirectories(explicit: String?, environment: [String: String],
                                            currentDirectory: URL) -> [URL] {
        candidates(explicit: explicit, environment: environment, currentDirectory: currentDirectory).map(\.url)
    }

    /// The file called `name` in `directory`, or else `name` + ".gz" there; nil if neither is a regular file.
    public static func find(_ name: String, in directory: URL) -> URL? {
        for candidate in [name, name + ".gz"] {
            let url = directory.appendingPathComponent(candidate)
            if isRegularFile(url) { return url }
        }
        return nil
    }

    /// The first candidate directory that holds all four files (each raw or ".gz").
    ///
    /// Throws `DataLocatorError.notFound`, listing every directory looked at and what each lacked, if none does.
    public static func locate(explicit: String?, names: MNISTFileNames = .standard,
                              environment: [String: String] = ProcessInfo.processInfo.environment,
                              currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        throws(DataLocatorError) -> MNISTLocation {
        var searched: [SearchedDirectory] = []
        for (directory, origin) in candidates(explicit: explicit, environment: environment,
                                              currentDirectory: currentDirectory) {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory)
                && isDirectory.boolValue
            guard exists else {
                searched.append(SearchedDirectory(directory: directory, origin: origin, exists: false, missing: names.all))
                continue
            }
            let found = DatasetRole.allCases.map { find(names.name(for: $0), in: directory) }
            let missing = zip(names.all, found).filter { $0.1 == nil }.map(\.0)
            if missing.isEmpty, let ti = found[0], let tl = found[1], let vi = found[2], let vl = found[3] {
                let files = DatasetFiles(trainImages: ti, trainLabels: tl, testImages: vi, testLabels: vl)
                return MNISTLocation(directory: directory, files: files)
            }
            searched.append(SearchedDirectory(directory: directory, origin: origin, exists: true, missing: missing))
        }
        throw .notFound(searched: searched)
    }
}

/// MNIST (or any dataset in its layout): training and test sets, where they came from, and their checksums.
public struct MNIST: Sendable {
    /// The training set (60,000 images for MNIST).
    public let train: LabeledImages
    /// The test set (10,000 images for MNIST).
    public let test: LabeledImages
    /// The files the sets were read from.
    public let files: DatasetFiles
    /// The SHA-256 (lowercase hex) of each file's uncompressed bytes, header included, keyed by role
    /// ("train-images", "train-labels", "test-images", "test-labels"): the hash of the canonical uncompressed file.
    public let sha256: [String: String]

    /// The SHA-256 of the official MNIST files, keyed by role.
    public static let knownSHA256ByRole: [String: String] = Dictionary(uniqueKeysWithValues: DatasetRole.allCases.compactMap {
        role in MNISTDownloader.knownSHA256[MNISTFileNames.standard.name(for: role)].map { (role.rawValue, $0) }
    })

    /// Whether all four files are byte for byte the official MNIST files.
    public var isOfficialMNIST: Bool { sha256 == MNIST.knownSHA256ByRole }

    /// Reads, checks and hashes the four files (each raw or gzip-compressed).
    ///
    /// The training and test images must have the same size, and every label must be below `classes`.
    public static func load(_ files: DatasetFiles, classes: Int = 10) throws(DatasetError) -> MNIST {
        var hashes: [String: String] = [:]
        func read(_ role: DatasetRole) throws(DatasetError) -> IDXFile {
            let url = files.url(for: role)
            guard isRegularFile(url) else { throw .missingFile(role: role.rawValue, path: url.path) }
            do throws(IDXError) {
                let (bytes, compressed) = try IDXFile.load(url, maxBytes: IDXFile.defaultMaxBytes)
                hashes[role.rawValue] = SHA256.hexDigest(bytes)
                return try IDXFile.parseFile(bytes, url: url, wasCompressed: compressed)
            } catch {
                throw .idx(error)
            }
        }
        let ti = try read(.trainImages), tl = try read(.trainLabels)
        let vi = try read(.testImages), vl = try read(.testLabels)
        let train = try LabeledImages(images: ti, labels: tl, classes: classes)
        let test = try LabeledImages(images: vi, labels: vl, classes: classes)
        guard train.rows == test.rows, train.columns == test.columns else {
            throw .imageSizeMismatch(trainSource: ti.source, trainRows: train.rows, trainColumns: train.columns,
                                     testSource: vi.source, testRows: test.rows, testColumns: test.columns)
        }
        return MNIST(train: train, test: test, files: files, sha256: hashes)
    }

    /// Finds the files with `DataLocator.locate` (same arguments) and loads them.
    ///
    /// Throws `DataLocatorError` if the files are not found, `DatasetError` if they cannot be loaded.
    public static func locateAndLoad(explicit: String?, names: MNISTFileNames = .standard,
                                     environment: [String: String] = ProcessInfo.processInfo.environment,
                                     currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        throws -> MNIST {
        let location = try DataLocator.locate(explicit: explicit, names: names, environment: environment,
                                              currentDirectory: currentDirectory)
        return try load(location.files)
    }
}

/// `path` as an absolute, standardized file URL: "~" expanded, relative paths taken from `base`.
func resolvePath(_ path: String, against base: URL) -> URL {
    let expanded = (path as NSString).expandingTildeInPath
    if expanded.hasPrefix("/") { return URL(fileURLWithPath: expanded).standardizedFileURL }
    return base.appendingPathComponent(expanded).standardizedFileURL
}

/// Whether `url` names an existing regular file (symbolic links followed).
func isRegularFile(_ url: URL) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
}
