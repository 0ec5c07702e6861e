// CRC-32C (Castagnoli), the checksum that TFRecord files (TensorBoard's event logs) put around each
// record. Written out here, table-driven, so digits needs no checksum library.

/// The CRC-32C checksum (Castagnoli polynomial 0x1EDC6F41; RFC 3720, appendix B.4).
///
/// Bits are processed least significant first ("reflected"), so the polynomial appears reversed as
/// 0x82F63B78. The register starts at all ones and is inverted at the end:
///
///     crc = 0xFFFFFFFF
///     for each byte b:  crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
///     result = crc ^ 0xFFFFFFFF
///
/// where `table[n]` is the remainder of the byte `n` alone, found by eight shift-and-subtract steps.
/// The check value is crc32c("123456789") = 0xE3069283.
public enum CRC32C {
    /// The reversed Castagnoli polynomial.
    public static let polynomial: UInt32 = 0x82F6_3B78

    /// The remainder of each byte value: eight steps of "shift right, subtract (xor) the polynomial
    /// when the bit shifted out was 1".
    static let table: [UInt32] = (0..<256).map { n in
        var r = UInt32(n)
        for _ in 0..<8 { r = r & 1 == 1 ? (r >> 1) ^ polynomial : r >> 1 }
        return r
    }

    /// The CRC-32C of `bytes`.
    public static func checksum<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }
}
