// Gzip: inflating gzip-compressed files (the form MNIST is distributed in) through zlib.
//
// The output grows in chunks and is never allowed past a caller-given limit, so a small
// malicious file (a "gzip bomb") cannot make the process allocate gigabytes.

import CZlib

/// Why a gzip stream could not be inflated.
public enum GzipError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The bytes do not start with the gzip magic number 1F 8B; `firstBytes` are the first few bytes seen.
    case notGzip(source: String, firstBytes: [UInt8])
    /// zlib rejected the data as damaged; `message` is zlib's own explanation.
    case corrupt(source: String, message: String)
    /// The input ended before the end of the gzip stream, after `inputBytes` compressed bytes.
    case truncated(source: String, inputBytes: Int)
    /// The inflated data would be larger than `limit` bytes.
    case tooLarge(source: String, limit: Int)
    /// zlib failed for a reason other than bad data (for example out of memory); `code` is zlib's return code.
    case zlibFailure(source: String, code: Int32, message: String)

    /// A one-paragraph explanation naming the source, what is wrong, and what to do about it.
    public var description: String {
        switch self {
        case let .notGzip(source, firstBytes):
            let shown = firstBytes.prefix(8).map { hexByte($0) }.joined(separator: " ")
            return "\(source): not a gzip file (it starts with \(shown.isEmpty ? "nothing: the file is empty" : shown), "
                + "not 1f 8b). Use the uncompressed file without a .gz name, or download the file again."
        case let .corrupt(source, message):
            return "\(source): the gzip data is corrupt (zlib: \(message)). Delete the file and download it again."
        case let .truncated(source, inputBytes):
            return "\(source): the gzip data ends early, after \(inputBytes) compressed bytes, before the end of the "
                + "stream (an interrupted download?). Delete the file and download it again."
        case let .tooLarge(source, limit):
            return "\(source): inflating this gzip file produces more than \(limit) bytes, the limit allowed. "
                + "Check that it is the file you meant; if it is, raise the limit."
        case let .zlibFailure(source, code, message):
            return "\(source): zlib failed with code \(code) (\(message)). Check free memory and try again."
        }
    }
}

/// Gzip detection and decompression (RFC 1952) through zlib.
public enum Gzip {
    /// Whether `bytes` start with the gzip magic number 1F 8B.
    public static func isCompressed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Inflates a gzip stream (one member or several concatenated) into its original bytes.
    ///
    /// - Parameters:
    ///   - bytes: the whole compressed file.
    ///   - source: a name for the data (usually its path), used in error messages.
    ///   - limit: the most bytes the output may hold; more throws `GzipError.tooLarge`.
    public static func decompress(_ bytes: [UInt8], source: String, limit: Int) throws(GzipError) -> [UInt8] {
        guard isCompressed(bytes) else {
            throw .notGzip(source: source, firstBytes: Array(bytes.prefix(8)))
        }
        let result: Result<[UInt8], GzipError> = bytes.withUnsafeBufferPointer { input in
            inflateAll(input, source: source, limit: max(0, limit), sizeHint: trailerSize(bytes))
        }
        return try result.get()
    }

    /// The first `count` bytes the gzip stream inflates to (fewer if it holds fewer), inflating no further: enough
    /// to read a header and learn how large the whole should be before inflating the rest.
    public static func decompressPrefix(_ bytes: [UInt8], source: String, count: Int) throws(GzipError) -> [UInt8] {
        guard isCompressed(bytes) else {
            throw .notGzip(source: source, firstBytes: Array(bytes.prefix(8)))
        }
        let result: Result<[UInt8], GzipError> = bytes.withUnsafeBufferPointer { input in
            inflateAll(input, source: source, limit: max(0, count), sizeHint: count, stopAtLimit: true)
        }
        return try result.get()
    }

    /// The ISIZE field of the last member (the uncompressed size modulo 2^32), used only as a capacity hint.
    static func trailerSize(_ bytes: [UInt8]) -> Int {
        guard bytes.count >= 18 else { return 0 }
        let n = bytes.count
        return Int(bytes[n - 4]) | Int(bytes[n - 3]) << 8 | Int(bytes[n - 2]) << 16 | Int(bytes[n - 1]) << 24
    }

