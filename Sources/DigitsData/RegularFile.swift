// RegularFile: reading a whole file that a stranger named, without trusting it.
//
// A path from the command line can name a device that never ends (/dev/zero), a pipe, a directory, or a file
// far larger than anything digits reads. So a file is read only when it is a regular file, only when its size
// (from fstat, before reading a byte) is within the caller's limit, and never past that size: memory is sized
// by the file as it stands, not by what a reader would keep receiving.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be read; `description` names the path and the problem.
public enum RegularFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `operation` (open, fstat or read) failed; `reason` is the system's explanation.
    case cannotRead(path: String, operation: String, reason: String)
    /// The path names something other than a regular file (a directory, a device, a pipe, a socket).
    case notARegularFile(path: String, kind: String)
    /// The file holds more bytes than the caller accepts.
    case tooLarge(path: String, size: Int, limit: Int)
    /// The file's size changed while it was being read.
    case changedWhileReading(path: String, expected: Int, read: Int)

    /// The path the error concerns.
    public var path: String {
        switch self {
        case .cannotRead(let path, _, _), .notARegularFile(let path, _), .tooLarge(let path, _, _),
             .changedWhileReading(let path, _, _):
            return path
        }
    }

    /// What is wrong and what to do, without the path.
    public var reason: String {
        switch self {
        case let .cannotRead(_, operation, reason):
            return "cannot read the file (\(operation): \(reason)). Check that the path is right and the file is readable."
        case let .notARegularFile(_, kind):
            return "not a regular file (it is \(kind)). Give the path of a file."
        case let .tooLarge(_, size, limit):
            return "the file holds \(size) bytes, more than the limit of \(limit) bytes. Check that it is the file you meant."
        case let .changedWhileReading(_, expected, read):
            return "the file changed while being read (\(read) bytes read of \(expected)). Try again once it is complete."
        }
    }

    /// The path, what is wrong and what to do.
    public var description: String { "\(path): \(reason)" }
}

/// Reads regular files whole, within a size limit.
public enum RegularFile {
    /// The whole content of the regular file at `path`, refusing (before reading) anything that is not a regular
    /// file or holds more than `maxBytes` bytes.
    public static func read(path: String, maxBytes: Int) throws(RegularFileError) -> [UInt8] {
        let (fd, size) = try openRegular(path)
        defer { close(fd) }
        guard size <= maxBytes else { throw .tooLarge(path: path, size: size, limit: maxBytes) }
        let bytes = try readUpTo(size, from: fd, path: path)
        guard bytes.count == size else { throw .changedWhileReading(path: path, expected: size, read: bytes.count) }
        return bytes
    }

    /// The first `count` bytes (fewer if the file is shorter) of the regular file at `path`: enough to check a
    /// header's claims before the whole file is read.
    public static func readPrefix(path: String, count: Int) throws(RegularFileError) -> [UInt8] {
        let (fd, _) = try openRegular(path)
        defer { close(fd) }
        return try readUpTo(max(0, count), from: fd, path: path)
    }

    /// `path` opened for reading, and its size, refusing anything that is not a regular file. The caller closes it.
    private static func openRegular(_ path: String) throws(RegularFileError) -> (fd: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotRead(path: path, operation: "open", reason: systemMessage(errno)) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw .cannotRead(path: path, operation: "fstat", reason: systemMessage(code))
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            close(fd)
            throw .notARegularFile(path: path, kind: describe(type))
        }
        return (fd, Int(info.st_size))
    }

    /// Up to `count` bytes from `fd`, fewer only where the file ends first.
    private static func readUpTo(_ count: Int, from fd: Int32, path: String) throws(RegularFileError) -> [UInt8] {
        var failure: Int32 = 0
        var filled = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            while filled < count, let base = buffer.baseAddress {
                let n = readSome(fd, base + filled, count - filled)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }  // the end of the file (it may have shrunk while being read)
                filled += n
            }
            initialized = filled
        }
        if failure != 0 { throw .cannotRead(path: path, operation: "read", reason: systemMessage(failure)) }
        return bytes
    }

    /// A file type from `st_mode`, in words.
    static func describe(_ type: mode_t) -> String {
        switch type {
        case S_IFDIR: return "a directory"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFIFO: return "a pipe"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }
}

/// POSIX `read(2)`, named apart from `RegularFile.read`.
private func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// The system's text for an errno value.
private func systemMessage(_ code: Int32) -> String {
    String(cString: strerror(code))
}
