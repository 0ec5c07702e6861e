// LabeledImages: a set of grayscale images with one class label each, as MNIST's IDX pairs hold them.

import Foundation

/// Why a labelled image set (or a whole dataset) could not be loaded.
public enum DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An IDX file could not be read or parsed.
    case idx(IDXError)
    /// A file named for one of the dataset's roles (such as "train-images") does not exist or is not a regular file.
    case missingFile(role: String, path: String)
    /// The images file is not unsigned bytes of rank 3 (count × rows × columns) with non-zero rows and columns.
    case notImages(source: String, elementType: IDXElementType, dimensions: [Int])
    /// The labels file is not unsigned bytes of rank 1.
    case notLabels(source: String, elementType: IDXElementType, dimensions: [Int])
    /// The images file and the labels file hold different numbers of items.
    case countMismatch(imagesSource: String, images: Int, labelsSource: String, labels: Int)
    /// A pixel buffer's length is not the number of labels times rows times columns.
    case pixelCountMismatch(source: String, pixels: Int, expected: Int)
    /// A label is not below the number of classes; `index` is the first such label, `value` its value.
    case labelOutOfRange(source: String, index: Int, value: UInt8, classes: Int)
    /// The number of classes asked for is not in 1...256.
    case badClassCount(classes: Int)
    /// The training and test images differ in size.
    case imageSizeMismatch(trainSource: String, trainRows: Int, trainColumns: Int,
                           testSource: String, testRows: Int, testColumns: Int)

    /// A one-paragraph explanation naming the file, what is wrong, and what to do about it.
    public var description: String {
        switch self {
        case let .idx(error):
            return error.description
        case let .missingFile(role, path):
            return "\(path): the \(role) file does not exist or is not a regular file. "
                + "Check the path, or run `digits download --to data/mnist` to fetch MNIST."
        case let .notImages(source, type, dims):
            return "\(source): expected images (unsigned bytes, 3 dimensions: count × rows × columns), "
                + "found \(type) with dimensions \(dims). Check that this is an images file (idx3-ubyte), "
                + "not a labels file, and that the files are not swapped."
        case let .notLabels(source, type, dims):
            return "\(source): expected labels (unsigned bytes, 1 dimension), found \(type) with dimensions \(dims). "
                + "Check that this is a labels file (idx1-ubyte), not an images file, and that the files are not swapped."
        case let .countMismatch(imagesSource, images, labelsSource, labels):
            return "\(imagesSource) holds \(images) images but \(labelsSource) holds \(labels) labels. "
                + "Use an images file and a labels file of the same set (both train or both t10k)."
        case let .pixelCountMismatch(source, pixels, expected):
            return "\(source): \(pixels) pixels given where the labels and image size call for \(expected). "
                + "Pass one rows × columns image per label."
        case let .labelOutOfRange(source, index, value, classes):
            return "\(source): label \(index) is \(value), not below the number of classes (\(classes)). "
                + "Use a labels file with labels 0 to \(classes - 1), or raise the number of classes."
        case let .badClassCount(classes):
            return "\(classes) classes asked for; the number of classes must be 1 to 256. Pass a number in that range."
        case let .imageSizeMismatch(trainSource, trainRows, trainColumns, testSource, testRows, testColumns):
            return "\(trainSource) holds \(trainRows)×\(trainColumns) images but \(testSource) holds "
                + "\(testRows)×\(testColumns) images. Use training and test files of the same dataset."
        }
    }
}

/// Grayscale images with one class label each, such as MNIST's 60,000 training digits.
public struct LabeledImages: Sendable, Equatable {
    /// The pixels, `count * rows * columns` of them, image after image, each image row-major; 0 is background, 255 ink.
    public let images: [UInt8]
    /// One label per image, each below `classes`.
    public let labels: [UInt8]
    /// The number of images (and labels).
    public let count: Int
    /// The height of each image in pixels.
    public let rows: Int
    /// The width of each image in pixels.
    public let columns: Int
    /// The number of classes: every label is in `0..<classes`.
    public let classes: Int

