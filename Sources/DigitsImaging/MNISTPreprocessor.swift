// MNISTPreprocessor: a user's picture made to look like an MNIST digit.
//
// MNIST (LeCun et al.) took NIST's black-and-white digits, normalised each to fit a 20×20 box keeping its
// aspect ratio (anti-aliasing made grey levels), and placed it in a 28×28 field so that its centre of mass
// (intensity-weighted) fell at the field's centre. A network trained on MNIST has only seen digits made
// this way, so we make the user's digit the same way, after first turning a photograph into clean ink:
//
//   1. shrink large pictures to at most 160 px on the long side (area averaging; `DigitRecognizer` has a
//      large JPEG or PNG decoded at 1/2, 1/4 or 1/8 of its size first, as long as 160 px remain);
//   2. polarity: the background is the border's tone; if it is the lighter side, invert so ink is bright;
//   3. background: subtract a morphological opening (a min then max filter wider than any stroke), blurred,
//      which removes uneven lighting and paper tone and leaves only the strokes (a "top-hat" transform);
//   4. threshold by Otsu's method on the lightly smoothed top-hat image to find the ink;
//   5. drop specks: 8-connected ink components smaller than 5% of the largest are noise;
//   6. grade: within one pixel of the kept ink, map the top-hat level linearly from half the threshold (0)
//      to the ink's 90th percentile (1), which keeps anti-aliased edges and zeroes everything else;
//   7. crop to the ink's bounding box, and scale its longer side to 20 px (area averaging when shrinking,
//      bilinear when enlarging), then rescale so the brightest pixel is 1, as MNIST's are;
//   8. place in 28×28 with the centre of mass at pixel index (14, 14), shifted by whole pixels and clipped.
//
// Measured on MNIST's own test set the mean centre of mass is (14.00, 13.99) in pixel indices, which is
// the target used here.

import DigitsTensor

/// Why a picture could not be prepared as a digit.
public enum PreprocessingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The picture has no pixels.
    case emptyImage
    /// Nothing in the picture stands out from the background (`contrast` is the spread of its grey levels).
    case noInkFound(width: Int, height: Int, contrast: Float)

    /// A sentence saying what is wrong and what to do.
    public var description: String {
        switch self {
        case .emptyImage:
            return "the picture has no pixels; pass a picture of a single handwritten digit."
        case .noInkFound(let width, let height, let contrast):
            return "no ink found in the \(width)x\(height) picture (contrast \(format4(contrast))): it is blank or too faint; "
                + "write the digit darker or with more contrast against the background and try again."
        }
    }
}

private func format4(_ x: Float) -> String {
    let scaled = (Double(x) * 1000).rounded() / 1000
    return String(scaled)
}

/// Prepares a picture of one handwritten digit as MNIST prepared its digits (see the file comment for the steps).
public enum MNISTPreprocessor {
    /// Pictures with a longer side above this many pixels are first shrunk to it.
    public static let workingSize = 160
    /// The side of the box the digit is scaled to fit: 20 px, as in MNIST.
    public static let boxSide = 20

    /// The 28×28 MNIST-style digit found in `image`, with diagnostics.
    ///
    /// - Throws: `PreprocessingError.noInkFound` when the picture is blank or has too little contrast.
    public static func prepare(_ image: GrayImage) throws -> PreparedDigit {
        let ink = try findInk(image, workingSize: workingSize)
        var kept = [Bool](repeating: false, count: ink.w * ink.h)
        for i in kept.indices where ink.labels[i] >= 0 && ink.keepLabel[ink.labels[i]] { kept[i] = true }
        return try place(ink, kept: kept, columns: 0...(ink.w - 1))
    }

