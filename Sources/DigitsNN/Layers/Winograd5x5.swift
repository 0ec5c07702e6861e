// Winograd's minimal filtering F(2×2, 5×5) for the forward pass of a 5×5 convolution at stride 1: 36
// multiplications per 2×2 block of outputs instead of 100 (internal to DigitsNN).
//
// The output is cut into 2×2 tiles; tile t reads a 6×6 block d of the zero-padded input, starting two pixels
// after the previous tile's. With the 5×5 kernel g of one (output, input) channel pair,
//
//     y_t = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d_t B) ] A,
//
// from the interpolation points 0, 1, −1, 2, −2 and ∞:
//
//     Bᵀ = | 4  0 −5  0  1  0 |     G = | 1/4     0     0     0     0  |     Aᵀ = | 1  1  1  1  1  0 |
//          | 0 −4 −4  1  1  0 |         | −1/6  −1/6  −1/6  −1/6  −1/6 |          | 0  1 −1  2 −2  1 |
//          | 0  4 −4 −1  1  0 |         | −1/6   1/6  −1/6   1/6  −1/6 |
//          | 0 −2 −1  2  1  0 |         | 1/24  1/12   1/6   1/3   2/3 |
//          | 0  2 −1 −2  1  0 |         | 1/24 −1/12   1/6  −1/3   2/3 |
//          | 0  4  0 −5  0  1 |         |  0     0     0     0     1  |
//
// the same sum of products as the direct convolution, grouped differently (so equal to float rounding).
// Summed over input channels, each of the 36 positions ξ of the 6×6 transformed tiles is a matrix product,
//
//     M[ξ][t, o] = Σ_c V[ξ][c, t] · U[ξ][c, o],   U[ξ] = (G g Gᵀ)[ξ],   V[ξ] = (Bᵀ d B)[ξ],
//
// and y is Aᵀ M A tile by tile. One sample at a time: its V (8 tiles of a row per SIMD lane, as in
// `WinogradTiling`), then position by position the products with 16 outputs of 6 tiles (or 8 of 12) summed in
// registers, 12 sums for every 8 values loaded where the zero-skipping kernel loads 9 for 8, then Aᵀ M A
// written channels last and y transposed at the end. `cnn`'s second layer (16 → 32 channels, 14×14) runs its
// forward pass in 2.6-3.0 ms per batch of 64 on one thread, against 5.0 ms skipping the input's zeros.
//
// The backward pass is not computed this way: behind ReLU and pooling ∂L/∂y is sparse enough for the
// zero-skipping kernels, and otherwise the matrix products run.

import DigitsTensor

/// The 2×2 tiles of one 5×5, stride-1 convolution geometry, and the scratch its forward pass needs.
///
/// Tile (a, b) covers outputs (2a…2a+1, 2b…2b+1) and reads padded plane rows 2a…2a+5 and columns 2b…2b+5,
/// where plane (r, k) holds input pixel (r − pad_top, k − pad_left), or zero. Within a sample, tile (a, b) is
/// number a·`tileColumns` + b.
struct Winograd5x5 {
    let geometry: ConvolutionGeometry
    /// O, the output channels (a multiple of 8, at most 32: the SIMD lanes of the products).
    let outputs: Int
    /// ⌈OH / 2⌉, the rows of tiles.
    let tileRows: Int
    /// ⌈OW / 2⌉, the tiles of a row.
    let tileColumns: Int
    /// ⌈tileColumns / 8⌉: the groups of 8 tiles (one per SIMD lane) the input transform runs a row in.
    let groups: Int
    /// 2·tileRows + 4, the rows of the input plane.
    let planeHeight: Int
    /// 16·groups + 4, the columns of the input plane (the last group's loads end there).
    let planeWidth: Int

    /// Whether the forward pass of `g` with `outputs` output channels runs this way: a 5×5 kernel at stride 1
    /// over more than one input channel (a first layer runs `DirectConvolution`), with 8, 16, 24 or 32 outputs.
    static func applies(to g: ConvolutionGeometry, outputs: Int) -> Bool {
        g.kernelHeight == 5 && g.kernelWidth == 5 && g.strideHeight == 1 && g.strideWidth == 1 && g.channels > 1
            && outputs % 8 == 0 && outputs > 0 && outputs <= 32
    }

