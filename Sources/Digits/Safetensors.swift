// Safetensors checkpoints: a reader and writer for Float32 tensors (the reader converts other element
// types on request, for files from other tools), plus atomic file replacement.
//
// File layout:
//   bytes 0..<8        N, the header's byte length, as a little-endian UInt64
//   bytes 8..<8+N      UTF-8 JSON object, padded with trailing spaces so that N is a multiple of 8:
//                        { "<tensor name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
//                          ...,
//                          "__metadata__": {"<key>": "<string value>", ...} }      (optional)
//   bytes 8+N..<end    the data buffer; offsets are relative to its start, tensors are little-endian,
//                      row-major, contiguous and together cover the whole buffer.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Model

/// One named Float32 tensor in a safetensors file: its name, its row-major shape and its values.
public struct SafetensorsTensor: Equatable, Sendable {
    /// The tensor's name, the key it is stored under in the header; non-empty, unique within a file, not `__metadata__`.
    public var name: String
    /// The tensor's dimensions, outermost first; `[]` is a scalar holding exactly one value.
    public var shape: [Int]
    /// The tensor's elements in row-major order; their count must equal the product of `shape`.
    public var values: [Float]

    /// Creates a tensor from a name, a shape and row-major values; the combination is validated when encoded.
    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// A whole safetensors file: Float32 tensors in file (data) order plus string-to-string metadata.
///
/// Equality compares values with `Float.==`, so two files holding a NaN never compare equal;
/// the bytes written and read back are bit-exact nonetheless.
public struct SafetensorsFile: Equatable, Sendable {
    /// The tensors, in the order their data appears in the file (the order they are written in).
    public var tensors: [SafetensorsTensor]
    /// The `__metadata__` entries; empty means the header has no `__metadata__` key.
    public var metadata: [String: String]

    /// The largest header length accepted when decoding: 1 MiB. A digits model's header is a few kilobytes and a
    /// thousand-tensor PyTorch file's about 100 KB, while parsing JSON costs tens of bytes of memory and about a
    /// microsecond per header byte of small entries, so a hostile header costs at most a fraction of a second.
    public static let maxHeaderLength = 1 << 20

    /// The header key reserved for metadata; no tensor may use it as its name.
    static let metadataKey = "__metadata__"

    /// The source name used in errors from `encoded()`, which has no file behind it.
    static let inMemorySource = "<in-memory safetensors>"

