// Lowering a convolution to one matrix product (internal to DigitsNN).
//
// im2col copies each receptive field of an image into a column of a matrix, so that the convolution
// becomes W · columns; col2im adds such a matrix back into an image (the adjoint of im2col), which
// turns ∂L/∂columns into ∂L/∂x. Both work on raw pointers, one sample at a time, and a sample only
// ever writes its own columns or its own image, so splitting a batch across threads never changes a bit.

import Foundation
import DigitsTensor

/// The sizes of one convolution for a given input height and width.
///
/// The column matrix has one row per (c, kh, kw), `patchSize = C·KH·KW` rows, and one column per
/// (sample, oh, ow); within a row the `outputPixels = OH·OW` columns of a sample are contiguous.
struct ConvolutionGeometry: Equatable {
    let channels: Int, height: Int, width: Int
    let kernelHeight: Int, kernelWidth: Int
    let strideHeight: Int, strideWidth: Int
    let padTop: Int, padLeft: Int
    let outputHeight: Int, outputWidth: Int

    /// C·KH·KW: the rows of the column matrix, the columns of the weight matrix.
    var patchSize: Int { channels * kernelHeight * kernelWidth }
    /// OH·OW: the columns one sample occupies.
    var outputPixels: Int { outputHeight * outputWidth }
    /// C·H·W: the elements of one input sample.
    var imageSize: Int { channels * height * width }

    /// The output positions o whose input position o·s − pad + k falls inside 0..<size.
    @inline(__always)
    static func insideOutputs(kernelOffset k: Int, pad: Int, stride s: Int, size: Int, outputs: Int) -> Range<Int> {
        // o·s − pad + k ≥ 0         ⇔  o ≥ ⌈(pad − k) / s⌉
        // o·s − pad + k ≤ size − 1  ⇔  o ≤ ⌊(size − 1 + pad − k) / s⌋
        let lo = min(outputs, max(0, -floorDivision(k - pad, s)))
        let hi = min(outputs, floorDivision(size - 1 + pad - k, s) + 1)
        return lo ..< max(lo, hi)
    }

    /// ⌊a / b⌋ for b > 0 and any sign of a (Swift's `/` rounds toward zero).
    @inline(__always)
    static func floorDivision(_ a: Int, _ b: Int) -> Int {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }
}

enum Im2Col {
    /// columns[(c,kh,kw), oh·OW + ow] = x[c, oh·sh − pt + kh, ow·sw − pl + kw], or 0 in the padding,
    /// for one sample `x` [C, H, W]; `leadingDimension` is the row stride of `columns`.
    static func lower(_ x: UnsafePointer<Float>, _ g: ConvolutionGeometry,
                      into columns: UnsafeMutablePointer<Float>, leadingDimension ld: Int) {
        let (H, W, OH, OW) = (g.height, g.width, g.outputHeight, g.outputWidth)
        let (sh, sw) = (g.strideHeight, g.strideWidth)
        var row = columns
        for c in 0..<g.channels {
            let image = x + c * H * W                                          // x[c]
            for kh in 0..<g.kernelHeight {
                let rows = ConvolutionGeometry.insideOutputs(kernelOffset: kh, pad: g.padTop, stride: sh, size: H, outputs: OH)
                for kw in 0..<g.kernelWidth {
                    let cols = ConvolutionGeometry.insideOutputs(kernelOffset: kw, pad: g.padLeft, stride: sw, size: W, outputs: OW)
                    // output rows whose input row lies in the top / bottom padding: zeros
                    row.update(repeating: 0, count: rows.lowerBound * OW)
                    (row + rows.upperBound * OW).update(repeating: 0, count: (OH - rows.upperBound) * OW)
                    for oh in rows {
                        let out = row + oh * OW
                        let base = (oh * sh - g.padTop + kh) * W - g.padLeft + kw   // index of x[c, ih, iw] at ow = 0
                        out.update(repeating: 0, count: cols.lowerBound)                      // left padding
                        (out + cols.upperBound).update(repeating: 0, count: OW - cols.upperBound) // right padding
                        if sw == 1 {
                            (out + cols.lowerBound).update(from: image + base + cols.lowerBound, count: cols.count) // a run of x[c, ih]
                        } else {
                            for ow in cols { out[ow] = image[base + ow * sw] }                // every sw-th of x[c, ih]
                        }
                    }
                    row += ld
                }
            }
        }
    }

