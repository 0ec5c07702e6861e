import Foundation
import XCTest
import DigitsTestSupport

@testable import Digits

final class SafetensorsTests: XCTestCase {
    // MARK: Helpers

    /// A fresh empty directory, removed when the test ends.
    private func makeTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("safetensors-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// The names in `directory`, sorted.
    private func contents(of directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    /// A hand-built safetensors file: length prefix, the header text (optionally space-padded to 8), then `data`.
    private func rawFile(header: String, data: [UInt8] = [], pad: Bool = true) -> [UInt8] {
        var headerBytes = Array(header.utf8)
        while pad && headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        return rawFile(headerBytes: headerBytes, data: data)
    }

    /// A hand-built file from raw header bytes.
    private func rawFile(headerBytes: [UInt8], data: [UInt8] = []) -> [UInt8] {
        littleEndian(UInt64(headerBytes.count)) + headerBytes + data
    }

    private func littleEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
    }

    /// Decodes `bytes` expecting failure; returns the error after checking it names the source.
    private func decodeError(
        _ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line
    ) -> SafetensorsError? {
        let source = "bad/file-\(line).safetensors"
        do {
            let decoded = try SafetensorsFile.decode(bytes, source: source)
            XCTFail("decoded a malformed file: \(decoded)", file: file, line: line)
            return nil
        } catch let error as SafetensorsError {
            XCTAssertEqual(error.source, source, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(source + ": "), error.description, file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
            return nil
        }
    }

    /// Asserts that decoding `bytes` fails and that the message contains every fragment.
    private func assertDecodeFails(
        _ bytes: [UInt8], mentioning fragments: [String], file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let error = decodeError(bytes, file: file, line: line) else { return }
        for fragment in fragments {
            XCTAssertTrue(
                error.description.contains(fragment), "\"\(error.description)\" lacks \"\(fragment)\"",
                file: file, line: line)
        }
    }

    /// Encoding `file` must fail with exactly `expected`.
    private func assertEncodeFails(
        _ file: SafetensorsFile, with expected: SafetensorsError, line: UInt = #line
    ) {
        XCTAssertThrowsError(try file.encoded(), line: line) { error in
            XCTAssertEqual(error as? SafetensorsError, expected, line: line)
            XCTAssertTrue("\(error)".contains("<in-memory safetensors>"), "\(error)", line: line)
        }
    }

    private var sample: SafetensorsFile {
        SafetensorsFile(tensors: [
            SafetensorsTensor(name: "layer1.weight", shape: [2, 3], values: [1, -2, 3.5, 0, 1e-30, -7.25]),
            SafetensorsTensor(name: "layer1.bias", shape: [3], values: [0.1, 0.2, 0.3]),
            SafetensorsTensor(name: "scale", shape: [], values: [42]),
            SafetensorsTensor(name: "empty", shape: [0, 4], values: []),
            SafetensorsTensor(name: "a.last", shape: [1, 1, 2], values: [.greatestFiniteMagnitude, -.leastNonzeroMagnitude]),
        ])
    }

    // MARK: Round trips

    func testRoundTripSeveralTensorsWithEmptyMetadata() throws {
        let original = sample
        let bytes = try original.encoded()
        let decoded = try SafetensorsFile.decode(bytes, source: "memory")
        XCTAssertEqual(decoded, original)
        XCTAssertEqual(decoded.tensors.map(\.name), original.tensors.map(\.name), "file order is data order")
        XCTAssertEqual(decoded["scale"]?.shape, [])
        XCTAssertEqual(decoded["scale"]?.values, [42])
        XCTAssertNil(decoded["missing"])
        XCTAssertFalse(String(decoding: bytes, as: UTF8.self).contains("__metadata__"), "empty metadata is omitted")

        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("model.safetensors")
        try original.write(to: url)
        XCTAssertEqual(try SafetensorsFile.read(contentsOf: url), original)
        XCTAssertEqual(Array(try Data(contentsOf: url)), bytes)
    }

    func testRoundTripRichMetadata() throws {
        let metadata = [
            "format": "pt",
            "recipe": #"{"layers":[784,128,10],"lr":0.01,"name":"mlp \"small\"","path":"C:\\models\\a"}"#,
            "notes": "line one\nline two\ttabbed\r\n\u{1}\u{0}\u{1F}end",
            "unicode": "héllo wörld — 数字 🤖 \u{2028}",
            "": "empty key",
            "empty value": "",
            "slash/and\\backslash": "</script>",
        ]
        let original = SafetensorsFile(tensors: sample.tensors, metadata: metadata)
        let bytes = try original.encoded()
        let decoded = try SafetensorsFile.decode(bytes, source: "memory")
        XCTAssertEqual(decoded, original)
        XCTAssertEqual(decoded.metadata, metadata)
        let recipe = try XCTUnwrap(decoded.metadata["recipe"])
        let parsed = try JSONSerialization.jsonObject(with: Data(recipe.utf8)) as? [String: Any]
        XCTAssertEqual(parsed?["layers"] as? [Int], [784, 128, 10])
    }

    func testMetadataOnlyAndEmptyFiles() throws {
        for file in [
            SafetensorsFile(tensors: []),
            SafetensorsFile(tensors: [], metadata: ["k": "v"]),
            SafetensorsFile(tensors: [SafetensorsTensor(name: "z", shape: [0], values: [])]),
        ] {
            let bytes = try file.encoded()
            XCTAssertEqual(try SafetensorsFile.decode(bytes, source: "memory"), file)
        }
        XCTAssertEqual(try SafetensorsFile(tensors: []).encoded(), Array("\u{8}\0\0\0\0\0\0\0{}      ".utf8))
    }

    func testSpecialFloatsAreBitExact() throws {
        let specials: [Float] = [
            .nan, -.nan, Float(bitPattern: 0x7FC0_1234), .infinity, -.infinity, 0, -0.0,
            .leastNonzeroMagnitude, .leastNormalMagnitude, .ulpOfOne, .pi,
        ]
        let file = SafetensorsFile(tensors: [SafetensorsTensor(name: "x", shape: [specials.count], values: specials)])
        let decoded = try SafetensorsFile.decode(try file.encoded(), source: "memory")
        XCTAssertEqual(decoded.tensors.first?.values.map(\.bitPattern), specials.map(\.bitPattern))
    }

    func testDecodedOrderFollowsDataOffsetsNotHeaderOrder() throws {
        // Header lists "a" first but its data comes second.
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let data = LittleEndianFloat32.bytes(of: [2, 1])
        let decoded = try SafetensorsFile.decode(rawFile(header: header, data: data), source: "memory")
        XCTAssertEqual(decoded.tensors.map(\.name), ["b", "a"])
        XCTAssertEqual(decoded["a"]?.values, [1])
        XCTAssertEqual(decoded["b"]?.values, [2])
    }

    func testDecodeAcceptsUnpaddedHeaderExtraFieldsAndNullMetadata() throws {
        let header = #"{"__metadata__":null,"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":[1]}}"#
        let decoded = try SafetensorsFile.decode(
            rawFile(header: header, data: LittleEndianFloat32.bytes(of: [3, 4]), pad: false), source: "memory")
        XCTAssertEqual(decoded, SafetensorsFile(tensors: [SafetensorsTensor(name: "w", shape: [2], values: [3, 4])]))
    }

    // MARK: Layout

    func testDeterministicBytes() throws {
        var first: [String: String] = [:]
        var second: [String: String] = [:]
        let keys = (0..<50).map { "key\($0)" }
        for key in keys { first[key] = "value of \(key)" }
        for key in keys.reversed() { second[key] = "value of \(key)" }
        second.reserveCapacity(1000)  // a different capacity gives a different iteration order
        let a = SafetensorsFile(tensors: sample.tensors, metadata: first)
        let b = SafetensorsFile(tensors: sample.tensors, metadata: second)
        let bytes = try a.encoded()
        XCTAssertEqual(try a.encoded(), bytes)
        XCTAssertEqual(try b.encoded(), bytes)

        // The exact bytes of a small file: sorted keys, compact JSON, space padding, little-endian data.
        let tiny = SafetensorsFile(
            tensors: [
                SafetensorsTensor(name: "w", shape: [2], values: [1, -2]),
                SafetensorsTensor(name: "b", shape: [], values: [0.5]),
            ],
            metadata: ["k": "v"])
        let header = #"{"__metadata__":{"k":"v"},"b":{"data_offsets":[8,12],"dtype":"F32","shape":[]},"w":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}}"#
        let expected = rawFile(header: header, data: [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x3F])
        XCTAssertEqual(try tiny.encoded(), expected)
    }

    func testHeaderIsPaddedToEightBytes() throws {
        for nameLength in 1...17 {
            let file = SafetensorsFile(
                tensors: [SafetensorsTensor(name: String(repeating: "n", count: nameLength), shape: [1], values: [1])])
            let bytes = try file.encoded()
            let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            XCTAssertEqual(headerLength % 8, 0, "name length \(nameLength)")
            XCTAssertEqual(bytes.count, 8 + headerLength + 4)
            let header = Array(bytes[8..<(8 + headerLength)])
            let padding = header.reversed().prefix { $0 == 0x20 }.count
            XCTAssertLessThan(padding, 8, "only as much padding as alignment needs")
            XCTAssertEqual(header[header.count - padding - 1], UInt8(ascii: "}"), "padding is trailing spaces")
            XCTAssertEqual(Array(bytes[(8 + headerLength)...]), [0x00, 0x00, 0x80, 0x3F])
        }
    }

    func testTensorsAreContiguousInGivenOrder() throws {
        let bytes = try sample.encoded()
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let json = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: [String: Any]])
        var expectedBegin = 0
        for tensor in sample.tensors {
            let offsets = try XCTUnwrap(json[tensor.name]?["data_offsets"] as? [Int])
            XCTAssertEqual(offsets, [expectedBegin, expectedBegin + tensor.values.count * 4], tensor.name)
            let data = Array(bytes[(8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1])])
            XCTAssertEqual(data, tensor.values.flatMap { value in
                (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> UInt32(8 * $0)) }
            })
            expectedBegin = offsets[1]
        }
        XCTAssertEqual(8 + headerLength + expectedBegin, bytes.count)
    }

    func testLittleEndianConversion() {
        let values: [Float] = [1, -2, 0.5, .infinity, -0.0, 3.1415927]
        let bytes = LittleEndianFloat32.bytes(of: values)
        XCTAssertEqual(Array(bytes[0..<8]), [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
        XCTAssertEqual(LittleEndianFloat32.floats(of: bytes).map(\.bitPattern), values.map(\.bitPattern))
        XCTAssertEqual(LittleEndianFloat32.floats(of: []), [])
        XCTAssertEqual(LittleEndianFloat32.bytes(of: []), [])

        // The element-by-element path (used on big-endian hosts) agrees with the memcpy path.
        var portable = [UInt8](repeating: 0, count: values.count * 4)
        portable.withUnsafeMutableBytes { LittleEndianFloat32.storePortable(values, into: $0) }
        XCTAssertEqual(portable, bytes)
        // Unaligned source: start one byte in.
        let shifted: [UInt8] = [0xAA] + bytes
        shifted.withUnsafeBytes { raw in
            let slice = UnsafeRawBufferPointer(rebasing: raw[1...])
            XCTAssertEqual(LittleEndianFloat32.loadPortable(from: slice).map(\.bitPattern), values.map(\.bitPattern))
            XCTAssertEqual(LittleEndianFloat32.load(from: slice).map(\.bitPattern), values.map(\.bitPattern))
        }
    }

    // MARK: Writer validation

    func testWriterRejectsBadTensors() {
        let source = "<in-memory safetensors>"
        assertEncodeFails(
            SafetensorsFile(tensors: [SafetensorsTensor(name: "", shape: [1], values: [1])]),
            with: .invalidTensorName(source: source, name: "", reason: "names must be non-empty"))
        assertEncodeFails(
            SafetensorsFile(tensors: [
                SafetensorsTensor(name: "w", shape: [1], values: [1]),
                SafetensorsTensor(name: "w", shape: [1], values: [2]),
            ]),
            with: .invalidTensorName(source: source, name: "w", reason: "two tensors have this name; names must be unique"))
        assertEncodeFails(
            SafetensorsFile(tensors: [SafetensorsTensor(name: "__metadata__", shape: [1], values: [1])]),
            with: .invalidTensorName(source: source, name: "__metadata__", reason: "the name is reserved for metadata"))
        assertEncodeFails(
            SafetensorsFile(tensors: [SafetensorsTensor(name: "w", shape: [2, 2], values: [1, 2, 3])]),
            with: .valueCountMismatch(source: source, tensor: "w", shape: [2, 2], valueCount: 3))
        assertEncodeFails(
            SafetensorsFile(tensors: [SafetensorsTensor(name: "s", shape: [], values: [])]),
            with: .valueCountMismatch(source: source, tensor: "s", shape: [], valueCount: 0))
        assertEncodeFails(
            SafetensorsFile(tensors: [SafetensorsTensor(name: "w", shape: [-1, -2], values: [1, 2])]),
            with: .invalidShape(source: source, tensor: "w", shape: [-1, -2], reason: "dimension -1 is negative"))
        assertEncodeFails(
            SafetensorsFile(tensors: [SafetensorsTensor(name: "w", shape: [1 << 40, 1 << 40], values: [])]),
            with: .invalidShape(source: source, tensor: "w", shape: [1 << 40, 1 << 40], reason: "the element count overflows"))
        assertEncodeFails(
            SafetensorsFile(tensors: [SafetensorsTensor(name: "w", shape: [1 << 62], values: [])]),
            with: .invalidShape(source: source, tensor: "w", shape: [1 << 62], reason: "the byte count overflows"))
    }

    func testWriteErrorsNameTheDestination() throws {
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("bad.safetensors")
        let bad = SafetensorsFile(tensors: [SafetensorsTensor(name: "w", shape: [3], values: [1])])
        XCTAssertThrowsError(try bad.write(to: url)) { error in
            XCTAssertEqual(
                error as? SafetensorsError,
                .valueCountMismatch(source: url.path, tensor: "w", shape: [3], valueCount: 1))
            XCTAssertTrue("\(error)".hasPrefix(url.path), "\(error)")
            XCTAssertTrue("\(error)".contains("needs 3 values but 1 were given"), "\(error)")
        }
        XCTAssertEqual(try contents(of: directory), [])
    }

    // MARK: Malformed files

    func testTooShortFile() {
        XCTAssertEqual(decodeError([])?.description.contains("0 bytes"), true)
        guard case .fileTooShort(_, 7)? = decodeError([8, 0, 0, 0, 0, 0, 0]) else { return XCTFail("wrong error") }
    }

    func testHeaderLengthLargerThanFile() {
        var bytes = rawFile(header: "{}")
        bytes[0] = 200
        guard case .headerLengthExceedsFile(_, 200, 8)? = decodeError(bytes) else { return XCTFail("wrong error") }
        assertDecodeFails(littleEndian(1), mentioning: ["header length 1", "0 bytes"])
    }

    func testHugeClaimedHeaderLengthFailsFast() {
        let limit = SafetensorsFile.maxHeaderLength
        for claimed: UInt64 in [1 << 60, UInt64.max, UInt64(Int.max) + 1, UInt64(limit) + 1, 100_000_001] {
            let bytes = littleEndian(claimed) + Array("{}      ".utf8)
            guard case .headerTooLarge(_, claimed, limit)? = decodeError(bytes) else {
                return XCTFail("wrong error for \(claimed)")
            }
        }
    }

    func testHeaderLengthOverLimitEvenWhenFileIsThatLong() {
        // A file really holding the limit + 1 bytes of "header" still trips the limit, before any parsing.
        let limit = SafetensorsFile.maxHeaderLength
        var bytes = [UInt8](repeating: 0x20, count: 8 + limit + 1)
        bytes.replaceSubrange(0..<8, with: littleEndian(UInt64(limit + 1)))
        guard case .headerTooLarge(_, UInt64(limit + 1), limit)? = decodeError(bytes) else {
            return XCTFail("wrong error")
        }
    }

    /// Issue 24: a 98 MB header cost 2.8 GB. A file on disk whose prefix claims more header than the limit is
    /// refused from its first 9 bytes, before the rest of it is read (here a sparse 100 MB file).
    func testFileClaimingAHugeHeaderIsRefusedBeforeBeingRead() throws {
        let url = try makeTemporaryDirectory().appendingPathComponent("huge-header.safetensors")
        try Data(littleEndian(98_000_000) + Array(#"{"__metadata__":{"#.utf8)).write(to: url)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 100_000_000)
        try handle.close()
        XCTAssertThrowsError(try SafetensorsFile.read(contentsOf: url)) { error in
            guard case .headerTooLarge(let source, 98_000_000, SafetensorsFile.maxHeaderLength)? = error as? SafetensorsError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(source, url.path)
        }
    }

    func testLargestHeaderOfSmallEntriesIsRefusedByItsEntriesNotByExhaustion() {
        // The worst a header within the limit can hold: thousands of tiny entries. Each must still be checked,
        // and the file refused for what is wrong with it (here: every entry claims the same bytes).
        var header = "{"
        var index = 0
        while header.utf8.count < SafetensorsFile.maxHeaderLength - 100 {
            header += "\"t\(index)\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            index += 1
        }
        header += "\"last\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
        guard case .overlappingTensors? = decodeError(rawFile(header: header, data: [0, 0, 0, 0])) else { return XCTFail("wrong error") }
    }

    func testHeaderNotUTF8() {
        let header: [UInt8] = Array("{\"a\":\"".utf8) + [0xFF, 0xFE] + Array("\"}".utf8)
        guard case .headerNotUTF8? = decodeError(rawFile(headerBytes: header)) else { return XCTFail("wrong error") }
        // UTF-16 JSON, which JSONSerialization alone would accept, is not UTF-8 either.
        let utf16: [UInt8] = [0xFF, 0xFE] + Array("{}".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        XCTAssertNotNil(decodeError(rawFile(headerBytes: utf16)))
    }

    func testHeaderNotJSONOrNotAnObject() {
        assertDecodeFails(rawFile(header: "{\"a\": "), mentioning: ["not a valid JSON object", "does not parse"])
        assertDecodeFails(rawFile(header: "not json"), mentioning: ["does not parse"])
        assertDecodeFails(rawFile(header: ""), mentioning: ["does not parse"])
        assertDecodeFails(rawFile(header: "[1, 2]"), mentioning: ["top level is an array, not an object"])
        assertDecodeFails(rawFile(headerBytes: Array("{} \0".utf8)), mentioning: ["does not parse"])
    }

    func testTensorEntryMissingFieldsOrWrongTypes() {
        let cases: [(String, String)] = [
            (#"{"w":5}"#, "expected an object, found the number 5"),
            (#"{"w":"F32"}"#, "expected an object, found the string \"F32\""),
            (#"{"w":null}"#, "expected an object, found null"),
            (#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, "missing \"dtype\""),
            (#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, "missing \"shape\""),
            (#"{"w":{"dtype":"F32","shape":[1]}}"#, "missing \"data_offsets\""),
            (#"{"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}"#, "\"dtype\" must be a string, found the number 32"),
            (#"{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}"#, "\"shape\" must be an array of integers"),
            (#"{"w":{"dtype":"F32","shape":{},"data_offsets":[0,4]}}"#, "found an object"),
            (#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, "\"shape\"[0] must be an integer, found the number 1.5"),
            (#"{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#, "\"shape\"[0] must be an integer"),
            (#"{"w":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}"#, "\"shape\"[0] must be an integer"),
            (#"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, "\"shape\"[0] must be an integer, found true"),
            (#"{"w":{"dtype":"F32","shape":[1,"2"],"data_offsets":[0,4]}}"#, "\"shape\"[1] must be an integer, found the string \"2\""),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, "exactly two integers, found 1"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#, "exactly two integers, found 3"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":{"begin":0}}}"#, "\"data_offsets\" must be an array of two integers"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}}"#, "\"data_offsets\"[1] must be an integer"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}}"#, "\"data_offsets\"[1] must be an integer, found the number 4"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[false,4]}}"#, "\"data_offsets\"[0] must be an integer, found false"),
        ]
        for (header, fragment) in cases {
            assertDecodeFails(
                rawFile(header: header, data: [0, 0, 0, 0]), mentioning: ["tensor \"w\"", fragment])
            guard case .invalidTensorEntry(_, "w", _)? = decodeError(rawFile(header: header, data: [0, 0, 0, 0])) else {
                XCTFail("wrong error for \(header)")
                continue
            }
        }
    }

    func testUnsupportedDtype() {
        for dtype in ["F16", "BF16", "F64", "I32", "f32", ""] {
            let header = #"{"w":{"dtype":"\#(dtype)","shape":[1],"data_offsets":[0,4]}}"#
            let error = decodeError(rawFile(header: header, data: [0, 0, 0, 0]))
            XCTAssertEqual(error, .unsupportedDtype(source: error?.source ?? "", tensor: "w", dtype: dtype))
            XCTAssertTrue(error?.description.contains("dtype \"\(dtype)\" is not supported; only F32 is supported") == true)
        }
    }

    /// Other element types are converted to Float32 when asked: F16 and BF16 exactly, F64 rounded,
    /// integers and booleans as numbers; the byte counts follow each type's element size.
    func testOtherDtypesConvertWhenAsked() throws {
        let header = #"{"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"d":{"dtype":"F64","shape":[1],"data_offsets":[12,20]},"#
            + #""h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"n":{"dtype":"I64","shape":[],"data_offsets":[20,28]},"#
            + #""u":{"dtype":"U8","shape":[2],"data_offsets":[28,30]},"w":{"dtype":"F32","shape":[1],"data_offsets":[30,34]}}"#
        var data: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C]          // F16: 1, −2, 2⁻²⁴ (subnormal), +∞
        data += [0x80, 0x3F, 0x49, 0x40]                                                // BF16: 1, 3.140625
        data += littleEndian(Double(0.1).bitPattern)                                    // F64: 0.1
        data += littleEndian(UInt64(bitPattern: -937))                                  // I64: −937
        data += [7, 255]                                                                // U8
        data += [0, 0, 0x80, 0x3F]                                                      // F32: 1
        let bytes = rawFile(header: header, data: data)
        let file = try SafetensorsFile.decode(bytes, source: "mixed", dtypes: .convertToFloat32)
        XCTAssertEqual(file["h"]?.values, [1, -2, 0x1p-24, .infinity])
        XCTAssertEqual(file["b"]?.values, [1, 3.140625])
        XCTAssertEqual(file["d"]?.values, [Float(0.1)])
        XCTAssertEqual(file["n"], SafetensorsTensor(name: "n", shape: [], values: [-937]))
        XCTAssertEqual(file["u"]?.values, [7, 255])
        XCTAssertEqual(file["w"]?.values, [1])
        XCTAssertEqual(decodeError(bytes), .unsupportedDtype(source: decodeError(bytes)?.source ?? "", tensor: "b", dtype: "BF16"),
                       "F32 only by default")
        let wrongSize = rawFile(header: #"{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        XCTAssertThrowsError(try SafetensorsFile.decode(wrongSize, source: "x", dtypes: .convertToFloat32)) { error in
            XCTAssertTrue("\(error)".contains("shape [3] of F16 needs 6"), "\(error)")
        }
        let unknown = rawFile(header: #"{"q":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#, data: [0])
        XCTAssertThrowsError(try SafetensorsFile.decode(unknown, source: "x", dtypes: .convertToFloat32))
    }

    func testBadShapes() {
        assertDecodeFails(
            rawFile(header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
            mentioning: ["invalid shape [-1]", "dimension -1 is negative"])
        assertDecodeFails(
            rawFile(header: #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#),
            mentioning: ["element count overflows"])
        assertDecodeFails(
            rawFile(header: #"{"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}"#),
            mentioning: ["byte count overflows"])
        for huge in ["9223372036854775808", "18446744073709551616", "100000000000000000000000000000"] {
            assertDecodeFails(
                rawFile(header: #"{"w":{"dtype":"F32","shape":[\#(huge)],"data_offsets":[0,0]}}"#),
                mentioning: ["does not fit in a 64-bit integer"])
        }
    }

    func testBadDataOffsets() {
        let four: [UInt8] = [0, 0, 0, 0]
        let eight = four + four
        assertDecodeFails(
            rawFile(header: #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#, data: four),
            mentioning: ["begin 4 is after end 0"])
        assertDecodeFails(
            rawFile(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: four),
            mentioning: ["end 8 is past the 4-byte data buffer"])
        assertDecodeFails(
            rawFile(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}"#, data: eight),
            mentioning: ["span 8 bytes but shape [1] of F32 needs 4"])
        assertDecodeFails(
            rawFile(header: #"{"w":{"dtype":"F32","shape":[],"data_offsets":[0,0]}}"#, data: []),
            mentioning: ["span 0 bytes but shape [] of F32 needs 4"])
        assertDecodeFails(
            rawFile(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, data: four),
            mentioning: ["offset -4 is negative"])
        assertDecodeFails(
            rawFile(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}"#, data: four),
            mentioning: ["offset the number 18446744073709551615 does not fit in a 64-bit integer"])
        assertDecodeFails(
            rawFile(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775803,9223372036854775807]}}"#, data: four),
            mentioning: ["end 9223372036854775807 is past the 4-byte data buffer"])
    }

    func testOverlapAndHoles() {
        let twelve = [UInt8](repeating: 0, count: 12)
        assertDecodeFails(
            rawFile(
                header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                data: twelve),
            mentioning: ["tensors \"a\" and \"b\" overlap"])
        assertDecodeFails(
            rawFile(
                header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                data: [0, 0, 0, 0]),
            mentioning: ["overlap"])
        assertDecodeFails(
            rawFile(
                header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}"#,
                data: [UInt8](repeating: 0, count: 8)),
            mentioning: ["tensors \"a\" and \"e\" overlap"])
        assertDecodeFails(
            rawFile(
                header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                data: twelve),
            mentioning: ["data bytes 4..<8 belong to no tensor"])
        assertDecodeFails(
            rawFile(header: #"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
            mentioning: ["data bytes 0..<4 belong to no tensor"])
        assertDecodeFails(
            rawFile(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [UInt8](repeating: 0, count: 6)),
            mentioning: ["data bytes 4..<6 belong to no tensor"])
        assertDecodeFails(rawFile(header: "{}", data: [0]), mentioning: ["data bytes 0..<1 belong to no tensor"])
    }

    func testBadMetadataAndNames() {
        let tensor = #""w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        let four: [UInt8] = [0, 0, 0, 0]
        assertDecodeFails(
            rawFile(header: #"{\#(tensor),"__metadata__":{"a":"x","epochs":3}}"#, data: four),
            mentioning: ["invalid __metadata__", "the value of \"epochs\" must be a string, found the number 3"])
        assertDecodeFails(
            rawFile(header: #"{\#(tensor),"__metadata__":{"nested":{"x":"y"}}}"#, data: four),
            mentioning: ["the value of \"nested\" must be a string, found an object"])
        assertDecodeFails(
            rawFile(header: #"{\#(tensor),"__metadata__":{"flag":true}}"#, data: four),
            mentioning: ["found true"])
        assertDecodeFails(
            rawFile(header: #"{\#(tensor),"__metadata__":["a"]}"#, data: four),
            mentioning: ["expected an object of strings, found an array"])
        assertDecodeFails(
            rawFile(header: #"{\#(tensor),"__metadata__":"text"}"#, data: four),
            mentioning: ["expected an object of strings"])
        assertDecodeFails(
            rawFile(header: #"{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: four),
            mentioning: ["invalid tensor name \"\"", "non-empty"])
    }

    // MARK: Files

    func testReadMissingFileNamesIt() throws {
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("nope.safetensors")
        XCTAssertThrowsError(try SafetensorsFile.read(contentsOf: url)) { error in
            guard case .io(let source, "open", _)? = error as? SafetensorsError else {
                return XCTFail("wrong error \(error)")
            }
            XCTAssertEqual(source, url.path)
            XCTAssertTrue("\(error)".contains("nope.safetensors: open failed: No such file"), "\(error)")
        }
        XCTAssertThrowsError(try SafetensorsFile.read(contentsOf: directory)) { error in
            XCTAssertTrue("\(error)".hasPrefix(directory.path), "\(error)")
        }
    }

    func testReadRejectsCorruptFileOnDiskNamingIt() throws {
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("corrupt.safetensors")
        var bytes = try sample.encoded()
        bytes.removeLast()
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try SafetensorsFile.read(contentsOf: url)) { error in
            XCTAssertTrue("\(error)".hasPrefix(url.path + ": "), "\(error)")
            XCTAssertTrue("\(error)".contains("past the"), "\(error)")
        }
    }

    func testAtomicWriteCreatesAndReplacesLeavingNoTemporaryFiles() throws {
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("model.safetensors")
        try sample.write(to: url)
        XCTAssertEqual(try contents(of: directory), ["model.safetensors"])
        let replacement = SafetensorsFile(tensors: [SafetensorsTensor(name: "v", shape: [1], values: [9])], metadata: ["x": "y"])
        try replacement.write(to: url)
        XCTAssertEqual(try contents(of: directory), ["model.safetensors"])
        XCTAssertEqual(try SafetensorsFile.read(contentsOf: url), replacement)

        let plain = directory.appendingPathComponent("notes.txt")
        try AtomicFile.write(Array("hello".utf8), to: plain)
        try AtomicFile.write([], to: plain)
        XCTAssertEqual(try Data(contentsOf: plain).count, 0)
        XCTAssertEqual(try contents(of: directory), ["model.safetensors", "notes.txt"])
    }

    func testAtomicWriteIntoMissingDirectoryFails() throws {
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("missing/model.safetensors")
        XCTAssertThrowsError(try sample.write(to: url)) { error in
            guard case .io(let source, let operation, let reason)? = error as? SafetensorsError else {
                return XCTFail("wrong error \(error)")
            }
            XCTAssertEqual(source, url.path)
            XCTAssertTrue(operation.hasPrefix("create temporary file"), operation)
            XCTAssertTrue(reason.contains("No such file"), reason)
        }
        XCTAssertThrowsError(try AtomicFile.write([1, 2, 3], to: url)) { error in
            XCTAssertEqual((error as? AtomicFileError)?.code, ENOENT)
            XCTAssertTrue("\(error)".hasPrefix(url.path), "\(error)")
        }
        XCTAssertEqual(try contents(of: directory), [])
    }

    func testFailureMidwayKeepsOldFileAndRemovesTemporary() throws {
        struct Injected: Error {}
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("model.safetensors")
        try sample.write(to: url)
        let good = try Data(contentsOf: url)

        let replacement = [UInt8](repeating: 7, count: 100)
        var sawPartialTemporary = false
        XCTAssertThrowsError(
            try AtomicFile.write(replacement, to: url, chunkSize: 16) { written in
                guard written >= 48 else { return }
                // Part-way through: a temporary sibling holds the partial data; the target is untouched.
                let names = try self.contents(of: directory)
                XCTAssertEqual(names.count, 2)
                if let temporary = names.first(where: { $0 != "model.safetensors" }) {
                    XCTAssertTrue(temporary.hasPrefix(".model.safetensors."), temporary)
                    let partial = try Data(contentsOf: directory.appendingPathComponent(temporary))
                    XCTAssertEqual(partial.count, written)
                    sawPartialTemporary = true
                }
                XCTAssertEqual(try Data(contentsOf: url), good)
                throw Injected()
            }
        ) { error in
            XCTAssertTrue(error is Injected)
        }
        XCTAssertTrue(sawPartialTemporary)
        XCTAssertEqual(try contents(of: directory), ["model.safetensors"])
        XCTAssertEqual(try Data(contentsOf: url), good)
        XCTAssertEqual(try SafetensorsFile.read(contentsOf: url), sample)
    }

    func testFailedRenameRemovesTemporary() throws {
        // The destination is a non-empty directory: every byte is written and synced, then rename fails.
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("occupied")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: url.appendingPathComponent("inside.txt"))
        XCTAssertThrowsError(try sample.write(to: url)) { error in
            guard case .io(let source, "rename", _)? = error as? SafetensorsError else {
                return XCTFail("wrong error \(error)")
            }
            XCTAssertEqual(source, url.path)
        }
        XCTAssertEqual(try contents(of: directory), ["occupied"])
        XCTAssertEqual(try contents(of: url), ["inside.txt"])
    }

    func testInvalidFileDoesNotClobberExistingFile() throws {
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("model.safetensors")
        try sample.write(to: url)
        let good = try Data(contentsOf: url)
        let bad = SafetensorsFile(tensors: [SafetensorsTensor(name: "", shape: [], values: [1])])
        XCTAssertThrowsError(try bad.write(to: url))
        XCTAssertEqual(try Data(contentsOf: url), good)
        XCTAssertEqual(try contents(of: directory), ["model.safetensors"])
    }

    // MARK: Interoperability with Python

    /// A Python that imports `module` (`TestPython`); skips the test when there is none.
    private func requirePython(_ module: String) throws -> TestPython {
        guard let python = TestPython.find(importing: [module]) else { throw XCTSkip(TestPython.missingMessage([module])) }
        return python
    }

    private var interopFile: SafetensorsFile {
        let big = (0..<(64 * 10)).map { Float($0 % 97) * 0.25 - 3 }
        return SafetensorsFile(
            tensors: [
                SafetensorsTensor(name: "dense.weight", shape: [64, 10], values: big),
                SafetensorsTensor(name: "dense.bias", shape: [10], values: (0..<10).map { Float($0) / 8 }),
                SafetensorsTensor(name: "step", shape: [], values: [1234]),
                SafetensorsTensor(name: "nothing", shape: [3, 0], values: []),
            ],
            metadata: ["recipe": #"{"lr": 0.05, "layers": [640, 10]}"#, "unicode": "数字 ✓"])
    }

    func testPythonNumpyReadsOurFile() throws {
        let directory = try makeTemporaryDirectory()
        let python = try requirePython("numpy")
        let url = directory.appendingPathComponent("swift-written.safetensors")
        let file = interopFile
        try file.write(to: url)
        let script = """
            import json, struct, sys
            import numpy as np
            raw = open(sys.argv[1], 'rb').read()
            (n,) = struct.unpack('<Q', raw[:8])
            assert n % 8 == 0, n
            header = json.loads(raw[8:8 + n].decode('utf-8'))
            data = raw[8 + n:]
            meta = header.pop('__metadata__', {})
            out = {'metadata': meta, 'tensors': {}}
            for name, info in header.items():
                assert info['dtype'] == 'F32'
                b, e = info['data_offsets']
                arr = np.frombuffer(data[b:e], dtype='<f4').reshape(info['shape'])
                out['tensors'][name] = {'shape': list(arr.shape), 'sum': float(arr.astype(np.float64).sum()),
                                        'first': [float(x) for x in arr.ravel()[:3]], 'offsets': [b, e]}
            print(json.dumps(out))
            """
        let result = try python.run(script: script, arguments: [url.path])
        XCTAssertEqual(result.status, 0, result.errors)
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        XCTAssertEqual(parsed["metadata"] as? [String: String], file.metadata)
        let tensors = try XCTUnwrap(parsed["tensors"] as? [String: [String: Any]])
        XCTAssertEqual(Set(tensors.keys), Set(file.tensors.map(\.name)))
        for tensor in file.tensors {
            let info = try XCTUnwrap(tensors[tensor.name])
            XCTAssertEqual(info["shape"] as? [Int], tensor.shape, tensor.name)
            let expectedSum = tensor.values.reduce(0.0) { $0 + Double($1) }
            let sum = try XCTUnwrap(info["sum"] as? Double)
            XCTAssertEqual(sum, expectedSum, accuracy: 1e-9 * max(1, abs(expectedSum)), tensor.name)
            XCTAssertEqual(info["first"] as? [Double], tensor.values.prefix(3).map(Double.init), tensor.name)
        }
    }

    func testWeReadFileWrittenByPythonNumpy() throws {
        let directory = try makeTemporaryDirectory()
        let python = try requirePython("numpy")
        let url = directory.appendingPathComponent("python-written.safetensors")
        let script = """
            import json, struct, sys
            import numpy as np
            tensors = {
                'conv.weight': np.arange(2 * 3 * 4, dtype='<f4').reshape(2, 3, 4) * np.float32(0.5) - np.float32(3),
                'conv.bias': np.array([1.5, -2.25, 1e-3], dtype='<f4'),
                'temperature': np.array(0.75, dtype='<f4'),
            }
            header, blobs, offset = {}, [], 0
            for name in ['conv.bias', 'temperature', 'conv.weight']:
                blob = tensors[name].astype('<f4').tobytes()
                header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(blob)]}
                blobs.append(blob)
                offset += len(blob)
            header['__metadata__'] = {'format': 'np', 'config': json.dumps({'k': [1, 2]})}
            text = json.dumps(header).encode('utf-8')
            text += b' ' * (-len(text) % 8)
            with open(sys.argv[1], 'wb') as f:
                f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
            """
        let result = try python.run(script: script, arguments: [url.path])
        XCTAssertEqual(result.status, 0, result.errors)
        let file = try SafetensorsFile.read(contentsOf: url)
        XCTAssertEqual(file.tensors.map(\.name), ["conv.bias", "temperature", "conv.weight"])
        XCTAssertEqual(file["conv.bias"]?.values, [1.5, -2.25, 1e-3])
        XCTAssertEqual(file["temperature"], SafetensorsTensor(name: "temperature", shape: [], values: [0.75]))
        XCTAssertEqual(file["conv.weight"]?.shape, [2, 3, 4])
        XCTAssertEqual(file["conv.weight"]?.values, (0..<24).map { Float($0) * 0.5 - 3 })
        XCTAssertEqual(file.metadata, ["format": "np", "config": #"{"k": [1, 2]}"#])
    }

    func testSafetensorsPackageInteropIfInstalled() throws {
        let directory = try makeTemporaryDirectory()
        let python = try requirePython("safetensors.numpy")
        let ours = directory.appendingPathComponent("ours.safetensors")
        let theirs = directory.appendingPathComponent("theirs.safetensors")
        try interopFile.write(to: ours)
        let script = """
            import sys, json
            import numpy as np
            from safetensors.numpy import load_file, save_file
            from safetensors import safe_open
            loaded = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework='np') as f:
                meta = f.metadata()
            print(json.dumps({'sums': {k: float(v.astype(np.float64).sum()) for k, v in loaded.items()}, 'metadata': meta}))
            save_file({'a': np.arange(6, dtype=np.float32).reshape(2, 3), 's': np.array(2.5, dtype=np.float32)},
                      sys.argv[2], metadata={'m': 'v'})
            """
        let result = try python.run(script: script, arguments: [ours.path, theirs.path])
        XCTAssertEqual(result.status, 0, result.errors)
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        XCTAssertEqual(parsed["metadata"] as? [String: String], interopFile.metadata)
        let sums = try XCTUnwrap(parsed["sums"] as? [String: Double])
        for tensor in interopFile.tensors {
            XCTAssertEqual(sums[tensor.name] ?? .nan, tensor.values.reduce(0.0) { $0 + Double($1) }, accuracy: 1e-6)
        }
        let file = try SafetensorsFile.read(contentsOf: theirs)
        XCTAssertEqual(file["a"], SafetensorsTensor(name: "a", shape: [2, 3], values: [0, 1, 2, 3, 4, 5]))
        XCTAssertEqual(file["s"], SafetensorsTensor(name: "s", shape: [], values: [2.5]))
        XCTAssertEqual(file.metadata, ["m": "v"])
    }

    /// `save_file(load_file(m), out, metadata=...)`, as a Python user would re-save a digits model, writes the tensors
    /// in another order; the model must still load and give the same weights.
    func testAModelReSavedByPythonsSafetensorsStillLoads() throws {
        let directory = try makeTemporaryDirectory()
        let python = try requirePython("safetensors.numpy")
        let original = directory.appendingPathComponent("lenet5.safetensors")
        let resaved = directory.appendingPathComponent("resaved.safetensors")
        let model = Model(architecture: Recipe.lenet5.architecture, seed: 2)
        try ModelFile(model: model, options: Recipe.lenet5.options, history: []).write(to: original)
        let script = """
            import sys
            from safetensors import safe_open
            from safetensors.numpy import load_file, save_file
            with safe_open(sys.argv[1], framework='np') as f:
                meta = f.metadata()
            save_file(load_file(sys.argv[1]), sys.argv[2], metadata=meta)
            """
        let result = try python.run(script: script, arguments: [original.path, resaved.path])
        XCTAssertEqual(result.status, 0, result.errors)
        let order = try SafetensorsFile.read(contentsOf: resaved).tensors.map(\.name)
        XCTAssertNotEqual(order, try SafetensorsFile.read(contentsOf: original).tensors.map(\.name), "Python kept our order; the test shows nothing")
        let loaded = try ModelFile.read(contentsOf: resaved)
        XCTAssertEqual(loaded.model.network.parameters.map(\.value), model.network.parameters.map(\.value))
    }
}