    /// Steps 1–5: the working copy, polarity, background removal, Otsu threshold and speck removal.
    ///
    /// Shared by `prepare` and `NumberSegmenter.segment`, so both decide what is ink the same way.
    static func findInk(_ image: GrayImage, workingSize: Int) throws -> InkMap {
        guard image.width > 0, image.height > 0 else { throw PreprocessingError.emptyImage }
        let noInk = { (contrast: Float) in
            PreprocessingError.noInkFound(width: image.width, height: image.height, contrast: contrast)
        }

        // 1. Working copy.
        var w = image.width, h = image.height
        var g = image.pixels
        var factor = 1.0  // working pixels per source pixel
        if max(w, h) > workingSize {
            factor = Double(workingSize) / Double(max(w, h))
            let nw = max(1, Int((Double(w) * factor).rounded())), nh = max(1, Int((Double(h) * factor).rounded()))
            g = Resample.resize(g, w, h, to: nw, nh)
            w = nw; h = nh
        }
        let n = w * h

        // 2. Polarity from the border's median against the picture's 1st and 99th percentiles.
        let stats = Filters.orderStatistics(g, ranks: [0, Int(0.01 * Double(n - 1)), Int(0.99 * Double(n - 1)), n - 1])
        let p01 = stats[1], p99 = stats[2]
        let contrast = stats[3] - stats[0]
        guard contrast >= 0.08 else { throw noInk(contrast) }
        let ring = max(1, min(w, h) / 20)
        var border: [Float] = []
        border.reserveCapacity(2 * ring * (w + h))
        for y in 0..<h {
            if y < ring || y >= h - ring {
                border += g[(y * w)..<((y + 1) * w)]                                     // a whole top or bottom row
            } else {
                for x in 0..<min(ring, w) { border.append(g[y * w + x]) }              // the left and right strips
                for x in max(ring, w - ring)..<w { border.append(g[y * w + x]) }
            }
        }
        let borderMedian = Filters.orderStatistics(border, ranks: [border.count / 2])[0]
        let inverted = borderMedian > (p01 + p99) / 2
        let ink = inverted ? g.withUnsafeBufferPointer { p in Filters.plane(n) { Rows.complement($0, p.baseAddress!, n) } } : g

        // 3. Background by opening (min then max filter), window wider than a stroke, then blurred.
        let k = max(3, min(w, h) / 4) | 1
        let smooth = Filters.boxBlur(ink, w, h, radius: 1)
        var background = Filters.opening(smooth, w, h, radius: k / 2)
        background = Filters.boxBlur(background, w, h, radius: k / 2)
        let r = Filters.positiveDifference(ink, background), rs = Filters.positiveDifference(smooth, background)

        // 4. Otsu threshold on the smoothed top-hat.
        let peak = n > 0 ? Filters.extremes(rs).1 : 0
        guard peak >= 0.1 else { throw noInk(peak) }
        let t = max(Filters.otsu(rs, maximum: peak), 0.1)

        // 5. Connected components; drop specks (single pixels, and anything under 1/20 of the largest). Ink
        // that is nothing but specks is no ink.
        let (labels, areas) = Filters.components(Filters.above(rs, t), w, h)
        guard let largest = areas.max(), largest >= 2 else { throw noInk(peak) }
        let keepLabel = areas.map { $0 >= max(2, largest / 20) }
        return InkMap(source: image, w: w, h: h, factor: factor, inverted: inverted, level: r, threshold: t,
                      peak: peak, labels: labels, areas: areas, keepLabel: keepLabel)
    }

