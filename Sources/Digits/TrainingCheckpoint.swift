// Checkpoints: a training run saved between two batches, so that it can be resumed with the same
// result it would have had uninterrupted.
//
// A checkpoint is a model file (see ModelFile) with more in it:
//   tensors    layers.<i>.<role>                  weights and buffers, as in a model file
//              optimizer.<role>.<parameter name>  the optimizer's buffers, shaped like their parameter
//                                                 (velocity; mean_square; m and v)
//   metadata   format            "digits-checkpoint"
//              position          JSON: epoch, batches done in it, and its running loss/accuracy totals
//              optimizer_step    Adam's t (0 for the other rules)
//              generators        JSON: each random layer's generator state, by layer name
//              optimizer_sha256  checksum of the optimizer tensors
// Everything else (architecture, options, seed, history, data hashes) is stored as in a model file,
// so `digits evaluate`, `info` and `export` read a checkpoint as the model it holds.
// The shuffling needs no state: each epoch's order is drawn afresh from (seed, epoch).

import Foundation
import DigitsTensor
import DigitsNN

/// A training run's whole state between two batches.
public struct TrainingCheckpoint {
    /// The model, weights and buffers (batch-norm running statistics) included.
    public var model: Model
    /// The options the run was started with.
    public var options: TrainingOptions
    /// The records of the epochs finished.
    public var history: [EpochRecord]
    /// SHA-256 of the training data files, by role.
    public var dataHashes: [String: String]
    /// Where the run stands.
    public var position: TrainingPosition
    /// The optimizer's buffers and step count.
    public var optimizerState: OptimizerState
    /// The state of each random layer's generator, by layer name (`layers.<i>`).
    public var generators: [String: SeededGenerator]
    /// The moving average of the weights and buffers, in the model's parameter-then-buffer order, when the
    /// options ask for one (empty otherwise).
    public var averages: [Tensor] = []

    /// The format tag stored under `format` in the metadata.
    public static let formatTag = "digits-checkpoint"
    /// The prefix of the optimizer's tensor names.
    static let optimizerPrefix = "optimizer."
    /// The prefix of the weight averages' tensor names.
    static let averagePrefix = "average."

    /// Where a run that saves its model at `output` keeps its checkpoint: `name.checkpoint.safetensors` beside it.
    public static func defaultURL(forOutput output: URL) -> URL {
        let base = output.pathExtension == "safetensors" ? output.deletingPathExtension() : output
        return base.deletingLastPathComponent().appendingPathComponent(base.lastPathComponent + ".checkpoint.safetensors")
    }

    /// The safetensors content: the model file's tensors and metadata, then the optimizer's tensors.
    public func encoded() throws -> SafetensorsFile {
        var file = try ModelFile(model: model, options: options, history: history, dataHashes: dataHashes).encoded()
        var extra: [SafetensorsTensor] = []
        let parameters = model.network.parameters
        for role in optimizerState.buffers.keys.sorted() {
            for (p, values) in zip(parameters, optimizerState.buffers[role] ?? []) {
                extra.append(SafetensorsTensor(name: Self.optimizerPrefix + role + "." + p.name, shape: p.value.shape, values: values))
            }
        }
        let tracked = parameters + model.network.buffers
        for (p, a) in zip(tracked, averages) {
            extra.append(SafetensorsTensor(name: Self.averagePrefix + p.name, shape: a.shape, values: a.storage))
        }
        file.tensors += extra
        file.metadata["format"] = Self.formatTag
        file.metadata["position"] = try jsonString(position)
        file.metadata["optimizer_step"] = String(optimizerState.step)
        file.metadata["generators"] = try jsonString(generators)
        file.metadata["optimizer_sha256"] = ModelFile.weightsDigest(extra)
        return file
    }

    /// Writes the checkpoint atomically to `url`: an interrupted write leaves the previous checkpoint whole.
    public func write(to url: URL) throws {
        try encoded().write(to: url)
    }