    /// Creates a file from tensors (kept in the given order) and optional metadata.
    public init(tensors: [SafetensorsTensor], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The first tensor named `name`, or nil when there is none.
    public subscript(name: String) -> SafetensorsTensor? {
        tensors.first { $0.name == name }
    }

    /// Serializes the file to safetensors bytes; the same contents always give the same bytes.
    ///
    /// Header keys are sorted by their UTF-8 bytes, the header is padded with spaces to a multiple of 8,
    /// and tensor data follows in `tensors` order. Throws `SafetensorsError` when a name is empty,
    /// duplicated or reserved, a shape is negative or overflows, or a value count does not match its shape.
    public func encoded() throws -> [UInt8] {
        try encoded(source: Self.inMemorySource)
    }

    /// Decodes safetensors bytes, naming `source` (usually a path) in any error.
    ///
    /// Every length and offset is validated before anything is allocated from it. Only F32 tensors are
    /// accepted unless `dtypes` says to convert others. The returned tensors are sorted by data offset.
    public static func decode(_ bytes: [UInt8], source: String, dtypes: SafetensorsDtypePolicy = .float32Only) throws -> SafetensorsFile {
        try SafetensorsDecoder(bytes: bytes, source: source, policy: dtypes).decode()
    }

    /// Encodes the file and writes it to `url` atomically (see `AtomicFile`); `url` is never left half-written.
    public func write(to url: URL) throws {
        let bytes = try encoded(source: url.path)
        do {
            try AtomicFile.write(bytes, to: url)
        } catch let error as AtomicFileError {
            throw SafetensorsError.io(source: url.path, operation: error.operation, reason: error.message)
        }
    }

    /// Reads and decodes the safetensors file at `url`, accepting the element types `dtypes` allows.
    public static func read(contentsOf url: URL, dtypes: SafetensorsDtypePolicy = .float32Only) throws -> SafetensorsFile {
        try decode(readAll(url), source: url.path, dtypes: dtypes)
    }

    /// The largest safetensors file read (2 GiB; digits' largest model is a few megabytes).
    public static let maxFileBytes = 1 << 31

    /// The bytes of the regular file at `url` (at most `maxFileBytes`), or `SafetensorsError.io` naming what failed.
    static func readAll(_ url: URL) throws -> [UInt8] {
        // The checks `decode` makes of the first 9 bytes (a zip or pickle in disguise, a header length over the
        // limit) run on those bytes before the rest is read, so a file claiming a huge header costs 9 bytes of
        // reading, not the whole file.
        let start = try readFile { () throws(RegularFileError) in try RegularFile.readPrefix(path: url.path, count: 9) }
        _ = try SafetensorsDecoder.checkStart(start, source: url.path)
        return try readFile { () throws(RegularFileError) in try RegularFile.read(path: url.path, maxBytes: maxFileBytes) }

        /// `body`'s bytes, or its failure as `SafetensorsError.io`.
        func readFile(_ body: () throws(RegularFileError) -> [UInt8]) throws -> [UInt8] {
            do throws(RegularFileError) {
                return try body()
            } catch {
                if case .cannotRead(_, let operation, let reason) = error {
                    throw SafetensorsError.io(source: url.path, operation: operation, reason: reason)
                }
                throw SafetensorsError.io(source: url.path, operation: "read", reason: error.reason)
            }
        }
    }
}

/// Which element types a safetensors reader accepts.
public enum SafetensorsDtypePolicy: Sendable {
    /// F32 only, as digits writes; anything else is `SafetensorsError.unsupportedDtype`.
    case float32Only
    /// F32, and F64, F16, BF16, I64, I32, I16, I8, U8 and BOOL converted to Float32 (files from other tools).
    case convertToFloat32
}

// MARK: - Errors

/// Everything that can go wrong encoding, decoding, reading or writing a safetensors file.
///
/// Each case carries `source`, the file (or `<in-memory safetensors>`) concerned, and its `description`
/// says what is wrong in words.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    /// The file is another format that is often mistaken for safetensors (a `torch.save` checkpoint, a pickle).
    case otherFormat(source: String, format: String, remedy: String)
    /// The file is shorter than the 8-byte header-length prefix.
    case fileTooShort(source: String, byteCount: Int)
    /// The header-length prefix claims more bytes than `maxHeaderLength` allows.
    case headerTooLarge(source: String, claimed: UInt64, limit: Int)
    /// The header-length prefix claims more bytes than follow it in the file.
    case headerLengthExceedsFile(source: String, claimed: UInt64, available: Int)
    /// The header bytes are not valid UTF-8.
    case headerNotUTF8(source: String)
    /// The header is not valid JSON, or its top level is not a JSON object.
    case invalidHeaderJSON(source: String, reason: String)
    /// A tensor entry is not an object, or lacks `dtype`, `shape` or `data_offsets`, or has one of the wrong JSON type.
    case invalidTensorEntry(source: String, tensor: String, reason: String)
    /// A tensor has a dtype other than F32, the only one supported.
    case unsupportedDtype(source: String, tensor: String, dtype: String)
    /// A tensor name is empty, duplicated or reserved.
    case invalidTensorName(source: String, name: String, reason: String)
    /// A shape has a negative dimension, or its element or byte count overflows.
    case invalidShape(source: String, tensor: String, shape: [Int], reason: String)
    /// A tensor's value count differs from the product of its shape (when encoding).
    case valueCountMismatch(source: String, tensor: String, shape: [Int], valueCount: Int)
    /// A tensor's `data_offsets` are negative, out of range, reversed, past the data buffer, or the wrong size for its shape.
    case invalidDataOffsets(source: String, tensor: String, reason: String)
    /// Two tensors claim some of the same data bytes.
    case overlappingTensors(source: String, first: String, second: String)
    /// Bytes `begin..<end` of the data buffer belong to no tensor.
    case uncoveredData(source: String, begin: Int, end: Int)
    /// `__metadata__` is not an object or one of its values is not a string.
    case invalidMetadata(source: String, reason: String)
    /// Reading or writing the file failed at the operating-system level.
    case io(source: String, operation: String, reason: String)

    /// The file (or `<in-memory safetensors>`) the error concerns.
    public var source: String {
        switch self {
        case .otherFormat(let source, _, _), .fileTooShort(let source, _), .headerTooLarge(let source, _, _),
             .headerLengthExceedsFile(let source, _, _), .headerNotUTF8(let source),
             .invalidHeaderJSON(let source, _), .invalidTensorEntry(let source, _, _),
             .unsupportedDtype(let source, _, _), .invalidTensorName(let source, _, _),
             .invalidShape(let source, _, _, _), .valueCountMismatch(let source, _, _, _),
             .invalidDataOffsets(let source, _, _), .overlappingTensors(let source, _, _),
             .uncoveredData(let source, _, _), .invalidMetadata(let source, _),
             .io(let source, _, _):
            return source
        }
    }

