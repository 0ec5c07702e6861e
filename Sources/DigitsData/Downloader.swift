// `digits download`: fetching the MNIST files from public mirrors, checked before they are kept.
//
// Each file is fetched whole into memory (the largest is under 10 MB compressed), then checked:
// HTTP 200, gzip magic (not an HTML error page), length equal to Content-Length, a gzip stream
// that inflates completely, and the SHA-256 of the inflated bytes. Only then is it written to a
// temporary file beside its final name and renamed into place, so a failed download never leaves
// a file behind, and a half-written file never carries the final name.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One event of a download, for showing progress.
public struct DownloadProgress: Sendable, Equatable {
    /// What happened.
    public enum Stage: Sendable, Equatable {
        /// The destination already holds the file with the right SHA-256; nothing is fetched.
        case alreadyPresent
        /// A request to a mirror is starting.
        case started
        /// Body bytes are arriving (`bytesReceived` so far, of `expectedBytes` if the server said).
        case receiving
        /// This mirror failed for the reason given; the next mirror, if any, is tried.
        case mirrorFailed(reason: String)
        /// The file was verified and saved to its final place.
        case saved
    }

    /// The file name (without ".gz"), such as "train-images-idx3-ubyte".
    public let file: String
    /// The URL being fetched, or for `alreadyPresent` and `saved` the local file.
    public let url: URL
    /// What happened.
    public let stage: Stage
    /// Bytes of the body received so far from this mirror.
    public let bytesReceived: Int
    /// The body length announced by the server (Content-Length), if it announced one.
    public let expectedBytes: Int?
}

extension DownloadProgress: CustomStringConvertible {
    /// One line for a progress display, e.g. "train-images-idx3-ubyte: 4.2 of 9.9 MB (42%)".
    public var description: String {
        func mb(_ n: Int) -> String { String(format: "%.1f", Double(n) / 1_000_000) }
        switch stage {
        case .alreadyPresent: return "\(file): already present, checksum verified"
        case .started: return "\(file): connecting to \(url.host ?? url.absoluteString)"
        case .receiving:
            guard let total = expectedBytes, total > 0 else { return "\(file): \(mb(bytesReceived)) MB" }
            return "\(file): \(mb(bytesReceived)) of \(mb(total)) MB (\(100 * bytesReceived / total)%)"
        case .mirrorFailed(let reason): return "\(file): \(url.absoluteString) failed: \(reason)"
        case .saved: return "\(file): saved, checksum verified"
        }
    }
}

/// Why one mirror did not yield a good copy of a file.
public enum MirrorFailure: Error, CustomStringConvertible, Equatable, Sendable {
    /// The server answered with an HTTP status other than 200.
    case httpStatus(Int)
    /// The request failed before a complete answer arrived (network error, timeout, connection closed).
    case transport(message: String, bytesReceived: Int)
    /// The server answered 200 with an HTML page instead of the gzip file.
    case html
    /// The body is neither gzip nor the expected uncompressed file; `firstBytes` are its first bytes.
    case notGzip(firstBytes: [UInt8])
    /// The body's length differs from the Content-Length the server announced.
    case lengthMismatch(expected: Int, received: Int)
    /// The body was larger than the most bytes accepted for one file.
    case tooLarge(limit: Int)
    /// The body is gzip but does not inflate completely.
    case badGzip(GzipError)
    /// The inflated bytes' SHA-256 is not the expected one.
    case hashMismatch(expected: String, actual: String)

    /// What went wrong with this mirror, in a phrase.
    public var description: String {
        switch self {
        case let .httpStatus(code):
            return "HTTP status \(code)" + (code == 404 ? " (not found)" : "")
        case let .transport(message, received):
            return "transfer failed after \(received) bytes: \(message)"
        case .html:
            return "the server sent an HTML page, not the gzip file"
        case let .notGzip(firstBytes):
            return "the server sent data that is not gzip (it starts with "
                + firstBytes.prefix(8).map { hexByte($0) }.joined(separator: " ") + ")"
        case let .lengthMismatch(expected, received):
            return "the download was cut off: received \(received) of the \(expected) bytes announced"
        case let .tooLarge(limit):
            return "the file is larger than the \(limit) bytes accepted"
        case let .badGzip(error):
            switch error {
            case .truncated: return "the gzip data ends early (the download was cut off)"
            case let .corrupt(_, message): return "the gzip data is corrupt (zlib: \(message))"
            case let .tooLarge(_, limit): return "the file inflates to more than the \(limit) bytes accepted"
            case .notGzip: return "the server sent data that is not gzip"
            case let .zlibFailure(_, code, message): return "zlib failed with code \(code) (\(message))"
            }
        case let .hashMismatch(expected, actual):
            return "SHA-256 of the inflated file is \(actual), expected \(expected)"
        }
    }
}

