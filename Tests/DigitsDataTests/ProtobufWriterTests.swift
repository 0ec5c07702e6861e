import XCTest
import DigitsData

/// The wire format against bytes worked out by hand (several are the examples of protobuf.dev's
/// "Encoding" guide).
final class ProtobufWriterTests: XCTestCase {
    private func bytes(_ build: (inout ProtobufWriter) -> Void) -> [UInt8] {
        var w = ProtobufWriter()
        build(&w)
        return w.bytes
    }

    func testVarintsOfOneAnd300() {
        XCTAssertEqual(bytes { $0.appendVarint(0) }, [0x00])
        XCTAssertEqual(bytes { $0.appendVarint(1) }, [0x01])
        XCTAssertEqual(bytes { $0.appendVarint(127) }, [0x7F])
        XCTAssertEqual(bytes { $0.appendVarint(128) }, [0x80, 0x01])
        // 300 = 0b10_0101100: low group 0101100 with the continuation bit → 0xAC, then 0b10 → 0x02.
        XCTAssertEqual(bytes { $0.appendVarint(300) }, [0xAC, 0x02])
        XCTAssertEqual(bytes { $0.appendVarint(UInt64.max) }, [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    func testInt64FieldsIncludingNegatives() {
        // Tag of field 1, varint: 1 << 3 | 0 = 0x08.
        XCTAssertEqual(bytes { $0.writeInt64(field: 1, 1) }, [0x08, 0x01])
        XCTAssertEqual(bytes { $0.writeInt64(field: 1, 150) }, [0x08, 0x96, 0x01])
        XCTAssertEqual(bytes { $0.writeInt64(field: 1, 300) }, [0x08, 0xAC, 0x02])
        // −1 is 2⁶⁴ − 1 as two's complement: nine 0xFF groups and a final 0x01 (10 bytes, no zig-zag).
        XCTAssertEqual(bytes { $0.writeInt64(field: 1, -1) }, [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        // −2: the low group is 1111110 with the continuation bit → 0xFE.
        XCTAssertEqual(bytes { $0.writeInt64(field: 1, -2) }, [0x08, 0xFE] + [UInt8](repeating: 0xFF, count: 8) + [0x01])
        // Field 20 (AttributeProto.type): 20 << 3 = 160 needs two varint bytes, A0 01.
        XCTAssertEqual(bytes { $0.writeInt64(field: 20, 7) }, [0xA0, 0x01, 0x07])
    }

    func testStringsFloatsAndFixed32() {
        // Field 2, length-delimited: 2 << 3 | 2 = 0x12, length 7, "testing".
        XCTAssertEqual(bytes { $0.writeString(field: 2, "testing") },
                       [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6E, 0x67])
        XCTAssertEqual(bytes { $0.writeString(field: 1, "") }, [0x0A, 0x00])
        // Field 2, fixed32: 2 << 3 | 5 = 0x15; 1.0f is 0x3F800000, little-endian.
        XCTAssertEqual(bytes { $0.writeFloat(field: 2, 1) }, [0x15, 0x00, 0x00, 0x80, 0x3F])
        XCTAssertEqual(bytes { $0.writeFloat(field: 2, -2) }, [0x15, 0x00, 0x00, 0x00, 0xC0])
        // Field 1, fixed64: 1 << 3 | 1 = 0x09; 1.0 is 0x3FF0000000000000, little-endian.
        XCTAssertEqual(bytes { $0.writeDouble(field: 1, 1) }, [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F])
        // −2.5 is 0xC004000000000000.
        XCTAssertEqual(bytes { $0.writeDouble(field: 1, -2.5) }, [0x09, 0, 0, 0, 0, 0, 0, 0x04, 0xC0])
        XCTAssertEqual(bytes { $0.appendFixed64(0x0102030405060708) }, [8, 7, 6, 5, 4, 3, 2, 1])
    }

    func testNestedMessage() {
        // message Test1 { int32 a = 1; }  message Test3 { Test1 c = 3; }  with a = 150:
        // 3 << 3 | 2 = 0x1A, length 3, then Test1's bytes 08 96 01.
        XCTAssertEqual(bytes { $0.writeMessage(field: 3) { $0.writeInt64(field: 1, 150) } },
                       [0x1A, 0x03, 0x08, 0x96, 0x01])
        // Two levels: the inner length counts the innermost message's bytes, the outer one the middle's.
        XCTAssertEqual(bytes { outer in
            outer.writeMessage(field: 1) { middle in
                middle.writeString(field: 1, "N")
                middle.writeMessage(field: 2) { $0.writeInt64(field: 1, 28) }
            }
        }, [0x0A, 0x07, 0x0A, 0x01, 0x4E, 0x12, 0x02, 0x08, 0x1C])
        // An empty embedded message is a tag and a zero length.
        XCTAssertEqual(bytes { $0.writeMessage(field: 7) { _ in } }, [0x3A, 0x00])
    }

    func testPackedRepeatedFields() {
        // repeated int32 f = 4 [packed]: [3, 270, 86942] → 22 06 03 8E 02 9E A7 05.
        XCTAssertEqual(bytes { $0.writePackedInt64(field: 4, [3, 270, 86942]) },
                       [0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05])
        // A negative entry takes 10 bytes inside the packed payload.
        XCTAssertEqual(bytes { $0.writePackedInt64(field: 1, [-1]) }, [0x0A, 0x0A] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        // repeated float floats = 7: 4 bytes each.
        XCTAssertEqual(bytes { $0.writePackedFloat(field: 7, [1, -2]) },
                       [0x3A, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
        // An empty list is an absent field.
        XCTAssertEqual(bytes { $0.writePackedInt64(field: 1, []) }, [])
        XCTAssertEqual(bytes { $0.writePackedFloat(field: 1, []) }, [])
    }
}
