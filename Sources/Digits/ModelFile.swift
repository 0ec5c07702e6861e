// Model files: the weights (and buffers such as batch-norm running statistics) as safetensors tensors
// named `layers.<i>.<role>`, and everything needed to rebuild and judge the model in `__metadata__`
// (architecture, options, seed, history, data hashes).

import Foundation
import DigitsTensor
import DigitsNN

/// A model together with where it came from, as stored in a `.safetensors` model file.
public struct ModelFile {
    /// The model, weights included.
    public var model: Model
    /// The options it was trained with, if known.
    public var options: TrainingOptions?
    /// One record per epoch trained.
    public var history: [EpochRecord]
    /// SHA-256 of the training data files, keyed by role (`train-images`, ...).
    public var dataHashes: [String: String]
    /// The git revision of the code that trained it, when known (see `Provenance.gitRevision`).
    public var gitRevision: String?
    /// Every metadata entry as stored (string to string).
    public var metadata: [String: String]

    /// The format tag stored under `format` in the metadata.
    public static let formatTag = "digits-model"
    /// The version of this layout.
    public static let formatVersion = "1"

    /// A model file for `model` with its provenance; the git revision is the running code's unless given.
    public init(model: Model, options: TrainingOptions?, history: [EpochRecord], dataHashes: [String: String] = [:],
                gitRevision: String? = Provenance.gitRevision) {
        self.model = model
        self.options = options
        self.history = history
        self.dataHashes = dataHashes
        self.gitRevision = gitRevision
        self.metadata = [:]
    }

    /// The safetensors content: one F32 tensor per parameter, metadata as JSON strings.
    public func encoded() throws -> SafetensorsFile {
        let tensors = (model.network.parameters + model.network.buffers).map {
            SafetensorsTensor(name: $0.name, shape: $0.value.shape, values: $0.value.storage)
        }
        var meta = metadata
        meta["format"] = Self.formatTag
        meta["format_version"] = Self.formatVersion
        meta["digits_version"] = digitsVersion
        meta["git_revision"] = gitRevision
        meta["model"] = model.architecture.name
        meta["architecture"] = try jsonString(model.architecture)
        // What a reader in another language must do to a pixel byte b before the first layer: b/255, then
        // (x − mean) / std when standardised (mean 0 and std 1 otherwise).
        let (mean, std) = model.architecture.encoding.normalize ? (InputEncoding.mnistMean, InputEncoding.mnistStd) : (0, 1)
        meta["input_scale"] = "0.00392156862745098"
        meta["input_mean"] = String(mean)
        meta["input_std"] = String(std)
        if let options {
            meta["training"] = try jsonString(options)
            meta["seed"] = String(options.seed)
        }
        meta["epochs"] = String(history.count)
        meta["history"] = try jsonString(history)
        meta["data_sha256"] = try jsonString(dataHashes)
        meta["weights_sha256"] = Self.weightsDigest(tensors)
        return SafetensorsFile(tensors: tensors, metadata: meta)
    }

