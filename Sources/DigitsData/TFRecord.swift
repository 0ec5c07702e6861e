// TFRecord: the framing of TensorFlow's record files, in which TensorBoard's event logs are written.

/// The TFRecord framing: each record is
///
///     uint64 length          little-endian byte count of the data
///     uint32 masked CRC      masked CRC-32C of those 8 length bytes
///     data                   `length` bytes (for TensorBoard, one serialised Event message)
///     uint32 masked CRC      masked CRC-32C of the data
///
/// A CRC is masked as ((crc >> 15) | (crc << 17)) + 0xA282EAD8 (rotate right by 15, add a constant,
/// modulo 2³²), so that a CRC computed over bytes that themselves hold CRCs is less likely to collide.
public enum TFRecord {
    /// The masked form of `crc`: rotated right by 15 bits, plus 0xA282EAD8 (wrapping).
    public static func mask(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// `data` framed as one record: length, masked CRC of the length, data, masked CRC of the data.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = UInt64(data.count)
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        appendLittleEndian(mask(CRC32C.checksum(out)), to: &out)
        out += data
        appendLittleEndian(mask(CRC32C.checksum(data)), to: &out)
        return out
    }

    private static func appendLittleEndian(_ value: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
}
