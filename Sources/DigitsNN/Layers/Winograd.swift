// Winograd's minimal filtering F(2×2, 3×3): a 3×3 convolution at stride 1 computed with 16 multiplications
// per 2×2 block of outputs instead of 36 (Lavin & Gray, 2016) (internal to DigitsNN).
//
// The output is cut into 2×2 tiles; tile t reads a 4×4 block d of the zero-padded input, starting two pixels
// after the previous tile's. With the 3×3 kernel g of one (output, input) channel pair,
//
//     y_t = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d_t B) ] A,
//
//     Bᵀ = | 1  0 −1  0 |     G = | 1    0    0  |     Aᵀ = | 1  1  1  0 |
//          | 0  1  1  0 |         | ½    ½    ½  |          | 0  1 −1 −1 |
//          | 0 −1  1  0 |         | ½   −½    ½  |
//          | 0  1  0 −1 |         | 0    0    1  |
//
// is the same sum of products as the direct convolution, grouped differently (so equal to float rounding).
// Summed over input channels, each of the 16 positions ξ of the 4×4 transformed tiles is one matrix product:
//
//     M[ξ] = U[ξ] · V[ξ],   U[ξ] [O, C] = (G g Gᵀ)[ξ],   V[ξ] [C, T] = (Bᵀ d B)[ξ],   M[ξ] [O, T]
//
// for the T tiles of a batch, and y is Aᵀ M A tile by tile. Backward runs the adjoints of the same steps:
//
//     ∂L/∂M = A (∂L/∂y) Aᵀ per tile,   ∂L/∂U[ξ] = ∂L/∂M[ξ] · V[ξ]ᵀ,   ∂L/∂V[ξ] = U[ξ]ᵀ · ∂L/∂M[ξ],
//     ∂L/∂g = Gᵀ (∂L/∂U) G,            ∂L/∂d = B (∂L/∂V) Bᵀ, added onto the input pixels each tile read.
//
// The tile transforms run 8 tiles of a row at once, one tile per SIMD lane, over a copy of the image plane
// inside a zero border: the 8 tiles' columns 0 and 1 are the even and odd lanes of the 16 floats where the
// group starts, columns 2 and 3 those of the 16 floats two further on. A batch runs in chunks of samples
// (`Conv2D.winogradBudget`) so that V and M stay in the cache between the transforms and the products.

import DigitsTensor

/// The tiles of one 3×3, stride-1 convolution geometry, and the zero-bordered planes the transforms work in.
///
/// Tile (a, b) covers outputs (2a…2a+1, 2b…2b+1) and reads padded plane rows 2a…2a+3 and columns 2b…2b+3,
/// where plane (r, k) holds input pixel (r − pad_top, k − pad_left), or zero. Within a sample, tile (a, b) is
/// number a·`tileColumns` + b; a batch's tiles follow sample by sample.
struct WinogradTiling {
    let geometry: ConvolutionGeometry
    /// ⌈OH / 2⌉, the rows of tiles.
    let tileRows: Int
    /// ⌈OW / 2⌉, the tiles of a row.
    let tileColumns: Int
    /// ⌈tileColumns / 8⌉: the groups of 8 tiles (one per SIMD lane) a row of tiles is computed in.
    let groups: Int
    /// 2·tileRows + 2, the rows of the input plane.
    let planeHeight: Int
    /// 16·groups + 2, the columns of the input plane (the last group's loads end there).
    let planeWidth: Int

    /// Whether `g` is a convolution this computes: a 3×3 kernel at stride 1 over more than one input channel
    /// (a first layer, one channel, runs `DirectConvolution`).
    static func applies(to g: ConvolutionGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1 && g.strideWidth == 1 && g.channels > 1
    }

    init(_ g: ConvolutionGeometry) {
        geometry = g
        tileRows = (g.outputHeight + 1) / 2
        tileColumns = (g.outputWidth + 1) / 2
        groups = (tileColumns + 7) / 8
        planeHeight = 2 * tileRows + 2
        planeWidth = 16 * groups + 2
    }

    /// Tiles per sample.
    var tilesPerSample: Int { tileRows * tileColumns }
    /// Floats of one input plane (`transformInput`, `transformInputGradient`).
    var planeSize: Int { planeHeight * planeWidth }
    /// Floats of one output-gradient plane (`transformOutputGradient`): 2·tileRows rows of 16·groups.
    var gradientPlaneSize: Int { 2 * tileRows * 16 * groups }

    typealias V = SIMD8<Float>

