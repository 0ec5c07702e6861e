// Stopping a training run cleanly: a flag that another thread, or Ctrl-C, sets and the trainer reads
// between batches, so that the run ends on a batch boundary with its checkpoint written.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A request that a training run stop at its next batch boundary; safe to set from any thread.
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false
    private var sources: [DispatchSourceSignal] = []

    /// A request not yet made.
    public init() {}

    /// Whether a stop has been requested.
    public var isRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }

    /// Asks the run to stop after the batch in progress.
    public func request() {
        _ = requestAgain()
    }

    /// Requests a stop; returns whether one had been requested already.
    private func requestAgain() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let before = requested
        requested = true
        return before
    }

    /// Makes SIGINT (Ctrl-C) and SIGTERM request a stop instead of ending the process. The first such
    /// signal calls `onFirst` (on a background queue), e.g. to say that the run is finishing its batch;
    /// a second one ends the process at once with status 130, saving nothing.
    public func stopOnInterrupt(onFirst: @escaping @Sendable () -> Void = {}) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)                 // the dispatch source sees it; the default action does not run
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                if requestAgain() { exit(130) }
                onFirst()
            }
            source.resume()
            lock.lock()
            sources.append(source)
            lock.unlock()
        }
    }
}
