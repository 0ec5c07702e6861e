import XCTest
import Foundation
import Synchronization
import DigitsTensor

/// `Parallel` on its worker pool: every part runs exactly once, with its own range, job after job; parts
/// that start parts of their own, and two threads starting jobs at once, still get every part done.
final class ParallelTests: XCTestCase {
    override func tearDown() {
        BLAS.setThreads(ProcessInfo.processInfo.activeProcessorCount)
        super.tearDown()
    }

    /// Each job's parts cover 0..<count exactly once, in the ranges `forEachPart` promises, for many jobs in a
    /// row (some right after the last, while the workers still spin) and for part counts above the thread count.
    func testEveryPartRunsOnceJobAfterJob() {
        BLAS.setThreads(2)
        for job in 0..<3000 {
            let parts = 1 + job % 5, count = 7 + job % 13
            var hits = [Int](repeating: 0, count: count)
            var owners = [Int](repeating: -1, count: count)
            hits.withUnsafeMutableBufferPointer { h in
                owners.withUnsafeMutableBufferPointer { o in
                    let (h, o) = (h.baseAddress!, o.baseAddress!)
                    Parallel.forEachPart(parts, of: count) { p, range in
                        for i in range { h[i] += 1; o[i] = p }
                    }
                }
            }
            XCTAssertEqual(hits, [Int](repeating: 1, count: count), "job \(job)")
            for i in 0..<count {
                XCTAssertEqual(owners[i], (0..<parts).first { count * $0 / parts <= i && i < count * ($0 + 1) / parts }, "job \(job), item \(i)")
            }
            if job % 500 == 0 { usleep(1000) }   // let the workers fall asleep now and then
        }
    }

    /// A part that itself runs parts (a product inside a parallel loop) gets them all done.
    func testNestedPartsRunInline() {
        BLAS.setThreads(2)
        let total = Atomic<Int>(0)
        Parallel.forEachPart(2, of: 2) { _, _ in
            Parallel.forEachPart(3, of: 30) { _, range in total.add(range.count, ordering: .relaxed) }
        }
        XCTAssertEqual(total.load(ordering: .relaxed), 60)
    }

    /// Jobs started from two threads at once both finish with all their parts.
    func testJobsFromTwoThreadsAtOnce() {
        BLAS.setThreads(2)
        let total = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            for _ in 0..<500 {
                Parallel.forEachPart(2, of: 10) { _, range in total.add(range.count, ordering: .relaxed) }
            }
        }
        XCTAssertEqual(total.load(ordering: .relaxed), 2 * 500 * 10)
    }

    /// `forEachBalancedRange` covers every item once, cut where the weights say.
    func testBalancedRangesCoverEveryItemOnce() {
        BLAS.setThreads(2)
        let starts = [0, 10, 10, 50, 55, 100, 180, 200]
        var hits = [Int](repeating: 0, count: starts.count - 1)
        hits.withUnsafeMutableBufferPointer { h in
            let h = h.baseAddress!
            starts.withUnsafeBufferPointer { s in
                Parallel.forEachBalancedRange(starts.count - 1, starts: s.baseAddress!, minimumTotal: 10) { range in
                    for i in range { h[i] += 1 }
                }
            }
        }
        XCTAssertEqual(hits, [Int](repeating: 1, count: starts.count - 1))
    }
}