    /// A one-line message naming the source and what is wrong.
    public var description: String {
        switch self {
        case .fileTooShort(let source, let byteCount):
            return "\(source): not a safetensors file: \(byteCount) bytes, fewer than the 8-byte header length prefix"
        case .otherFormat(let source, let format, let remedy):
            return "\(source): not a safetensors file but \(format). \(remedy)"
        case .headerTooLarge(let source, let claimed, let limit):
            return "\(source): safetensors header length \(claimed) exceeds the \(limit)-byte limit (corrupt file?)"
        case .headerLengthExceedsFile(let source, let claimed, let available):
            return "\(source): safetensors header length \(claimed) exceeds the \(available) bytes after the prefix (truncated or corrupt file?)"
        case .headerNotUTF8(let source):
            return "\(source): safetensors header is not valid UTF-8"
        case .invalidHeaderJSON(let source, let reason):
            return "\(source): safetensors header is not a valid JSON object: \(reason)"
        case .invalidTensorEntry(let source, let tensor, let reason):
            return "\(source): tensor \"\(tensor)\": invalid header entry: \(reason)"
        case .unsupportedDtype(let source, let tensor, let dtype):
            return "\(source): tensor \"\(tensor)\": dtype \"\(dtype)\" is not supported; only F32 is supported"
        case .invalidTensorName(let source, let name, let reason):
            return "\(source): invalid tensor name \"\(name)\": \(reason)"
        case .invalidShape(let source, let tensor, let shape, let reason):
            return "\(source): tensor \"\(tensor)\": invalid shape \(shape): \(reason)"
        case .valueCountMismatch(let source, let tensor, let shape, let valueCount):
            return "\(source): tensor \"\(tensor)\": shape \(shape) needs \(Self.product(shape)) values but \(valueCount) were given"
        case .invalidDataOffsets(let source, let tensor, let reason):
            return "\(source): tensor \"\(tensor)\": invalid data_offsets: \(reason)"
        case .overlappingTensors(let source, let first, let second):
            return "\(source): tensors \"\(first)\" and \"\(second)\" overlap in the data buffer"
        case .uncoveredData(let source, let begin, let end):
            return "\(source): data bytes \(begin)..<\(end) belong to no tensor (holes are not allowed)"
        case .invalidMetadata(let source, let reason):
            return "\(source): invalid __metadata__: \(reason)"
        case .io(let source, let operation, let reason):
            return "\(source): \(operation) failed: \(reason)"
        }
    }

    /// The product of `shape` as text, or "too many" when it overflows (only used in messages).
    private static func product(_ shape: [Int]) -> String {
        var result = 1
        for dimension in shape {
            let (next, overflow) = result.multipliedReportingOverflow(by: dimension)
            if overflow { return "too many" }
            result = next
        }
        return String(result)
    }
}

// MARK: - Encoding

extension SafetensorsFile {
    /// Serializes the file, naming `source` in any error; see `encoded()`.
    func encoded(source: String) throws -> [UInt8] {
        var seen = Set<String>()
        var layout: [String: (shape: [Int], begin: Int, end: Int)] = [:]
        var dataLength = 0
        for tensor in tensors {
            if tensor.name.isEmpty {
                throw SafetensorsError.invalidTensorName(source: source, name: tensor.name, reason: "names must be non-empty")
            }
            if tensor.name == Self.metadataKey {
                throw SafetensorsError.invalidTensorName(
                    source: source, name: tensor.name, reason: "the name is reserved for metadata")
            }
            if !seen.insert(tensor.name).inserted {
                throw SafetensorsError.invalidTensorName(
                    source: source, name: tensor.name, reason: "two tensors have this name; names must be unique")
            }
            let counts = try Self.counts(of: tensor.shape, tensor: tensor.name, source: source)
            guard counts.elements == tensor.values.count else {
                throw SafetensorsError.valueCountMismatch(
                    source: source, tensor: tensor.name, shape: tensor.shape, valueCount: tensor.values.count)
            }
            let (end, overflow) = dataLength.addingReportingOverflow(counts.bytes)
            if overflow {
                throw SafetensorsError.invalidShape(
                    source: source, tensor: tensor.name, shape: tensor.shape, reason: "the data buffer size overflows")
            }
            layout[tensor.name] = (tensor.shape, dataLength, end)
            dataLength = end
        }

        let header = headerBytes(layout: layout)
        let (withHeader, overflowA) = (8 as Int).addingReportingOverflow(header.count)
        let (total, overflowB) = withHeader.addingReportingOverflow(dataLength)
        if overflowA || overflowB {
            throw SafetensorsError.invalidShape(
                source: source, tensor: tensors.last?.name ?? "", shape: tensors.last?.shape ?? [],
                reason: "the file size overflows")
        }

        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            let out = UnsafeMutableRawBufferPointer(buffer)
            let headerLength = UInt64(header.count)
            for index in 0..<8 {
                out[index] = UInt8(truncatingIfNeeded: headerLength >> UInt64(8 * index))
            }
            UnsafeMutableRawBufferPointer(rebasing: out[8..<withHeader]).copyBytes(from: header)
            var position = withHeader
            for tensor in tensors {
                let next = position + tensor.values.count * 4
                LittleEndianFloat32.store(tensor.values, into: UnsafeMutableRawBufferPointer(rebasing: out[position..<next]))
                position = next
            }
            initialized = total
        }
    }

