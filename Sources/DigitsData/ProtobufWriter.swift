// ProtobufWriter: the few pieces of the protocol-buffer wire format that digits' files need (ONNX
// models, TensorBoard event logs).
//
// Goals, in order: bytes that any protobuf parser reads; a format simple enough to check by hand;
// no dependency on a protobuf library or generated code.

/// An encoder for the protocol-buffer wire format (https://protobuf.dev/programming-guides/encoding/).
///
/// A message is a sequence of fields. Each field starts with a tag, the varint `field << 3 | wireType`,
/// followed by its payload:
///
///     wire type 0 (varint)            an integer in base-128, 7 bits a byte, least significant first,
///                                     the high bit set on every byte but the last
///     wire type 1 (fixed64)           8 bytes little-endian: double
///     wire type 2 (length-delimited)  a varint byte count, then the bytes: strings, bytes, nested
///                                     messages and packed repeated scalars
///     wire type 5 (fixed32)           4 bytes little-endian: float
///
/// Signed `int64` / `int32` fields are sent as the 64-bit two's complement, so a negative number always
/// takes 10 bytes (no zig-zag: that is only for `sint64`). Fields are written in the order they are
/// called; parsers accept any order.
///
///     var w = ProtobufWriter()
///     w.writeInt64(field: 1, 300)       // 08 ac 02
///     w.writeString(field: 2, "hi")     // 12 02 68 69
public struct ProtobufWriter {
    /// How a field's payload is laid out after its tag.
    public enum WireType: UInt8, Sendable {
        /// A base-128 varint.
        case varint = 0
        /// 8 bytes little-endian.
        case fixed64 = 1
        /// A varint length, then that many bytes.
        case lengthDelimited = 2
        /// 4 bytes little-endian.
        case fixed32 = 5
    }

    /// The encoded message so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty message.
    public init() {}

    // MARK: - Raw pieces

    /// Appends `value` as a base-128 varint: 7 bits per byte, least significant group first, the high
    /// bit meaning "more bytes follow". 1 → 01; 300 = 0b10_0101100 → ac 02.
    public mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)     // low 7 bits, continuation bit set
            v >>= 7
        }
        bytes.append(UInt8(v))                                     // last group, high bit clear
    }

    /// Appends the tag of field `field`: the varint `field << 3 | wireType`.
    public mutating func appendTag(field: Int, wireType: WireType) {
        precondition(field >= 1 && field < 1 << 29, "ProtobufWriter: field number \(field) is out of range")
        appendVarint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    /// Appends `value` as 4 bytes, little-endian.
    public mutating func appendFixed32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    /// Appends `value` as 8 bytes, little-endian.
    public mutating func appendFixed64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    // MARK: - Fields

    /// An `int64` / `int32` / enum field: tag, then the two's complement as a varint (10 bytes when negative).
    public mutating func writeInt64(field: Int, _ value: Int64) {
        appendTag(field: field, wireType: .varint)
        appendVarint(UInt64(bitPattern: value))
    }

    /// A `float` field: tag, then the IEEE 754 bits as fixed32.
    public mutating func writeFloat(field: Int, _ value: Float) {
        appendTag(field: field, wireType: .fixed32)
        appendFixed32(value.bitPattern)
    }

    /// A `double` field: tag, then the IEEE 754 bits as fixed64.
    public mutating func writeDouble(field: Int, _ value: Double) {
        appendTag(field: field, wireType: .fixed64)
        appendFixed64(value.bitPattern)
    }

    /// A `bytes` field: tag, length, the bytes.
    public mutating func writeBytes(field: Int, _ value: [UInt8]) {
        appendTag(field: field, wireType: .lengthDelimited)
        appendVarint(UInt64(value.count))
        bytes += value
    }

    /// A `string` field: its UTF-8 bytes as a `bytes` field.
    public mutating func writeString(field: Int, _ value: String) {
        writeBytes(field: field, Array(value.utf8))
    }

    /// An embedded message field: tag, length, the message's bytes.
    public mutating func writeMessage(field: Int, _ message: ProtobufWriter) {
        writeBytes(field: field, message.bytes)
    }

    /// An embedded message field built by `build` on a fresh writer.
    public mutating func writeMessage(field: Int, _ build: (inout ProtobufWriter) throws -> Void) rethrows {
        var message = ProtobufWriter()
        try build(&message)
        writeMessage(field: field, message)
    }

    /// A packed `repeated int64` field: one length-delimited field holding every value's varint.
    /// An empty list writes nothing (an absent repeated field is the empty list).
    public mutating func writePackedInt64(field: Int, _ values: [Int64]) {
        guard !values.isEmpty else { return }
        var payload = ProtobufWriter()
        for v in values { payload.appendVarint(UInt64(bitPattern: v)) }
        writeBytes(field: field, payload.bytes)
    }

    /// A packed `repeated float` field: one length-delimited field holding 4 little-endian bytes per value.
    /// An empty list writes nothing.
    public mutating func writePackedFloat(field: Int, _ values: [Float]) {
        guard !values.isEmpty else { return }
        var payload = ProtobufWriter()
        payload.bytes.reserveCapacity(values.count * 4)
        for v in values { payload.appendFixed32(v.bitPattern) }
        writeBytes(field: field, payload.bytes)
    }
}
