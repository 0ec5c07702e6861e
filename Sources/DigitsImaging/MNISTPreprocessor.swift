// MNISTPreprocessor: a user's picture made to look like an MNIST digit.
//
// MNIST (LeCun et al.) took NIST's black-and-white digits, normalised each to fit a 20×20 box keeping its
// aspect ratio (anti-aliasing made grey levels), and placed it in a 28×28 field so that its centre of mass
// (intensity-weighted) fell at the field's centre. A network trained on MNIST has only seen digits made
// this way, so we make the user's digit the same way, after first turning a photograph into clean ink:
//
//   1. shrink very large pictures to at most 400 px on the long side (area averaging);
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
    public static let workingSize = 400
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
        for y in 0..<h {
            for x in 0..<w where x < ring || y < ring || x >= w - ring || y >= h - ring { border.append(g[y * w + x]) }
        }
        let borderMedian = Filters.orderStatistics(border, ranks: [border.count / 2])[0]
        let inverted = borderMedian > (p01 + p99) / 2
        let ink = inverted ? g.map { 1 - $0 } : g

        // 3. Background by opening (min then max filter), window wider than a stroke, then blurred.
        let k = max(3, min(w, h) / 4) | 1
        let smooth = Filters.boxBlur(ink, w, h, radius: 1)
        var background = Filters.rank(Filters.rank(smooth, w, h, radius: k / 2, max: false), w, h, radius: k / 2, max: true)
        background = Filters.boxBlur(background, w, h, radius: k / 2)
        var r = [Float](repeating: 0, count: n), rs = [Float](repeating: 0, count: n)
        for i in 0..<n {
            r[i] = max(0, ink[i] - background[i])
            rs[i] = max(0, smooth[i] - background[i])
        }

        // 4. Otsu threshold on the smoothed top-hat.
        let peak = rs.max() ?? 0
        guard peak >= 0.1 else { throw noInk(peak) }
        let t = max(Filters.otsu(rs, maximum: peak), 0.1)

        // 5. Connected components; drop specks (single pixels, and anything under 1/20 of the largest). Ink
        // that is nothing but specks is no ink.
        let (labels, areas) = Filters.components(rs.map { $0 > t }, w, h)
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
        var coreLevels: [Float] = []
        for i in kept.indices where kept[i] { coreLevels.append(r[i]) }
        guard !coreLevels.isEmpty else { throw noInk }
        coreLevels.sort()

        // 6. Grade levels near the kept ink.
        let lo = t / 2
        let hi = max(coreLevels[Int(0.9 * Double(coreLevels.count - 1))], lo + 0.05)
        var graded = [Float](repeating: 0, count: w * h)
        var x0 = w, y0 = h, x1 = -1, y1 = -1
        let xa = max(0, columns.lowerBound), xb = min(w - 1, columns.upperBound)
        for y in 0..<h {
            for x in xa...xb {
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
    /// The mean over a (2·radius+1)² window, edges clamped; separable running sums.
    static func boxBlur(_ a: [Float], _ w: Int, _ h: Int, radius: Int) -> [Float] {
        guard radius > 0 else { return a }
        func pass(_ src: [Float], _ len: Int, _ lines: Int, _ at: (Int, Int) -> Int) -> [Float] {
            var out = src
            let span = Float(2 * radius + 1)
            for l in 0..<lines {
                var sum: Float = 0
                for i in -radius...radius { sum += src[at(l, min(max(i, 0), len - 1))] }
                for i in 0..<len {
                    out[at(l, i)] = sum / span
                    sum += src[at(l, min(i + radius + 1, len - 1))] - src[at(l, max(i - radius, 0))]
                }
            }
            return out
        }
        let rows = pass(a, w, h) { line, i in line * w + i }
        return pass(rows, h, w) { line, i in i * w + line }
    }

    /// The minimum (or maximum) over a (2·radius+1)² window, edges clipped; separable: along the rows, then
    /// along the columns (as rows of the transposed picture).
    static func rank(_ a: [Float], _ w: Int, _ h: Int, radius: Int, max useMax: Bool) -> [Float] {
        let rows = useMax ? runningExtreme(a, length: w, lines: h, radius: radius, by: Swift.max)
                          : runningExtreme(a, length: w, lines: h, radius: radius, by: Swift.min)
        let t = transposed(rows, w, h)
        let columns = useMax ? runningExtreme(t, length: h, lines: w, radius: radius, by: Swift.max)
                             : runningExtreme(t, length: h, lines: w, radius: radius, by: Swift.min)
        return transposed(columns, h, w)
    }

    /// For each line of `length` values, the extreme (`pick` is min or max) over the window [i − r, i + r]
    /// clipped to the line, in three comparisons per value whatever the radius (van Herk / Gil–Werman):
    /// the line is cut into blocks of k = 2r + 1; g holds each block's running extreme from its start, h from
    /// its end; a window spanning two blocks is pick(h[lo], g[hi]), one inside a block is g[hi] or h[lo].
    static func runningExtreme(_ a: [Float], length: Int, lines: Int, radius r: Int,
                               by pick: (Float, Float) -> Float) -> [Float] {
        let k = 2 * r + 1
        var out = a
        var g = [Float](repeating: 0, count: length), h = [Float](repeating: 0, count: length)
        for line in 0..<lines {
            let base = line * length
            var start = 0
            while start < length {
                let end = min(start + k, length) - 1
                g[start] = a[base + start]
                if end > start { for i in (start + 1)...end { g[i] = pick(g[i - 1], a[base + i]) } }
                h[end] = a[base + end]
                if end > start { for i in stride(from: end - 1, through: start, by: -1) { h[i] = pick(h[i + 1], a[base + i]) } }
                start += k
            }
            for i in 0..<length {
                let lo = max(0, i - r), hi = min(length - 1, i + r)
                if lo / k == hi / k {
                    out[base + i] = lo % k == 0 ? g[hi] : h[lo]   // a clipped window touching its block's start or end
                } else {
                    out[base + i] = pick(h[lo], g[hi])
                }
            }
        }
        return out
    }

    /// The `w × h` row-major picture `a` as an `h × w` one (rows become columns).
    static func transposed(_ a: [Float], _ w: Int, _ h: Int) -> [Float] {
        var out = [Float](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w { out[x * h + y] = a[y * w + x] } }
        return out
    }

    /// The values of `a` that would sit at each of `ranks` (0-based) were `a` sorted ascending, by
    /// quickselect on one copy: expected linear time instead of a full sort.
    static func orderStatistics(_ a: [Float], ranks: [Int]) -> [Float] {
        var v = a
        return ranks.map { rank in
            var lo = 0, hi = v.count - 1
            while lo < hi {
                // Median of three as the pivot, then Hoare partition.
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
    }

    /// Otsu's threshold: the level in [0, maximum] that maximises the between-class variance (256 bins).
    static func otsu(_ a: [Float], maximum: Float) -> Float {
        let bins = 256
        var histogram = [Double](repeating: 0, count: bins)
        for v in a { histogram[min(bins - 1, Int(v / maximum * Float(bins - 1)))] += 1 }
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

    /// 8-connected components of `mask`: a label per pixel (-1 outside the mask) and each label's area.
    static func components(_ mask: [Bool], _ w: Int, _ h: Int) -> (labels: [Int], areas: [Int]) {
        var labels = [Int](repeating: -1, count: w * h)
        var areas: [Int] = []
        var stack: [Int] = []
        for start in 0..<(w * h) where mask[start] && labels[start] < 0 {
            let label = areas.count
            var area = 0
            labels[start] = label
            stack.append(start)
            while let p = stack.popLast() {
                area += 1
                let x = p % w, y = p / w
                for dy in -1...1 {
                    for dx in -1...1 {
                        let xx = x + dx, yy = y + dy
                        guard xx >= 0, xx < w, yy >= 0, yy < h else { continue }
                        let q = yy * w + xx
                        if mask[q] && labels[q] < 0 { labels[q] = label; stack.append(q) }
                    }
                }
            }
            areas.append(area)
        }
        return (labels, areas)
    }
}
