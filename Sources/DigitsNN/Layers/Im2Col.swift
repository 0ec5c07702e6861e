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

    /// y[o, i, j] = b[o] + Σ_{p,q} W[o, p, q] · x[i − pt + p, j − pl + q] (zero outside x) for one sample
    /// x [H, W] into y [O, OH, OW].
    ///
    /// The sample is first copied inside a zero border (so no tap needs an edge test), wide enough for whole
    /// 8-lane pieces of an output row; each piece then stays in a register while all KH·KW taps are added
    /// to it, in the order p, q, as fused multiply-adds.
    static func forward(_ x: UnsafePointer<Float>, _ g: ConvolutionGeometry, weights w: UnsafePointer<Float>,
                        bias b: UnsafePointer<Float>, outputs O: Int, into y: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        let (H, W, OH, OW, KH, KW) = (g.height, g.width, g.outputHeight, g.outputWidth, g.kernelHeight, g.kernelWidth)
        let pieces = (OW + 7) / 8
        let PH = OH + KH - 1, PW = pieces * 8 + KW - 1
        withUnsafeTemporaryAllocation(of: Float.self, capacity: PH * PW) { buffer in
            let xp = buffer.baseAddress!
            xp.initialize(repeating: 0, count: PH * PW)
            for r in 0..<H where r + g.padTop >= 0 && r + g.padTop < PH {
                for c in 0..<W where c + g.padLeft >= 0 && c + g.padLeft < PW {
                    xp[(r + g.padTop) * PW + c + g.padLeft] = x[r * W + c]
                }
            }
            for o in 0..<O {
                let plane = y + o * OH * OW, kernel = w + o * KH * KW
                let bias = V(repeating: b[o])
                for i in 0..<OH {
                    for piece in 0..<pieces {
                        let j = piece * 8
                        var acc = bias
                        for p in 0..<KH {
                            let row = xp + (i + p) * PW + j
                            for q in 0..<KW {
                                // y[o, i, j…j+7] += W[o, p, q] · x[i − pt + p, j − pl + q …]
                                acc.addProduct(V(repeating: kernel[p * KW + q]), UnsafeRawPointer(row + q).loadUnaligned(as: V.self))
                            }
                        }
                        let out = plane + i * OW + j
                        if j + 8 <= OW {
                            UnsafeMutableRawPointer(out).storeBytes(of: acc, as: V.self)
                        } else {
                            for l in 0..<(OW - j) { out[l] = acc[l] }
                        }
                    }
                }
            }
        }
    }

    /// ∂L/∂W[o, p, q] = Σ_{i,j} g[o, i, j] · x[i − pt + p, j − pl + q] for one sample x [H, W] and its output
    /// gradient g [O, OH, OW], written (not added) to dW [O, KH, KW].
    static func weightGradient(_ x: UnsafePointer<Float>, _ g: ConvolutionGeometry, outputGradient dy: UnsafePointer<Float>,
                               outputs O: Int, into dW: UnsafeMutablePointer<Float>) {
        let (W, OH, OW, KH, KW) = (g.width, g.outputHeight, g.outputWidth, g.kernelHeight, g.kernelWidth)
        for o in 0..<O {
            let plane = dy + o * OH * OW
            for p in 0..<KH {
                let rows = ConvolutionGeometry.insideOutputs(kernelOffset: p, pad: g.padTop, stride: 1, size: g.height, outputs: OH)
                for q in 0..<KW {
                    let cols = ConvolutionGeometry.insideOutputs(kernelOffset: q, pad: g.padLeft, stride: 1, size: W, outputs: OW)
                    // Eight running sums across j, then the rest one by one: a fixed order, whatever the thread.
                    var lanes = SIMD8<Float>(), rest: Float = 0
                    for i in rows {
                        let grad = plane + i * OW, input = x + (i - g.padTop + p) * W + (q - g.padLeft)
                        var j = cols.lowerBound
                        while j + 8 <= cols.upperBound {
                            let a = UnsafeRawPointer(grad + j).loadUnaligned(as: SIMD8<Float>.self)
                            let v = UnsafeRawPointer(input + j).loadUnaligned(as: SIMD8<Float>.self)
                            lanes.addProduct(a, v)
                            j += 8
                        }
                        while j < cols.upperBound { rest += grad[j] * input[j]; j += 1 }
                    }
                    dW[(o * KH + p) * KW + q] = lanes.sum() + rest
                }
            }
        }
    }
}