/// One mirror tried for a file, and why it failed.
public struct MirrorAttempt: Sendable, Equatable {
    /// The URL requested.
    public let url: URL
    /// Why it failed.
    public let failure: MirrorFailure
}

/// Why `MNISTDownloader.run` could not provide a file.
public enum DownloadError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Every mirror failed for `file`; `attempts` says why, mirror by mirror (empty if no mirrors were given).
    case allMirrorsFailed(file: String, destination: String, attempts: [MirrorAttempt])
    /// The destination directory could not be created.
    case cannotCreateDirectory(path: String, reason: String)
    /// A verified file could not be written or moved into place.
    case cannotWrite(path: String, reason: String)
    /// An uncompressed file of that name is already there with other contents; it is left alone.
    case conflictingFile(path: String, expected: String, actual: String)

    /// A message naming the file, what went wrong, and what to do about it.
    public var description: String {
        switch self {
        case let .allMirrorsFailed(file, destination, attempts):
            if attempts.isEmpty {
                return "\(file): no mirrors to download from. Pass at least one mirror URL."
            }
            var lines = ["\(file): could not download a good copy into \(destination); every mirror failed:"]
            for a in attempts { lines.append("  \(a.url.absoluteString): \(a.failure.description)") }
            lines.append("Nothing was saved. Check the network connection and try again later, or download the "
                         + "files by hand and point digits at them with --data DIR.")
            return lines.joined(separator: "\n")
        case let .cannotCreateDirectory(path, reason):
            return "\(path): cannot create the download directory (\(reason)). "
                + "Choose another directory with --to, or fix its permissions."
        case let .cannotWrite(path, reason):
            return "\(path): cannot save the downloaded file (\(reason)). "
                + "Check free space and permissions, or choose another directory with --to."
        case let .conflictingFile(path, expected, actual):
            return "\(path): already exists with SHA-256 \(actual), not the expected \(expected); it was left alone. "
                + "Remove or rename it, then run the download again."
        }
    }
}

/// Downloads the MNIST files (or any files with known hashes) into a directory, checking each before keeping it.
public struct MNISTDownloader: Sendable {
    /// The mirrors tried in turn for each file: a file's URL is the mirror plus the name plus ".gz".
    public static let defaultMirrors: [URL] = mirrorURLs([
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ])

    /// The SHA-256 of each official MNIST file, uncompressed, keyed by file name.
    public static let knownSHA256: [String: String] = [
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ]

    /// The mirrors, tried in order for each file.
    public let mirrors: [URL]
    /// The expected SHA-256 (lowercase hex) of each file's uncompressed bytes, keyed by file name without ".gz".
    public let expected: [String: String]
    /// The directory the files are saved into (created if missing).
    public let destination: URL
    /// The most seconds one request may take, and may stall (rounded up to whole seconds, at least 1).
    public let timeout: TimeInterval
    /// The most bytes accepted for one compressed download.
    public var maxDownloadBytes: Int = 1 << 27
    /// The most bytes one file may inflate to.
    public var maxInflatedBytes: Int = 1 << 28
    /// Called for each progress event, from whatever thread the event happens on.
    public let progress: @Sendable (DownloadProgress) -> Void

    /// A downloader of the files named in `expected` (by default the four MNIST files) into `destination`.
    public init(mirrors: [URL] = MNISTDownloader.defaultMirrors,
                expected: [String: String] = MNISTDownloader.knownSHA256,
                destination: URL,
                timeout: TimeInterval = 120,
                progress: @escaping @Sendable (DownloadProgress) -> Void = { _ in }) {
        self.mirrors = mirrors
        self.expected = expected
        self.destination = destination
        self.timeout = timeout
        self.progress = progress
    }

