// IDX: the simple binary format MNIST is published in.
//
// Layout: two zero bytes, an element-type byte, a rank byte; then `rank` big-endian UInt32
// dimensions; then the elements, big-endian, row-major. The parser checks the header against
// the file's real length before it allocates anything the header sizes, so a damaged or hostile
// header can never make it allocate more than the file holds.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The element type named by the third byte of an IDX file.
public enum IDXElementType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Unsigned 8-bit integers (type byte 0x08): MNIST pixels and labels.
    case uint8 = 0x08
    /// Signed 8-bit integers (type byte 0x09).
    case int8 = 0x09
    /// Big-endian signed 16-bit integers (type byte 0x0B).
    case int16 = 0x0B
    /// Big-endian signed 32-bit integers (type byte 0x0C).
    case int32 = 0x0C
    /// Big-endian IEEE 754 32-bit floats (type byte 0x0D).
    case float32 = 0x0D
    /// Big-endian IEEE 754 64-bit floats (type byte 0x0E).
    case float64 = 0x0E

    /// The size in bytes of one element.
    public var size: Int {
        switch self {
        case .uint8, .int8: return 1
        case .int16: return 2
        case .int32, .float32: return 4
        case .float64: return 8
        }
    }

    /// The type's name with its type byte, such as "unsigned byte (0x08)".
    public var description: String {
        let name: String
        switch self {
        case .uint8: name = "unsigned byte"
        case .int8: name = "signed byte"
        case .int16: name = "int16"
        case .int32: name = "int32"
        case .float32: name = "float32"
        case .float64: name = "float64"
        }
        return "\(name) (0x\(hexByte(rawValue)))"
    }
}

/// Why an IDX file could not be read or parsed. Every case carries the file's path (or the source name given to `parse`).
public enum IDXError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened or read; `reason` is the system's explanation.
    case cannotRead(path: String, reason: String)
    /// The file (or its inflated contents) is larger than `limit` bytes.
    case fileTooLarge(path: String, size: Int, limit: Int)
    /// The file is gzip-compressed and could not be inflated.
    case gzip(GzipError)
    /// The file is shorter than the 4-byte magic number or the dimensions its rank byte announces.
    case headerTooShort(source: String, needed: Int, actual: Int)
    /// The first two bytes are not zero, so this is not an IDX file.
    case badMagic(source: String, firstBytes: [UInt8])
    /// The element-type byte is not one of 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E.
    case unknownElementType(source: String, typeByte: UInt8)
    /// The rank byte is 0 or above 4.
    case badRank(source: String, rank: Int)
    /// The dimensions multiply (with the element size) to more bytes than can be counted.
    case sizeOverflow(source: String, dimensions: [Int])
    /// The header promises more data bytes than the file holds.
    case truncated(source: String, dimensions: [Int], promisedBytes: Int, actualBytes: Int)
    /// The file holds more data bytes than the header promises.
    case trailingBytes(source: String, dimensions: [Int], promisedBytes: Int, actualBytes: Int)

    /// A one-paragraph explanation naming the file, what is wrong, and what to do about it.
    public var description: String {
        let redo = "Delete the file and download it again (digits download), or point digits at another copy."
        switch self {
        case let .cannotRead(path, reason):
            return "\(path): cannot read the file (\(reason)). Check that the path is right and the file is readable."
        case let .fileTooLarge(path, size, limit):
            return "\(path): the file holds \(size) bytes, more than the limit of \(limit) bytes for an IDX file. "
                + "Check that this is the file you meant; if it is, raise the limit."
        case let .gzip(error):
            return error.description
        case let .headerTooShort(source, needed, actual):
            return "\(source): the IDX header needs \(needed) bytes but the file holds only \(actual). "
                + "The file is cut short or is not an IDX file. \(redo)"
        case let .badMagic(source, firstBytes):
            let shown = firstBytes.map { hexByte($0) }.joined(separator: " ")
            return "\(source): not an IDX file: it starts with \(shown), not two zero bytes. "
                + "Check that the path names an IDX file (such as train-images-idx3-ubyte). \(redo)"
        case let .unknownElementType(source, typeByte):
            return "\(source): unknown IDX element type byte 0x\(hexByte(typeByte)) "
                + "(known: 08, 09, 0b, 0c, 0d, 0e). \(redo)"
        case let .badRank(source, rank):
            return "\(source): IDX rank \(rank) is not supported (1 to 4 dimensions are). \(redo)"
        case let .sizeOverflow(source, dimensions):
            return "\(source): the IDX dimensions \(dimensions) describe more bytes than can be counted; "
                + "the header is damaged. \(redo)"
        case let .truncated(source, dimensions, promised, actual):
            return "\(source): truncated: the header (dimensions \(dimensions)) promises \(promised) data bytes "
                + "but the file holds only \(actual). \(redo)"
        case let .trailingBytes(source, dimensions, promised, actual):
            return "\(source): trailing bytes: the header (dimensions \(dimensions)) promises \(promised) data bytes "
                + "but the file holds \(actual), \(actual - promised) more. \(redo)"
        }
    }
}

