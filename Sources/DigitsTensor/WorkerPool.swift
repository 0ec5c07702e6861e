// WorkerPool: the threads `Parallel` runs its parts on. A training step hands out a dozen or more short
// parallel sections; threads that sleep between them take 10-15 µs each to wake (measured with
// DispatchQueue.concurrentPerform), so the workers here spin for a while before they sleep.

import Foundation
import Synchronization

/// Runs the parts of one job at a time on the calling thread and on worker threads that wait for the next
/// job spinning for `spinNanoseconds`, then asleep. Parts go to whichever thread claims them first; what a
/// part computes never depends on the thread that runs it.
final class WorkerPool: @unchecked Sendable {
    /// The pool `Parallel` uses.
    static let shared = WorkerPool()

    /// How long an idle worker keeps checking for a job before it sleeps (200 µs).
    static let spinNanoseconds: UInt64 = 200_000

    /// The job being handed out: its number (high 32 bits), its part count (next 16) and the next part to
    /// claim (low 16). Claiming a part is one compare-and-exchange on this word, so a worker that read an
    /// older job's description can never claim a part of a newer one.
    private let state = Atomic<UInt64>(0)
    /// The address of the running job's `Job` (on its caller's stack).
    private let jobAddress = Atomic<UInt>(0)
    /// Parts of the running job that have finished.
    private let finished = Atomic<Int>(0)
    /// True while a job runs: a second caller (another thread, or a part that itself runs parts) runs its
    /// parts inline instead.
    private let busy = Atomic<Bool>(false)
    /// Workers asleep on `wakeUp`.
    private let sleepers = Atomic<Int>(0)
    private let wakeUp = NSCondition()
    /// Workers started so far; only the caller holding `busy` reads or changes it.
    private var workerCount = 0

    /// One job: the parts' body.
    private struct Job {
        let body: (Int) -> Void
    }

    /// Calls `body(p)` for each p in 0..<parts, on up to `threads` threads (the caller's included), and returns
    /// when all have finished. Runs them one after the other on the caller when there is one part or one
    /// thread, or when another job is running.
    func run(parts: Int, threads: Int, _ body: (Int) -> Void) {
        guard parts > 1, threads > 1, parts <= 0xFFFF,
              busy.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged else {
            for p in 0..<parts { body(p) }
            return
        }
        defer { busy.store(false, ordering: .sequentiallyConsistent) }
        ensureWorkers(min(threads, parts) - 1)
        withoutActuallyEscaping(body) { body in
            var job = Job(body: body)
            withUnsafePointer(to: &job) { pointer in
                let number = (state.load(ordering: .sequentiallyConsistent) >> 32 &+ 1) & 0xFFFF_FFFF
                finished.store(0, ordering: .sequentiallyConsistent)
                jobAddress.store(UInt(bitPattern: pointer), ordering: .sequentiallyConsistent)
                state.store(number << 32 | UInt64(parts) << 16, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    wakeUp.lock()
                    wakeUp.broadcast()
                    wakeUp.unlock()
                }
                claimParts(of: number, pointer)
                // Wait for the workers' parts, giving way to any thread waiting for this processor.
                while finished.load(ordering: .sequentiallyConsistent) < parts { sched_yield() }
            }
        }
    }

    /// Claims and runs parts of job `number` until none is left (or a newer job has replaced it).
    private func claimParts(of number: UInt64, _ job: UnsafePointer<Job>) {
        var current = state.load(ordering: .sequentiallyConsistent)
        while current >> 32 == number {
            let (parts, next) = (current >> 16 & 0xFFFF, current & 0xFFFF)
            if next >= parts { return }
            let (exchanged, seen) = state.compareExchange(expected: current, desired: current + 1,
                                                          ordering: .sequentiallyConsistent)
            if exchanged {
                job.pointee.body(Int(next))
                finished.add(1, ordering: .sequentiallyConsistent)
                current += 1
            } else {
                current = seen
            }
        }
    }

    /// Starts workers until there are `count` (called only by the caller holding `busy`).
    private func ensureWorkers(_ count: Int) {
        while workerCount < count {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "digits worker \(workerCount + 1)"
            thread.start()
            workerCount += 1
        }
    }

    /// A worker's life: wait for a job number it has not seen, help with its parts, repeat.
    private func work() {
        var seen = state.load(ordering: .sequentiallyConsistent) >> 32
        while true {
            var number = state.load(ordering: .sequentiallyConsistent) >> 32
            if number == seen {
                let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
                var spins = 0
                while number == seen {
                    spins += 1
                    if spins % 64 == 0 && DispatchTime.now().uptimeNanoseconds > deadline {
                        number = sleep(until: seen)
                        break
                    }
                    number = state.load(ordering: .sequentiallyConsistent) >> 32
                }
            }
            seen = number
            guard let job = UnsafePointer<Job>(bitPattern: jobAddress.load(ordering: .sequentiallyConsistent)) else { continue }
            claimParts(of: number, job)
        }
    }

    /// Sleeps until the job number differs from `seen`; returns it.
    private func sleep(until seen: UInt64) -> UInt64 {
        wakeUp.lock()
        defer { wakeUp.unlock() }
        sleepers.add(1, ordering: .sequentiallyConsistent)
        defer { sleepers.subtract(1, ordering: .sequentiallyConsistent) }
        var number = state.load(ordering: .sequentiallyConsistent) >> 32
        while number == seen {
            wakeUp.wait()
            number = state.load(ordering: .sequentiallyConsistent) >> 32
        }
        return number
    }
}