    /// The number of pixels in one image: `rows * columns`.
    public var pixelsPerImage: Int { rows * columns }

    /// Makes a set from pixels and labels in memory, checking that they fit together and every label is below `classes`.
    public init(images: [UInt8], labels: [UInt8], rows: Int, columns: Int, classes: Int = 10) throws(DatasetError) {
        guard (1...256).contains(classes) else { throw .badClassCount(classes: classes) }
        let (perImage, o1) = rows.multipliedReportingOverflow(by: columns)
        let (expected, o2) = perImage.multipliedReportingOverflow(by: labels.count)
        guard rows > 0, columns > 0, !o1, !o2, images.count == expected else {
            throw .pixelCountMismatch(source: "in-memory images", pixels: images.count, expected: o1 || o2 ? Int.max : expected)
        }
        try Self.checkLabels(labels, classes: classes, source: "in-memory labels")
        self.init(unchecked: images, labels: labels, rows: rows, columns: columns, classes: classes)
    }

    /// Makes a set from a parsed images file (unsigned bytes, rank 3) and labels file (unsigned bytes, rank 1).
    public init(images: IDXFile, labels: IDXFile, classes: Int = 10) throws(DatasetError) {
        guard (1...256).contains(classes) else { throw .badClassCount(classes: classes) }
        let dims = images.dimensions
        guard images.elementType == .uint8, dims.count == 3, dims[1] > 0, dims[2] > 0 else {
            throw .notImages(source: images.source, elementType: images.elementType, dimensions: dims)
        }
        guard labels.elementType == .uint8, labels.dimensions.count == 1 else {
            throw .notLabels(source: labels.source, elementType: labels.elementType, dimensions: labels.dimensions)
        }
        guard dims[0] == labels.dimensions[0] else {
            throw .countMismatch(imagesSource: images.source, images: dims[0],
                                 labelsSource: labels.source, labels: labels.dimensions[0])
        }
        try Self.checkLabels(labels.payload, classes: classes, source: labels.source)
        self.init(unchecked: images.payload, labels: labels.payload, rows: dims[1], columns: dims[2], classes: classes)
    }

    /// Reads an images IDX file and a labels IDX file (each raw or gzip-compressed) and checks that they pair up.
    public static func load(images: URL, labels: URL, classes: Int = 10) throws(DatasetError) -> LabeledImages {
        let imageFile: IDXFile, labelFile: IDXFile
        do throws(IDXError) {
            imageFile = try IDXFile.read(contentsOf: images)
            labelFile = try IDXFile.read(contentsOf: labels)
        } catch {
            throw .idx(error)
        }
        return try LabeledImages(images: imageFile, labels: labelFile, classes: classes)
    }

    /// The first `n` images and labels (all of them if there are fewer).
    public func prefix(_ n: Int) -> LabeledImages {
        let k = max(0, min(n, count))
        return LabeledImages(unchecked: Array(images[0..<(k * pixelsPerImage)]), labels: Array(labels[0..<k]),
                             rows: rows, columns: columns, classes: classes)
    }

    /// The last `n` images and labels (all of them if there are fewer).
    public func suffix(_ n: Int) -> LabeledImages {
        let k = max(0, min(n, count))
        return LabeledImages(unchecked: Array(images[((count - k) * pixelsPerImage)...]), labels: Array(labels[(count - k)...]),
                             rows: rows, columns: columns, classes: classes)
    }

    /// The memberwise initializer, for values already checked.
    private init(unchecked images: [UInt8], labels: [UInt8], rows: Int, columns: Int, classes: Int) {
        self.images = images
        self.labels = labels
        self.count = labels.count
        self.rows = rows
        self.columns = columns
        self.classes = classes
    }

    /// Throws for the first label not below `classes`.
    private static func checkLabels(_ labels: [UInt8], classes: Int, source: String) throws(DatasetError) {
        guard classes < 256 else { return }
        let bound = UInt8(classes)
        if let index = labels.firstIndex(where: { $0 >= bound }) {
            throw .labelOutOfRange(source: source, index: index, value: labels[index], classes: classes)
        }
    }
}