    /// The inflate loop proper, over pinned input.
    /// With `stopAtLimit`, reaching `limit` bytes ends the inflation with what was inflated so far (a prefix)
    /// instead of failing.
    private static func inflateAll(_ input: UnsafeBufferPointer<UInt8>, source: String, limit: Int,
                                   sizeHint: Int, stopAtLimit: Bool = false) -> Result<[UInt8], GzipError> {
        guard let inputBase = input.baseAddress else {
            return .failure(.notGzip(source: source, firstBytes: []))
        }
        var stream = z_stream()
        // windowBits 15 + 16: a 32 KiB window, gzip wrapper only.
        let initCode = inflateInit2_(&stream, 16 + 15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initCode == Z_OK else {
            return .failure(.zlibFailure(source: source, code: initCode, message: zlibMessage(stream, initCode)))
        }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        // A hint only: the trailer may lie, so never reserve more than the limit, nor more than deflate's
        // best ratio (about 1032:1) allows for this much input.
        let (plausible, overflow) = input.count.multipliedReportingOverflow(by: 1032)
        output.reserveCapacity(min(sizeHint, limit, overflow ? Int.max : plausible))
        let chunkSize = 1 << 18
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var consumed = 0          // input bytes handed to zlib so far
        let maxFeed = Int(UInt32.max)

        func feed() {
            let take = min(input.count - consumed, maxFeed)
            stream.next_in = UnsafeMutablePointer(mutating: inputBase + consumed)
            stream.avail_in = uInt(take)
            consumed += take
        }
        feed()

        return chunk.withUnsafeMutableBufferPointer { out -> Result<[UInt8], GzipError> in
            guard let outBase = out.baseAddress else {
                return .failure(.zlibFailure(source: source, code: Z_MEM_ERROR, message: "no output buffer"))
            }
            while true {
                if stream.avail_in == 0 && consumed < input.count { feed() }
                // Offer at most one byte beyond the limit, so overshooting is detected without writing more.
                let left = limit - output.count
                let room = left < chunkSize ? left + 1 : chunkSize
                stream.next_out = outBase
                stream.avail_out = uInt(room)
                let code = inflate(&stream, Z_NO_FLUSH)
                let produced = room - Int(stream.avail_out)
                if produced > 0 {
                    if output.count + produced > limit {
                        guard stopAtLimit else { return .failure(.tooLarge(source: source, limit: limit)) }
                        output.append(contentsOf: UnsafeBufferPointer(start: outBase, count: limit - output.count))
                        return .success(output)
                    }
                    output.append(contentsOf: UnsafeBufferPointer(start: outBase, count: produced))
                    if stopAtLimit && output.count == limit { return .success(output) }
                }
                switch code {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    let unread = (input.count - consumed) + Int(stream.avail_in)
                    if unread == 0 { return .success(output) }
                    // Another member may follow (as `cat a.gz b.gz` makes).
                    let next = input.count - unread
                    if unread >= 2 && input[next] == 0x1F && input[next + 1] == 0x8B {
                        let resetCode = inflateReset(&stream)
                        guard resetCode == Z_OK else {
                            return .failure(.zlibFailure(source: source, code: resetCode,
                                                         message: zlibMessage(stream, resetCode)))
                        }
                        continue
                    }
                    return .failure(.corrupt(source: source,
                                             message: "\(unread) unexpected bytes after the end of the gzip stream"))
                case Z_BUF_ERROR:
                    // No progress was possible: with room to write, that means the input ran out.
                    if stream.avail_in == 0 && consumed == input.count {
                        return .failure(.truncated(source: source, inputBytes: input.count))
                    }
                    continue
                case Z_DATA_ERROR, Z_NEED_DICT:
                    return .failure(.corrupt(source: source, message: zlibMessage(stream, code)))
                default:
                    return .failure(.zlibFailure(source: source, code: code, message: zlibMessage(stream, code)))
                }
            }
        }
    }

    /// zlib's message for the last error on `stream`, or a generic text for `code`.
    private static func zlibMessage(_ stream: z_stream, _ code: Int32) -> String {
        if let msg = stream.msg { return String(cString: msg) }
        switch code {
        case Z_MEM_ERROR: return "out of memory"
        case Z_VERSION_ERROR: return "incompatible zlib version"
        case Z_STREAM_ERROR: return "invalid stream state"
        case Z_NEED_DICT: return "a preset dictionary is required"
        case Z_DATA_ERROR: return "invalid data"
        default: return "error \(code)"
        }
    }
}

/// Two lowercase hex digits for a byte.
func hexByte(_ b: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(b >> 4)], digits[Int(b & 0x0F)]])
}
