// MultiplyAdd: c + a·b, fused where the build may assume the CPU fuses it.
//
// `addingProduct` is IEEE fused multiply-add: one rounding, and one instruction on a CPU with FMA. A build for
// the x86-64 baseline (SSE2, the portable build a package that depends on digits gets) cannot assume FMA, so
// LLVM turns each lane of each `addingProduct` into a call to the C library's software `fmaf`: the portable
// mlp recipe took 67 s instead of 1.5-3 s (AMD EPYC Zen 4). The kernels call `mulAdd` instead: fused where
// the CPU is known to have FMA (arm64 always; x86-64 when built with DIGITS_FAST=1, which targets the
// building CPU), a multiply then an add elsewhere. Each build gives the same results run after run; the two
// differ in the last bits, as any two CPUs' sums of a different order would.

/// Whether this build may assume the CPU fuses multiply-add. Inlinable, so that it is a constant wherever `mulAdd`
/// is inlined and each call compiles to one form, without a branch.
@inlinable @inline(__always)
var buildHasHardwareFMA: Bool {
    #if arch(arm64) || DIGITS_HARDWARE_FMA
    return true
    #else
    return false
    #endif
}

extension SIMD where Scalar: FloatingPoint {
    /// self + a·b, lane by lane: fused multiply-add where the build targets a CPU with FMA.
    @inlinable @inline(__always)
    public func mulAdd(_ a: Self, _ b: Self) -> Self {
        buildHasHardwareFMA ? addingProduct(a, b) : self + a * b
    }

    /// self + a·b with a scalar a, lane by lane: fused multiply-add where the build targets a CPU with FMA.
    @inlinable @inline(__always)
    public func mulAdd(_ a: Scalar, _ b: Self) -> Self {
        buildHasHardwareFMA ? addingProduct(a, b) : self + a * b
    }

    /// self ← self + a·b, lane by lane (`mulAdd` in place).
    @inlinable @inline(__always)
    public mutating func formMulAdd(_ a: Self, _ b: Self) { self = mulAdd(a, b) }

    /// self ← self + a·b with a scalar a, lane by lane (`mulAdd` in place).
    @inlinable @inline(__always)
    public mutating func formMulAdd(_ a: Scalar, _ b: Self) { self = mulAdd(a, b) }
}

extension Float {
    /// self + a·b: fused multiply-add where the build targets a CPU with FMA.
    @inlinable @inline(__always)
    public func mulAdd(_ a: Float, _ b: Float) -> Float {
        buildHasHardwareFMA ? addingProduct(a, b) : self + a * b
    }

    /// self ← self + a·b (`mulAdd` in place).
    @inlinable @inline(__always)
    public mutating func formMulAdd(_ a: Float, _ b: Float) { self = mulAdd(a, b) }
}