    /// The files to fetch: the standard MNIST names first in their usual order, then any others sorted.
    public var fileNames: [String] {
        let standard = MNISTFileNames.standard.all.filter { expected[$0] != nil }
        return standard + expected.keys.filter { !standard.contains($0) }.sorted()
    }

    /// Makes sure each file is in `destination` with the right SHA-256, downloading the ones that are not.
    ///
    /// Returns the path of each file, in `fileNames` order (the ".gz" just saved, or the copy already there).
    /// Throws on the first file no mirror could provide; files already saved stay saved.
    public func run() throws(DownloadError) -> [URL] {
        do {
            try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        } catch {
            throw .cannotCreateDirectory(path: destination.path, reason: describe(error))
        }
        var saved: [URL] = []
        for name in fileNames {
            guard let hash = expected[name]?.lowercased() else { continue }
            saved.append(try fetch(name, expectedHash: hash))
        }
        return saved
    }

    /// Provides one file: the copy already there if it checks out, else a fresh, verified download.
    private func fetch(_ name: String, expectedHash: String) throws(DownloadError) -> URL {
        let rawURL = destination.appendingPathComponent(name)
        let gzURL = destination.appendingPathComponent(name + ".gz")
        if isRegularFile(rawURL) {
            let actual = (try? IDXFile.readFile(path: rawURL.path, maxBytes: maxInflatedBytes)).map(SHA256.hexDigest)
            if actual == expectedHash {
                progress(DownloadProgress(file: name, url: rawURL, stage: .alreadyPresent, bytesReceived: 0, expectedBytes: nil))
                return rawURL
            }
            throw .conflictingFile(path: rawURL.path, expected: expectedHash, actual: actual ?? "unreadable")
        }
        if isRegularFile(gzURL),
           let bytes = try? IDXFile.readDecompressed(contentsOf: gzURL, maxBytes: maxInflatedBytes),
           SHA256.hexDigest(bytes) == expectedHash {
            progress(DownloadProgress(file: name, url: gzURL, stage: .alreadyPresent, bytesReceived: 0, expectedBytes: nil))
            return gzURL
        }

        var attempts: [MirrorAttempt] = []
        for mirror in mirrors {
            let url = mirror.appendingPathComponent(name + ".gz")
            switch download(url, file: name, expectedHash: expectedHash) {
            case let .success(verified):
                let target = verified.compressed ? gzURL : rawURL
                try save(verified.body, to: target)
                progress(DownloadProgress(file: name, url: target, stage: .saved,
                                          bytesReceived: verified.body.count, expectedBytes: nil))
                return target
            case let .failure(failure):
                attempts.append(MirrorAttempt(url: url, failure: failure))
                progress(DownloadProgress(file: name, url: url, stage: .mirrorFailed(reason: failure.description),
                                          bytesReceived: 0, expectedBytes: nil))
            }
        }
        throw .allMirrorsFailed(file: name, destination: destination.path, attempts: attempts)
    }

    /// A body that passed every check; `compressed` is false when the server sent the file already inflated.
    private struct Verified {
        let body: [UInt8]
        let compressed: Bool
    }

