// TensorBoard event files: scalars that `tensorboard --logdir DIR` plots, written without TensorFlow.
//
// Goals, in order: files that TensorBoard's own reader accepts (checked by a test with the
// `tensorboard` Python package); each event on disk as soon as it is written, so a running
// TensorBoard shows a run live; nothing but digits' own protobuf encoder and CRC.

import Foundation
import DigitsData

/// One TensorBoard event file: a TFRecord file (`TFRecord`) of `Event` messages from TensorFlow's
/// event.proto and summary.proto, of which digits writes these fields:
///
///     message Event   { double wall_time = 1; int64 step = 2;
///                       oneof what { string file_version = 3; Summary summary = 5; } }
///     message Summary { repeated Value value = 1; }
///     message Value   { string tag = 1; float simple_value = 2; }
///
/// The first event carries `file_version` "brain.Event:2"; every later one a `Summary` of scalars.
/// The file is named `events.out.tfevents.<unix seconds>.<hostname>.<process id>.digits`: TensorBoard
/// reads every file under its log folder whose name contains "tfevents".
///
///     let file = try TensorBoardEventFile(directory: URL(fileURLWithPath: "runs/mlp"))
///     try file.writeScalars(["loss": 0.31, "accuracy": 0.91], step: 100)
public final class TensorBoardEventFile {
    /// The version string of the first event, as TensorFlow writes it.
    public static let fileVersion = "brain.Event:2"

    /// Where the events go.
    public let url: URL
    private let handle: FileHandle

    /// Creates the folder `directory` if needed and a new event file in it, and writes the
    /// file-version event. Throws `DigitsError.unwritableOutput` when either cannot be created.
    public init(directory: URL, wallTime: Double = Date().timeIntervalSince1970) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw DigitsError.unwritableOutput(path: directory.path,
                                               reason: "the TensorBoard folder cannot be created: \(error.localizedDescription)")
        }
        url = directory.appendingPathComponent(
            "events.out.tfevents.\(Int64(wallTime)).\(Self.hostName()).\(ProcessInfo.processInfo.processIdentifier).digits")
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
              let handle = try? FileHandle(forWritingTo: url) else {
            throw DigitsError.unwritableOutput(path: url.path, reason: "the TensorBoard event file cannot be created")
        }
        self.handle = handle
        try write(Self.event(wallTime: wallTime, step: 0) { $0.writeString(field: 3, Self.fileVersion) })
    }

    deinit {
        try? handle.close()
    }

    /// Appends one event holding `scalars` (tag → value) at `step`, tags in alphabetical order.
    public func writeScalars(_ scalars: [String: Float], step: Int,
                             wallTime: Double = Date().timeIntervalSince1970) throws {
        try write(Self.scalarEvent(scalars, step: step, wallTime: wallTime))
    }

    /// The serialised `Event` with a `Summary` of `scalars` (one `Value` each, tags in alphabetical order).
    public static func scalarEvent(_ scalars: [String: Float], step: Int, wallTime: Double) -> [UInt8] {
        event(wallTime: wallTime, step: step) { event in
            event.writeMessage(field: 5) { summary in                    // Event.summary
                for (tag, value) in scalars.sorted(by: { $0.key < $1.key }) {
                    summary.writeMessage(field: 1) { v in                 // Summary.value
                        v.writeString(field: 1, tag)                      // Value.tag
                        v.writeFloat(field: 2, value)                     // Value.simple_value
                    }
                }
            }
        }
    }

    /// An `Event` with `wall_time` and `step`, then the fields that `what` writes.
    static func event(wallTime: Double, step: Int, what: (inout ProtobufWriter) -> Void) -> [UInt8] {
        var event = ProtobufWriter()
        event.writeDouble(field: 1, wallTime)                             // Event.wall_time
        event.writeInt64(field: 2, Int64(step))                           // Event.step
        what(&event)
        return event.bytes
    }

    /// This machine's name up to its first dot (from gethostname, no name lookup), or "localhost".
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let short = name.split(separator: ".").first.map(String.init) ?? ""
        return short.isEmpty || short.contains("/") ? "localhost" : short
    }

    /// Frames `event` as a TFRecord and appends it to the file.
    private func write(_ event: [UInt8]) throws {
        do {
            try handle.write(contentsOf: TFRecord.frame(event))
        } catch {
            throw DigitsError.unwritableOutput(path: url.path, reason: "writing a TensorBoard event failed: \(error.localizedDescription)")
        }
    }
}
