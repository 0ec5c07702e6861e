// What a training run shows as it goes: a live progress bar on a terminal, one plain line per
// epoch otherwise, and optionally every epoch's metrics as JSON lines in a log file.

import Foundation

/// Turns training events into text: a live bar (when `live`) and one line per epoch.
public final class ProgressPrinter {
    private let live: Bool
    private let write: (String) -> Void
    private let writeLive: (String) -> Void
    private var lastDraw: UInt64 = 0
    private let log: FileHandle?
    private let evaluationName: String

    /// A printer; `live` draws a redrawn bar through `writeLive` (stderr), lines go through `write` (stdout).
    /// With `logURL`, each epoch's record is appended there as one JSON line; the file is started afresh
    /// unless `appendingLog` (a resumed run) and it exists. `evaluationName` names the set each epoch is
    /// tested on ("test", or "validation" for a held-out part of the training set).
    public init(live: Bool, logURL: URL? = nil, appendingLog: Bool = false, evaluationName: String = "test",
                write: @escaping (String) -> Void = writeLine,
                writeLive: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) throws {
        self.live = live
        self.write = write
        self.writeLive = writeLive
        self.evaluationName = evaluationName
        if let logURL {
            let keep = appendingLog && FileManager.default.fileExists(atPath: logURL.path)
            guard keep || FileManager.default.createFile(atPath: logURL.path, contents: nil) else {
                throw DigitsError.unwritableOutput(path: logURL.path, reason: "the log file cannot be created")
            }
            log = try FileHandle(forWritingTo: logURL)
            if keep { try log?.seekToEnd() }
        } else {
            log = nil
        }
    }

    /// Whether standard error is a terminal (so a live bar makes sense).
    public static var stderrIsTerminal: Bool { isatty(2) != 0 }

    /// Handles one event.
    public func handle(_ event: TrainingEvent) {
        switch event {
        case .batch(let p):
            guard live else { return }
            let now = DispatchTime.now().uptimeNanoseconds
            guard p.batch == p.batches || now - lastDraw > 100_000_000 else { return }
            lastDraw = now
            writeLive("\r" + Self.bar(p) + "\u{1B}[K")
        case .epoch(let r):
            if live { writeLive("\r\u{1B}[K") }
            write(Self.line(r, evaluationName: evaluationName))
            if let log, let json = try? jsonString(r) {
                log.write(Data((json + "\n").utf8))
            }
        }
    }

    /// The live bar: epoch, batches, running loss and accuracy, samples/s and time left.
    public static func bar(_ p: BatchProgress) -> String {
        let width = 24
        let filled = p.batches > 0 ? width * p.batch / p.batches : 0
        let rate = p.elapsed > 0 ? Double(p.samples) / p.elapsed : 0
        let left = rate > 0 ? Double(p.totalSamples - p.samples) / rate : 0
        return "epoch \(p.epoch)/\(p.epochs) [" + String(repeating: "=", count: filled)
            + String(repeating: " ", count: width - filled) + "] \(p.batch)/\(p.batches)"
            + "  loss \(fixed(p.loss))  acc \(percent(p.accuracy))  \(Int(rate)) samples/s  \(fixed(left, digits: 1))s left"
    }

    /// The plain per-epoch line: train loss and accuracy, test (or validation) loss and accuracy, seconds.
    public static func line(_ r: EpochRecord, evaluationName: String = "test") -> String {
        var s = "epoch \(r.epoch): train loss \(fixed(r.trainLoss)) acc \(percent(r.trainAccuracy))"
        if let l = r.testLoss, let a = r.testAccuracy { s += "  \(evaluationName) loss \(fixed(l)) acc \(percent(a))" }
        s += "  \(fixed(r.seconds, digits: 2))s (\(Int(r.samplesPerSecond)) samples/s)"
        return s
    }
}

/// Writes `line` and a newline to standard output at once (unbuffered), so progress shows up in logs
/// and pipes as it happens.
public func writeLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Checks before a long run that `url` can be written: its folder exists and accepts a new file.
public func checkWritable(_ url: URL) throws {
    let dir = url.deletingLastPathComponent()
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
        throw DigitsError.unwritableOutput(path: url.path, reason: "the folder \(dir.path) does not exist")
    }
    let probe = dir.appendingPathComponent(".digits-write-check-\(getpid())")
    guard FileManager.default.createFile(atPath: probe.path, contents: Data()) else {
        throw DigitsError.unwritableOutput(path: url.path, reason: "the folder \(dir.path) is not writable")
    }
    try? FileManager.default.removeItem(at: probe)
}