    init(_ g: ConvolutionGeometry, outputs: Int) {
        geometry = g
        self.outputs = outputs
        tileRows = (g.outputHeight + 1) / 2
        tileColumns = (g.outputWidth + 1) / 2
        groups = (tileColumns + 7) / 8
        planeHeight = 2 * tileRows + 4
        planeWidth = 16 * groups + 4
    }

    /// Tiles per sample.
    var tilesPerSample: Int { tileRows * tileColumns }
    /// The floats of one position and channel of V: a sample's tiles and 8 spare (a short group's extra lanes).
    var tileStride: Int { tilesPerSample + 8 }
    /// Floats of U (`transformKernels`).
    var kernelSize: Int { 36 * geometry.channels * outputs }
    /// The tiles of a sample rounded up to whole blocks of the products (12 / (O/8) tiles; 12 covers them all).
    var blockedTiles: Int { (tilesPerSample + 11) / 12 * 12 }
    /// Floats of scratch one thread needs for one sample at a time (`forward`).
    var scratchSize: Int { planeHeight * planeWidth + 36 * geometry.channels * tileStride + 36 * blockedTiles * outputs + geometry.outputPixels * outputs }

    typealias V = SIMD8<Float>

    /// Bᵀ d for the six values d₀…d₅ of a column (or row) of a tile, lane by lane.
    @inline(__always)
    private static func inputTransform(_ d: UnsafePointer<V>, _ step: Int) -> (V, V, V, V, V, V) {
        let (d0, d1, d2, d3, d4, d5) = (d[0], d[step], d[2 * step], d[3 * step], d[4 * step], d[5 * step])
        let four = V(repeating: 4), five = V(repeating: 5), two = V(repeating: 2)
        return (four * d0 - five * d2 + d4,
                d3 + d4 - four * (d1 + d2),
                d4 - d3 + four * (d1 - d2),
                d4 - d2 + two * (d3 - d1),
                d4 - d2 - two * (d3 - d1),
                four * d1 - five * d3 + d5)
    }

    /// G [6, 5], row by row, as in the header.
    private static let kernelTransform: [Float] = [1.0 / 4, 0, 0, 0, 0,
                                                   -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6,
                                                   -1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6,
                                                   1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3,
                                                   1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3,
                                                   0, 0, 0, 0, 1]

    /// U[ξ] = (G g Gᵀ)[ξ] for the kernels w [O, C, 5, 5]: U[ξ, c, o] at u + (ξ·C + c)·O + o.
    func transformKernels(_ w: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>) {
        let (O, C) = (outputs, geometry.channels)
        let g = Self.kernelTransform
        var h = [Float](repeating: 0, count: 30)   // G k, [6, 5]
        for o in 0..<O {
            for c in 0..<C {
                let k = w + (o * C + c) * 25
                for i in 0..<6 {
                    for q in 0..<5 {
                        var s: Float = 0
                        for p in 0..<5 { s += g[i * 5 + p] * k[p * 5 + q] }
                        h[i * 5 + q] = s
                    }
                }
                for i in 0..<6 {   // (G k) Gᵀ
                    for j in 0..<6 {
                        var s: Float = 0
                        for q in 0..<5 { s += h[i * 5 + q] * g[j * 5 + q] }
                        u[((6 * i + j) * C + c) * O + o] = s
                    }
                }
            }
        }
    }

    /// y [O, OH, OW] for one sample x [C, H, W]: V = Bᵀ d B, the 36 products with U (`transformKernels`)
    /// and y = Aᵀ M A + b. `scratch` holds `scratchSize` floats.
    func forward(_ x: UnsafePointer<Float>, kernels u: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                 scratch: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let plane = scratch, v = plane + planeHeight * planeWidth
        let products = v + 36 * geometry.channels * tileStride, work = products + 36 * blockedTiles * outputs
        transformInput(x, plane: plane, into: v)
        multiply(v, u, bias: bias, products: products, into: work)
        Kernels.transpose(work, rows: geometry.outputPixels, columns: outputs, into: y)   // [OH·OW, O] → [O, OH·OW]
    }