    /// dx[c, ih, iw] = Σ dColumns[(c,kh,kw), oh·OW + ow] over all (kh, kw, oh, ow) that read x[c, ih, iw]:
    /// the adjoint of `lower`, for one sample `dx` [C, H, W], which it overwrites.
    static func raise(_ dColumns: UnsafePointer<Float>, leadingDimension ld: Int, _ g: ConvolutionGeometry,
                      into dx: UnsafeMutablePointer<Float>) {
        let (H, W, OH, OW) = (g.height, g.width, g.outputHeight, g.outputWidth)
        let (sh, sw) = (g.strideHeight, g.strideWidth)
        dx.update(repeating: 0, count: g.imageSize)                                 // dx = 0, then accumulate
        var row = dColumns
        for c in 0..<g.channels {
            let image = dx + c * H * W                                              // dx[c]
            for kh in 0..<g.kernelHeight {
                let rows = ConvolutionGeometry.insideOutputs(kernelOffset: kh, pad: g.padTop, stride: sh, size: H, outputs: OH)
                for kw in 0..<g.kernelWidth {
                    let cols = ConvolutionGeometry.insideOutputs(kernelOffset: kw, pad: g.padLeft, stride: sw, size: W, outputs: OW)
                    for oh in rows {
                        let column = row + oh * OW
                        let base = (oh * sh - g.padTop + kh) * W - g.padLeft + kw
                        if sw == 1 {
                            // dx[c, ih, iw] += dColumns[.., oh·OW + ow] on a contiguous run
                            Kernels.axpy(cols.count, alpha: 1, column + cols.lowerBound, image + base + cols.lowerBound)
                        } else {
                            for ow in cols { image[base + ow * sw] += column[ow] }
                        }
                    }
                    row += ld
                }
            }
        }
    }
}

/// A convolution over one input channel with stride 1, computed directly rather than through im2col: the
/// first layer of every convolutional recipe, where the column matrix would copy each pixel KH·KW times
/// and the product's inner dimension (KH·KW) is too short for BLAS to run well. Same sums as the
/// matrix product, so the results agree with it to float rounding.
enum DirectConvolution {
    /// Whether `g` is a case this kernel computes: one input channel, stride 1.
    static func applies(to g: ConvolutionGeometry) -> Bool {
        g.channels == 1 && g.strideHeight == 1 && g.strideWidth == 1
    }

