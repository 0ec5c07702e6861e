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

/// A block of `Float`s a layer keeps between calls; it grows when asked for more and never shrinks.
final class ScratchBuffer {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init() {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: 0)
        capacity = 1
    }

    /// A pointer to at least `count` elements (contents unspecified after growing).
    func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            pointer = .allocate(capacity: count)
            pointer.initialize(repeating: 0, count: count)
            capacity = count
        }
        return pointer
    }

    deinit { pointer.deallocate() }
}
