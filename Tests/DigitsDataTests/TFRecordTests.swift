import XCTest
@testable import DigitsData

/// CRC-32C against published check values, and the TFRecord framing against bytes worked out with an
/// independent bit-by-bit CRC.
final class TFRecordTests: XCTestCase {
    func testCRC32CCheckValues() {
        // The CRC catalogue's check value for CRC-32C.
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        // RFC 3720 (iSCSI), appendix B.4: 32 bytes of zeros, of ones, ascending and descending.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
    }

    func testCRC32CTable() {
        // Byte 0x80: seven shifts bring its one bit down to bit 0, the eighth shifts it out, so the
        // remainder is the polynomial itself.
        XCTAssertEqual(CRC32C.table[0], 0)
        XCTAssertEqual(CRC32C.table[128], CRC32C.polynomial)
        XCTAssertEqual(CRC32C.table.count, 256)
    }

    func testMask() {
        XCTAssertEqual(TFRecord.mask(0), 0xA282_EAD8)
        // Bit 15 rotates down to bit 0.
        XCTAssertEqual(TFRecord.mask(0x0000_8000), 0xA282_EAD9)
        // The addition wraps modulo 2³².
        XCTAssertEqual(TFRecord.mask(0xFFFF_FFFF), 0xA282_EAD7)
    }

    func testFrame() {
        // Length 3 as 8 little-endian bytes; masked CRC-32C of those bytes is 0x0E4999B0; the data;
        // masked CRC-32C of the data (CRC 0xF130F21E) is 0x86C0CD39.
        XCTAssertEqual(TFRecord.frame([1, 2, 3]),
                       [3, 0, 0, 0, 0, 0, 0, 0, 0xB0, 0x99, 0x49, 0x0E, 1, 2, 3, 0x39, 0xCD, 0xC0, 0x86])
        // An empty record: a zero length (CRC 0x8C28B28A, masked 0x07980329) and the mask of CRC 0.
        XCTAssertEqual(TFRecord.frame([]),
                       [0, 0, 0, 0, 0, 0, 0, 0, 0x29, 0x03, 0x98, 0x07, 0xD8, 0xEA, 0x82, 0xA2])
    }
}
