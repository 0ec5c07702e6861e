// Seeded random numbers: every random draw in digits comes from a `SeededGenerator`,
// so the same seed gives the same weights, the same shuffles and the same results.

/// A small, fast, seedable generator (xoshiro256**, state filled from the seed by SplitMix64).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose whole sequence is fixed by `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// A generator that continues from `stateWords` as taken from another one; nil unless there are
    /// exactly four words and not all are zero (xoshiro's one state that never leaves zero).
    public init?(stateWords: [UInt64]) {
        guard stateWords.count == 4, stateWords.contains(where: { $0 != 0 }) else { return nil }
        s = (stateWords[0], stateWords[1], stateWords[2], stateWords[3])
    }

    /// The generator's whole state, four words: a generator made from them draws the same numbers next.
    public var stateWords: [UInt64] { [s.0, s.1, s.2, s.3] }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        @inline(__always) func rotl(_ v: UInt64, _ k: UInt64) -> UInt64 { (v << k) | (v >> (64 - k)) }
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    /// A uniform `Float` in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A draw from the normal distribution N(mean, std²), by the Box–Muller transform.
    public mutating func nextNormal(mean: Float = 0, std: Float = 1) -> Float {
        // u1 in (0, 1] so that log(u1) is finite.
        let u1 = Double((next() >> 11) + 1) * (1.0 / 9_007_199_254_740_992.0)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return mean + std * Float(z)
    }

    /// A uniform integer in 0..<bound, without modulo bias.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next(upperBound: UInt64(bound)))
    }

    /// Shuffles `array` in place (Fisher–Yates), the same way for the same generator state on every platform.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }
}

extension SeededGenerator: Codable {
    /// Reads the state written by `encode(to:)`: four 16-digit hexadecimal words.
    public init(from decoder: Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var words: [UInt64] = []
        while !container.isAtEnd {
            let text = try container.decode(String.self)
            guard text.utf8.count == 16, let word = UInt64(text, radix: 16) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription:
                    "generator state word '\(text)' is not 16 hexadecimal digits")
            }
            words.append(word)
        }
        guard let generator = SeededGenerator(stateWords: words) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription:
                "a generator state is four words, not all zero (got \(words.count))")
        }
        self = generator
    }

    /// Writes the state as four 16-digit hexadecimal words (exact in any JSON reader).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.unkeyedContainer()
        for word in stateWords {
            let digits = String(word, radix: 16)
            try container.encode(String(repeating: "0", count: 16 - digits.count) + digits)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
