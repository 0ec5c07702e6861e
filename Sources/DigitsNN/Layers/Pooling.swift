// Pooling: the maximum or the mean of each K×K window of each channel, with no padding.

import DigitsTensor

/// Max pooling over K×K windows with stride S, channel by channel:
///
///     y[n, c, i, j] = max_{0≤p<K, 0≤q<K} x[n, c, i·S + p, j·S + q]
///
/// Shapes: x [N, C, H, W], y [N, C, OH, OW] with OH = ⌊(H − K)/S⌋ + 1, OW = ⌊(W − K)/S⌋ + 1.
/// Backward: each ∂L/∂y[n, c, i, j] goes to the input position that was the maximum of its window
/// (the first in row-major order on ties, remembered from the forward pass); other positions get 0,
/// and a position that is the maximum of several overlapping windows (S < K) gets their sum.
public final class MaxPool2D: Layer {
    /// K, the window's height and width.
    public let kernelSize: Int
    /// S, the step between windows.
    public let stride: Int

    private var inputShape: [Int] = []
    private var argmax: [Int32] = []        // for each output, the offset h·W + w of its maximum within its plane

    /// Max pooling over `kernelSize`×`kernelSize` windows, `stride` apart (non-overlapping by default).
    public init(kernelSize: Int, stride: Int? = nil) {
        precondition(kernelSize > 0 && (stride ?? 1) > 0, "MaxPool2D: kernel size and stride must be positive")
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
    }

    /// None: pooling has no parameters.
    public var parameters: [Parameter] { [] }
    /// `.maxPool2d` with this layer's window.
    public var spec: LayerSpec { .maxPool2d(kernel: kernelSize, stride: stride) }

    /// [N, C, OH, OW] for an input [N, C, H, W].
    public func outputShape(for inputShape: [Int]) -> [Int] {
        poolingOutputShape(inputShape, kernel: kernelSize, stride: stride, layer: "MaxPool2D")
    }

