import Foundation
import XCTest
import DigitsData

final class IDXTests: XCTestCase {
    // MARK: valid files

    func testValidFileRawAndGzipped() throws {
        let dir = try makeTemporaryDirectory(self)
        let raw = imagesFile(count: 3)
        let rawURL = try write(raw, to: "images-idx3-ubyte", in: dir)
        let gzURL = try write(gzipCompress(raw), to: "images-idx3-ubyte.gz", in: dir)

        let a = try IDXFile.read(contentsOf: rawURL)
        XCTAssertEqual(a.elementType, .uint8)
        XCTAssertEqual(a.dimensions, [3, 28, 28])
        XCTAssertEqual(a.payload, syntheticPixels(count: 3))
        XCTAssertEqual(a.elementCount, 3 * 28 * 28)
        XCTAssertEqual(a.serialized(), raw)

        let b = try IDXFile.read(contentsOf: gzURL)
        XCTAssertEqual(b.dimensions, a.dimensions)
        XCTAssertEqual(b.payload, a.payload)
        XCTAssertEqual(try IDXFile.readDecompressed(contentsOf: gzURL), raw)
    }

    func testOtherElementTypes() throws {
        // int16, 2 × 2, big-endian: 1, -1, 256, 0x7FFF.
        let file = try IDXFile.parse(idxBytes(type: 0x0B, dimensions: [2, 2],
                                              payload: [0, 1, 0xFF, 0xFF, 1, 0, 0x7F, 0xFF]), source: "mem")
        XCTAssertEqual(file.elementType, .int16)
        XCTAssertEqual(file.payload.count, 8)
        let f64 = try IDXFile.parse(idxBytes(type: 0x0E, dimensions: [1], payload: [UInt8](repeating: 0, count: 8)),
                                    source: "mem")
        XCTAssertEqual(f64.elementType.size, 8)
    }

    func testLabeledImagesRawAndGzipped() throws {
        let dir = try makeTemporaryDirectory(self)
        let images = try write(gzipCompress(imagesFile(count: 3)), to: "i.gz", in: dir)
        let labels = try write(labelsFile([3, 1, 9]), to: "l", in: dir)
        let set = try LabeledImages.load(images: images, labels: labels)
        XCTAssertEqual(set.count, 3)
        XCTAssertEqual(set.rows, 28)
        XCTAssertEqual(set.columns, 28)
        XCTAssertEqual(set.classes, 10)
        XCTAssertEqual(set.labels, [3, 1, 9])
        XCTAssertEqual(set.images, syntheticPixels(count: 3))
        XCTAssertEqual(set.prefix(2).count, 2)
        XCTAssertEqual(set.prefix(2).images.count, 2 * 784)
        XCTAssertEqual(set.prefix(99).count, 3)
    }

    // MARK: malformed headers

    func testWrongMagic() {
        let error = thrownError(IDXError.self) {
            _ = try IDXFile.parse([1, 0, 8, 1, 0, 0, 0, 1, 5], source: "bad-magic")
        }
        XCTAssertEqual(error, .badMagic(source: "bad-magic", firstBytes: [1, 0, 8, 1]))
        XCTAssertTrue(error?.description.hasPrefix("bad-magic: not an IDX file") ?? false)
    }

    func testUnknownElementType() {
        let error = thrownError(IDXError.self) {
            _ = try IDXFile.parse([0, 0, 0x0A, 1, 0, 0, 0, 1, 5], source: "t")
        }
        XCTAssertEqual(error, .unknownElementType(source: "t", typeByte: 0x0A))
        XCTAssertTrue(error?.description.contains("0x0a") ?? false)
    }

    func testBadRank() {
        XCTAssertEqual(thrownError(IDXError.self) { _ = try IDXFile.parse([0, 0, 8, 0], source: "r0") },
                       .badRank(source: "r0", rank: 0))
        XCTAssertEqual(thrownError(IDXError.self) {
            _ = try IDXFile.parse([0, 0, 8, 5] + [UInt8](repeating: 0, count: 20), source: "r5")
        }, .badRank(source: "r5", rank: 5))
    }

    func testHeaderTooShort() {
        XCTAssertEqual(thrownError(IDXError.self) { _ = try IDXFile.parse([0, 0], source: "s") },
                       .headerTooShort(source: "s", needed: 4, actual: 2))
        XCTAssertEqual(thrownError(IDXError.self) { _ = try IDXFile.parse([0, 0, 8, 3, 0, 0, 0, 1], source: "s") },
                       .headerTooShort(source: "s", needed: 16, actual: 8))
    }

