// SHA-256 (FIPS 180-4) through swift-crypto, the Swift server ecosystem's maintained implementation (BoringSSL's
// assembly on Linux, CryptoKit on Apple's systems): digits checks downloads and records the provenance of the
// data it trains on and the weights it writes with it. Each MNIST load hashes about 55 MB, so its speed shows
// in every short run (BENCHMARKS.md, 2026-12-07).

import Crypto

/// The SHA-256 hash function (FIPS 180-4), as digits uses it: a whole buffer in, the digest out.
public enum SHA256 {
    /// The 32-byte SHA-256 digest of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        Array(Crypto.SHA256.hash(data: bytes))
    }

    /// The digest of `bytes` as 64 lower-case hexadecimal digits.
    public static func hexDigest(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(64)
        for byte in Crypto.SHA256.hash(data: bytes) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