    /// y = the maximum of each window; in `.training` mode remembers where each maximum was.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = outputShape(for: x.shape)
        let (planes, H, W, OH, OW) = (shape[0] * shape[1], x.shape[2], x.shape[3], shape[2], shape[3])
        let (K, S) = (kernelSize, stride)
        var y = Tensor.unfilled(shape: shape)   // every window writes its output
        let remember = mode == .training
        if remember {
            inputShape = x.shape
            if argmax.count != y.count { argmax = [Int32](repeating: 0, count: y.count) }
        }
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                argmax.withUnsafeMutableBufferPointer { pa in
                    let (x, y) = (px.baseAddress!, py.baseAddress!)
                    let at = remember ? pa.baseAddress : nil
                    Parallel.forEachRange(planes, workPerItem: OH * OW * K * K) { range in
                        for plane in range {
                            let image = x + plane * H * W, out = plane * OH * OW
                            if K == 2 && S == 2 {
                                Self.pool2x2(image, width: W, outputHeight: OH, outputWidth: OW, into: y + out, argmax: at.map { $0 + out })
                                continue
                            }
                            for i in 0..<OH {
                                for j in 0..<OW {
                                    var best = i * S * W + j * S                          // window's top-left
                                    var bestValue = image[best]
                                    for p in 0..<K {
                                        let row = (i * S + p) * W + j * S
                                        for q in 0..<K {
                                            // A strictly larger value wins, so the first maximum wins ties;
                                            // selects rather than branches, as the comparisons are unpredictable.
                                            let v = image[row + q], larger = v > bestValue
                                            bestValue = larger ? v : bestValue
                                            best = larger ? row + q : best
                                        }
                                    }
                                    y[out + i * OW + j] = bestValue                       // y = max of the window
                                    if let at { at[out + i * OW + j] = Int32(best) }
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// `forward` for 2×2 windows at stride 2 on one plane: eight outputs at a time, the four values of each
    /// window compared in the same order (a strictly larger one wins) as the general loop, so the results are
    /// the same bits. A row's last eight outputs may overlap the previous eight; a row of fewer than eight
    /// outputs is copied into a row of eight windows first, and its first outputs kept.
    private static func pool2x2(_ image: UnsafePointer<Float>, width W: Int, outputHeight OH: Int, outputWidth OW: Int,
                                into y: UnsafeMutablePointer<Float>, argmax at: UnsafeMutablePointer<Int32>?) {
        typealias V = SIMD8<Float>
        typealias I = SIMD8<Int32>
        let lanes = I(0, 2, 4, 6, 8, 10, 12, 14)
        /// The maxima of the 8 windows whose rows are `upper` and `lower`, and each one's offset from its
        /// window's top-left (0, 1, W or W + 1).
        @inline(__always) func windows(_ upper: SIMD16<Float>, _ lower: SIMD16<Float>) -> (V, I) {
            var best = upper.evenHalf, offset = I(repeating: 0)
            @inline(__always) func consider(_ v: V, at o: Int) {   // in window order: (0, 1), (1, 0), (1, 1)
                let larger = v .> best
                best.replace(with: v, where: larger)
                offset.replace(with: Int32(truncatingIfNeeded: o), where: larger)
            }
            consider(upper.oddHalf, at: 1)
            consider(lower.evenHalf, at: W)
            consider(lower.oddHalf, at: W + 1)
            return (best, offset)
        }
        guard OW >= 8 else {
            // Each row's two input rows go to 16 floats each (the rest stays 0, unread), its results through 16 more.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 48) { buffer in
                let rows = buffer.baseAddress!, results = UnsafeMutableRawPointer(rows + 32)
                rows.initialize(repeating: 0, count: 32)
                for i in 0..<OH {
                    let top = image + 2 * i * W
                    (rows).update(from: top, count: 2 * OW)
                    (rows + 16).update(from: top + W, count: 2 * OW)
                    let (best, offset) = windows(UnsafeRawPointer(rows).loadUnaligned(as: SIMD16<Float>.self),
                                                 UnsafeRawPointer(rows + 16).loadUnaligned(as: SIMD16<Float>.self))
                    results.storeBytes(of: best, as: V.self)
                    (y + i * OW).update(from: results.assumingMemoryBound(to: Float.self), count: OW)
                    if let at {
                        results.storeBytes(of: I(repeating: Int32(2 * i * W)) &+ lanes &+ offset, as: I.self)
                        (at + i * OW).update(from: results.assumingMemoryBound(to: Int32.self), count: OW)
                    }
                }
            }
            return
        }
        for i in 0..<OH {
            var j = 0
            while j < OW {
                j = min(j, OW - 8)
                let top = image + 2 * i * W + 2 * j
                let (best, offset) = windows(UnsafeRawPointer(top).loadUnaligned(as: SIMD16<Float>.self),
                                             UnsafeRawPointer(top + W).loadUnaligned(as: SIMD16<Float>.self))
                UnsafeMutableRawPointer(y + i * OW + j).storeBytes(of: best, as: V.self)
                if let at {
                    let index = I(repeating: Int32(2 * i * W + 2 * j)) &+ lanes &+ offset
                    UnsafeMutableRawPointer(at + i * OW + j).storeBytes(of: index, as: I.self)
                }
                j += 8
            }
        }
    }

    /// ∂L/∂x[argmax of each window] += ∂L/∂y; zero elsewhere (each thread zeroes the planes it fills).
    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor {
        precondition(inputShape.count == 4 && dy.shape == outputShape(for: inputShape),
                     "MaxPool2D.backward: gradient \(dy.shape) does not match the last training forward")
        guard needsInputGradient else { return Tensor(shape: [0]) }
        let (planes, planeSize, outputsPerPlane) = (inputShape[0] * inputShape[1], inputShape[2] * inputShape[3], dy.shape[2] * dy.shape[3])
        let (H, W, OH, OW) = (inputShape[2], inputShape[3], dy.shape[2], dy.shape[3])
        let tiled = kernelSize == 2 && stride == 2 && OW >= 8
        return dy.withUnsafeBufferPointer { pg in
            argmax.withUnsafeBufferPointer { pa in
                Tensor(shape: inputShape) { pdx in
                    guard let g = pg.baseAddress, let at = pa.baseAddress, let dx = pdx.baseAddress else { return }   // an empty batch
                    Parallel.forEachRange(planes, workPerItem: planeSize) { range in
                        if tiled {
                            for plane in range {
                                Self.unpool2x2(g + plane * outputsPerPlane, argmax: at + plane * outputsPerPlane, height: H, width: W,
                                               outputHeight: OH, outputWidth: OW, into: dx + plane * planeSize)
                            }
                            return
                        }
                        (dx + range.lowerBound * planeSize).initialize(repeating: 0, count: range.count * planeSize)
                        for plane in range {
                            let image = dx + plane * planeSize
                            for k in plane * outputsPerPlane ..< (plane + 1) * outputsPerPlane {
                                image[Int(at[k])] += g[k]                             // route ∂L/∂y to the window's maximum
                            }
                        }
                    }
                }
            }
        }
    }

    /// `backward` for 2×2 windows at stride 2 on one plane with at least 8 outputs a row, in one pass that writes
    /// every pixel: each window's four pixels get 0 + g at its maximum and 0 at the others, eight windows at a
    /// time (the same values as zeroing the plane and adding g there); rows and columns no window covers, 0.
    private static func unpool2x2(_ g: UnsafePointer<Float>, argmax at: UnsafePointer<Int32>, height H: Int, width W: Int,
                                  outputHeight OH: Int, outputWidth OW: Int, into dx: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        typealias I = SIMD8<Int32>
        let lanes = I(0, 2, 4, 6, 8, 10, 12, 14), zero = V()
        for i in 0..<OH {
            let top = dx + 2 * i * W, bottom = top + W
            var j = 0
            while j < OW {
                j = min(j, OW - 8)   // a row's last eight windows may overlap the previous eight: the same values again
                let k = i * OW + j
                let value = UnsafeRawPointer(g + k).loadUnaligned(as: V.self) + zero   // 0 + g, as the sum into a zeroed plane
                let corner: I = I(repeating: Int32(2 * i * W + 2 * j)) &+ lanes   // each window's top-left
                let offset: I = UnsafeRawPointer(at + k).loadUnaligned(as: I.self) &- corner
                /// g in the lanes whose maximum lies `o` after the window's top-left, 0 in the others.
                @inline(__always) func pick(_ o: Int) -> V { zero.replacing(with: value, where: offset .== I(repeating: Int32(o))) }
                UnsafeMutableRawPointer(top + 2 * j).storeBytes(of: Lanes.interleave(pick(0), pick(1)), as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(bottom + 2 * j).storeBytes(of: Lanes.interleave(pick(W), pick(W + 1)), as: SIMD16<Float>.self)
                j += 8
            }
            if W > 2 * OW {   // an odd last column
                top[2 * OW] = 0
                bottom[2 * OW] = 0
            }
        }
        if H > 2 * OH { (dx + 2 * OH * W).initialize(repeating: 0, count: (H - 2 * OH) * W) }   // an odd last row
    }
}

/// Average pooling over K×K windows with stride S, channel by channel:
///
///     y[n, c, i, j] = (1/K²) Σ_{0≤p<K, 0≤q<K} x[n, c, i·S + p, j·S + q]
///
/// Shapes: x [N, C, H, W], y [N, C, OH, OW] with OH = ⌊(H − K)/S⌋ + 1, OW = ⌊(W − K)/S⌋ + 1.
/// Backward: ∂L/∂x[n, c, h, w] = (1/K²) Σ ∂L/∂y[n, c, i, j] over the windows (i, j) that contain (h, w).
public final class AvgPool2D: Layer {
    /// K, the window's height and width.
    public let kernelSize: Int
    /// S, the step between windows.
    public let stride: Int

    private var inputShape: [Int] = []

    /// Average pooling over `kernelSize`×`kernelSize` windows, `stride` apart (non-overlapping by default).
    public init(kernelSize: Int, stride: Int? = nil) {
        precondition(kernelSize > 0 && (stride ?? 1) > 0, "AvgPool2D: kernel size and stride must be positive")
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
    }

    /// None: pooling has no parameters.
    public var parameters: [Parameter] { [] }
    /// `.avgPool2d` with this layer's window.
    public var spec: LayerSpec { .avgPool2d(kernel: kernelSize, stride: stride) }

    /// [N, C, OH, OW] for an input [N, C, H, W].
    public func outputShape(for inputShape: [Int]) -> [Int] {
        poolingOutputShape(inputShape, kernel: kernelSize, stride: stride, layer: "AvgPool2D")
    }

    /// y = the mean of each window.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = outputShape(for: x.shape)
        let (planes, H, W, OH, OW) = (shape[0] * shape[1], x.shape[2], x.shape[3], shape[2], shape[3])
        let (K, S) = (kernelSize, stride)
        let scale = 1 / Float(K * K)
        var y = Tensor.unfilled(shape: shape)   // every window writes its output
        if mode == .training { inputShape = x.shape }
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                let (x, y) = (px.baseAddress!, py.baseAddress!)
                Parallel.forEachRange(planes, workPerItem: OH * OW * K * K) { range in
                    for plane in range {
                        let image = x + plane * H * W, out = y + plane * OH * OW
                        for i in 0..<OH {
                            for j in 0..<OW {
                                var sum: Float = 0
                                for p in 0..<K {
                                    let row = image + (i * S + p) * W + j * S
                                    for q in 0..<K { sum += row[q] }                      // Σ of the window
                                }
                                out[i * OW + j] = sum * scale                             // y = Σ / K²
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// ∂L/∂x[window] += ∂L/∂y / K² for each window.
    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor {
        precondition(inputShape.count == 4 && dy.shape == outputShape(for: inputShape),
                     "AvgPool2D.backward: gradient \(dy.shape) does not match the last training forward")
        guard needsInputGradient else { return Tensor(shape: [0]) }
        let (planes, H, W, OH, OW) = (inputShape[0] * inputShape[1], inputShape[2], inputShape[3], dy.shape[2], dy.shape[3])
        let (K, S) = (kernelSize, stride)
        let scale = 1 / Float(K * K)
        var dx = Tensor(shape: inputShape)
        dy.withUnsafeBufferPointer { pg in
            dx.withUnsafeMutableBufferPointer { pdx in
                let (g, dx) = (pg.baseAddress!, pdx.baseAddress!)
                Parallel.forEachRange(planes, workPerItem: OH * OW * K * K) { range in
                    for plane in range {
                        let image = dx + plane * H * W, grad = g + plane * OH * OW
                        for i in 0..<OH {
                            for j in 0..<OW {
                                let share = grad[i * OW + j] * scale                      // ∂y/∂x = 1/K² for each x in the window
                                for p in 0..<K {
                                    let row = image + (i * S + p) * W + j * S
                                    for q in 0..<K { row[q] += share }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}

/// [N, C, ⌊(H − K)/S⌋ + 1, ⌊(W − K)/S⌋ + 1], checking that the input is NCHW and at least K×K.
private func poolingOutputShape(_ shape: [Int], kernel: Int, stride: Int, layer: String) -> [Int] {
    precondition(shape.count == 4, "\(layer): input shape \(shape) is not [N, C, H, W]")
    precondition(shape[2] >= kernel && shape[3] >= kernel,
                 "\(layer): a \(kernel)×\(kernel) window does not fit a \(shape[2])×\(shape[3]) input")
    return [shape[0], shape[1], (shape[2] - kernel) / stride + 1, (shape[3] - kernel) / stride + 1]
}
