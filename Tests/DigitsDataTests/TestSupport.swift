// Helpers shared by the DigitsData tests: temporary directories, small IDX files, gzip compression.

import CZlib
import Foundation
import XCTest
import DigitsData

/// A fresh temporary directory, removed when the test case finishes.
func makeTemporaryDirectory(_ testCase: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("digits-data-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    testCase.addTeardownBlock {
        try? FileManager.default.removeItem(at: url)
    }
    return url
}

/// The bytes of an IDX file with the given type byte, dimensions and payload (nothing checked).
func idxBytes(type: UInt8 = 0x08, dimensions: [UInt32], payload: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0, 0, type, UInt8(truncatingIfNeeded: dimensions.count)]
    for d in dimensions {
        out += [UInt8(d >> 24), UInt8((d >> 16) & 0xFF), UInt8((d >> 8) & 0xFF), UInt8(d & 0xFF)]
    }
    return out + payload
}

/// `count` synthetic 28×28 images: image i has pixel p equal to (i * 31 + p) mod 256.
func syntheticPixels(count: Int, rows: Int = 28, columns: Int = 28) -> [UInt8] {
    (0..<(count * rows * columns)).map { UInt8(truncatingIfNeeded: ($0 / (rows * columns)) * 31 + $0) }
}

/// An images IDX file of `count` synthetic images.
func imagesFile(count: Int, rows: Int = 28, columns: Int = 28) -> [UInt8] {
    idxBytes(dimensions: [UInt32(count), UInt32(rows), UInt32(columns)],
             payload: syntheticPixels(count: count, rows: rows, columns: columns))
}

/// A labels IDX file holding `labels`.
func labelsFile(_ labels: [UInt8]) -> [UInt8] {
    idxBytes(dimensions: [UInt32(labels.count)], payload: labels)
}

/// `bytes` compressed as a single gzip member (zlib, windowBits 15 + 16).
func gzipCompress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
    var stream = z_stream()
    let initCode = deflateInit2_(&stream, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY,
                                 ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    precondition(initCode == Z_OK, "deflateInit2_ failed: \(initCode)")
    defer { deflateEnd(&stream) }
    var input = bytes
    let bound = Int(deflateBound(&stream, uLong(bytes.count)))
    var output = [UInt8](repeating: 0, count: bound + 64)
    let produced: Int = input.withUnsafeMutableBufferPointer { inBuf in
        output.withUnsafeMutableBufferPointer { outBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inBuf.count)
            stream.next_out = outBuf.baseAddress
            stream.avail_out = uInt(outBuf.count)
            let code = deflate(&stream, Z_FINISH)
            precondition(code == Z_STREAM_END, "deflate did not finish: \(code)")
            return outBuf.count - Int(stream.avail_out)
        }
    }
    return Array(output[0..<produced])
}

/// Writes `bytes` to `name` inside `directory` and returns the file's URL.
@discardableResult
func write(_ bytes: [UInt8], to name: String, in directory: URL) throws -> URL {
    let url = directory.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

/// The error `body` throws, failing the test if it throws none or one of another type.
func thrownError<E: Error>(_ type: E.Type, file: StaticString = #filePath, line: UInt = #line,
                           _ body: () throws -> Void) -> E? {
    do {
        try body()
        XCTFail("expected an error of type \(E.self), none thrown", file: file, line: line)
    } catch let error as E {
        return error
    } catch {
        XCTFail("expected \(E.self), got \(Swift.type(of: error)): \(error)", file: file, line: line)
    }
    return nil
}