    /// Steps 6–8: grades the ink near `kept` (only in `columns` of the working picture), crops it, scales its
    /// longer side to 20 px and places its centre of mass at (14, 14).
    ///
    /// - Throws: `PreprocessingError.noInkFound` when `kept` grades to no ink.
    static func place(_ ink: InkMap, kept: [Bool], columns: ClosedRange<Int>) throws -> PreparedDigit {
        let w = ink.w, h = ink.h, r = ink.level, t = ink.threshold, factor = ink.factor
        let noInk = PreprocessingError.noInkFound(width: ink.sourceWidth, height: ink.sourceHeight, contrast: ink.peak)
        // Only the kept ink's bounding box, and the pixels next to it, can grade above 0.
        guard let box = Filters.boundingBox(of: kept, w, h) else { throw noInk }
        var coreLevels: [Float] = []
        for y in box.y0...box.y1 { for x in box.x0...box.x1 where kept[y * w + x] { coreLevels.append(r[y * w + x]) } }

        // 6. Grade levels near the kept ink.
        let lo = t / 2
        let hi = max(Filters.orderStatistics(coreLevels, ranks: [Int(0.9 * Double(coreLevels.count - 1))])[0], lo + 0.05)
        var graded = [Float](repeating: 0, count: w * h)
        var x0 = w, y0 = h, x1 = -1, y1 = -1
        let xa = max(0, columns.lowerBound, box.x0 - 1), xb = min(w - 1, columns.upperBound, box.x1 + 1)
        for y in max(0, box.y0 - 1)...min(h - 1, box.y1 + 1) where xa <= xb {
            for x in xa...xb where r[y * w + x] > lo {         // only a level above lo can grade above 0
                var near = false
                for dy in -1...1 where !near {
                    for dx in -1...1 {
                        let yy = y + dy, xx = x + dx
                        if yy >= 0 && yy < h && xx >= 0 && xx < w && kept[yy * w + xx] { near = true; break }
                    }
                }
                guard near else { continue }
                let v = min(max((r[y * w + x] - lo) / (hi - lo), 0), 1)
                if v > 0 {
                    graded[y * w + x] = v
                    x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
                }
            }
        }
        guard x1 >= x0, y1 >= y0 else { throw noInk }

        // 7. Crop and scale the longer side to 20 px.
        let bw = x1 - x0 + 1, bh = y1 - y0 + 1
        var crop = [Float](repeating: 0, count: bw * bh)
        for y in 0..<bh { for x in 0..<bw { crop[y * bw + x] = graded[(y0 + y) * w + x0 + x] } }
        let s = Double(boxSide) / Double(max(bw, bh))
        let ow = min(boxSide, max(1, Int((Double(bw) * s).rounded())))
        let oh = min(boxSide, max(1, Int((Double(bh) * s).rounded())))
        var patch = Resample.resize(crop, bw, bh, to: ow, oh)
        let patchMax = patch.max() ?? 0
        guard patchMax > 0 else { throw noInk }
        for i in patch.indices { patch[i] = min(1, patch[i] / patchMax) }

        // 8. Centre of mass to (14, 14), whole-pixel shift, clipped.
        var mass: Double = 0, mx: Double = 0, my: Double = 0
        for y in 0..<oh {
            for x in 0..<ow {
                let v = Double(patch[y * ow + x])
                mass += v; mx += v * Double(x); my += v * Double(y)
            }
        }
        let side = PreparedDigit.side
        let centre = Double(side / 2)
        let ox = Int((centre - mx / mass).rounded()), oy = Int((centre - my / mass).rounded())
        var field = [Float](repeating: 0, count: side * side)
        for y in 0..<oh {
            for x in 0..<ow {
                let fx = x + ox, fy = y + oy
                if fx >= 0 && fx < side && fy >= 0 && fy < side { field[fy * side + fx] = patch[y * ow + x] }
            }
        }
        var fm: Double = 0, fx: Double = 0, fy: Double = 0
        for y in 0..<side {
            for x in 0..<side {
                let v = Double(field[y * side + x])
                fm += v; fx += v * Double(x); fy += v * Double(y)
            }
        }

        let sx0 = Int((Double(x0) / factor).rounded(.down)), sy0 = Int((Double(y0) / factor).rounded(.down))
        let sx1 = min(ink.sourceWidth, Int((Double(x1 + 1) / factor).rounded(.up)))
        let sy1 = min(ink.sourceHeight, Int((Double(y1 + 1) / factor).rounded(.up)))
        return PreparedDigit(
            pixels: field,
            inverted: ink.inverted,
            boundingBox: .init(x: sx0, y: sy0, width: sx1 - sx0, height: sy1 - sy0),
            scale: s * factor,
            placedBox: .init(x: ox, y: oy, width: ow, height: oh),
            centreOfMass: (fm > 0 ? fx / fm : centre, fm > 0 ? fy / fm : centre))
    }
}