    /// The element and byte counts of `shape` with `elementSize`-byte elements, throwing `invalidShape`
    /// for a negative dimension or an overflow.
    static func counts(of shape: [Int], tensor: String, source: String, elementSize: Int = 4) throws -> (elements: Int, bytes: Int) {
        var elements = 1
        for dimension in shape {
            if dimension < 0 {
                throw SafetensorsError.invalidShape(
                    source: source, tensor: tensor, shape: shape, reason: "dimension \(dimension) is negative")
            }
            let (next, overflow) = elements.multipliedReportingOverflow(by: dimension)
            if overflow {
                throw SafetensorsError.invalidShape(
                    source: source, tensor: tensor, shape: shape, reason: "the element count overflows")
            }
            elements = next
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: elementSize)
        if overflow {
            throw SafetensorsError.invalidShape(
                source: source, tensor: tensor, shape: shape, reason: "the byte count overflows")
        }
        return (elements, bytes)
    }

    /// The JSON header with keys sorted by UTF-8 bytes, padded with spaces to a multiple of 8 bytes.
    private func headerBytes(layout: [String: (shape: [Int], begin: Int, end: Int)]) -> [UInt8] {
        var keys = tensors.map(\.name)
        if !metadata.isEmpty { keys.append(Self.metadataKey) }
        keys.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }

        var json: [UInt8] = [UInt8(ascii: "{")]
        for (index, key) in keys.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            JSONText.appendString(key, to: &json)
            json.append(UInt8(ascii: ":"))
            if key == Self.metadataKey {
                let metadataKeys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                json.append(UInt8(ascii: "{"))
                for (metadataIndex, metadataKey) in metadataKeys.enumerated() {
                    if metadataIndex > 0 { json.append(UInt8(ascii: ",")) }
                    JSONText.appendString(metadataKey, to: &json)
                    json.append(UInt8(ascii: ":"))
                    JSONText.appendString(metadata[metadataKey] ?? "", to: &json)
                }
                json.append(UInt8(ascii: "}"))
            } else {
                let entry = layout[key] ?? ([], 0, 0)
                JSONText.appendRaw("{\"data_offsets\":[\(entry.begin),\(entry.end)],\"dtype\":\"F32\",\"shape\":[", to: &json)
                JSONText.appendRaw(entry.shape.map(String.init).joined(separator: ","), to: &json)
                JSONText.appendRaw("]}", to: &json)
            }
        }
        json.append(UInt8(ascii: "}"))
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        return json
    }
}

/// Hand-written JSON output, so the header bytes are fully determined by the file's contents.
private enum JSONText {
    /// Lowercase hexadecimal digits for `\u00XX` escapes.
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `text`'s UTF-8 bytes unchanged.
    static func appendRaw(_ text: String, to out: inout [UInt8]) {
        out.append(contentsOf: text.utf8)
    }

    /// Appends `text` as a quoted JSON string, escaping quotes, backslashes and control characters.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x00..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            default:
                // Bytes of multi-byte UTF-8 sequences are all >= 0x80, so they pass through intact.
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

// MARK: - Decoding

/// One validated header entry, before its values are copied out.
private struct TensorEntry {
    var name: String
    var dtype: String
    var shape: [Int]
    var begin: Int
    var end: Int
}

/// The result of reading a JSON number as a 64-bit integer.
private enum JSONIntegerValue {
    case integer(Int)
    case outOfRange
    case notAnInteger
}

/// Validates and decodes one safetensors byte buffer.
private struct SafetensorsDecoder {
    let bytes: [UInt8]
    let source: String
    let policy: SafetensorsDtypePolicy

