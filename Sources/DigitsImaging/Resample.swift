// Resampling: the two filters that MNIST's size normalisation needs. Shrinking averages the source area
// each output pixel covers (a box filter with fractional edges, so nothing aliases); enlarging
// interpolates bilinearly between pixel centres. Both are separable: rows first, then columns.

enum Resample {
    /// `src` (w × h, row-major) resized to `ow × oh`; area averaging on a shrinking axis, bilinear on a growing one.
    static func resize(_ src: [Float], _ w: Int, _ h: Int, to ow: Int, _ oh: Int) -> [Float] {
        precondition(w > 0 && h > 0 && ow > 0 && oh > 0, "Resample: empty size")
        // Rows: w -> ow for each of h rows.
        var rows = [Float](repeating: 0, count: ow * h)
        let wx = weights(from: w, to: ow)
        for y in 0..<h {
            for x in 0..<ow {
                var s: Float = 0
                for (i, weight) in wx[x] { s += weight * src[y * w + i] }
                rows[y * ow + x] = s
            }
        }
        // Columns: h -> oh.
        var out = [Float](repeating: 0, count: ow * oh)
        let wy = weights(from: h, to: oh)
        for y in 0..<oh {
            for (j, weight) in wy[y] {
                for x in 0..<ow { out[y * ow + x] += weight * rows[j * ow + x] }
            }
        }
        return out
    }

    /// For each output index, the source indices and weights (summing to 1) that make it.
    static func weights(from n: Int, to m: Int) -> [[(Int, Float)]] {
        let scale = Double(n) / Double(m)  // source pixels per output pixel
        var table: [[(Int, Float)]] = []
        table.reserveCapacity(m)
        for o in 0..<m {
            var taps: [(Int, Float)] = []
            if scale >= 1 {
                // Area: output pixel o covers source interval [o*scale, (o+1)*scale).
                let a = Double(o) * scale, b = Double(o + 1) * scale
                var i = Int(a)
                while Double(i) < b && i < n {
                    let overlap = min(b, Double(i + 1)) - max(a, Double(i))
                    if overlap > 0 { taps.append((i, Float(overlap / scale))) }
                    i += 1
                }
            } else {
                // Bilinear: the output centre o+0.5 maps to source coordinate c; blend the two nearest centres.
                let c = (Double(o) + 0.5) * scale - 0.5
                let i0 = Int(c.rounded(.down))
                let t = Float(c - Double(i0))
                let a = min(max(i0, 0), n - 1), b = min(max(i0 + 1, 0), n - 1)
                taps = [(a, 1 - t), (b, t)]
            }
            table.append(taps)
        }
        return table
    }
}