/// The ink found in a picture (steps 1–5), on the working grid of `w × h` pixels.
struct InkMap {
    /// The source picture's size.
    let sourceWidth: Int, sourceHeight: Int
    /// The working grid's size.
    let w: Int, h: Int
    /// Working pixels per source pixel (1 unless the picture was shrunk).
    let factor: Double
    /// True when the picture was dark ink on light and so was inverted.
    let inverted: Bool
    /// The top-hat level of each working pixel: ink above the removed background, 0 for none.
    let level: [Float]
    /// The Otsu threshold on the smoothed top-hat.
    let threshold: Float
    /// The smoothed top-hat's maximum.
    let peak: Float
    /// The 8-connected component of each working pixel above the threshold, -1 for none.
    let labels: [Int]
    /// Each component's area in working pixels.
    let areas: [Int]
    /// Whether each component is kept (not a speck: at least 5% of the largest).
    let keepLabel: [Bool]

    init(source: GrayImage, w: Int, h: Int, factor: Double, inverted: Bool, level: [Float], threshold: Float,
         peak: Float, labels: [Int], areas: [Int], keepLabel: [Bool]) {
        sourceWidth = source.width; sourceHeight = source.height
        self.w = w; self.h = h; self.factor = factor; self.inverted = inverted; self.level = level
        self.threshold = threshold; self.peak = peak; self.labels = labels; self.areas = areas; self.keepLabel = keepLabel
    }
}