    /// V[ξ, c, t] = (Bᵀ d_t B)[ξ] for every tile t and channel c of one sample, at v + (ξ·C + c)·`tileStride` + t.
    private func transformInput(_ x: UnsafePointer<Float>, plane: UnsafeMutablePointer<Float>, into v: UnsafeMutablePointer<Float>) {
        let g = geometry
        let C = g.channels
        plane.update(repeating: 0, count: planeHeight * planeWidth)
        let rows = max(0, -g.padTop) ..< min(g.height, planeHeight - g.padTop)
        let columns = max(0, -g.padLeft) ..< min(g.width, planeWidth - g.padLeft)
        withUnsafeTemporaryAllocation(of: V.self, capacity: 72) { buffer in
            let d = buffer.baseAddress!, e = d + 36   // d[r·6 + k]: row r, column k of 8 tiles; e = Bᵀ d
            for c in 0..<C {
                let image = x + c * g.height * g.width
                if !columns.isEmpty {
                    for h in rows {
                        (plane + (h + g.padTop) * planeWidth + g.padLeft + columns.lowerBound)
                            .update(from: image + h * g.width + columns.lowerBound, count: columns.count)
                    }
                }
                // Groups in increasing order: a short group's extra lanes land on tiles written after it (the next
                // row's first ones) or, after the last row, on the spare floats.
                for a in 0..<tileRows {
                    for group in 0..<groups {
                        for r in 0..<6 {
                            // Column k of the 8 tiles: plane columns 16·group + 2·lane + k, the even (k even) or
                            // odd lanes of the 16 floats from 16·group + k rounded down to even.
                            let p = plane + (2 * a + r) * planeWidth + 16 * group
                            for s in 0..<3 {
                                let (low, high) = (Lanes.load(p + 2 * s), Lanes.load(p + 2 * s + 8))
                                d[r * 6 + 2 * s] = Lanes.even(low, high)
                                d[r * 6 + 2 * s + 1] = Lanes.odd(low, high)
                            }
                        }
                        for k in 0..<6 {   // Bᵀ d, column by column
                            let t = Self.inputTransform(d + k, 6)
                            (e[k], e[6 + k], e[12 + k], e[18 + k], e[24 + k], e[30 + k]) = t
                        }
                        let out = v + c * tileStride + a * tileColumns + 8 * group
                        for i in 0..<6 {   // (Bᵀ d) B, row by row: position ξ = 6i + j
                            let t = Self.inputTransform(e + 6 * i, 1)
                            let row = out + 6 * i * C * tileStride, step = C * tileStride
                            Lanes.store(t.0, row); Lanes.store(t.1, row + step); Lanes.store(t.2, row + 2 * step)
                            Lanes.store(t.3, row + 3 * step); Lanes.store(t.4, row + 4 * step); Lanes.store(t.5, row + 5 * step)
                        }
                    }
                }
            }
        }
    }

    /// 12 sums of C products in registers: M[t, l] = Σ_c V[c, t]·U[c, l] for the 12/`pass` tiles t from `v`
    /// (V[c, t] at v + c·`tileStride` + t) and the 8·`pass` outputs l from `u` (U[c, l] at u + c·`outputs` + l),
    /// written to m + t·`outputs` + l. Each step over c loads `pass` vectors of U and 12/`pass` values of V
    /// for 12 multiply-adds. `pass` is a constant at each call (`products1`, `products2`).
    @inline(__always)
    private static func products(pass: Int, channels C: Int, _ u: UnsafePointer<Float>, outputs O: Int,
                                 _ v: UnsafePointer<Float>, tileStride L: Int, into m: UnsafeMutablePointer<Float>) {
        var s = (V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V())
        for c in 0..<C {
            let w = u + c * O
            let w0 = Lanes.load(w), w1 = pass > 1 ? Lanes.load(w + 8) : V()
            let tiles = v + c * L
            // Sum k is tile k / pass, outputs 8·(k % pass) ..< + 8.
            @inline(__always) func add(_ sum: inout V, _ k: Int) {
                sum = sum.mulAdd(V(repeating: tiles[k / pass]), k % pass == 0 ? w0 : w1)
            }
            add(&s.0, 0); add(&s.1, 1); add(&s.2, 2); add(&s.3, 3); add(&s.4, 4); add(&s.5, 5)
            add(&s.6, 6); add(&s.7, 7); add(&s.8, 8); add(&s.9, 9); add(&s.10, 10); add(&s.11, 11)
        }
        @inline(__always) func put(_ sum: V, _ k: Int) { Lanes.store(sum, m + (k / pass) * O + 8 * (k % pass)) }
        put(s.0, 0); put(s.1, 1); put(s.2, 2); put(s.3, 3); put(s.4, 4); put(s.5, 5)
        put(s.6, 6); put(s.7, 7); put(s.8, 8); put(s.9, 9); put(s.10, 10); put(s.11, 11)
    }