    /// What the first 9 bytes of a file tell (the same for a whole file and for its first 9 bytes): refuses a zip
    /// or a pickle, a file shorter than the length prefix, and a header length over `maxHeaderLength`; returns the
    /// claimed header length.
    static func checkStart(_ bytes: [UInt8], source: String) throws -> UInt64 {
        let resave = "Save the weights as safetensors in Python: "
            + "safetensors.torch.save_file(model.state_dict(), \"weights.safetensors\"), then `digits import weights.safetensors --model NAME`."
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            throw SafetensorsError.otherFormat(source: source, format: "a zip archive, as torch.save writes (pickled PyTorch objects)", remedy: resave)
        }
        // A pickle starts with PROTO (0x80) and its version; a safetensors file may too (a 640-byte header), but
        // then its header begins with "{" at byte 8.
        if bytes.count >= 2, bytes[0] == 0x80, (2...5).contains(bytes[1]), !(bytes.count > 8 && bytes[8] == UInt8(ascii: "{")) {
            throw SafetensorsError.otherFormat(source: source, format: "a Python pickle, as torch.save and pickle.dump write", remedy: resave)
        }
        guard bytes.count >= 8 else {
            throw SafetensorsError.fileTooShort(source: source, byteCount: bytes.count)
        }
        var claimed: UInt64 = 0
        for index in 0..<8 {
            claimed |= UInt64(bytes[index]) << UInt64(8 * index)
        }
        guard claimed <= UInt64(SafetensorsFile.maxHeaderLength) else {
            throw SafetensorsError.headerTooLarge(source: source, claimed: claimed, limit: SafetensorsFile.maxHeaderLength)
        }
        return claimed
    }

    func decode() throws -> SafetensorsFile {
        let claimed = try Self.checkStart(bytes, source: source)
        let available = bytes.count - 8
        guard claimed <= UInt64(available) else {
            throw SafetensorsError.headerLengthExceedsFile(source: source, claimed: claimed, available: available)
        }
        let headerEnd = 8 + Int(claimed)
        let header = bytes[8..<headerEnd]
        let dataLength = bytes.count - headerEnd

        guard Self.isValidUTF8(header) else {
            throw SafetensorsError.headerNotUTF8(source: source)
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(header), options: [])
        } catch {
            throw SafetensorsError.invalidHeaderJSON(source: source, reason: "it does not parse as JSON")
        }
        guard let root = parsed as? [String: Any] else {
            throw SafetensorsError.invalidHeaderJSON(
                source: source, reason: "the top level is \(Self.describe(parsed)), not an object")
        }

        var metadata: [String: String] = [:]
        var entries: [TensorEntry] = []
        entries.reserveCapacity(root.count)
        for key in root.keys.sorted() {
            let value = root[key] ?? NSNull()
            if key == SafetensorsFile.metadataKey {
                metadata = try parseMetadata(value)
            } else {
                entries.append(try parseEntry(name: key, value: value, dataLength: dataLength))
            }
        }