/// The image filters the preprocessor is built from, on row-major `[Float]` planes of `w × h`.
enum Filters {
    /// A plane of `count` values written by `fill`, which must set every one of them (nothing is zeroed first).
    @inline(__always)
    static func plane(_ count: Int, _ fill: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress { fill(base) }
            initialized = count
        }
    }

    /// The mean over a (2·radius+1)² window, edges clamped; separable running sums, along the rows (as
    /// columns of the transposed picture), then along the columns.
    static func boxBlur(_ a: [Float], _ w: Int, _ h: Int, radius: Int) -> [Float] {
        guard radius > 0, w > 0, h > 0 else { return a }
        let rows = transposed(columnMeans(transposed(a, w, h), h, w, radius: radius), h, w)
        return columnMeans(rows, w, h, radius: radius)
    }

    /// For each of the `w` columns of `a` (`w × h`, row-major), the mean over rows [y − r, y + r], the rows
    /// beyond the edges repeating the edge row: a running sum, s ← s + a[y + r + 1] − a[y − r], eight
    /// columns at a time.
    private static func columnMeans(_ a: [Float], _ w: Int, _ h: Int, radius r: Int) -> [Float] {
        var sum = [Float](repeating: 0, count: w)
        let inverseSpan = 1 / Float(2 * r + 1)
        return a.withUnsafeBufferPointer { pa in
            sum.withUnsafeMutableBufferPointer { ps in
                plane(w * h) { dst in
                    let src = pa.baseAddress!, s = ps.baseAddress!
                    func row(_ y: Int) -> UnsafePointer<Float> { src + min(max(y, 0), h - 1) * w }
                    for i in -r...r { Rows.add(s, row(i), w) }
                    for y in 0..<h {
                        Rows.scaled(dst + y * w, s, inverseSpan, w)
                        Rows.addDifference(s, row(y + r + 1), row(y - r), w)
                    }
                }
            }
        }
    }

    /// The minimum (or maximum) over a (2·radius+1)² window, edges clipped; separable: along the columns,
    /// then along the rows (as columns of the transposed picture).
    static func rank(_ a: [Float], _ w: Int, _ h: Int, radius: Int, max useMax: Bool) -> [Float] {
        guard radius > 0, w > 0, h > 0 else { return a }
        func columns(_ x: [Float], _ w: Int, _ h: Int) -> [Float] {
            useMax ? columnExtreme(x, w, h, radius: radius, Maximum.self) : columnExtreme(x, w, h, radius: radius, Minimum.self)
        }
        return transposed(columns(transposed(columns(a, w, h), w, h), h, w), h, w)
    }

    /// The morphological opening: the maximum over a (2·radius+1)² window of the minimum over such a window,
    /// `rank(rank(a, min), max)`. Each is separable and the two maxima commute, so it runs as min down the
    /// columns, then (transposed) min and max along the rows, then max down the columns: two transposes
    /// instead of four, the same values.
    static func opening(_ a: [Float], _ w: Int, _ h: Int, radius: Int) -> [Float] {
        guard radius > 0, w > 0, h > 0 else { return a }
        let down = columnExtreme(a, w, h, radius: radius, Minimum.self)
        let across = transposed(down, w, h)
        let rows = columnExtreme(columnExtreme(across, h, w, radius: radius, Minimum.self), h, w, radius: radius, Maximum.self)
        return columnExtreme(transposed(rows, h, w), w, h, radius: radius, Maximum.self)
    }

    /// For each of the `w` columns of `a` (`w × h`, row-major), the extreme (`E`: min or max) over rows
    /// [y − r, y + r] clipped to the picture, in three comparisons per value whatever the radius
    /// (van Herk / Gil–Werman), eight columns at a time. The rows are cut into blocks of k = 2r + 1;
    /// g holds each block's running extreme from its start, b from its end, and t the extreme from a row to
    /// the last. A window inside the picture spans at most two blocks and is E(b[y − r], g[y + r]); one
    /// clipped at the top lies in the first block and is g[y + r]; one clipped at the bottom is t[y − r].
    private static func columnExtreme<E: Extreme>(_ a: [Float], _ w: Int, _ h: Int, radius r: Int, _: E.Type) -> [Float] {
        let k = 2 * r + 1
        // g, b and t, each written before it is read (t only from row `lowest` on).
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 3 * w * h)
        defer { scratch.deallocate() }
        return a.withUnsafeBufferPointer { pa in plane(w * h) { dst in
            let src = pa.baseAddress!, G = scratch, B = scratch + w * h, T = scratch + 2 * w * h
            var start = 0
            while start < h {
                let end = min(start + k, h) - 1
                (G + start * w).update(from: src + start * w, count: w)
                if end > start { for y in (start + 1)...end { Rows.pick(E.self, G + y * w, G + (y - 1) * w, src + y * w, w) } }
                (B + end * w).update(from: src + end * w, count: w)
                if end > start { for y in stride(from: end - 1, through: start, by: -1) { Rows.pick(E.self, B + y * w, B + (y + 1) * w, src + y * w, w) } }
                start += k
            }
            let lowest = max(0, h - 1 - 2 * r)             // the first row a bottom-clipped window can start at
            (T + (h - 1) * w).update(from: src + (h - 1) * w, count: w)
            if h - 1 > lowest { for y in stride(from: h - 2, through: lowest, by: -1) { Rows.pick(E.self, T + y * w, T + (y + 1) * w, src + y * w, w) } }
            for y in 0..<h {
                let lo = y - r, hi = y + r
                if lo < 0 {
                    (dst + y * w).update(from: G + min(hi, h - 1) * w, count: w)
                } else if hi > h - 1 {
                    (dst + y * w).update(from: T + lo * w, count: w)
                } else {
                    Rows.pick(E.self, dst + y * w, B + lo * w, G + hi * w, w)
                }
            }
        } }
    }

    /// The `w × h` row-major picture `a` as an `h × w` one (rows become columns).
    static func transposed(_ a: [Float], _ w: Int, _ h: Int) -> [Float] {
        a.withUnsafeBufferPointer { pa in plane(w * h) { Kernels.transpose(pa.baseAddress!, rows: h, columns: w, into: $0) } }
    }

    /// The values of `a` that would sit at each of `ranks` (0-based) were `a` sorted ascending, without
    /// sorting it: a histogram of 1024 equal bins between the smallest and largest value finds the bin each
    /// rank falls in, and a quickselect among that bin's values picks it. `a` must hold no NaN.
    static func orderStatistics(_ a: [Float], ranks: [Int]) -> [Float] {
        guard !a.isEmpty else { return [] }
        let (lo, hi) = extremes(a)
        guard hi > lo else { return ranks.map { _ in lo } }
        let n = a.count, bins = 1024
        let binOf = binIndices(a, from: lo, scale: Float(bins) / (hi - lo), bins: bins)
        let counts = histogram(binOf, bins: bins)
        // The bin of each rank, and how many values lie in the bins before it (the smallest and the largest
        // value are known already).
        var wanted: [(bin: Int, before: Int)] = []
        for rank in ranks {
            precondition(rank >= 0 && rank < n, "orderStatistics: rank \(rank) outside 0..<\(n)")
            var before = 0, b = 0
            if rank != 0 && rank != n - 1 { while before + counts[b] <= rank { before += counts[b]; b += 1 } }
            wanted.append((b, before))
        }
        // The values of the wanted bins, gathered in one pass.
        var slot = [Int](repeating: -1, count: bins)
        var members: [[Float]] = []
        for (rank, w) in zip(ranks, wanted) where rank != 0 && rank != n - 1 && slot[w.bin] < 0 {
            slot[w.bin] = members.count
            members.append([])
        }
        if !members.isEmpty {
            a.withUnsafeBufferPointer { p in
                binOf.withUnsafeBufferPointer { bp in
                    for i in 0..<n { let s = slot[Int(bp[i])]; if s >= 0 { members[s].append(p[i]) } }
                }
            }
        }
        return zip(ranks, wanted).map { rank, w in
            if rank == 0 { return lo }
            if rank == n - 1 { return hi }
            return quickselect(&members[slot[w.bin]], rank - w.before)
        }
    }

    /// The bin of each value of `a` among `bins` (at most 2¹⁶) equal bins from `lo`: min(bins − 1, ⌊(v − lo)·scale⌋).
    /// Every value must be at least `lo` and not NaN.
    static func binIndices(_ a: [Float], from lo: Float, scale: Float, bins: Int) -> [UInt16] {
        precondition(bins > 0 && bins <= 1 << 16, "binIndices: \(bins) bins")
        let n = a.count
        return [UInt16](unsafeUninitializedCapacity: n) { out, initialized in
            a.withUnsafeBufferPointer { p in
                let last = Float(bins - 1)
                // Clamped as a float first, so that the conversion cannot overflow; truncated as Int() does.
                for i in 0..<n { out[i] = UInt16(Int32(min(last, (p[i] - lo) * scale))) }
            }
            initialized = n
        }
    }

    /// How many of `binOf` name each of `bins` bins. Four sets of counts take the values in turn and are
    /// summed at the end, so that a run of values in one bin (a picture's background) is not one chain of
    /// increments of the same counter. Each set is 16 counts (64 bytes) longer than `bins`, so that sets of
    /// 1,024 bins do not lie exactly 4 KiB apart: at such a distance the processor takes a load from one set
    /// for a load of the store to another and waits.
    static func histogram(_ binOf: [UInt16], bins: Int) -> [Int] {
        let stride = bins + 16
        var counts = [Int32](repeating: 0, count: 4 * stride)
        binOf.withUnsafeBufferPointer { p in
            counts.withUnsafeMutableBufferPointer { c in
                let c0 = c.baseAddress!, c1 = c0 + stride, c2 = c1 + stride, c3 = c2 + stride
                let n = p.count
                var i = 0
                while i + 4 <= n {
                    c0[Int(p[i])] &+= 1; c1[Int(p[i + 1])] &+= 1; c2[Int(p[i + 2])] &+= 1; c3[Int(p[i + 3])] &+= 1
                    i += 4
                }
                while i < n { c0[Int(p[i])] &+= 1; i += 1 }
            }
        }
        return (0..<bins).map { Int(counts[$0]) + Int(counts[stride + $0]) + Int(counts[2 * stride + $0]) + Int(counts[3 * stride + $0]) }
    }

    /// max(0, a[i] − b[i]) for each i (`a` and `b` of one size).
    static func positiveDifference(_ a: [Float], _ b: [Float]) -> [Float] {
        precondition(a.count == b.count, "positiveDifference: \(a.count) and \(b.count) values")
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                plane(a.count) { Rows.positiveDifference($0, pa.baseAddress!, pb.baseAddress!, a.count) }
            }
        }
    }

    /// Whether each value of `a` is above `t`.
    static func above(_ a: [Float], _ t: Float) -> [Bool] {
        [Bool](unsafeUninitializedCapacity: a.count) { buffer, initialized in
            a.withUnsafeBufferPointer { p in for i in 0..<p.count { buffer[i] = p[i] > t } }
            initialized = a.count
        }
    }

    /// The smallest and the largest value of `a` (not empty, no NaN), eight lanes at a time.
    static func extremes(_ a: [Float]) -> (Float, Float) {
        a.withUnsafeBufferPointer { p in
            var lo = SIMD8<Float>(repeating: p[0]), hi = lo
            var i = 0
            while i + 8 <= p.count {
                let v = UnsafeRawPointer(p.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self)
                lo = lo.replacing(with: v, where: v .< lo)
                hi = hi.replacing(with: v, where: v .> hi)
                i += 8
            }
            var l = lo.min(), h = hi.max()
            while i < p.count { l = Swift.min(l, p[i]); h = Swift.max(h, p[i]); i += 1 }
            return (l, h)
        }
    }

    /// The value that would sit at `rank` were `v` sorted ascending; reorders `v`. Median-of-three pivots
    /// and Hoare partitions, expected linear time, even when many values are equal.
    private static func quickselect(_ v: inout [Float], _ rank: Int) -> Float {
        var lo = 0, hi = v.count - 1
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            let pivot = Swift.max(Swift.min(v[lo], v[mid]), Swift.min(Swift.max(v[lo], v[mid]), v[hi]))
            var i = lo, j = hi
            while i <= j {
                while v[i] < pivot { i += 1 }
                while v[j] > pivot { j -= 1 }
                if i <= j { v.swapAt(i, j); i += 1; j -= 1 }
            }
            if rank <= j { hi = j } else if rank >= i { lo = i } else { break }
        }
        return v[rank]
    }

    /// Otsu's threshold: the level in [0, maximum] that maximises the between-class variance (256 bins).
    static func otsu(_ a: [Float], maximum: Float) -> Float {
        let bins = 256
        let scale = Float(bins - 1) / maximum
        let histogram = Filters.histogram(Filters.binIndices(a, from: 0, scale: scale, bins: bins), bins: bins).map(Double.init)
        let total = Double(a.count)
        var sumAll: Double = 0
        for i in 0..<bins { sumAll += Double(i) * histogram[i] }
        var weightBelow: Double = 0, sumBelow: Double = 0, best: Double = -1, bestIndex = 0
        for i in 0..<bins {
            weightBelow += histogram[i]
            if weightBelow == 0 { continue }
            let weightAbove = total - weightBelow
            if weightAbove == 0 { break }
            sumBelow += Double(i) * histogram[i]
            let meanBelow = sumBelow / weightBelow, meanAbove = (sumAll - sumBelow) / weightAbove
            let between = weightBelow * weightAbove * (meanBelow - meanAbove) * (meanBelow - meanAbove)
            if between > best { best = between; bestIndex = i }
        }
        return (Float(bestIndex) + 0.5) / Float(bins - 1) * maximum
    }

    /// The smallest box (inclusive corners) that holds every true pixel of the `w × h` `mask`, nil when none is.
    static func boundingBox(of mask: [Bool], _ w: Int, _ h: Int) -> (x0: Int, y0: Int, x1: Int, y1: Int)? {
        precondition(mask.count == w * h, "boundingBox: \(mask.count) pixels for \(w)x\(h)")
        var x0 = w, y0 = h, x1 = -1, y1 = -1
        mask.withUnsafeBufferPointer { m in
            for y in 0..<h {
                let row = UnsafeBufferPointer(rebasing: m[(y * w)..<((y + 1) * w)])
                guard let first = row.firstIndex(of: true), let last = row.lastIndex(of: true) else { continue }
                x0 = Swift.min(x0, first); x1 = Swift.max(x1, last)
                if y0 == h { y0 = y }
                y1 = y
            }
        }
        return x1 >= 0 ? (x0, y0, x1, y1) : nil
    }

    /// 8-connected components of `mask`: a label per pixel (-1 outside the mask) and each label's area.
    static func components(_ mask: [Bool], _ w: Int, _ h: Int) -> (labels: [Int], areas: [Int]) {
        var labels = [Int](repeating: -1, count: w * h)
        var areas: [Int] = []
        var stack: [(x: Int, y: Int)] = []
        for start in 0..<(w * h) where mask[start] && labels[start] < 0 {
            let label = areas.count
            var area = 0
            labels[start] = label
            stack.append((start % w, start / w))
            while let (x, y) = stack.popLast() {
                area += 1
                for yy in Swift.max(0, y - 1)...Swift.min(h - 1, y + 1) {
                    for xx in Swift.max(0, x - 1)...Swift.min(w - 1, x + 1) {
                        let q = yy * w + xx
                        if mask[q] && labels[q] < 0 { labels[q] = label; stack.append((xx, yy)) }
                    }
                }
            }
            areas.append(area)
        }
        return (labels, areas)
    }
}

