// The ONNX messages the exporter writes, with their field numbers from onnx.proto.
//
// Field numbers are those of https://github.com/onnx/onnx/blob/main/onnx/onnx.proto (checked against the
// copy shipped in the onnx 1.23 Python package). onnx.proto is proto2; repeated scalars may be sent packed
// or not, and every protobuf parser accepts both, so lists are written packed.

/// One ONNX protobuf message type's field numbers and encoders.
enum ONNX {
    /// `TensorProto.DataType` values.
    enum DataType: Int64 {
        /// 32-bit IEEE float.
        case float = 1
        /// 64-bit signed integer.
        case int64 = 7
    }

    /// `AttributeProto.AttributeType` values.
    enum AttributeType: Int64 {
        case float = 1, int = 2, string = 3, tensor = 4, floats = 6, ints = 7
    }

    /// An attribute value: `AttributeProto` with `type` (20) set and one of f (2), i (3), floats (7), ints (8).
    enum Attribute {
        case float(Float)
        case int(Int)
        case ints([Int])
        case floats([Float])
    }

    /// `TensorProto`: dims (1), data_type (2), name (8), raw_data (9, the values little-endian).
    static func tensor(name: String, shape: [Int], values: [Float]) -> ProtobufWriter {
        precondition(shape.reduce(1, *) == values.count, "ONNX tensor \(name): \(values.count) values for shape \(shape)")
        var w = ProtobufWriter()
        w.writePackedInt64(field: 1, shape.map(Int64.init))
        w.writeInt64(field: 2, DataType.float.rawValue)
        w.writeString(field: 8, name)
        w.writeBytes(field: 9, littleEndianBytes(values))
        return w
    }

    /// An INT64 `TensorProto`, as ReduceSum's `axes` input.
    static func tensor(name: String, shape: [Int], int64Values values: [Int64]) -> ProtobufWriter {
        precondition(shape.reduce(1, *) == values.count, "ONNX tensor \(name): \(values.count) values for shape \(shape)")
        var w = ProtobufWriter()
        w.writePackedInt64(field: 1, shape.map(Int64.init))
        w.writeInt64(field: 2, DataType.int64.rawValue)
        w.writeString(field: 8, name)
        var raw = [UInt8]()
        raw.reserveCapacity(values.count * 8)
        for v in values {
            let bits = UInt64(bitPattern: v)
            for shift in stride(from: 0, to: 64, by: 8) { raw.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        }
        w.writeBytes(field: 9, raw)
        return w
    }

    /// `AttributeProto`: name (1), type (20), and the value in f (2), i (3), floats (7) or ints (8).
    static func attribute(name: String, _ value: Attribute) -> ProtobufWriter {
        var w = ProtobufWriter()
        w.writeString(field: 1, name)
        switch value {
        case .float(let f):
            w.writeFloat(field: 2, f)
            w.writeInt64(field: 20, AttributeType.float.rawValue)
        case .int(let i):
            w.writeInt64(field: 3, Int64(i))
            w.writeInt64(field: 20, AttributeType.int.rawValue)
        case .floats(let fs):
            w.writePackedFloat(field: 7, fs)
            w.writeInt64(field: 20, AttributeType.floats.rawValue)
        case .ints(let values):
            w.writePackedInt64(field: 8, values.map(Int64.init))
            w.writeInt64(field: 20, AttributeType.ints.rawValue)
        }
        return w
    }

    /// `NodeProto`: input (1), output (2), name (3), op_type (4), attribute (5); default domain (ai.onnx).
    static func node(_ opType: String, name: String, inputs: [String], outputs: [String],
                     attributes: [(String, Attribute)] = []) -> ProtobufWriter {
        var w = ProtobufWriter()
        for input in inputs { w.writeString(field: 1, input) }
        for output in outputs { w.writeString(field: 2, output) }
        w.writeString(field: 3, name)
        w.writeString(field: 4, opType)
        for (key, value) in attributes { w.writeMessage(field: 5, attribute(name: key, value)) }
        return w
    }

    /// One dimension of a shape: a fixed size, or a symbolic name such as the batch size "N".
    enum Dimension {
        case value(Int)
        case parameter(String)
    }

    /// `ValueInfoProto` for a float tensor: name (1), type (2) → `TypeProto.tensor_type` (1) →
    /// `TypeProto.Tensor` elem_type (1), shape (2) → `TensorShapeProto.dim` (1) → `Dimension`
    /// dim_value (1) or dim_param (2).
    static func valueInfo(name: String, shape: [Dimension]) -> ProtobufWriter {
        var w = ProtobufWriter()
        w.writeString(field: 1, name)
        w.writeMessage(field: 2) { type in
            type.writeMessage(field: 1) { tensorType in
                tensorType.writeInt64(field: 1, DataType.float.rawValue)
                tensorType.writeMessage(field: 2) { tensorShape in
                    for dimension in shape {
                        tensorShape.writeMessage(field: 1) { d in
                            switch dimension {
                            case .value(let v): d.writeInt64(field: 1, Int64(v))
                            case .parameter(let p): d.writeString(field: 2, p)
                            }
                        }
                    }
                }
            }
        }
        return w
    }

    /// `OperatorSetIdProto`: domain (1, empty for the default ai.onnx set), version (2).
    static func operatorSet(domain: String, version: Int) -> ProtobufWriter {
        var w = ProtobufWriter()
        w.writeString(field: 1, domain)
        w.writeInt64(field: 2, Int64(version))
        return w
    }

    /// Floats as 4 little-endian bytes each (`raw_data` is always little-endian).
    static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        #if _endian(little)
        return values.withUnsafeBytes { Array($0) }
        #else
        var raw = [UInt8]()
        raw.reserveCapacity(values.count * 4)
        for v in values {
            let bits = v.bitPattern
            for shift in stride(from: 0, to: 32, by: 8) { raw.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
        }
        return raw
        #endif
    }
}
