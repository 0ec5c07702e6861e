// The 8-lane loads, stores and shuffles the tiled kernels share (internal to DigitsNN): Winograd's tile
// transforms (`WinogradTiling`, `Winograd5x5`) and 2×2 max-pooling.

/// Loads, stores and lane shuffles of 8-float vectors.
enum Lanes {
    typealias V = SIMD8<Float>

    /// The 8 floats at p.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    /// The 16 floats at p.
    @inline(__always)
    static func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }

    /// Writes v to the 8 floats at p.
    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }

    /// The even lanes of the 16 floats v, w (v's first). (A vector built from constant lanes compiles to two
    /// shuffles; `SIMD16.evenHalf` compiled to one insert per lane.)
    @inline(__always)
    static func even(_ v: V, _ w: V) -> V { V(v[0], v[2], v[4], v[6], w[0], w[2], w[4], w[6]) }

    /// The odd lanes of the 16 floats v, w (v's first).
    @inline(__always)
    static func odd(_ v: V, _ w: V) -> V { V(v[1], v[3], v[5], v[7], w[1], w[3], w[5], w[7]) }

    /// The 16 lanes b₀, c₀, b₁, c₁, … of two 8-lane vectors, interleaved.
    @inline(__always)
    static func interleave(_ b: V, _ c: V) -> SIMD16<Float> {
        SIMD16(b[0], c[0], b[1], c[1], b[2], c[2], b[3], c[3], b[4], c[4], b[5], c[5], b[6], c[6], b[7], c[7])
    }
}