/// A parsed IDX file: its element type, its dimensions and its raw (big-endian) data bytes.
public struct IDXFile: Sendable, Equatable {
    /// The type of each element.
    public let elementType: IDXElementType
    /// The size of each dimension, outermost first (for MNIST images: count, rows, columns).
    public let dimensions: [Int]
    /// The data bytes after the header, exactly `elementCount * elementType.size` of them, big-endian as stored.
    public let payload: [UInt8]
    /// Where the file came from (its path, or the source name given to `parse`), for messages.
    public let source: String

    /// The number of elements: the product of the dimensions.
    public var elementCount: Int { dimensions.reduce(1, *) }

    /// The default most bytes `read` accepts, before or after inflating: 2 GiB.
    public static let defaultMaxBytes = 1 << 31

    /// Reads and parses the IDX file at `url`, inflating it first if it is gzip-compressed (starts with 1F 8B).
    ///
    /// Neither the file nor its inflated contents may exceed `maxBytes`.
    public static func read(contentsOf url: URL, maxBytes: Int = defaultMaxBytes) throws(IDXError) -> IDXFile {
        let (bytes, compressed) = try load(url, maxBytes: maxBytes)
        return try parseFile(bytes, url: url, wasCompressed: compressed)
    }

    /// The contents of the file at `url`, inflated if it is gzip-compressed: the bytes of the canonical uncompressed file.
    public static func readDecompressed(contentsOf url: URL, maxBytes: Int = defaultMaxBytes) throws(IDXError) -> [UInt8] {
        try load(url, maxBytes: maxBytes).bytes
    }

    /// The file's bytes, inflated if they are gzip, and whether they were.
    static func load(_ url: URL, maxBytes: Int) throws(IDXError) -> (bytes: [UInt8], compressed: Bool) {
        let path = url.path
        let raw = try readFile(path: path, maxBytes: maxBytes)
        return try inflatedIfCompressed(raw, source: path, maxBytes: maxBytes)
    }

    /// `raw` inflated if it is gzip (and whether it was), no further than the IDX header at its start says the
    /// file holds, nor past `maxBytes`; `raw` itself when it is not gzip.
    public static func inflatedIfCompressed(_ raw: [UInt8], source path: String,
                                            maxBytes: Int = defaultMaxBytes) throws(IDXError) -> (bytes: [UInt8], compressed: Bool) {
        guard Gzip.isCompressed(raw) else { return (raw, false) }
        // Inflate the header first: a file that is not IDX stops here, and an IDX file is inflated no further
        // than its header says it holds (plus one byte, to tell a longer stream), so a gzip bomb in place of a
        // dataset costs what its header claims at most, never the whole bomb.
        let head: [UInt8]
        do throws(GzipError) {
            head = try Gzip.decompressPrefix(raw, source: path, count: maxHeaderSize)
        } catch {
            throw .gzip(error)
        }
        var limit = maxBytes
        if let declared = try declaredFileSize(head, source: path) { limit = min(limit, declared) }
        do throws(GzipError) {
            return (try Gzip.decompress(raw, source: path, limit: limit), true)
        } catch {
            throw .gzip(error)
        }
    }

    /// The largest IDX header: the magic and four dimensions.
    static let maxHeaderSize = 4 + 4 * 4

