import XCTest
@testable import DigitsExport

/// The ONNX messages against bytes worked out by hand from onnx.proto's field numbers.
final class ONNXMessagesTests: XCTestCase {
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