        entries.sort { a, b in
            if a.begin != b.begin { return a.begin < b.begin }
            if a.end != b.end { return a.end < b.end }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
        var covered = 0
        var previous: String?
        for entry in entries {
            if entry.begin < covered {
                throw SafetensorsError.overlappingTensors(source: source, first: previous ?? "", second: entry.name)
            }
            if entry.begin > covered {
                throw SafetensorsError.uncoveredData(source: source, begin: covered, end: entry.begin)
            }
            covered = entry.end
            previous = entry.name
        }
        if covered < dataLength {
            throw SafetensorsError.uncoveredData(source: source, begin: covered, end: dataLength)
        }

        let tensors = bytes.withUnsafeBytes { raw in
            entries.map { entry in
                let slice = UnsafeRawBufferPointer(rebasing: raw[(headerEnd + entry.begin)..<(headerEnd + entry.end)])
                let values = entry.dtype == "F32" ? LittleEndianFloat32.load(from: slice) : ForeignElements.floats(from: slice, dtype: entry.dtype)
                return SafetensorsTensor(name: entry.name, shape: entry.shape, values: values)
            }
        }
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    /// Validates one tensor's header entry against the data buffer's length.
    private func parseEntry(name: String, value: Any, dataLength: Int) throws -> TensorEntry {
        func entryError(_ reason: String) -> SafetensorsError {
            .invalidTensorEntry(source: source, tensor: name, reason: reason)
        }
        if name.isEmpty {
            throw SafetensorsError.invalidTensorName(source: source, name: name, reason: "names must be non-empty")
        }
        guard let object = value as? [String: Any] else {
            throw entryError("expected an object, found \(Self.describe(value))")
        }
        guard let dtypeValue = object["dtype"] else { throw entryError("missing \"dtype\"") }
        guard let shapeValue = object["shape"] else { throw entryError("missing \"shape\"") }
        guard let offsetsValue = object["data_offsets"] else { throw entryError("missing \"data_offsets\"") }

        guard let dtype = dtypeValue as? String else {
            throw entryError("\"dtype\" must be a string, found \(Self.describe(dtypeValue))")
        }
        guard let shapeArray = shapeValue as? [Any] else {
            throw entryError("\"shape\" must be an array of integers, found \(Self.describe(shapeValue))")
        }
        var shape: [Int] = []
        shape.reserveCapacity(shapeArray.count)
        for (index, element) in shapeArray.enumerated() {
            switch Self.integer(element) {
            case .integer(let dimension):
                shape.append(dimension)
            case .outOfRange:
                throw SafetensorsError.invalidShape(
                    source: source, tensor: name, shape: shape,
                    reason: "dimension \(index) (\(Self.describe(element))) does not fit in a 64-bit integer")
            case .notAnInteger:
                throw entryError("\"shape\"[\(index)] must be an integer, found \(Self.describe(element))")
            }
        }
        guard let offsetsArray = offsetsValue as? [Any] else {
            throw entryError("\"data_offsets\" must be an array of two integers, found \(Self.describe(offsetsValue))")
        }
        guard offsetsArray.count == 2 else {
            throw entryError("\"data_offsets\" must hold exactly two integers, found \(offsetsArray.count)")
        }
        var bounds: [Int] = []
        for (index, element) in offsetsArray.enumerated() {
            switch Self.integer(element) {
            case .integer(let offset):
                if offset < 0 {
                    throw SafetensorsError.invalidDataOffsets(
                        source: source, tensor: name, reason: "offset \(offset) is negative")
                }
                bounds.append(offset)
            case .outOfRange:
                throw SafetensorsError.invalidDataOffsets(
                    source: source, tensor: name,
                    reason: "offset \(Self.describe(element)) does not fit in a 64-bit integer")
            case .notAnInteger:
                throw entryError("\"data_offsets\"[\(index)] must be an integer, found \(Self.describe(element))")
            }
        }
        let size = dtype == "F32" ? 4 : ForeignElements.sizes[dtype]
        guard let size, dtype == "F32" || policy == .convertToFloat32 else {
            throw SafetensorsError.unsupportedDtype(source: source, tensor: name, dtype: dtype)
        }
        let counts = try SafetensorsFile.counts(of: shape, tensor: name, source: source, elementSize: size)
        let begin = bounds[0]
        let end = bounds[1]
        if begin > end {
            throw SafetensorsError.invalidDataOffsets(
                source: source, tensor: name, reason: "begin \(begin) is after end \(end)")
        }
        if end > dataLength {
            throw SafetensorsError.invalidDataOffsets(
                source: source, tensor: name, reason: "end \(end) is past the \(dataLength)-byte data buffer")
        }
        if end - begin != counts.bytes {
            throw SafetensorsError.invalidDataOffsets(
                source: source, tensor: name,
                reason: "they span \(end - begin) bytes but shape \(shape) of \(dtype) needs \(counts.bytes)")
        }
        return TensorEntry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// Validates `__metadata__`: an object of strings (null is taken as empty).
    private func parseMetadata(_ value: Any) throws -> [String: String] {
        if value is NSNull { return [:] }
        guard let object = value as? [String: Any] else {
            throw SafetensorsError.invalidMetadata(
                source: source, reason: "expected an object of strings, found \(Self.describe(value))")
        }
        var metadata: [String: String] = [:]
        for key in object.keys.sorted() {
            let element = object[key] ?? NSNull()
            guard let text = element as? String else {
                throw SafetensorsError.invalidMetadata(
                    source: source, reason: "the value of \"\(key)\" must be a string, found \(Self.describe(element))")
            }
            metadata[key] = text
        }
        return metadata
    }

    /// Whether `bytes` are well-formed UTF-8.
    private static func isValidUTF8(_ bytes: ArraySlice<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// Reads a JSONSerialization number as an integer, rejecting booleans, fractions and floating-point literals.
    private static func integer(_ value: Any) -> JSONIntegerValue {
        if value is NSDecimalNumber { return .outOfRange }  // JSONSerialization's form for integers past UInt64
        guard let number = value as? NSNumber else { return .notAnInteger }
        switch UInt8(truncatingIfNeeded: number.objCType.pointee) {
        case UInt8(ascii: "s"), UInt8(ascii: "i"), UInt8(ascii: "l"), UInt8(ascii: "q"):
            guard let result = Int(exactly: number.int64Value) else { return .outOfRange }
            return .integer(result)
        case UInt8(ascii: "S"), UInt8(ascii: "I"), UInt8(ascii: "L"), UInt8(ascii: "Q"):
            guard let result = Int(exactly: number.uint64Value) else { return .outOfRange }
            return .integer(result)
        default:
            // "c"/"B" are booleans; "f"/"d" are literals with a fraction or exponent.
            return .notAnInteger
        }
    }

    /// A short description of a parsed JSON value for error messages.
    private static func describe(_ value: Any) -> String {
        switch value {
        case is NSNull:
            return "null"
        case let text as String:
            return "the string \"\(text)\""
        case let number as NSNumber:
            let type = UInt8(truncatingIfNeeded: number.objCType.pointee)
            if type == UInt8(ascii: "c") || type == UInt8(ascii: "B") {
                return number.boolValue ? "true" : "false"
            }
            return "the number \(number.stringValue)"
        case is [Any]:
            return "an array"
        case is [String: Any]:
            return "an object"
        default:
            return "an unexpected value"
        }
    }
}

// MARK: - Float32 <-> little-endian bytes

/// Conversion between `[Float]` and little-endian IEEE-754 binary32 bytes (a plain memory copy on little-endian hosts).
enum LittleEndianFloat32 {
    /// The little-endian bytes of `values`.
    static func bytes(of values: [Float]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: values.count * 4) { buffer, initialized in
            store(values, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = values.count * 4
        }
    }

    /// The floats in little-endian `bytes`; a trailing partial float is ignored.
    static func floats(of bytes: [UInt8]) -> [Float] {
        bytes.withUnsafeBytes { load(from: $0) }
    }

    /// Writes `values` into `destination`, which must hold exactly `values.count * 4` bytes.
    static func store(_ values: [Float], into destination: UnsafeMutableRawBufferPointer) {
        #if _endian(little)
        values.withUnsafeBytes { destination.copyMemory(from: $0) }
        #else
        storePortable(values, into: destination)
        #endif
    }

    /// Reads `source.count / 4` floats from little-endian `source` (any alignment).
    static func load(from source: UnsafeRawBufferPointer) -> [Float] {
        #if _endian(little)
        let count = source.count / 4
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<(count * 4)]))
            initialized = count
        }
        #else
        return loadPortable(from: source)
        #endif
    }

    /// The byte-order-independent form of `store`, element by element.
    static func storePortable(_ values: [Float], into destination: UnsafeMutableRawBufferPointer) {
        for (index, value) in values.enumerated() {
            destination.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
        }
    }

    /// The byte-order-independent form of `load`, element by element.
    static func loadPortable(from source: UnsafeRawBufferPointer) -> [Float] {
        (0..<(source.count / 4)).map { index in
            Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
        }
    }
}

