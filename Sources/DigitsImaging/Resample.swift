// Resampling: the two filters that MNIST's size normalisation needs. Shrinking averages the source area
// each output pixel covers (a box filter with fractional edges, so nothing aliases); enlarging
// interpolates bilinearly between pixel centres. Both are separable: columns first, then rows.

import DigitsTensor

enum Resample {
    /// `src` (w × h, row-major) resized to `ow × oh`; area averaging on a shrinking axis, bilinear on a growing one.
    /// Columns first (whole rows at a time), then rows.
    static func resize(_ src: [Float], _ w: Int, _ h: Int, to ow: Int, _ oh: Int) -> [Float] {
        precondition(w > 0 && h > 0 && ow > 0 && oh > 0, "Resample: empty size")
        let wx = weights(from: w, to: ow), wy = weights(from: h, to: oh)
        // Each output column's taps as flat lists: taps first[x]..<first[x + 1] are (index[t], weight[t]).
        var first = [0], index: [Int] = [], weight: [Float] = []
        for taps in wx {
            for (i, v) in taps { index.append(i); weight.append(v) }
            first.append(index.count)
        }
        var columns = [Float](repeating: 0, count: w * oh)
        var out = [Float](repeating: 0, count: ow * oh)
        src.withUnsafeBufferPointer { ps in
        columns.withUnsafeMutableBufferPointer { pc in
        out.withUnsafeMutableBufferPointer { po in
            let S = ps.baseAddress!, C = pc.baseAddress!, O = po.baseAddress!
            // Columns: h -> oh, whole rows at a time.
            for y in 0..<oh {
                for (j, v) in wy[y] { Kernels.axpy(w, alpha: v, S + j * w, C + y * w) }
            }
            // Rows: w -> ow for each of oh rows.
            first.withUnsafeBufferPointer { f in index.withUnsafeBufferPointer { ix in weight.withUnsafeBufferPointer { wt in
                for y in 0..<oh {
                    let line = C + y * w
                    for x in 0..<ow {
                        var s: Float = 0
                        for t in f[x]..<f[x + 1] { s += wt[t] * line[ix[t]] }
                        O[y * ow + x] = s
                    }
                }
            } } }
        } } }
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