    /// Where the `lanes` tiles of group `group` in tile row `a` start among a sample's tiles, and how many.
    @inline(__always)
    private func tiles(row a: Int, group: Int) -> (first: Int, lanes: Int) {
        (a * tileColumns + 8 * group, min(8, tileColumns - 8 * group))
    }

    /// Copies the first `lanes` floats of each of the 16 staged rows of 8 to target + ξ·`stride`: the tiles of
    /// a short group whose extra lanes may not be written (kept out of line, away from the transforms' registers).
    @inline(never)
    private static func unstage(_ staging: UnsafePointer<Float>, lanes: Int, to target: UnsafeMutablePointer<Float>, stride: Int) {
        for ξ in 0..<16 {
            for l in 0..<lanes { target[ξ * stride + l] = staging[ξ * 8 + l] }
        }
    }

    /// Copies the first `count` of 16 staged floats to `target`.
    @inline(never)
    private static func unstage(_ staging: UnsafePointer<Float>, count: Int, to target: UnsafeMutablePointer<Float>) {
        for l in 0..<count { target[l] = staging[l] }
    }

    /// Copies `count` floats from `source` to `target`, 8 at a time where there are 8 (a short row is not worth a call).
    @inline(__always)
    private static func copy(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
        guard count >= 8 else {
            for k in 0..<count { target[k] = source[k] }
            return
        }
        var k = 0
        while k + 8 < count {
            Lanes.store(Lanes.load(source + k), target + k)
            k += 8
        }
        Lanes.store(Lanes.load(source + count - 8), target + count - 8)   // the last 8, overlapping
    }

    /// Copies x [H, W] into the interior of `plane`, leaving out pixels no tile reads; the border stays as it was.
    private func fill(_ plane: UnsafeMutablePointer<Float>, from x: UnsafePointer<Float>) {
        let g = geometry
        let rows = max(0, -g.padTop) ..< min(g.height, planeHeight - g.padTop)
        let columns = max(0, -g.padLeft) ..< min(g.width, planeWidth - g.padLeft)
        guard !columns.isEmpty else { return }
        for h in rows {
            Self.copy(x + h * g.width + columns.lowerBound, to: plane + (h + g.padTop) * planeWidth + g.padLeft + columns.lowerBound,
                      count: columns.count)
        }
    }