    /// SHA-256 (hex) of every tensor's name, shape and float32 values, the tensors taken in the order of their
    /// names' UTF-8 bytes: the checksum recorded as `weights_sha256` and verified on load. It does not depend on
    /// where each tensor lies in the file, so a file re-saved by another tool (Python's `safetensors` writes
    /// tensors in its own order) still verifies.
    static func weightsDigest(_ tensors: [SafetensorsTensor]) -> String {
        digest(tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) })
    }

    /// Whether `recorded` is the checksum of `tensors`: by name order, or, for files written before that, in the
    /// order the tensors lie in the file.
    static func digestMatches(_ recorded: String, _ tensors: [SafetensorsTensor]) -> Bool {
        recorded == weightsDigest(tensors) || recorded == digest(tensors)
    }

    /// SHA-256 (hex) of each tensor's name (then a zero byte), shape (little-endian UInt64s) and values, in the
    /// order given.
    private static func digest(_ tensors: [SafetensorsTensor]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(tensors.reduce(0) { $0 + 4 * $1.values.count + 64 })
        for t in tensors {
            bytes += Array(t.name.utf8) + [0]
            for d in t.shape { withUnsafeBytes(of: UInt64(d).littleEndian) { bytes += $0 } }
            t.values.withUnsafeBytes { bytes += $0 }
        }
        return SHA256.hexDigest(bytes)
    }

    /// Writes the model atomically to `url` (a temporary file renamed into place).
    public func write(to url: URL) throws {
        try encoded().write(to: url)
    }

    /// Reads a model file, rebuilding the network and checking every tensor's name and shape.
    public static func read(contentsOf url: URL) throws -> ModelFile {
        let file = try SafetensorsFile.read(contentsOf: url)
        return try decode(file, source: url.path)
    }

    /// Rebuilds a model from safetensors content; `source` names it in errors.
    public static func decode(_ file: SafetensorsFile, source: String) throws -> ModelFile {
        func bad(_ reason: String) -> DigitsError { .badModelFile(path: source, reason: reason) }
        let meta = file.metadata
        let isCheckpoint = meta["format"] == TrainingCheckpoint.formatTag
        guard meta["format"] == formatTag || isCheckpoint else {
            if meta["format"] == nil, let first = file.tensors.first {
                throw bad("it holds \(file.tensors.count) tensors (such as '\(first.name)') but no digits metadata: weights from "
                    + "another tool, such as a PyTorch state_dict. Make a digits model of them with "
                    + "`digits import \(source) --model NAME --output model.safetensors`")
            }
            throw bad("its metadata has no \"format\": \"\(formatTag)\" entry (is it a digits model?)")
        }
        // A checkpoint is a model file plus the optimizer's tensors, which the model does not use.
        let tensors = isCheckpoint ? file.tensors.filter {
            !$0.name.hasPrefix(TrainingCheckpoint.optimizerPrefix) && !$0.name.hasPrefix(TrainingCheckpoint.averagePrefix)
        } : file.tensors
        guard let archText = meta["architecture"] else { throw bad("the metadata has no \"architecture\"") }
        let architecture: Architecture
        do { architecture = try JSONDecoder().decode(Architecture.self, from: Data(archText.utf8)) }
        catch { throw bad("its \"architecture\" entry is not valid: \(error)") }
        if let recorded = meta["weights_sha256"], !digestMatches(recorded, tensors) {
            throw bad("its weights do not match the checksum recorded when it was written (the file is damaged)")
        }
        // A stranger's architecture is checked before anything is built from it.
        do { try architecture.validate() } catch let error as DigitsError {
            if case .invalidArchitecture(let reason) = error { throw bad("its architecture cannot be built: \(reason)") }
            throw error
        }
        let model = Model(architecture: architecture, seed: 0)
        let expected = model.network.parameters + model.network.buffers
        guard tensors.count == expected.count else {
            throw bad("it holds \(tensors.count) tensors but a '\(architecture.name)' model has \(expected.count)")
        }
        for p in expected {
            guard let t = file[p.name] else { throw bad("tensor '\(p.name)' is missing") }
            guard t.shape == p.value.shape else {
                throw bad("tensor '\(p.name)' has shape \(t.shape), expected \(p.value.shape)")
            }
            guard t.values.allSatisfy(\.isFinite) else { throw bad("tensor '\(p.name)' holds NaN or infinite values") }
            p.value = Tensor(shape: t.shape, values: t.values)
        }
        var result = ModelFile(model: model, options: nil, history: [], gitRevision: meta["git_revision"])
        result.metadata = meta
        if let text = meta["training"] {
            result.options = try? JSONDecoder().decode(TrainingOptions.self, from: Data(text.utf8))
        }
        if let text = meta["history"] {
            result.history = (try? JSONDecoder().decode([EpochRecord].self, from: Data(text.utf8))) ?? []
        }
        if let text = meta["data_sha256"] {
            result.dataHashes = (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
        }
        return result
    }
}

/// The version of digits that writes model files.
public let digitsVersion = "0.1.0"

extension ModelFile {
    /// A readable account of the model and where it came from: architecture, parameters, training
    /// options, seed, epochs with their last results, the data's SHA-256 and the digits version.
    public var infoText: String {
        var s = "model: \(model.architecture.name), \(model.network.parameterCount) parameters\n"
        s += "layers: " + model.architecture.layers.map(\.displayName).joined(separator: " → ") + "\n"
        s += "input: \(model.inputShape.map(String.init).joined(separator: "x"))"
        s += ", " + model.architecture.encoding.formula + " for each pixel byte b\n"
        if let o = options {
            s += "trained: \(o.epochs) epochs, batch \(o.batchSize), \(o.optimizer.rawValue) lr \(o.learningRate), "
                + "schedule \(o.schedule), l2 \(o.l2), loss \(o.loss.rawValue), shuffle \(o.shuffle ? "on" : "off"), seed \(o.seed)\n"
        }
        if let source = metadata["imported_from"] {
            s += "imported from \(source) (\(metadata["imported_layout"] ?? "foreign") layout, sha256 \(metadata["imported_sha256"] ?? "unknown"))\n"
        }
        if let last = history.last {
            s += "epochs run: \(history.count); last: train loss \(fixed(last.trainLoss)), train accuracy \(percent(last.trainAccuracy))"
            if let a = last.testAccuracy { s += ", test accuracy \(percent(a))" }
            s += "\n"
        }
        if !dataHashes.isEmpty {
            let official = dataHashes == MNIST.knownSHA256ByRole
            s += "data: " + (official ? "the official MNIST files" : "other IDX files") + "\n"
            for key in dataHashes.keys.sorted() { s += "  \(key) sha256 \(dataHashes[key] ?? "")\n" }
        }
        s += "written by digits \(metadata["digits_version"] ?? "unknown"), git revision \(gitRevision ?? "unknown")\n"
        if let command = metadata["command"] { s += "command: \(command)\n" }
        return s
    }
}

extension ModelFile {
    /// `infoText` for the model file at `url`; for a checkpoint, also where its run stands.
    public static func infoText(contentsOf url: URL) throws -> String {
        let file = try SafetensorsFile.read(contentsOf: url)
        let text = try decode(file, source: url.path).infoText
        guard file.metadata["format"] == TrainingCheckpoint.formatTag else { return text }
        return try text + TrainingCheckpoint.decode(file, source: url.path).positionText
    }
}

/// `value` as compact JSON with sorted keys (stable from run to run).
func jsonString<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
