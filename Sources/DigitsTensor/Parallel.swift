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
        let threads = min(BLAS.threads, count, count * workPerItem / max(minimumWork, 1))
        if threads <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let task = Unchecked(body)   // each call writes a disjoint range: no data race
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                task.value((count * t / threads) ..< (count * (t + 1) / threads))
            }
        }
    }

    /// Like `forEachRange`, but with the cut points chosen so that each part holds about the same
    /// total `weight` (e.g. the number of nonzeros per row).
    public static func forEachBalancedRange(_ weights: UnsafeBufferPointer<Int>, minimumTotal: Int, _ body: (Range<Int>) -> Void) {
        let count = weights.count
        var total = 0
        for w in weights { total += w }
        let threads = min(BLAS.threads, max(1, total / max(minimumTotal, 1)), count)
        if threads <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        var cuts = [0]
        var running = 0, next = 1
        for i in 0..<count {
            running += weights[i]
            while next < threads && running * threads >= total * next { cuts.append(i + 1); next += 1 }
        }
        while cuts.count < threads { cuts.append(count) }
        cuts.append(count)
        let bounds = cuts
        withoutActuallyEscaping(body) { body in
            let task = Unchecked(body)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                if bounds[t] < bounds[t + 1] { task.value(bounds[t] ..< bounds[t + 1]) }
            }
        }
    }
}

/// A value handed to worker threads whose safety the caller guarantees (disjoint writes).
struct Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
