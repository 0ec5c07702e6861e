// Errors the application layer raises, each with a message that says what to do.

/// An error from the digits application layer; `description` says what is wrong and what to do.
public enum DigitsError: Error, CustomStringConvertible, Equatable {
    /// A command-line or API option is out of range or unknown.
    case invalidOption(String)
    /// Training produced a NaN or infinite loss.
    case nonFiniteLoss(epoch: Int, batch: Int, learningRate: Float)
    /// A model file is not one digits can use.
    case badModelFile(path: String, reason: String)
    /// An output path cannot be written.
    case unwritableOutput(path: String, reason: String)
    /// Data does not fit the model (wrong image size or class count).
    case dataMismatch(String)
    /// A checkpoint file is not one a run can be resumed from.
    case badCheckpoint(path: String, reason: String)
    /// A checkpoint was saved by a run with other settings or data than the one asked for; one line per difference.
    case checkpointMismatch(path: String, differences: [String])
    /// A stop was requested: training stopped after `batch` of `batches` batches of epoch `epoch`, and
    /// the run so far was saved in `checkpoint` when one was asked for.
    case trainingStopped(epoch: Int, batch: Int, batches: Int, checkpoint: String?)
    /// A weights file from another framework does not fit the model it is imported into.
    case badImport(path: String, reason: String)
    /// A network description cannot be built or run: the reason names the layer at fault.
    case invalidArchitecture(String)

    /// What went wrong and what to do, in one message.
    public var description: String {
        switch self {
        case .invalidOption(let message):
            return message
        case .nonFiniteLoss(let epoch, let batch, let lr):
            return "training diverged: the loss became NaN or infinite in epoch \(epoch), batch \(batch). "
                + "Try a lower learning rate (now \(lr)), e.g. --lr \(lr / 10)."
        case .badModelFile(let path, let reason):
            return "\(path): not a usable digits model: \(reason). Train one with `digits train --output FILE`."
        case .unwritableOutput(let path, let reason):
            return "\(path): cannot write the output: \(reason). Choose another path."
        case .dataMismatch(let message):
            return message
        case .badCheckpoint(let path, let reason):
            return "\(path): not a usable digits checkpoint: \(reason). Checkpoints are written by `digits train --checkpoint FILE`."
        case .checkpointMismatch(let path, let differences):
            return "\(path) was saved by a different run: " + differences.joined(separator: "; ")
                + ". Leave those options out to resume with the checkpoint's own, or start a new run without --resume."
        case .trainingStopped(let epoch, let batch, let batches, let checkpoint):
            let place = "training stopped in epoch \(epoch) after batch \(batch) of \(batches)"
            guard let checkpoint else {
                return place + "; nothing was saved (give --checkpoint FILE or --output FILE to make a run resumable)."
            }
            return place + "; the run so far is saved in \(checkpoint). Continue it with `digits train --resume \(checkpoint)`."
        case .badImport(let path, let reason):
            return "\(path): cannot import: \(reason)."
        case .invalidArchitecture(let reason):
            return "the network cannot be built: \(reason)"
        }
    }
}