    /// V = Bᵀ d B for every tile and channel of one sample x [C, H, W]: V[ξ, c, t] at
    /// v + ξ·`positionStride` + c·`channelStride` + t, t counted from the sample's first tile.
    /// `plane` holds `planeSize` floats of scratch. With `spill`, the 8 floats after the sample's last tile
    /// in each row may be overwritten (they belong to a sample written after this one, or to nothing).
    func transformInput(_ x: UnsafePointer<Float>, plane: UnsafeMutablePointer<Float>, into v: UnsafeMutablePointer<Float>,
                        channelStride: Int, positionStride: Int, spill: Bool) {
        let g = geometry
        plane.update(repeating: 0, count: planeSize)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 128) { buffer in
        let staging = buffer.baseAddress!
        for c in 0..<g.channels {
            fill(plane, from: x + c * g.height * g.width)
            let out = v + c * channelStride
            for a in 0..<tileRows {
                for group in 0..<groups {
                    let (first, lanes) = tiles(row: a, group: group)
                    // All 8 lanes go straight out when the extra ones land on later tiles of this sample (written
                    // after) or where `spill` allows; else through `staging`.
                    let direct = lanes == 8 || spill || first + 8 <= tilesPerSample
                    let (base, step) = direct ? (out + first, positionStride) : (staging, 8)
                    // d[r][k] for the 8 tiles: plane row 2a + r, columns 16·group + 2·lane + k.
                    var d = (V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V())
                    @inline(__always) func row(_ r: Int) -> (V, V, V, V) {
                        let p = plane + (2 * a + r) * planeWidth + 16 * group
                        let (a0, a1) = (Lanes.load(p), Lanes.load(p + 8)), (b0, b1) = (Lanes.load(p + 2), Lanes.load(p + 10))
                        return (Lanes.even(a0, a1), Lanes.odd(a0, a1), Lanes.even(b0, b1), Lanes.odd(b0, b1))
                    }
                    (d.0, d.1, d.2, d.3) = row(0)
                    (d.4, d.5, d.6, d.7) = row(1)
                    (d.8, d.9, d.10, d.11) = row(2)
                    (d.12, d.13, d.14, d.15) = row(3)
                    // Bᵀ d: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3.
                    let e0 = (d.0 - d.8, d.1 - d.9, d.2 - d.10, d.3 - d.11)
                    let e1 = (d.4 + d.8, d.5 + d.9, d.6 + d.10, d.7 + d.11)
                    let e2 = (d.8 - d.4, d.9 - d.5, d.10 - d.6, d.11 - d.7)
                    let e3 = (d.4 - d.12, d.5 - d.13, d.6 - d.14, d.7 - d.15)
                    // (Bᵀ d) B: the same on the columns of each row; position ξ = 4i + j.
                    @inline(__always) func columns(_ e: (V, V, V, V), _ i: Int) {
                        let row = base + 4 * i * step
                        Lanes.store(e.0 - e.2, row)
                        Lanes.store(e.1 + e.2, row + step)
                        Lanes.store(e.2 - e.1, row + 2 * step)
                        Lanes.store(e.1 - e.3, row + 3 * step)
                    }
                    columns(e0, 0); columns(e1, 1); columns(e2, 2); columns(e3, 3)
                    if !direct { Self.unstage(staging, lanes: lanes, to: out + first, stride: positionStride) }
                }
            }
        }
        }
    }

    /// y = Aᵀ M A + b for every tile and output channel of one sample: M[ξ, o, t] at
    /// m + ξ·`positionStride` + o·`channelStride` + t (8 floats readable past the last tile), y [O, OH, OW].
    func transformOutput(_ m: UnsafePointer<Float>, channelStride: Int, positionStride: Int,
                         bias: UnsafePointer<Float>, outputs O: Int, into y: UnsafeMutablePointer<Float>) {
        let g = geometry
        let (OH, OW) = (g.outputHeight, g.outputWidth)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { buffer in
        let staging = buffer.baseAddress!
        for o in 0..<O {
            let source = m + o * channelStride, plane = y + o * OH * OW
            let b = V(repeating: bias[o])
            for a in 0..<tileRows {
                for group in 0..<groups {
                    let first = tiles(row: a, group: group).first
                    @inline(__always) func at(_ ξ: Int) -> V { Lanes.load(source + ξ * positionStride + first) }
                    // Aᵀ M: rows m0 + m1 + m2 and m1 − m2 − m3.
                    let (m4, m5, m6, m7) = (at(4), at(5), at(6), at(7)), (m8, m9, m10, m11) = (at(8), at(9), at(10), at(11))
                    let r0 = (at(0) + m4 + m8, at(1) + m5 + m9, at(2) + m6 + m10, at(3) + m7 + m11)
                    let r1 = (m4 - m8 - at(12), m5 - m9 - at(13), m6 - m10 - at(14), m7 - m11 - at(15))
                    // (Aᵀ M) A: columns r0 + r1 + r2 and r1 − r2 − r3, for output rows 2a and 2a + 1.
                    let columns = 16 * group, count = min(16, OW - columns)
                    @inline(__always) func write(_ r: (V, V, V, V), row: Int) {
                        guard row < OH else { return }
                        let out = plane + row * OW + columns
                        let z = Lanes.interleave(r.0 + r.1 + r.2 + b, r.1 - r.2 - r.3 + b)
                        // A short row may spill onto the next rows of the plane, when those are written after (one group
                        // a row); else it goes through `staging`.
                        let direct = count == 16 || (groups == 1 && (row + 1) * OW + 16 - count <= OH * OW)
                        UnsafeMutableRawPointer(direct ? out : staging).storeBytes(of: z, as: SIMD16<Float>.self)
                        if !direct { Self.unstage(staging, count: count, to: out) }
                    }
                    write(r0, row: 2 * a)
                    write(r1, row: 2 * a + 1)
                }
            }
        }
        }
    }

    /// ∂L/∂M = A (∂L/∂y) Aᵀ for every tile and output channel of one sample's ∂L/∂y [O, OH, OW]: written at
    /// dm + ξ·`positionStride` + o·`channelStride` + t. `plane` holds `gradientPlaneSize` floats of scratch;
    /// `spill` as for `transformInput`.
    func transformOutputGradient(_ dy: UnsafePointer<Float>, outputs O: Int, plane: UnsafeMutablePointer<Float>,
                                 into dm: UnsafeMutablePointer<Float>, channelStride: Int, positionStride: Int, spill: Bool) {
        let g = geometry
        let (OH, OW) = (g.outputHeight, g.outputWidth)
        let width = 16 * groups
        plane.update(repeating: 0, count: gradientPlaneSize)   // outputs past OH and OW stay zero
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 128) { buffer in
        let staging = buffer.baseAddress!
        for o in 0..<O {
            for i in 0..<OH { Self.copy(dy + (o * OH + i) * OW, to: plane + i * width, count: OW) }
            let out = dm + o * channelStride
            for a in 0..<tileRows {
                for group in 0..<groups {
                    let (first, lanes) = tiles(row: a, group: group)
                    let direct = lanes == 8 || spill || first + 8 <= tilesPerSample   // as in `transformInput`
                    let (base, step) = direct ? (out + first, positionStride) : (staging, 8)
                    let top = plane + 2 * a * width + 16 * group, bottom = top + width
                    let (t0, t1, b0, b1) = (Lanes.load(top), Lanes.load(top + 8), Lanes.load(bottom), Lanes.load(bottom + 8))
                    let (u0, u1, w0, w1) = (Lanes.even(t0, t1), Lanes.odd(t0, t1), Lanes.even(b0, b1), Lanes.odd(b0, b1))
                    // A ∂y: rows ∂y0, ∂y0 + ∂y1, ∂y0 − ∂y1, −∂y1; then each row [p, q] becomes [p, p + q, p − q, −q].
                    @inline(__always) func write(_ p: V, _ q: V, row i: Int) {
                        let row = base + 4 * i * step
                        Lanes.store(p, row)
                        Lanes.store(p + q, row + step)
                        Lanes.store(p - q, row + 2 * step)
                        Lanes.store(-q, row + 3 * step)
                    }
                    write(u0, u1, row: 0)
                    write(u0 + w0, u1 + w1, row: 1)
                    write(u0 - w0, u1 - w1, row: 2)
                    write(-w0, -w1, row: 3)
                    if !direct { Self.unstage(staging, lanes: lanes, to: out + first, stride: positionStride) }
                }
            }
        }
        }
    }

    /// ∂L/∂x [C, H, W] of one sample from ∂L/∂V at dv + ξ·`positionStride` + c·`channelStride` + t (8 floats
    /// readable past the last tile): B (∂L/∂V) Bᵀ per tile, added onto the 4×4 block of pixels the tile read.
    /// `plane` holds `planeSize` floats of scratch.
    func transformInputGradient(_ dv: UnsafePointer<Float>, channelStride: Int, positionStride: Int,
                                plane: UnsafeMutablePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let g = geometry
        for c in 0..<g.channels {
            plane.update(repeating: 0, count: planeSize)
            let source = dv + c * channelStride
            for a in 0..<tileRows {
                for group in 0..<groups {
                    let (first, lanes) = tiles(row: a, group: group)
                    let live = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .< SIMD8<Int32>(repeating: Int32(lanes))
                    // Lanes past the row's last tile would add onto real pixels: they read as zero.
                    @inline(__always) func at(_ ξ: Int) -> V {
                        Lanes.load(source + ξ * positionStride + first).replacing(with: 0, where: .!live)
                    }
                    // B ∂V: rows ∂v0, ∂v1 − ∂v2 + ∂v3, −∂v0 + ∂v1 + ∂v2, −∂v3 (each of 4 columns).
                    let v0 = (at(0), at(1), at(2), at(3)), v1 = (at(4), at(5), at(6), at(7))
                    let v2 = (at(8), at(9), at(10), at(11)), v3 = (at(12), at(13), at(14), at(15))
                    let e0 = v0
                    let e1 = (v1.0 - v2.0 + v3.0, v1.1 - v2.1 + v3.1, v1.2 - v2.2 + v3.2, v1.3 - v2.3 + v3.3)
                    let e2 = (v1.0 + v2.0 - v0.0, v1.1 + v2.1 - v0.1, v1.2 + v2.2 - v0.2, v1.3 + v2.3 - v0.3)
                    let e3 = (-v3.0, -v3.1, -v3.2, -v3.3)
                    // (B ∂V) Bᵀ: each row [e0, e1, e2, e3] becomes [e0, e1 − e2 + e3, −e0 + e1 + e2, −e3]:
                    // columns 0 and 1 of a tile add at 2b, 2b + 1, columns 2 and 3 at 2b + 2, 2b + 3.
                    @inline(__always) func add(_ e: (V, V, V, V), row r: Int) {
                        let p = plane + (2 * a + r) * planeWidth + 16 * group
                        let left = Lanes.interleave(e.0, e.1 - e.2 + e.3), right = Lanes.interleave(e.1 + e.2 - e.0, -e.3)
                        UnsafeMutableRawPointer(p).storeBytes(of: Lanes.load16(p) + left, as: SIMD16<Float>.self)
                        UnsafeMutableRawPointer(p + 2).storeBytes(of: Lanes.load16(p + 2) + right, as: SIMD16<Float>.self)
                    }
                    add(e0, row: 0); add(e1, row: 1); add(e2, row: 2); add(e3, row: 3)
                }
            }
            // ∂L/∂x[c] is the plane's interior; pixels outside it were read by no tile.
            let image = dx + c * g.height * g.width
            let inside = g.padLeft >= 0 && g.width + g.padLeft <= planeWidth
            for h in 0..<g.height {
                let r = h + g.padTop, row = image + h * g.width
                if r < 0 || r >= planeHeight {
                    row.update(repeating: 0, count: g.width)
                } else if inside {
                    Self.copy(plane + r * planeWidth + g.padLeft, to: row, count: g.width)
                } else {
                    for w in 0..<g.width {
                        let k = w + g.padLeft
                        row[w] = k >= 0 && k < planeWidth ? plane[r * planeWidth + k] : 0
                    }
                }
            }
        }
    }

    /// U[ξ] = (G g Gᵀ)[ξ] for the kernels w [O, C, 3, 3]: U[ξ, o, c] at u + (ξ·O + o)·C + c.
    static func transformKernels(_ w: UnsafePointer<Float>, outputs O: Int, channels C: Int, into u: UnsafeMutablePointer<Float>) {
        for o in 0..<O {
            for c in 0..<C {
                let k = w + (o * C + c) * 9
                // G g: rows g0, ½(g0 + g1 + g2), ½(g0 − g1 + g2), g2 (each of 3 columns).
                @inline(__always) func row(_ q: Int) -> (Float, Float, Float, Float) {
                    let (g0, g1, g2) = (k[q], k[3 + q], k[6 + q])
                    return (g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2)
                }
                let (h0, h1, h2) = (row(0), row(1), row(2))   // column q of G g
                // (G g) Gᵀ: each row [r0, r1, r2] becomes [r0, ½(r0 + r1 + r2), ½(r0 − r1 + r2), r2].
                @inline(__always) func write(_ r0: Float, _ r1: Float, _ r2: Float, row i: Int) {
                    @inline(__always) func put(_ j: Int, _ value: Float) { u[((4 * i + j) * O + o) * C + c] = value }
                    put(0, r0); put(1, 0.5 * (r0 + r1 + r2)); put(2, 0.5 * (r0 - r1 + r2)); put(3, r2)
                }
                write(h0.0, h1.0, h2.0, row: 0)
                write(h0.1, h1.1, h2.1, row: 1)
                write(h0.2, h1.2, h2.2, row: 2)
                write(h0.3, h1.3, h2.3, row: 3)
            }
        }
    }

    /// ∂L/∂g = Gᵀ (∂L/∂U) G for the kernels' gradient dw [O, C, 3, 3], from ∂L/∂U[ξ, o, c] at du + (ξ·O + o)·C + c.
    static func untransformKernelGradient(_ du: UnsafePointer<Float>, outputs O: Int, channels C: Int,
                                          into dw: UnsafeMutablePointer<Float>) {
        for o in 0..<O {
            for c in 0..<C {
                @inline(__always) func at(_ i: Int, _ j: Int) -> Float { du[((4 * i + j) * O + o) * C + c] }
                // Gᵀ ∂U: rows ∂u0 + ½(∂u1 + ∂u2), ½(∂u1 − ∂u2), ½(∂u1 + ∂u2) + ∂u3 (each of 4 columns).
                @inline(__always) func column(_ j: Int) -> (Float, Float, Float) {
                    let (u0, u1, u2, u3) = (at(0, j), at(1, j), at(2, j), at(3, j))
                    return (u0 + 0.5 * (u1 + u2), 0.5 * (u1 - u2), 0.5 * (u1 + u2) + u3)
                }
                let (e0, e1, e2, e3) = (column(0), column(1), column(2), column(3))   // column j of Gᵀ ∂U
                // (Gᵀ ∂U) G: each row [r0, r1, r2, r3] becomes [r0 + ½(r1 + r2), ½(r1 − r2), ½(r1 + r2) + r3].
                let k = dw + (o * C + c) * 9
                @inline(__always) func write(_ r0: Float, _ r1: Float, _ r2: Float, _ r3: Float, row p: Int) {
                    k[3 * p] = r0 + 0.5 * (r1 + r2); k[3 * p + 1] = 0.5 * (r1 - r2); k[3 * p + 2] = 0.5 * (r1 + r2) + r3
                }
                write(e0.0, e1.0, e2.0, e3.0, row: 0)
                write(e0.1, e1.1, e2.1, e3.1, row: 1)
                write(e0.2, e1.2, e2.2, e3.2, row: 2)
            }
        }
    }
}
