import XCTest
@testable import DigitsExport

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

    func testONNXMessages() {
        // AttributeProto { name: "axis", i: 1, type: INT (2) }.
        XCTAssertEqual(ONNX.attribute(name: "axis", .int(1)).bytes,
                       [0x0A, 0x04, 0x61, 0x78, 0x69, 0x73, 0x18, 0x01, 0xA0, 0x01, 0x02])
        // TensorProto { dims: [2] packed, data_type: FLOAT, name: "w", raw_data: 1.0, 2.0 }.
        XCTAssertEqual(ONNX.tensor(name: "w", shape: [2], values: [1, 2]).bytes,
                       [0x0A, 0x01, 0x02, 0x10, 0x01, 0x42, 0x01, 0x77,
                        0x4A, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40])
        // A scalar: no dims field at all.
        XCTAssertEqual(ONNX.tensor(name: "s", shape: [], values: [0]).bytes,
                       [0x10, 0x01, 0x42, 0x01, 0x73, 0x4A, 0x04, 0x00, 0x00, 0x00, 0x00])
    }
}