    /// y[o, i, j] = b[o] + Σ_{p,q} W[o, p, q] · x[i − pt + p, j − pl + q] (zero outside x) for `samples`
    /// consecutive samples x [H, W] into y [O, OH, OW] each.
    ///
    /// Each sample is first copied inside a zero border (so no tap needs an edge test), wide enough for whole
    /// groups of 32 outputs; the border is zeroed once for all of them. Two output channels and 32 outputs of a row (eight 8-lane registers) are then
    /// computed together: each tap's four input loads serve both channels. Every output adds its taps to
    /// the bias in the order p, q, as fused multiply-adds.
    static func forward(_ x: UnsafePointer<Float>, samples: Int, _ g: ConvolutionGeometry, weights w: UnsafePointer<Float>,
                        bias b: UnsafePointer<Float>, outputs O: Int, into y: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        let (OH, OW, KH, KW) = (g.outputHeight, g.outputWidth, g.kernelHeight, g.kernelWidth)
        let taps = KH * KW, groups = (OW + 31) / 32
        let PH = OH + KH - 1, PW = groups * 32 + KW - 1
        withUnsafeTemporaryAllocation(of: Float.self, capacity: PH * PW + taps) { buffer in
            let xp = buffer.baseAddress!, zeroKernel = xp + PH * PW   // the partner of an odd last channel
            xp.initialize(repeating: 0, count: PH * PW + taps)
            /// Stores the 32 outputs in `v` from column j of an output row, those inside the row.
            @inline(__always) func store(_ v: (V, V, V, V), _ row: UnsafeMutablePointer<Float>, _ j: Int) {
                @inline(__always) func piece(_ piece: V, _ at: Int) {
                    if at + 8 <= OW {
                        UnsafeMutableRawPointer(row + at).storeBytes(of: piece, as: V.self)
                    } else if at < OW {
                        for l in 0..<(OW - at) { row[at + l] = piece[l] }
                    }
                }
                piece(v.0, j); piece(v.1, j + 8); piece(v.2, j + 16); piece(v.3, j + 24)
            }
            for sample in 0..<samples {
            copyPadded(x + sample * g.imageSize, g, into: xp, rows: PH, width: PW)
            let y = y + sample * O * OH * OW
            for o in stride(from: 0, to: O, by: 2) {
                let pair = o + 1 < O
                let k0 = w + o * taps, k1 = pair ? w + (o + 1) * taps : UnsafePointer(zeroKernel)
                let b0 = V(repeating: b[o]), b1 = V(repeating: pair ? b[o + 1] : 0)
                for i in 0..<OH {
                    for group in 0..<groups {
                        let j = group * 32
                        var (a0, a1, a2, a3) = (b0, b0, b0, b0), (c0, c1, c2, c3) = (b1, b1, b1, b1)
                        for p in 0..<KH {
                            let row = xp + (i + p) * PW + j
                            for q in 0..<KW {
                                // y[o, i, j…j+31] += W[o, p, q] · x[i − pt + p, j − pl + q …], and for o + 1
                                let w0 = V(repeating: k0[p * KW + q]), w1 = V(repeating: k1[p * KW + q])
                                let x0 = load(row + q), x1 = load(row + q + 8), x2 = load(row + q + 16), x3 = load(row + q + 24)
                                a0.formMulAdd(w0, x0); a1.formMulAdd(w0, x1); a2.formMulAdd(w0, x2); a3.formMulAdd(w0, x3)
                                c0.formMulAdd(w1, x0); c1.formMulAdd(w1, x1); c2.formMulAdd(w1, x2); c3.formMulAdd(w1, x3)
                            }
                        }
                        store((a0, a1, a2, a3), y + (o * OH + i) * OW, j)
                        if pair { store((c0, c1, c2, c3), y + ((o + 1) * OH + i) * OW, j) }
                    }
                }
            }
            }
        }
    }

