// WorkQueue: the server's heavy work (decoding a picture, preparing it, running the model) on threads of its
// own, a bounded number at a time, each request within a deadline.
//
// Swift's cooperative thread pool has one thread per core. A handler that decodes a large or hostile picture
// synchronously on it holds one of those threads for as long as the decode takes, and two such requests on a
// 2-core machine leave no thread for `/healthz`, `/metrics` or the event loops' continuations. So every
// request's work is handed to a Dispatch thread instead, and the handler awaits it:
//
//   - at most `limits.concurrent` pieces of work run at once; up to `limits.queued` more wait their turn;
//   - a request that finds the queue full is refused at once (503 with Retry-After), never queued without end;
//   - a request whose work has not finished within `limits.deadline` (waiting included) is answered 503 then;
//     work already running cannot be interrupted (libjpeg and the model run to the end), but it is bounded by
//     the decoders' limits and keeps its slot until it ends, so the machine is never oversubscribed;
//   - a request whose task is cancelled, or whose connection closes (its client gone), while it waits leaves
//     the queue without running; work already running goes on to its end, keeping its slot.

import Foundation
import NIOCore

/// How much work the server takes on at once.
public struct WorkLimits: Sendable, Equatable {
    /// The most pieces of work that run at the same time (by default, one per core).
    public var concurrent: Int
    /// The most requests that wait for a free slot; one more is refused with 503 (by default 4 per slot).
    public var queued: Int
    /// How long a request's work may take, waiting for a slot included, before the answer is 503 (10 s).
    public var deadline: Duration

    /// Limits with the given bounds; `concurrent` is at least 1 and `queued` at least 0.
    public init(concurrent: Int = ProcessInfo.processInfo.activeProcessorCount, queued: Int? = nil,
                deadline: Duration = .seconds(10)) {
        self.concurrent = max(1, concurrent)
        self.queued = max(0, queued ?? 4 * self.concurrent)
        self.deadline = deadline
    }
}

/// Why a piece of work was not done.
public enum WorkRefusal: Error, Equatable, Sendable {
    /// Every slot is busy and the queue is full.
    case queueFull(concurrent: Int, queued: Int)
    /// The work did not finish within the deadline.
    case deadlineExceeded(Duration)
    /// The request was cancelled (its client left) before its work started.
    case cancelled
}

/// Runs closures on Dispatch threads, at most `limits.concurrent` at once, with a bounded queue and a deadline.
public final class WorkQueue: @unchecked Sendable {
    /// The bounds this queue holds to.
    public let limits: WorkLimits
    private let lock = NSLock()
    private var running = 0
    private var waiting: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID: UInt64 = 0

    /// A queue holding to `limits`.
    public init(limits: WorkLimits = WorkLimits()) {
        self.limits = limits
    }

    /// The work running now and the requests waiting for a slot.
    public var load: (running: Int, waiting: Int) {
        lock.withLock { (running, waiting.count) }
    }

    /// Runs `body` on a Dispatch thread once a slot is free, and returns its result.
    /// - Throws: `WorkRefusal` when the queue is full, the deadline passes first, or the task is cancelled
    ///   while waiting; otherwise whatever `body` throws.
    /// With `closed` (a connection's close future), its completion counts as a cancellation.
    public func run<T: Sendable>(cancelledBy closed: EventLoopFuture<Void>? = nil,
                                 _ body: @escaping @Sendable () throws -> T) async throws -> T {
        let outcome = Outcome<T>()
        let deadline = limits.deadline
        // The wait for a slot and the work itself, apart from the awaiting task, so that the deadline and a
        // cancellation answer at once even while the request is still queued.
        let worker = Task {
            do { try await self.acquire() } catch {
                outcome.finish(.failure(error))
                return
            }
            guard !outcome.isFinished else {  // the deadline passed or the client left while it waited
                self.release()
                return
            }
            DispatchQueue.global(qos: .userInitiated).async {
                let result = Result { try body() }
                self.release()
                outcome.finish(result)
            }
        }
        let timer = Task {
            try await Task.sleep(for: deadline)
            outcome.finish(.failure(WorkRefusal.deadlineExceeded(deadline)))
            worker.cancel()
        }
        defer { timer.cancel() }
        closed?.whenComplete { _ in
            outcome.finish(.failure(WorkRefusal.cancelled))
            worker.cancel()
        }
        return try await withTaskCancellationHandler {
            try await outcome.value
        } onCancel: {
            outcome.finish(.failure(WorkRefusal.cancelled))
            worker.cancel()
        }
    }

    /// Takes a slot, waiting for one when all are busy; throws when the queue is full or the task is cancelled.
    private func acquire() async throws {
        enum Turn { case now, full, wait(UInt64) }
        let turn: Turn = lock.withLock {
            if running < limits.concurrent {
                running += 1
                return .now
            }
            guard waiting.count < limits.queued else { return .full }
            nextID += 1
            return .wait(nextID)
        }
        let id: UInt64
        switch turn {
        case .now: return
        case .full: throw WorkRefusal.queueFull(concurrent: limits.concurrent, queued: limits.queued)
        case .wait(let ticket): id = ticket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Start { case cancelled, now, queued }
                let start: Start = lock.withLock {
                    if Task.isCancelled { return .cancelled }
                    // A slot may have come free since the check above.
                    if running < limits.concurrent {
                        running += 1
                        return .now
                    }
                    waiting.append((id, continuation))
                    return .queued
                }
                switch start {
                case .cancelled: continuation.resume(throwing: WorkRefusal.cancelled)
                case .now: continuation.resume()
                case .queued: break
                }
            }
        } onCancel: {
            let removed: CheckedContinuation<Void, any Error>? = lock.withLock {
                guard let index = waiting.firstIndex(where: { $0.id == id }) else { return nil }
                return waiting.remove(at: index).continuation
            }
            removed?.resume(throwing: WorkRefusal.cancelled)
        }
    }

    /// Gives a slot back: to the first waiting request, or to the pool.
    private func release() {
        let next: CheckedContinuation<Void, any Error>? = lock.withLock {
            if waiting.isEmpty {
                running -= 1
                return nil
            }
            return waiting.removeFirst().continuation
        }
        next?.resume()  // the slot passes to the first waiting request: `running` stays the same
    }
}

/// A result that the first of several parties sets, and that one task awaits.
private final class Outcome<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?
    private var continuation: CheckedContinuation<T, any Error>?

    var isFinished: Bool {
        lock.withLock { result != nil }
    }

    /// Sets the result unless one is set already, and resumes the waiting task.
    func finish(_ value: Result<T, any Error>) {
        let waiter: CheckedContinuation<T, any Error>?? = lock.withLock {
            guard result == nil else { return .none }
            result = value
            defer { continuation = nil }
            return .some(continuation)
        }
        if case .some(let waiter?) = waiter { waiter.resume(with: value) }
    }

    /// The result, once set.
    var value: T {
        get async throws {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
                let ready: Result<T, any Error>? = lock.withLock {
                    if let result { return result }
                    continuation = c
                    return nil
                }
                if let ready { c.resume(with: ready) }
            }
        }
    }
}