    /// The size of the whole file the IDX header at the start of `head` describes (header plus data), nil when
    /// `head` is too short to hold a header; throws when `head` is not the start of an IDX file.
    static func declaredFileSize(_ head: [UInt8], source: String) throws(IDXError) -> Int? {
        guard head.count >= 4 else { return nil }
        guard head[0] == 0, head[1] == 0 else { throw .badMagic(source: source, firstBytes: Array(head.prefix(4))) }
        guard let type = IDXElementType(rawValue: head[2]) else { throw .unknownElementType(source: source, typeByte: head[2]) }
        let rank = Int(head[3])
        guard (1...4).contains(rank) else { throw .badRank(source: source, rank: rank) }
        let headerSize = 4 + 4 * rank
        guard head.count >= headerSize else { return nil }
        var size = type.size
        var dimensions: [Int] = []
        for i in 0..<rank {
            let o = 4 + 4 * i
            let d = Int(head[o]) << 24 | Int(head[o + 1]) << 16 | Int(head[o + 2]) << 8 | Int(head[o + 3])
            dimensions.append(d)
            let (product, overflow) = size.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .sizeOverflow(source: source, dimensions: dimensions) }
            size = product
        }
        let (total, overflow) = size.addingReportingOverflow(headerSize)
        return overflow ? nil : total
    }

    /// Parses the bytes read from `url`. A file named ".gz" that was not gzip and does not parse as IDX either is
    /// reported as "not gzip", the likelier mistake; one that parses as IDX is accepted (a download tool may
    /// have inflated it while keeping the name).
    static func parseFile(_ bytes: [UInt8], url: URL, wasCompressed: Bool) throws(IDXError) -> IDXFile {
        do throws(IDXError) {
            return try parse(bytes, source: url.path)
        } catch {
            if !wasCompressed && url.pathExtension.lowercased() == "gz" {
                throw .gzip(.notGzip(source: url.path, firstBytes: Array(bytes.prefix(8))))
            }
            throw error
        }
    }

    /// Parses the bytes of an uncompressed IDX file; `source` names them in error messages.
    public static func parse(_ bytes: [UInt8], source: String) throws(IDXError) -> IDXFile {
        guard bytes.count >= 4 else {
            throw .headerTooShort(source: source, needed: 4, actual: bytes.count)
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw .badMagic(source: source, firstBytes: Array(bytes.prefix(4)))
        }
        guard let type = IDXElementType(rawValue: bytes[2]) else {
            throw .unknownElementType(source: source, typeByte: bytes[2])
        }
        let rank = Int(bytes[3])
        guard (1...4).contains(rank) else {
            throw .badRank(source: source, rank: rank)
        }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw .headerTooShort(source: source, needed: headerSize, actual: bytes.count)
        }
        var dimensions: [Int] = []
        dimensions.reserveCapacity(rank)
        for i in 0..<rank {
            let o = 4 + 4 * i
            let d = UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3])
            dimensions.append(Int(d))
        }
        var promised = type.size
        for d in dimensions {
            let (product, overflow) = promised.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .sizeOverflow(source: source, dimensions: dimensions) }
            promised = product
        }
        let actual = bytes.count - headerSize
        if promised > actual {
            throw .truncated(source: source, dimensions: dimensions, promisedBytes: promised, actualBytes: actual)
        }
        if promised < actual {
            throw .trailingBytes(source: source, dimensions: dimensions, promisedBytes: promised, actualBytes: actual)
        }
        // Only now, with the size checked against the real data, is anything sized by the header allocated.
        return IDXFile(elementType: type, dimensions: dimensions, payload: Array(bytes[headerSize...]), source: source)
    }

    /// Makes an IDX file value from its parts; `payload` must hold exactly the bytes the dimensions call for.
    public init(elementType: IDXElementType, dimensions: [Int], payload: [UInt8], source: String) {
        precondition(dimensions.reduce(elementType.size, *) == payload.count,
                     "IDXFile: \(payload.count) payload bytes do not match dimensions \(dimensions) of \(elementType)")
        self.elementType = elementType
        self.dimensions = dimensions
        self.payload = payload
        self.source = source
    }

    /// The file's bytes in IDX form (header then payload), uncompressed: what `parse` reads back.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = [0, 0, elementType.rawValue, UInt8(dimensions.count)]
        for d in dimensions {
            let v = UInt32(truncatingIfNeeded: d)
            out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
        }
        out += payload
        return out
    }

    /// Reads a whole regular file, refusing one larger than `maxBytes` before reading it.
    static func readFile(path: String, maxBytes: Int) throws(IDXError) -> [UInt8] {
        do throws(RegularFileError) {
            return try RegularFile.read(path: path, maxBytes: maxBytes)
        } catch {
            switch error {
            case let .tooLarge(path, size, limit): throw .fileTooLarge(path: path, size: size, limit: limit)
            case let .cannotRead(path, _, reason): throw .cannotRead(path: path, reason: reason)
            case let .notARegularFile(path, kind):
                throw .cannotRead(path: path, reason: kind == "a directory" ? "it is a directory" : "not a regular file: \(kind)")
            case let .changedWhileReading(path, expected, read):
                throw .cannotRead(path: path, reason: "the file changed while being read (\(read) of \(expected) bytes)")
            }
        }
    }
}

/// The system's text for an errno value.
func systemError(_ code: Int32) -> String {
    String(cString: strerror(code))
}