    /// ∂L/∂W[o, p, q] = Σ_{i,j} g[o, i, j] · x[i − pt + p, j − pl + q] for each of `samples` consecutive
    /// samples x [H, W] and their output gradients g [O, OH, OW], written (not added) to one dW [O, KH, KW]
    /// per sample.
    ///
    /// Over the zero-bordered sample and the output gradient's rows padded with zeros to whole 8-lane
    /// pieces, two channels and four taps q at a time (five for a row of five): eight (ten) running sums of 8
    /// lanes each, every input load serving both channels and every gradient load four (five) taps. Each sum runs over i, then the pieces j, and
    /// ends adding its 8 lanes: a fixed order, whatever the thread.
    static func weightGradient(_ x: UnsafePointer<Float>, samples: Int, _ g: ConvolutionGeometry,
                               outputGradient dy: UnsafePointer<Float>, outputs O: Int, into dW: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        let (OH, OW, KH, KW) = (g.outputHeight, g.outputWidth, g.kernelHeight, g.kernelWidth)
        let pieces = (OW + 7) / 8, GW = pieces * 8
        let PH = OH + KH - 1, PW = GW + KW - 1 + 3   // + 3: a group of four taps may run past the last one
        withUnsafeTemporaryAllocation(of: Float.self, capacity: PH * PW + 2 * OH * GW) { buffer in
            let xp = buffer.baseAddress!, gp = xp + PH * PW   // then two padded gradient planes
            xp.initialize(repeating: 0, count: PH * PW + 2 * OH * GW)
            for sample in 0..<samples {
            copyPadded(x + sample * g.imageSize, g, into: xp, rows: PH, width: PW)
            let (dy, dW) = (dy + sample * O * OH * OW, dW + sample * O * KH * KW)
            for o in stride(from: 0, to: O, by: 2) {
                let pair = o + 1 < O
                for i in 0..<OH {
                    (gp + i * GW).update(from: dy + (o * OH + i) * OW, count: OW)
                    if pair { (gp + (OH + i) * GW).update(from: dy + ((o + 1) * OH + i) * OW, count: OW) }
                }
                if !pair { (gp + OH * GW).update(repeating: 0, count: OH * GW) }
                /// The sums of taps q0 ..< q0 + n of kernel row p (n = 4 or 5, a constant at each call), both channels.
                @inline(__always) func sums(_ p: Int, _ q0: Int, _ n: Int) {
                    var (a0, a1, a2, a3, a4) = (V(), V(), V(), V(), V()), (c0, c1, c2, c3, c4) = (V(), V(), V(), V(), V())
                    for i in 0..<OH {
                        let row = xp + (i + p) * PW + q0, g0 = gp + i * GW, g1 = g0 + OH * GW
                        for j in stride(from: 0, to: GW, by: 8) {
                            // Σ g[o, i, j…] · x[i − pt + p, j − pl + q …] for q = q0 … q0 + n − 1, and for o + 1
                            let u = load(g0 + j), v = load(g1 + j)
                            let x0 = load(row + j), x1 = load(row + j + 1), x2 = load(row + j + 2), x3 = load(row + j + 3)
                            a0.formMulAdd(u, x0); a1.formMulAdd(u, x1); a2.formMulAdd(u, x2); a3.formMulAdd(u, x3)
                            c0.formMulAdd(v, x0); c1.formMulAdd(v, x1); c2.formMulAdd(v, x2); c3.formMulAdd(v, x3)
                            if n > 4 {
                                let x4 = load(row + j + 4)
                                a4.formMulAdd(u, x4); c4.formMulAdd(v, x4)
                            }
                        }
                    }
                    let sums = (SIMD8(a0.sum(), a1.sum(), a2.sum(), a3.sum(), a4.sum(), 0, 0, 0),
                                SIMD8(c0.sum(), c1.sum(), c2.sum(), c3.sum(), c4.sum(), 0, 0, 0))
                    for t in 0..<min(n, KW - q0) {
                        dW[(o * KH + p) * KW + q0 + t] = sums.0[t]
                        if pair { dW[((o + 1) * KH + p) * KW + q0 + t] = sums.1[t] }
                    }
                }
                for p in 0..<KH {
                    // Four taps at a time; a row of five (5×5 kernels) in one go, ten sums in flight.
                    var q0 = 0
                    while q0 < KW {
                        if KW - q0 == 5 {
                            sums(p, q0, 5)
                            q0 += 5
                        } else {
                            sums(p, q0, 4)
                            q0 += 4
                        }
                    }
                }
            }
            }
        }
    }

    /// Copies the sample x [H, W] into the zeroed `rows`×`width` plane at `xp`, x[r, c] at (r + pt, c + pl),
    /// leaving out what falls outside it.
    private static func copyPadded(_ x: UnsafePointer<Float>, _ g: ConvolutionGeometry, into xp: UnsafeMutablePointer<Float>,
                                   rows: Int, width: Int) {
        for r in 0..<g.height where r + g.padTop >= 0 && r + g.padTop < rows {
            for c in 0..<g.width where c + g.padLeft >= 0 && c + g.padLeft < width {
                xp[(r + g.padTop) * width + c + g.padLeft] = x[r * g.width + c]
            }
        }
    }
}
