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
        }
    }
}