    /// `products` for 12 tiles and 8 outputs.
    @inline(never)
    private static func products1(channels C: Int, _ u: UnsafePointer<Float>, outputs O: Int,
                                  _ v: UnsafePointer<Float>, tileStride L: Int, into m: UnsafeMutablePointer<Float>) {
        products(pass: 1, channels: C, u, outputs: O, v, tileStride: L, into: m)
    }

    /// `products` for 6 tiles and 16 outputs.
    @inline(never)
    private static func products2(channels C: Int, _ u: UnsafePointer<Float>, outputs O: Int,
                                  _ v: UnsafePointer<Float>, tileStride L: Int, into m: UnsafeMutablePointer<Float>) {
        products(pass: 2, channels: C, u, outputs: O, v, tileStride: L, into: m)
    }

    /// M[ξ, t, o] = Σ_c V[ξ, c, t]·U[ξ, c, o] for every tile and the 36 positions, into `products`
    /// [36, `blockedTiles`, O] (position by position, so that U[ξ] stays in the first-level cache), 16 outputs
    /// of 6 tiles or 8 outputs of 12 tiles at a time (`products`); then y = Aᵀ M A + b, written channels last
    /// to `work` [OH·OW, O]. The sums of tiles past the sample's last one read floats after its tiles
    /// (inside the scratch) and are not used.
    private func multiply(_ v: UnsafePointer<Float>, _ u: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                          products: UnsafeMutablePointer<Float>, into work: UnsafeMutablePointer<Float>) {
        let (C, O, T, L) = (geometry.channels, outputs, tilesPerSample, tileStride)
        let (OH, OW) = (geometry.outputHeight, geometry.outputWidth)
        let vectors = O / 8, pass = vectors % 2 == 0 ? 2 : 1
        let width = 12 / pass   // tiles at a time
        let positionStride = blockedTiles * O
        for ξ in 0..<36 {
            var first = 0
            while first < T {
                let vξ = v + ξ * C * L + first
                for lanes in stride(from: 0, to: O, by: 8 * pass) {
                    let uξ = u + ξ * C * O + lanes, m = products + ξ * positionStride + first * O + lanes
                    if pass == 2 {
                        Self.products2(channels: C, uξ, outputs: O, vξ, tileStride: L, into: m)
                    } else {
                        Self.products1(channels: C, uξ, outputs: O, vξ, tileStride: L, into: m)
                    }
                }
                first += width
            }
        }
        // y = Aᵀ M A + b for each tile and each 8 outputs.
        for k in 0..<T * vectors {
            let (tile, lanes) = (k / vectors, 8 * (k % vectors))
            @inline(__always) func at(_ i: Int, _ j: Int) -> V { Lanes.load(products + (6 * i + j) * positionStride + 8 * k) }
            // Aᵀ M: rows m₀ + m₁ + m₂ + m₃ + m₄ and m₁ − m₂ + 2(m₃ − m₄) + m₅, column by column.
            var r0 = (V(), V(), V(), V(), V(), V()), r1 = r0
            @inline(__always) func rows(_ j: Int) -> (V, V) {
                let (m0, m1, m2, m3, m4, m5) = (at(0, j), at(1, j), at(2, j), at(3, j), at(4, j), at(5, j))
                return (m0 + m1 + m2 + m3 + m4, m1 - m2 + 2 * (m3 - m4) + m5)
            }
            (r0.0, r1.0) = rows(0); (r0.1, r1.1) = rows(1); (r0.2, r1.2) = rows(2)
            (r0.3, r1.3) = rows(3); (r0.4, r1.4) = rows(4); (r0.5, r1.5) = rows(5)
            let b = Lanes.load(bias + lanes)
            let (a, column) = (tile / tileColumns, 2 * (tile % tileColumns))
            // (Aᵀ M) A: columns r₀ + r₁ + r₂ + r₃ + r₄ and r₁ − r₂ + 2(r₃ − r₄) + r₅.
            @inline(__always) func write(_ r: (V, V, V, V, V, V), row: Int) {
                guard row < OH else { return }
                let out = work + (row * OW + column) * O + lanes
                Lanes.store(r.0 + r.1 + r.2 + r.3 + r.4 + b, out)
                if column + 1 < OW { Lanes.store(r.1 - r.2 + 2 * (r.3 - r.4) + r.5 + b, out + O) }
            }
            write(r0, row: 2 * a)
            write(r1, row: 2 * a + 1)
        }
    }
}
