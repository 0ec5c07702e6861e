// SHA-256 as specified in FIPS 180-4, written out here so that digits can check downloads and
// record the provenance of the data it trains on without depending on a crypto library.

/// The SHA-256 hash function (FIPS 180-4).
public enum SHA256 {
    /// The first 32 bits of the fractional parts of the cube roots of the first 64 primes (FIPS 180-4, 4.2.2).
    private static let roundConstants: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    /// The initial hash value: the first 32 bits of the fractional parts of the square roots of the first 8 primes.
    private static let initialState: [UInt32] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]

    /// The 32-byte SHA-256 digest of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var state = initialState
        let fullBlocks = bytes.count / 64
        // The tail: the bytes after the last full block, the 0x80 marker, zeros, and the bit length (big-endian).
        let tailCount = bytes.count - fullBlocks * 64
        var tail = [UInt8](bytes[(fullBlocks * 64)...])
        tail.append(0x80)
        let padded = tailCount + 1 + 8 <= 64 ? 64 : 128
        tail.append(contentsOf: [UInt8](repeating: 0, count: padded - tail.count - 8))
        let bitLength = UInt64(bytes.count) &* 8
        for shift in stride(from: 56, through: 0, by: -8) {
            tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }

        state.withUnsafeMutableBufferPointer { h in
            roundConstants.withUnsafeBufferPointer { k in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                    bytes.withUnsafeBytes { raw in
                        compress(raw, blocks: fullBlocks, state: h, k: k, w: w)
                    }
                    tail.withUnsafeBytes { raw in
                        compress(raw, blocks: padded / 64, state: h, k: k, w: w)
                    }
                }
            }
        }

        var out = [UInt8]()
        out.reserveCapacity(32)
        for word in state {
            out.append(UInt8(truncatingIfNeeded: word >> 24))
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            out.append(UInt8(truncatingIfNeeded: word >> 8))
            out.append(UInt8(truncatingIfNeeded: word))
        }
        return out
    }

    /// The SHA-256 digest of `bytes` as 64 lowercase hexadecimal digits.
    public static func hexDigest(_ bytes: [UInt8]) -> String {
        digest(bytes).map { hexByte($0) }.joined()
    }

    /// Runs the compression function over `blocks` consecutive 64-byte blocks at the start of `data`.
    @inline(__always)
    private static func compress(_ data: UnsafeRawBufferPointer, blocks: Int,
                                 state h: UnsafeMutableBufferPointer<UInt32>,
                                 k: UnsafeBufferPointer<UInt32>, w: UnsafeMutableBufferPointer<UInt32>) {
        guard blocks > 0, let base = data.baseAddress, let hp = h.baseAddress,
              let kp = k.baseAddress, let wp = w.baseAddress else { return }
        // `while` loops and `&`-operators rather than ranges and checked arithmetic: the same code when optimized,
        // several times faster in debug builds, where tests hash the 55 MB of MNIST.
        var block = 0
        while block < blocks {
            let p = base + block &* 64
            block &+= 1
            var t = 0
            while t < 16 {
                wp[t] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: t &* 4, as: UInt32.self))
                t &+= 1
            }
            while t < 64 {
                let w15 = wp[t &- 15], w2 = wp[t &- 2]
                let s0 = ((w15 &>> 7) | (w15 &<< 25)) ^ ((w15 &>> 18) | (w15 &<< 14)) ^ (w15 &>> 3)
                let s1 = ((w2 &>> 17) | (w2 &<< 15)) ^ ((w2 &>> 19) | (w2 &<< 13)) ^ (w2 &>> 10)
                wp[t] = wp[t &- 16] &+ s0 &+ wp[t &- 7] &+ s1
                t &+= 1
            }
            var a = hp[0], b = hp[1], c = hp[2], d = hp[3]
            var e = hp[4], f = hp[5], g = hp[6], hh = hp[7]
            t = 0
            while t < 64 {
                let s1 = ((e &>> 6) | (e &<< 26)) ^ ((e &>> 11) | (e &<< 21)) ^ ((e &>> 25) | (e &<< 7))
                let ch = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ ch &+ kp[t] &+ wp[t]
                let s0 = ((a &>> 2) | (a &<< 30)) ^ ((a &>> 13) | (a &<< 19)) ^ ((a &>> 22) | (a &<< 10))
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                hh = g; g = f; f = e; e = d &+ t1
                d = c; c = b; b = a; a = t1 &+ t2
                t &+= 1
            }
            hp[0] &+= a; hp[1] &+= b; hp[2] &+= c; hp[3] &+= d
            hp[4] &+= e; hp[5] &+= f; hp[6] &+= g; hp[7] &+= hh
        }
    }
}