    /// Fetches one URL and checks the body completely.
    private func download(_ url: URL, file: String, expectedHash: String) -> Result<Verified, MirrorFailure> {
        progress(DownloadProgress(file: file, url: url, stage: .started, bytesReceived: 0, expectedBytes: nil))
        let answer = HTTPFetcher.fetch(url, timeout: timeout, maxBytes: maxDownloadBytes) { received, total in
            progress(DownloadProgress(file: file, url: url, stage: .receiving, bytesReceived: received, expectedBytes: total))
        }
        if let error = answer.error {
            if answer.overLimit { return .failure(.tooLarge(limit: maxDownloadBytes)) }
            // A status we can judge beats the transport error that follows it (e.g. a 404 whose body was dropped).
            if let status = answer.status, status != 200 { return .failure(.httpStatus(status)) }
            if let expected = answer.expectedLength, answer.body.count < expected {
                return .failure(.lengthMismatch(expected: expected, received: answer.body.count))
            }
            return .failure(.transport(message: error, bytesReceived: answer.body.count))
        }
        guard let status = answer.status else {
            return .failure(.transport(message: "no HTTP response", bytesReceived: answer.body.count))
        }
        guard status == 200 else { return .failure(.httpStatus(status)) }
        let body = answer.body
        if let expected = answer.expectedLength, !answer.contentEncoded, body.count != expected {
            return .failure(.lengthMismatch(expected: expected, received: body.count))
        }
        if Gzip.isCompressed(body) {
            let inflated: [UInt8]
            do throws(GzipError) {
                inflated = try Gzip.decompress(body, source: url.absoluteString, limit: maxInflatedBytes)
            } catch {
                return .failure(.badGzip(error))
            }
            let actual = SHA256.hexDigest(inflated)
            guard actual == expectedHash else { return .failure(.hashMismatch(expected: expectedHash, actual: actual)) }
            return .success(Verified(body: body, compressed: true))
        }
        if looksLikeHTML(body, contentType: answer.contentType) { return .failure(.html) }
        // A server (or client) that undid the compression in transit sends the file itself: keep it if it is the file.
        if body.count >= 4, body[0] == 0, body[1] == 0, SHA256.hexDigest(body) == expectedHash {
            return .success(Verified(body: body, compressed: false))
        }
        return .failure(.notGzip(firstBytes: Array(body.prefix(8))))
    }

    /// Writes `bytes` to a temporary file beside `target`, then renames it into place; on failure nothing is left.
    private func save(_ bytes: [UInt8], to target: URL) throws(DownloadError) {
        let temporary = destination.appendingPathComponent(".\(target.lastPathComponent).part-\(UUID().uuidString)")
        do {
            try Data(bytes).write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw .cannotWrite(path: target.path, reason: describe(error))
        }
        if rename(temporary.path, target.path) != 0 {
            let reason = systemError(errno)
            try? FileManager.default.removeItem(at: temporary)
            throw .cannotWrite(path: target.path, reason: reason)
        }
    }
}

/// URLs from strings known to be valid (skipping, rather than crashing on, any that are not).
private func mirrorURLs(_ strings: [String]) -> [URL] {
    strings.compactMap { URL(string: $0) }
}