/// Little-endian elements of the other safetensors types, read as Float32.
enum ForeignElements {
    /// Bytes per element of each convertible dtype.
    static let sizes: [String: Int] = ["F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1]

    /// The elements of `source`, of type `dtype` (a key of `sizes`), as Float32: F64 rounded to nearest,
    /// F16 and BF16 widened exactly, integers converted (rounded beyond 2²⁴).
    static func floats(from source: UnsafeRawBufferPointer, dtype: String) -> [Float] {
        let size = sizes[dtype] ?? 1
        return (0..<(source.count / size)).map { i in
            func load<T: FixedWidthInteger>(_ type: T.Type) -> T {
                T(littleEndian: source.loadUnaligned(fromByteOffset: i * size, as: T.self))
            }
            switch dtype {
            case "F64": return Float(Double(bitPattern: load(UInt64.self)))
            case "F16": return float(half: load(UInt16.self))
            case "BF16": return Float(bitPattern: UInt32(load(UInt16.self)) << 16)     // the top half of a Float32
            case "I64": return Float(load(Int64.self))
            case "I32": return Float(load(Int32.self))
            case "I16": return Float(load(Int16.self))
            case "I8": return Float(load(Int8.self))
            default: return Float(load(UInt8.self))                                 // U8, BOOL
            }
        }
    }

    /// An IEEE-754 binary16 value (1 sign, 5 exponent bits biased by 15, 10 fraction bits) as Float32.
    static func float(half bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let fraction = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:                                                         // zero or subnormal: fraction · 2⁻²⁴
            let magnitude = Float(fraction) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:                                                      // infinity or NaN
            return Float(bitPattern: sign | 0x7F80_0000 | fraction << 13)
        default:                                                        // rebias 15 → 127
            return Float(bitPattern: sign | (exponent + 112) << 23 | fraction << 13)
        }
    }
}