    /// A header claiming 2^31 images of 28×28 in a file of a few bytes fails at once, allocating nothing it sizes.
    func testHugeClaimFailsFast() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = try write(idxBytes(dimensions: [1 << 31, 28, 28], payload: [1, 2, 3]), to: "huge", in: dir)
        let start = Date()
        let error = thrownError(IDXError.self) { _ = try IDXFile.read(contentsOf: url) }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0)
        XCTAssertEqual(error, .truncated(source: url.path, dimensions: [1 << 31, 28, 28],
                                         promisedBytes: (1 << 31) * 784, actualBytes: 3))
        let text = error?.description ?? ""
        XCTAssertTrue(text.contains(url.path))
        XCTAssertTrue(text.contains("truncated"))
        XCTAssertTrue(text.contains("\((1 << 31) * 784)"))
        XCTAssertTrue(text.contains("holds only 3"))
    }

    func testSizeOverflow() {
        let error = thrownError(IDXError.self) {
            _ = try IDXFile.parse(idxBytes(type: 0x0E, dimensions: [.max, .max, .max, .max], payload: []), source: "o")
        }
        guard case .sizeOverflow(source: "o", _)? = error else { return XCTFail("got \(String(describing: error))") }
    }

    func testTruncatedAndTrailing() {
        let good = imagesFile(count: 3)
        XCTAssertEqual(thrownError(IDXError.self) { _ = try IDXFile.parse(Array(good.dropLast(10)), source: "cut") },
                       .truncated(source: "cut", dimensions: [3, 28, 28], promisedBytes: 2352, actualBytes: 2342))
        let extra = thrownError(IDXError.self) { _ = try IDXFile.parse(good + [0, 0], source: "long") }
        XCTAssertEqual(extra, .trailingBytes(source: "long", dimensions: [3, 28, 28], promisedBytes: 2352, actualBytes: 2354))
        XCTAssertTrue(extra?.description.contains("trailing bytes") ?? false)
        XCTAssertTrue(extra?.description.contains("2 more") ?? false)
    }

    func testMissingFileAndTooLarge() throws {
        let dir = try makeTemporaryDirectory(self)
        let missing = dir.appendingPathComponent("nope")
        guard case .cannotRead(path: missing.path, _)? = thrownError(IDXError.self, {
            _ = try IDXFile.read(contentsOf: missing)
        }) else { return XCTFail("expected cannotRead") }
        guard case .cannotRead(path: dir.path, reason: "it is a directory")? = thrownError(IDXError.self, {
            _ = try IDXFile.read(contentsOf: dir)
        }) else { return XCTFail("expected cannotRead for a directory") }
        let url = try write(imagesFile(count: 3), to: "big", in: dir)
        XCTAssertEqual(thrownError(IDXError.self) { _ = try IDXFile.read(contentsOf: url, maxBytes: 100) },
                       .fileTooLarge(path: url.path, size: 16 + 2352, limit: 100))
    }

    // MARK: labelled sets

    func testLabelOutOfRange() throws {
        let dir = try makeTemporaryDirectory(self)
        let images = try write(imagesFile(count: 3), to: "i", in: dir)
        let labels = try write(labelsFile([2, 10, 11]), to: "l", in: dir)
        let error = thrownError(DatasetError.self) { _ = try LabeledImages.load(images: images, labels: labels) }
        XCTAssertEqual(error, .labelOutOfRange(source: labels.path, index: 1, value: 10, classes: 10))
        let text = error?.description ?? ""
        XCTAssertTrue(text.hasPrefix(labels.path))
        XCTAssertTrue(text.contains("label 1 is 10"))
        // With more classes the same file is fine.
        XCTAssertEqual(try LabeledImages.load(images: images, labels: labels, classes: 12).classes, 12)
    }

    func testCountsDisagree() throws {
        let dir = try makeTemporaryDirectory(self)
        let images = try write(imagesFile(count: 3), to: "i", in: dir)
        let labels = try write(labelsFile([1, 2]), to: "l", in: dir)
        XCTAssertEqual(thrownError(DatasetError.self) { _ = try LabeledImages.load(images: images, labels: labels) },
                       .countMismatch(imagesSource: images.path, images: 3, labelsSource: labels.path, labels: 2))
    }

    func testSwappedFiles() throws {
        let dir = try makeTemporaryDirectory(self)
        let images = try write(imagesFile(count: 3), to: "i", in: dir)
        let labels = try write(labelsFile([1, 2, 3]), to: "l", in: dir)
        XCTAssertEqual(thrownError(DatasetError.self) { _ = try LabeledImages.load(images: labels, labels: images) },
                       .notImages(source: labels.path, elementType: .uint8, dimensions: [3]))
        let floats = try write(idxBytes(type: 0x0D, dimensions: [3], payload: [UInt8](repeating: 0, count: 12)),
                               to: "f", in: dir)
        XCTAssertEqual(thrownError(DatasetError.self) { _ = try LabeledImages.load(images: images, labels: floats) },
                       .notLabels(source: floats.path, elementType: .float32, dimensions: [3]))
    }

    func testInMemoryInit() throws {
        let set = try LabeledImages(images: [UInt8](repeating: 7, count: 8), labels: [0, 1], rows: 2, columns: 2, classes: 2)
        XCTAssertEqual(set.count, 2)
        XCTAssertEqual(thrownError(DatasetError.self) {
            _ = try LabeledImages(images: [1, 2, 3], labels: [0], rows: 2, columns: 2)
        }, .pixelCountMismatch(source: "in-memory images", pixels: 3, expected: 4))
        XCTAssertEqual(thrownError(DatasetError.self) {
            _ = try LabeledImages(images: [1], labels: [0], rows: 1, columns: 1, classes: 0)
        }, .badClassCount(classes: 0))
    }

    // MARK: gzip

    func testTruncatedGzip() throws {
        let dir = try makeTemporaryDirectory(self)
        let gz = gzipCompress(imagesFile(count: 3))
        let url = try write(Array(gz.prefix(gz.count / 2)), to: "cut.gz", in: dir)
        let error = thrownError(IDXError.self) { _ = try IDXFile.read(contentsOf: url) }
        XCTAssertEqual(error, .gzip(.truncated(source: url.path, inputBytes: gz.count / 2)))
        XCTAssertTrue(error?.description.contains("ends early") ?? false)
        // Only the 8-byte trailer missing: still truncated.
        XCTAssertEqual(thrownError(GzipError.self) { _ = try Gzip.decompress(Array(gz.dropLast(8)), source: "s", limit: 1 << 20) },
                       .truncated(source: "s", inputBytes: gz.count - 8))
    }

    func testGarbageWithGzName() throws {
        let dir = try makeTemporaryDirectory(self)
        let garbage = Array("this is not gzip, just text".utf8)
        let url = try write(garbage, to: "train-images-idx3-ubyte.gz", in: dir)
        let error = thrownError(IDXError.self) { _ = try IDXFile.read(contentsOf: url) }
        XCTAssertEqual(error, .gzip(.notGzip(source: url.path, firstBytes: Array(garbage.prefix(8)))))
        XCTAssertTrue(error?.description.contains("not a gzip file") ?? false)
        // An uncompressed IDX file that kept a .gz name is still read.
        let inflated = try write(imagesFile(count: 1), to: "inflated.gz", in: dir)
        XCTAssertEqual(try IDXFile.read(contentsOf: inflated).dimensions, [1, 28, 28])
        XCTAssertEqual(thrownError(GzipError.self) { _ = try Gzip.decompress(garbage, source: "g", limit: 100) },
                       .notGzip(source: "g", firstBytes: Array(garbage.prefix(8))))
    }

    func testCorruptGzip() {
        var gz = gzipCompress(syntheticPixels(count: 3))
        for i in 20..<40 { gz[i] ^= 0x5A }
        let error = thrownError(GzipError.self) { _ = try Gzip.decompress(gz, source: "c", limit: 1 << 20) }
        guard case .corrupt(source: "c", let message)? = error else { return XCTFail("got \(String(describing: error))") }
        XCTAssertFalse(message.isEmpty)
    }

    func testGzipBombStopsAtLimit() throws {
        let dir = try makeTemporaryDirectory(self)
        // A header that declares 2^24 one-byte values, then that many zeros: within the header's word, refused
        // only by the caller's limit, which the inflation never passes.
        let header: [UInt8] = [0, 0, 0x08, 1, 1, 0, 0, 0]
        let bomb = gzipCompress(header + [UInt8](repeating: 0, count: 16 << 20), level: 9)
        XCTAssertLessThan(bomb.count, 100_000)
        let url = try write(bomb, to: "bomb.gz", in: dir)
        XCTAssertEqual(thrownError(IDXError.self) { _ = try IDXFile.read(contentsOf: url, maxBytes: 1 << 20) },
                       .gzip(.tooLarge(source: url.path, limit: 1 << 20)))
        // Exactly at the limit is allowed.
        let exact = gzipCompress([UInt8](repeating: 1, count: 1000))
        XCTAssertEqual(try Gzip.decompress(exact, source: "e", limit: 1000).count, 1000)
        XCTAssertEqual(thrownError(GzipError.self) { _ = try Gzip.decompress(exact, source: "e", limit: 999) },
                       .tooLarge(source: "e", limit: 999))
    }

    func testGzipIsInflatedNoFurtherThanItsIDXHeaderSays() throws {
        let dir = try makeTemporaryDirectory(self)
        // Not IDX at all (zeros give element type 0): refused after inflating the header, not the 64 MB behind it.
        let zeros = try write(gzipCompress([UInt8](repeating: 0, count: 64 << 20), level: 9), to: "zeros.gz", in: dir)
        XCTAssertEqual(thrownError(IDXError.self) { _ = try IDXFile.read(contentsOf: zeros) },
                       .unknownElementType(source: zeros.path, typeByte: 0))
        // A header declaring 10 values followed by 64 MB: stops one byte past the 18 the header accounts for.
        let header: [UInt8] = [0, 0, 0x08, 1, 0, 0, 0, 10]
        let long = try write(gzipCompress(header + [UInt8](repeating: 7, count: 64 << 20), level: 9), to: "long.gz", in: dir)
        XCTAssertEqual(thrownError(IDXError.self) { _ = try IDXFile.read(contentsOf: long) },
                       .gzip(.tooLarge(source: long.path, limit: 18)))
        // The header's own size inflates whole and parses.
        let fine = try write(gzipCompress(header + [UInt8](repeating: 7, count: 10)), to: "fine.gz", in: dir)
        XCTAssertEqual(try IDXFile.read(contentsOf: fine).payload, [UInt8](repeating: 7, count: 10))
        // The prefix reader stops where asked, and returns less for a shorter stream.
        let compressed = gzipCompress(Array(0..<100))
        XCTAssertEqual(try Gzip.decompressPrefix(compressed, source: "p", count: 20), Array(0..<20))
        XCTAssertEqual(try Gzip.decompressPrefix(gzipCompress([1, 2]), source: "p", count: 20), [1, 2])
    }

    func testOnlyRegularFilesAreRead() throws {
        let dir = try makeTemporaryDirectory(self)
        // A device that never ends is refused before a byte is read.
        XCTAssertEqual(thrownError(RegularFileError.self) { _ = try RegularFile.read(path: "/dev/zero", maxBytes: 1 << 20) },
                       .notARegularFile(path: "/dev/zero", kind: "a character device"))
        XCTAssertEqual(thrownError(RegularFileError.self) { _ = try RegularFile.read(path: dir.path, maxBytes: 1 << 20) },
                       .notARegularFile(path: dir.path, kind: "a directory"))
        let url = try write([1, 2, 3], to: "three", in: dir)
        XCTAssertEqual(try RegularFile.read(path: url.path, maxBytes: 3), [1, 2, 3])
        XCTAssertEqual(thrownError(RegularFileError.self) { _ = try RegularFile.read(path: url.path, maxBytes: 2) },
                       .tooLarge(path: url.path, size: 3, limit: 2))
        guard case .cannotRead? = thrownError(IDXError.self, { _ = try IDXFile.read(contentsOf: URL(fileURLWithPath: "/dev/zero")) }) else {
            return XCTFail("/dev/zero read as IDX")
        }
    }

    func testConcatenatedMembers() throws {
        let a = Array("hello, ".utf8), b = Array("world".utf8)
        XCTAssertEqual(try Gzip.decompress(gzipCompress(a) + gzipCompress(b), source: "m", limit: 100), a + b)
        let error = thrownError(GzipError.self) { _ = try Gzip.decompress(gzipCompress(a) + [1, 2, 3], source: "m", limit: 100) }
        guard case .corrupt? = error else { return XCTFail("got \(String(describing: error))") }
    }

    func testIsCompressed() {
        XCTAssertTrue(Gzip.isCompressed([0x1F, 0x8B, 8]))
        XCTAssertFalse(Gzip.isCompressed([0x1F]))
        XCTAssertFalse(Gzip.isCompressed([0, 0, 8, 1]))
    }
}