    /// Reads and checks a checkpoint file.
    public static func read(contentsOf url: URL) throws -> TrainingCheckpoint {
        try decode(SafetensorsFile.read(contentsOf: url), source: url.path)
    }

    /// Rebuilds a checkpoint from safetensors content, checking every part against the model and the
    /// optimizer it names; `source` names it in errors.
    public static func decode(_ file: SafetensorsFile, source: String) throws -> TrainingCheckpoint {
        func bad(_ reason: String) -> DigitsError { .badCheckpoint(path: source, reason: reason) }
        let meta = file.metadata
        guard meta["format"] == formatTag else {
            throw bad(meta["format"] == ModelFile.formatTag ? "it is a finished model, not a checkpoint" : "its metadata has no \"format\": \"\(formatTag)\" entry")
        }
        let modelFile = try ModelFile.decode(file, source: source)
        guard let options = modelFile.options else { throw bad("it does not record the training options") }
        func decoded<T: Decodable>(_ type: T.Type, _ key: String) throws -> T {
            guard let text = meta[key] else { throw bad("the metadata has no \"\(key)\"") }
            do { return try JSONDecoder().decode(type, from: Data(text.utf8)) }
            catch { throw bad("its \"\(key)\" entry is not valid: \(error)") }
        }
        let position = try decoded(TrainingPosition.self, "position")
        let generators = try decoded([String: SeededGenerator].self, "generators")
        guard let step = meta["optimizer_step"].flatMap({ Int($0) }) else { throw bad("the metadata has no whole-number \"optimizer_step\"") }
        guard position.epoch >= 1, position.epoch <= options.epochs + 1, position.epoch == modelFile.history.count + 1,
              position.batch >= 0, position.seen >= 0, position.correct >= 0, position.correct <= position.seen else {
            throw bad("its position (epoch \(position.epoch), batch \(position.batch)) does not fit its \(modelFile.history.count) "
                + "finished epochs of \(options.epochs)")
        }

        let extra = file.tensors.filter { $0.name.hasPrefix(optimizerPrefix) || $0.name.hasPrefix(averagePrefix) }
        if let recorded = meta["optimizer_sha256"], !ModelFile.digestMatches(recorded, extra) {
            throw bad("its optimizer tensors do not match the checksum recorded when it was written (the file is damaged)")
        }
        let parameters = modelFile.model.network.parameters
        var roles = Set<String>()
        for t in extra where t.name.hasPrefix(optimizerPrefix) {
            let rest = t.name.dropFirst(optimizerPrefix.count)
            guard let dot = rest.firstIndex(of: "."), let p = parameters.first(where: { $0.name == rest[rest.index(after: dot)...] }) else {
                throw bad("tensor '\(t.name)' is not optimizer.<role>.<parameter> for a parameter of the model")
            }
            guard t.shape == p.value.shape else { throw bad("tensor '\(t.name)' has shape \(t.shape), its parameter \(p.value.shape)") }
            roles.insert(String(rest[..<dot]))
        }
        var buffers: [String: [[Float]]] = [:]
        for role in roles {
            buffers[role] = try parameters.map { p in
                guard let t = file[optimizerPrefix + role + "." + p.name] else {
                    throw bad("tensor '\(optimizerPrefix + role + "." + p.name)' is missing")
                }
                return t.values
            }
        }
        let state = OptimizerState(buffers: buffers, step: step)
        do {
            try options.optimizer.makeOptimizer(learningRate: options.learningRate, weightDecay: options.weightDecay)
                .restore(state, parameters: parameters)
        } catch let error as OptimizerStateError {
            throw bad(error.description)
        }
        let randomNames = Set(modelFile.model.network.randomLayers.map(\.name))
        guard Set(generators.keys) == randomNames else {
            throw bad("it has generator states for \(generators.keys.sorted()) but the model's random layers are \(randomNames.sorted())")
        }
        var averages: [Tensor] = []
        if options.averageDecay != nil {
            averages = try (parameters + modelFile.model.network.buffers).map { p in
                guard let t = file[averagePrefix + p.name], t.shape == p.value.shape else {
                    throw bad("tensor '\(averagePrefix + p.name)' of the weight average is missing or has the wrong shape")
                }
                return Tensor(shape: t.shape, values: t.values)
            }
        }
        return TrainingCheckpoint(model: modelFile.model, options: options, history: modelFile.history,
                                  dataHashes: modelFile.dataHashes, position: position, optimizerState: state, generators: generators,
                                  averages: averages)
    }