/// The minimum or the maximum, for the rank filters: one of `Minimum` and `Maximum`.
protocol Extreme {
    /// The lane-wise extreme of two vectors.
    static func pick(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float>
    /// The extreme of two values.
    static func pick(_ a: Float, _ b: Float) -> Float
}

/// The smaller of two values.
enum Minimum: Extreme {
    @inline(__always) static func pick(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }
    @inline(__always) static func pick(_ a: Float, _ b: Float) -> Float { Swift.min(a, b) }
}

/// The larger of two values.
enum Maximum: Extreme {
    @inline(__always) static func pick(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
    @inline(__always) static func pick(_ a: Float, _ b: Float) -> Float { Swift.max(a, b) }
}

/// Whole-row operations of the filters, eight values at a time with a scalar tail.
enum Rows {
    private typealias V = SIMD8<Float>
    @inline(__always) private static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) private static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// dst[i] = E(a[i], b[i]).
    @inline(__always)
    static func pick<E: Extreme>(_: E.Type, _ dst: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n { store(E.pick(load(a + i), load(b + i)), dst + i); i += 8 }
        while i < n { dst[i] = E.pick(a[i], b[i]); i += 1 }
    }

    /// dst[i] = 1 − a[i].
    @inline(__always)
    static func complement(_ dst: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n { store(V(repeating: 1) - load(a + i), dst + i); i += 8 }
        while i < n { dst[i] = 1 - a[i]; i += 1 }
    }

    /// dst[i] = max(0, a[i] − b[i]).
    @inline(__always)
    static func positiveDifference(_ dst: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n { let d = load(a + i) - load(b + i); store(d.replacing(with: 0, where: d .< 0), dst + i); i += 8 }
        while i < n { dst[i] = max(0, a[i] - b[i]); i += 1 }
    }

    /// s[i] += a[i].
    @inline(__always)
    static func add(_ s: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n { store(load(s + i) + load(a + i), s + i); i += 8 }
        while i < n { s[i] += a[i]; i += 1 }
    }

    /// s[i] += a[i] − b[i].
    @inline(__always)
    static func addDifference(_ s: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n { store(load(s + i) + (load(a + i) - load(b + i)), s + i); i += 8 }
        while i < n { s[i] += a[i] - b[i]; i += 1 }
    }

    /// dst[i] = s[i] · c.
    @inline(__always)
    static func scaled(_ dst: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ c: Float, _ n: Int) {
        var i = 0
        while i + 8 <= n { store(load(s + i) * V(repeating: c), dst + i); i += 8 }
        while i < n { dst[i] = s[i] * c; i += 1 }
    }
}