// MARK: - Atomic files

/// A failed step of an atomic write or of reading a whole file, with the operating system's reason.
public struct AtomicFileError: Error, CustomStringConvertible, Equatable {
    /// The path of the file being written or read.
    public var path: String
    /// The step that failed, such as "create temporary file", "write", "fsync" or "rename".
    public var operation: String
    /// The `errno` value reported for the failure (0 when there was none).
    public var code: Int32
    /// The failure in words (the system's message for `code`, or a fuller account).
    public var message: String

    /// Creates an error for `operation` on `path` from an `errno` value.
    public init(path: String, operation: String, code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
        self.message = String(cString: strerror(code))
    }

    /// A one-line message naming the path, the failed step and the reason.
    public var description: String {
        "\(path): \(operation) failed: \(message)"
    }
}

/// Writes bytes to `url` atomically (temp file in the same directory + fsync + rename). Reused by other writers in the project.
///
/// Readers of `url` see either its previous contents or the complete new contents, never a mixture; when
/// the write fails the temporary file is removed and any existing file at `url` is left untouched.
public enum AtomicFile {
    /// Replaces the file at `url` with `bytes` atomically; throws `AtomicFileError` on failure.
    ///
    /// The data goes to a uniquely named hidden temporary file in the same directory, is flushed with
    /// `fsync`, and is renamed over `url`; the directory is then synced (best effort). New files get mode
    /// 0644 less the umask.
    public static func write(_ bytes: [UInt8], to url: URL) throws {
        try write(bytes, to: url, chunkSize: 1 << 24, afterChunk: nil)
    }

    /// `write(_:to:)` in chunks of `chunkSize` bytes, calling `afterChunk` with the running total after each one;
    /// a throwing `afterChunk` simulates a failure part-way through (for tests).
    static func write(
        _ bytes: [UInt8], to url: URL, chunkSize: Int, afterChunk: ((Int) throws -> Void)?
    ) throws {
        let path = url.path
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + "." + UUID().uuidString + ".tmp"

        let descriptor = systemOpen(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw AtomicFileError(path: path, operation: "create temporary file \(temporary)", code: errno)
        }
        var isOpen = true
        do {
            try bytes.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                var written = 0
                while written < raw.count {
                    let result = systemWrite(descriptor, base + written, min(max(chunkSize, 1), raw.count - written))
                    if result < 0 {
                        let code = errno
                        if code == EINTR { continue }
                        throw AtomicFileError(path: path, operation: "write", code: code)
                    }
                    if result == 0 {
                        var error = AtomicFileError(path: path, operation: "write", code: 0)
                        error.message = "no progress after \(written) of \(raw.count) bytes"
                        throw error
                    }
                    written += result
                    try afterChunk?(written)
                }
            }
            guard systemFsync(descriptor) == 0 else {
                throw AtomicFileError(path: path, operation: "fsync", code: errno)
            }
            isOpen = false
            guard systemClose(descriptor) == 0 else {
                throw AtomicFileError(path: path, operation: "close", code: errno)
            }
            guard systemRename(temporary, path) == 0 else {
                throw AtomicFileError(path: path, operation: "rename", code: errno)
            }
        } catch {
            if isOpen { _ = systemClose(descriptor) }
            _ = systemUnlink(temporary)
            throw error
        }
        // Persist the rename itself; a failure here cannot undo the now-complete replacement.
        let directoryDescriptor = systemOpen(directory, O_RDONLY | O_CLOEXEC, 0)
        if directoryDescriptor >= 0 {
            _ = systemFsync(directoryDescriptor)
            _ = systemClose(directoryDescriptor)
        }
    }
}

// Thin wrappers so the system calls are not shadowed by `AtomicFile.write` and friends.
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(descriptor, buffer, count) }
private func systemFsync(_ descriptor: Int32) -> Int32 { fsync(descriptor) }
private func systemClose(_ descriptor: Int32) -> Int32 { close(descriptor) }
private func systemRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }
private func systemUnlink(_ path: String) -> Int32 { unlink(path) }