    /// Where the run stands, in words, for `digits info`.
    public var positionText: String {
        if isComplete { return "checkpoint: the run is complete (\(options.epochs) epochs)\n" }
        var text = "checkpoint: epoch \(position.epoch) of \(options.epochs), \(position.batch) batches (\(position.seen) samples) of it done"
        text += "; optimizer state: " + (optimizerState.buffers.isEmpty ? "none" : optimizerState.buffers.keys.sorted().joined(separator: ", "))
        if optimizerState.step > 0 { text += ", step \(optimizerState.step)" }
        if !generators.isEmpty { text += "; random generators of " + generators.keys.sorted().joined(separator: ", ") }
        return text + "\n"
    }

    /// Whether every epoch of the run has been trained.
    public var isComplete: Bool { position.epoch > options.epochs }

    /// How the run asked for differs from this checkpoint's, one phrase per difference (empty when they
    /// match): the model and its layers, every training option, and the data (when both hashes are known).
    public func differences(architecture: Architecture, options asked: TrainingOptions, dataHashes askedData: [String: String]) -> [String] {
        var found: [String] = []
        func compare<T: Equatable>(_ what: String, _ saved: T, _ wanted: T, _ show: (T) -> String) {
            if saved != wanted { found.append("\(what) is \(show(saved)) in the checkpoint but \(show(wanted)) was asked for") }
        }
        let saved = model.architecture
        compare("the model", saved.name, architecture.name) { $0 }
        if saved.name == architecture.name {
            compare("the layers", saved.layers, architecture.layers) { $0.map(\.displayName).joined(separator: " → ") }
            compare("the input encoding", saved.encoding, architecture.encoding) { "\($0.layout.rawValue)\($0.normalize ? ", standardised" : "")" }
        }
        compare("--epochs", options.epochs, asked.epochs) { "\($0)" }
        compare("--batch-size", options.batchSize, asked.batchSize) { "\($0)" }
        compare("--optimizer", options.optimizer, asked.optimizer) { $0.rawValue }
        compare("--lr", options.learningRate, asked.learningRate) { "\($0)" }
        compare("--schedule", options.schedule, asked.schedule) { $0.description }
        compare("--l2", options.l2, asked.l2) { "\($0)" }
        compare("--seed", options.seed, asked.seed) { "\($0)" }
        compare("the loss", options.loss, asked.loss) { $0.rawValue }
        compare("shuffling", options.shuffle, asked.shuffle) { $0 ? "on" : "off" }
        if !dataHashes.isEmpty && !askedData.isEmpty && dataHashes != askedData {
            let roles = Set(dataHashes.keys).union(askedData.keys).filter { dataHashes[$0] != askedData[$0] }.sorted()
            found.append("the data differs (\(roles.joined(separator: ", ")) have other SHA-256 than the checkpoint's)")
        }
        return found
    }

    /// Throws `DigitsError.checkpointMismatch` naming each difference between this checkpoint's run and
    /// the one asked for (see `differences`); `source` names the checkpoint.
    public func checkResumable(architecture: Architecture, options: TrainingOptions, dataHashes: [String: String], source: String) throws {
        let found = differences(architecture: architecture, options: options, dataHashes: dataHashes)
        if !found.isEmpty { throw DigitsError.checkpointMismatch(path: source, differences: found) }
    }
}
