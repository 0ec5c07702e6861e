import Foundation
import XCTest
import DigitsData

/// Collects progress events from the downloader's threads.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [DownloadProgress] = []
    /// Records one event.
    func add(_ event: DownloadProgress) { lock.withLock { stored.append(event) } }
    /// The events so far.
    var events: [DownloadProgress] { lock.withLock { stored } }
}

final class DownloaderTests: XCTestCase {
    private let imagesName = "tiny-images-idx3-ubyte"
    private let labelsName = "tiny-labels-idx1-ubyte"
    private lazy var imagesRaw = imagesFile(count: 3)
    private lazy var labelsRaw = labelsFile([4, 2, 7])
    private lazy var expected = [imagesName: SHA256.hexDigest(imagesRaw), labelsName: SHA256.hexDigest(labelsRaw)]

    private func gz(_ bytes: [UInt8]) -> LoopbackHTTPServer.Reply {
        .full(status: 200, contentType: "application/x-gzip", body: gzipCompress(bytes))
    }

    private func startServer(_ routes: [String: LoopbackHTTPServer.Reply]) throws -> LoopbackHTTPServer {
        let server = try LoopbackHTTPServer(routes: routes)
        addTeardownBlock { server.stop() }
        return server
    }

    /// The names in `directory`, hidden ones included.
    private func contents(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    func testSecondMirrorAfter404ThenSkipWhenPresent() throws {
        let server = try startServer([
            "/m2/\(imagesName).gz": gz(imagesRaw),
            "/m2/\(labelsName).gz": gz(labelsRaw),
        ])
        let destination = try makeTemporaryDirectory(self).appendingPathComponent("data/mnist")
        let log = ProgressLog()
        let downloader = MNISTDownloader(mirrors: [server.url("m1"), server.url("m2")], expected: expected,
                                         destination: destination, timeout: 10, progress: { log.add($0) })
        let saved = try downloader.run()
        XCTAssertEqual(saved.map(\.lastPathComponent), [imagesName + ".gz", labelsName + ".gz"])
        XCTAssertEqual(try contents(destination), [imagesName + ".gz", labelsName + ".gz"])
        XCTAssertEqual(server.requests, ["/m1/\(imagesName).gz", "/m2/\(imagesName).gz",
                                         "/m1/\(labelsName).gz", "/m2/\(labelsName).gz"])
        XCTAssertEqual(try IDXFile.readDecompressed(contentsOf: saved[0]), imagesRaw)
        let stages = log.events.filter { $0.file == imagesName }.map(\.stage)
        XCTAssertEqual(stages.first, .started)
        XCTAssertTrue(stages.contains(.mirrorFailed(reason: "HTTP status 404 (not found)")), "\(stages)")
        XCTAssertEqual(stages.last, .saved)
        XCTAssertTrue(log.events.contains { $0.stage == .receiving && $0.bytesReceived > 0 })

        // A second run finds both files in place and fetches nothing.
        let again = MNISTDownloader(mirrors: [server.url("m1"), server.url("m2")], expected: expected,
                                    destination: destination, timeout: 10, progress: { log.add($0) })
        XCTAssertEqual(try again.run(), saved)
        XCTAssertEqual(server.requests.count, 4)
        XCTAssertEqual(log.events.suffix(2).map(\.stage), [.alreadyPresent, .alreadyPresent])
    }

    func testHTMLAndCutOffBodiesAreRefusedAndLeaveNothing() throws {
        let gzipped = gzipCompress(imagesRaw)
        let server = try startServer([
            "/html/\(imagesName).gz": .full(status: 200, contentType: "text/html",
                                            body: Array("<!DOCTYPE html><html><body>Sign in</body></html>".utf8)),
            "/cut/\(imagesName).gz": .cutOff(declaredLength: gzipped.count, body: Array(gzipped.prefix(gzipped.count / 2))),
        ])
        let destination = try makeTemporaryDirectory(self)
        let downloader = MNISTDownloader(mirrors: [server.url("html"), server.url("cut")],
                                         expected: [imagesName: expected[imagesName] ?? ""],
                                         destination: destination, timeout: 10)
        let error = thrownError(DownloadError.self) { _ = try downloader.run() }
        guard case let .allMirrorsFailed(file, _, attempts)? = error else { return XCTFail("got \(String(describing: error))") }
        XCTAssertEqual(file, imagesName)
        XCTAssertEqual(attempts.count, 2)
        XCTAssertEqual(attempts.first?.failure, .html)
        XCTAssertEqual(attempts.last?.failure, .lengthMismatch(expected: gzipped.count, received: gzipped.count / 2))
        let text = error?.description ?? ""
        XCTAssertTrue(text.contains("HTML"), text)
        XCTAssertTrue(text.contains("cut off"), text)
        XCTAssertTrue(text.contains(server.url("html").absoluteString), text)
        XCTAssertTrue(text.contains("Nothing was saved"), text)
        XCTAssertEqual(try contents(destination), [])
    }

    func testBadGzipWrongHashAndGarbageAreRefused() throws {
        let gzipped = gzipCompress(imagesRaw)
        let server = try startServer([
            // Complete as HTTP (Content-Length matches) but the gzip stream inside is cut short.
            "/shortgz/\(imagesName).gz": .full(status: 200, contentType: "application/gzip", body: Array(gzipped.dropLast(20))),
            "/other/\(imagesName).gz": gz(imagesFile(count: 2)),
            "/junk/\(imagesName).gz": .full(status: 200, contentType: "application/octet-stream", body: [9, 9, 9, 9, 9]),
            "/err/\(imagesName).gz": .full(status: 500, contentType: "text/plain", body: Array("boom".utf8)),
        ])
        let destination = try makeTemporaryDirectory(self)
        let downloader = MNISTDownloader(
            mirrors: [server.url("shortgz"), server.url("other"), server.url("junk"), server.url("err")],
            expected: [imagesName: expected[imagesName] ?? ""], destination: destination, timeout: 10)
        let error = thrownError(DownloadError.self) { _ = try downloader.run() }
        guard case let .allMirrorsFailed(_, _, attempts)? = error else { return XCTFail("got \(String(describing: error))") }
        XCTAssertEqual(attempts.count, 4)
        guard case .badGzip(.truncated)? = attempts.first?.failure else { return XCTFail("\(attempts)") }
        guard case .hashMismatch(expected: expected[imagesName] ?? "", actual: SHA256.hexDigest(imagesFile(count: 2)))? =
            attempts.dropFirst().first?.failure else { return XCTFail("\(attempts)") }
        XCTAssertEqual(attempts.dropFirst(2).first?.failure, .notGzip(firstBytes: [9, 9, 9, 9, 9]))
        XCTAssertEqual(attempts.last?.failure, .httpStatus(500))
        XCTAssertEqual(try contents(destination), [])
    }

    func testStaleFileIsReplacedAndConflictingRawFileIsKept() throws {
        let server = try startServer(["/m/\(imagesName).gz": gz(imagesRaw)])
        let destination = try makeTemporaryDirectory(self)
        // A damaged .gz of our own is replaced by a good download.
        try write(Array("half a file".utf8), to: imagesName + ".gz", in: destination)
        let downloader = MNISTDownloader(mirrors: [server.url("m")], expected: [imagesName: expected[imagesName] ?? ""],
                                         destination: destination, timeout: 10)
        let saved = try downloader.run()
        XCTAssertEqual(try IDXFile.readDecompressed(contentsOf: saved[0]), imagesRaw)
        XCTAssertEqual(try contents(destination), [imagesName + ".gz"])

        // An uncompressed file of the same name with other contents is not the downloader's to overwrite.
        let other = try makeTemporaryDirectory(self)
        try write(imagesFile(count: 1), to: imagesName, in: other)
        let blocked = MNISTDownloader(mirrors: [server.url("m")], expected: [imagesName: expected[imagesName] ?? ""],
                                      destination: other, timeout: 10)
        guard case .conflictingFile? = thrownError(DownloadError.self, { _ = try blocked.run() }) else {
            return XCTFail("expected conflictingFile")
        }
        XCTAssertEqual(try contents(other), [imagesName])
    }

    /// A server (or proxy) that undid the compression sends the IDX file itself: kept, under its uncompressed name.
    func testUncompressedBodyWithRightHashIsKeptRaw() throws {
        let server = try startServer([
            "/plain/\(labelsName).gz": .full(status: 200, contentType: "application/octet-stream", body: labelsRaw),
        ])
        let destination = try makeTemporaryDirectory(self)
        let downloader = MNISTDownloader(mirrors: [server.url("plain")], expected: [labelsName: expected[labelsName] ?? ""],
                                         destination: destination, timeout: 10)
        XCTAssertEqual(try downloader.run().map(\.lastPathComponent), [labelsName])
        XCTAssertEqual(try contents(destination), [labelsName])
    }

    func testTimeout() throws {
        let server = try startServer(["/slow/\(labelsName).gz": .stall(seconds: 5)])
        let destination = try makeTemporaryDirectory(self)
        let downloader = MNISTDownloader(mirrors: [server.url("slow")], expected: [labelsName: expected[labelsName] ?? ""],
                                         destination: destination, timeout: 1)
        let start = Date()
        let error = thrownError(DownloadError.self) { _ = try downloader.run() }
        XCTAssertLessThan(Date().timeIntervalSince(start), 4)
        guard case let .allMirrorsFailed(_, _, attempts)? = error, case .transport(message: "timed out", bytesReceived: 0)? = attempts.first?.failure else {
            return XCTFail("got \(String(describing: error))")
        }
        XCTAssertEqual(try contents(destination), [])
    }

    func testDefaults() {
        XCTAssertEqual(MNISTDownloader.defaultMirrors.map(\.absoluteString),
                       ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"])
        XCTAssertEqual(MNISTDownloader.knownSHA256.count, 4)
        let d = MNISTDownloader(destination: URL(fileURLWithPath: "/tmp/x"))
        XCTAssertEqual(d.fileNames, MNISTFileNames.standard.all)
        XCTAssertEqual(MNIST.knownSHA256ByRole["train-images"], MNISTDownloader.knownSHA256["train-images-idx3-ubyte"])
    }
}
