// Work split across threads, in a way that never changes a result: each thread owns a disjoint
// range of outputs and computes it in the same order whatever the thread count.

import Foundation

/// Runs loops across the cores. The thread count follows `BLAS.threads`, so `--threads` governs both.
public enum Parallel {
    /// Calls `body(range)` for consecutive, disjoint ranges covering 0..<count, on up to `BLAS.threads`
    /// threads, each thread getting at least `minimumWork` units of work (`workPerItem` per item);
    /// runs inline when there is too little work or only one thread is allowed.
    /// `body` must write only outputs that belong to its range.
    public static func forEachRange(_ count: Int, workPerItem: Int = 1, minimumWork: Int = 1 << 15,
                                    _ body: (Range<Int>) -> Void) {
        forEachPart(partCount(count, workPerItem: workPerItem, minimumWork: minimumWork), of: count) { _, range in body(range) }
    }

    /// The number of ranges `forEachRange` splits `count` items into: at most `BLAS.threads`, and few enough
    /// that each gets `minimumWork` units (`workPerItem` per item); at least 1.
    public static func partCount(_ count: Int, workPerItem: Int = 1, minimumWork: Int = 1 << 15) -> Int {
        max(1, min(BLAS.threads, count, count * workPerItem / max(minimumWork, 1)))
    }

    /// Calls `body(p, range)` for each part p in 0..<parts, on up to `BLAS.threads` threads (`WorkerPool`), where part p is the range
    /// count·p/parts ..< count·(p+1)/parts: the same split on every call with the same `parts` and `count`,
    /// so that two passes can hand each part its own results from the first. Runs inline for one part.
    /// `body` must write only outputs that belong to its part.
    public static func forEachPart(_ parts: Int, of count: Int, _ body: (Int, Range<Int>) -> Void) {
        if parts <= 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        WorkerPool.shared.run(parts: parts, threads: BLAS.threads) { p in   // each part writes its own outputs
            body(p, (count * p / parts) ..< (count * (p + 1) / parts))
        }
    }

    /// Like `forEachRange` over `count` items, but with the cut points chosen so that each part holds about
    /// the same total weight, item i weighing starts[i+1] − starts[i] (`starts`: count + 1 nondecreasing
    /// offsets, e.g. where each row's nonzeros begin in a list), and at least `minimumTotal` per part.
    public static func forEachBalancedRange(_ count: Int, starts: UnsafePointer<Int>, minimumTotal: Int,
                                            _ body: (Range<Int>) -> Void) {
        let total = starts[count] - starts[0]
        let threads = min(BLAS.threads, max(1, total / max(minimumTotal, 1)), count)
        if threads <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        // Part t ends after the first item at which the running weight reaches t/threads of the total.
        var cuts = [0]
        var next = 1
        for i in 0..<count {
            let running = starts[i + 1] - starts[0]
            while next < threads && running * threads >= total * next { cuts.append(i + 1); next += 1 }
        }
        while cuts.count < threads { cuts.append(count) }
        cuts.append(count)
        WorkerPool.shared.run(parts: threads, threads: threads) { t in
            if cuts[t] < cuts[t + 1] { body(cuts[t] ..< cuts[t + 1]) }
        }
    }
}