/// Whether a body is an HTML page rather than data: by its Content-Type or by how it starts.
private func looksLikeHTML(_ body: [UInt8], contentType: String?) -> Bool {
    if let type = contentType?.lowercased(), type.contains("html") { return true }
    let start = String(decoding: body.prefix(512), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    return start.hasPrefix("<!doctype html") || start.hasPrefix("<html") || start.hasPrefix("<?xml")
        || start.hasPrefix("<head") || start.hasPrefix("<body") || start.hasPrefix("<!--")
}

/// A short, readable description of a Foundation error, with plain words for the common network failures.
private func describe(_ error: any Error) -> String {
    let nsError = error as NSError
    if nsError.domain == NSURLErrorDomain {
        switch nsError.code {
        case NSURLErrorTimedOut: return "timed out"
        case NSURLErrorCannotFindHost, NSURLErrorDNSLookupFailed: return "host not found"
        case NSURLErrorCannotConnectToHost: return "could not connect to the server"
        case NSURLErrorNetworkConnectionLost: return "the connection was lost"
        case NSURLErrorNotConnectedToInternet: return "not connected to the internet"
        case NSURLErrorSecureConnectionFailed, NSURLErrorServerCertificateUntrusted,
             NSURLErrorServerCertificateHasBadDate, NSURLErrorServerCertificateNotYetValid:
            return "the secure (TLS) connection failed"
        default: break
        }
    }
    return nsError.localizedDescription
}

/// The outcome of one HTTP request.
struct HTTPAnswer: Sendable {
    /// The HTTP status, if a response arrived.
    var status: Int?
    /// The Content-Length announced, if any.
    var expectedLength: Int?
    /// The Content-Type announced, if any.
    var contentType: String?
    /// Whether the response declared a Content-Encoding (so the body may have been decoded in transit).
    var contentEncoded = false
    /// The body bytes received.
    var body: [UInt8] = []
    /// The transfer error, if the request did not complete.
    var error: String?
    /// Whether the body was cut off for exceeding the size limit.
    var overLimit = false
}

/// A blocking HTTP GET on top of a delegate-based URLSession data task, reporting progress as bytes arrive.
enum HTTPFetcher {
    /// Fetches `url`, waiting at most about `timeout` seconds, keeping at most `maxBytes` of body.
    static func fetch(_ url: URL, timeout: TimeInterval, maxBytes: Int,
                      progress: @escaping @Sendable (Int, Int?) -> Void) -> HTTPAnswer {
        // Whole seconds, at least one: the Linux implementation hands curl a timeout in whole seconds.
        let timeout = max(1, timeout.rounded(.up))
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        let delegate = FetchDelegate(maxBytes: maxBytes, progress: progress)
        let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        let task = session.dataTask(with: request)
        task.resume()
        // URLSession enforces the timeout; this wait is only a backstop in case it never calls back.
        if delegate.finished.wait(timeout: .now() + timeout + 10) == .timedOut {
            task.cancel()
            delegate.fail("timed out after \(Int(timeout)) seconds")
        }
        session.finishTasksAndInvalidate()
        return delegate.answer
    }
}

/// Collects one task's response and body; its state is guarded by a lock, as URLSession calls it on its own queue.
private final class FetchDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    /// Guards every mutable property below.
    private let lock = NSLock()
    /// What has been collected so far.
    private var state = HTTPAnswer()
    /// The body length at the last progress report.
    private var lastReported = 0
    /// Whether the outcome is settled (completed, failed, or timed out).
    private var done = false
    /// Signalled once, when the outcome is settled.
    let finished = DispatchSemaphore(value: 0)
    /// The most body bytes kept.
    let maxBytes: Int
    /// Called with (bytes received, Content-Length if known).
    let progress: @Sendable (Int, Int?) -> Void

    /// A collector keeping at most `maxBytes` of body.
    init(maxBytes: Int, progress: @escaping @Sendable (Int, Int?) -> Void) {
        self.maxBytes = maxBytes
        self.progress = progress
    }

    /// A copy of what has been collected.
    var answer: HTTPAnswer { lock.withLock { state } }

    /// Records a failure and wakes the waiter, once.
    func fail(_ message: String) {
        let first: Bool = lock.withLock {
            if done { return false }
            done = true
            state.error = message
            return true
        }
        if first { finished.signal() }
    }

    /// Records the status and headers; keeps the body only of a 200 answer.
    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        lock.withLock {
            if let http = response as? HTTPURLResponse {
                state.status = http.statusCode
                state.contentType = http.value(forHTTPHeaderField: "Content-Type")
                if let encoding = http.value(forHTTPHeaderField: "Content-Encoding"), encoding.lowercased() != "identity" {
                    state.contentEncoded = true
                }
            }
            if response.expectedContentLength >= 0 { state.expectedLength = Int(response.expectedContentLength) }
        }
        // Keep the body of a 200 (to check it) and drop any other (only its status matters).
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        completionHandler(status == 200 ? .allow : .cancel)
    }

    /// Appends body bytes (up to the limit) and reports progress every 256 KiB.
    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        var report: (Int, Int?)?
        var tooBig = false
        lock.withLock {
            if state.body.count + data.count > maxBytes {
                state.overLimit = true
                tooBig = true
                return
            }
            state.body.append(contentsOf: data)
            if state.body.count - lastReported >= 1 << 18 || state.body.count == state.expectedLength {
                lastReported = state.body.count
                report = (state.body.count, state.expectedLength)
            }
        }
        if tooBig {
            dataTask.cancel()
            return
        }
        if let report { progress(report.0, report.1) }
    }

    /// Records how the task ended and wakes the waiter.
    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let first: Bool = lock.withLock {
            if done { return false }
            done = true
            if state.overLimit {
                state.error = "larger than \(maxBytes) bytes"
            } else if let error {
                // A response we cancelled on purpose (non-200) is not a transport error.
                let cancelled = (error as NSError).code == NSURLErrorCancelled
                if !(cancelled && state.status != nil && state.status != 200) {
                    state.error = describe(error)
                }
            }
            return true
        }
        if first { finished.signal() }
    }
}
