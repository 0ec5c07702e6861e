import XCTest
import Digits

/// Resumable training: a run stopped between epochs or inside one and resumed from its checkpoint ends
/// with the weights an unbroken run gets, bit for bit.
final class CheckpointTests: TemporaryDirectoryTestCase {
    /// A small network with every kind of state a run carries: batch-norm running statistics, a dropout
    /// generator, and the optimizer's buffers.
    private var architecture: Architecture {
        let layers: [LayerSpec] = [.dense(inputs: 784, outputs: 24), .batchNorm(features: 24), .relu, .dropout(rate: 0.25),
                                   .dense(inputs: 24, outputs: 10)]
        return Architecture(name: "small", layers: layers, output: .softmax, encoding: InputEncoding(), initializer: .heNormal)
    }

    private func options(_ optimizer: OptimizerKind) -> TrainingOptions {
        TrainingOptions(epochs: 3, batchSize: 32, optimizer: optimizer, learningRate: optimizer == .adam || optimizer == .rmsprop ? 0.003 : 0.05,
                        loss: .crossEntropy, l2: 1e-4, seed: 5, shuffle: true, schedule: .cosine)
    }

    /// Everything a finished model holds, as plain values: parameters and buffers.
    private func state(_ model: Model) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: (model.network.parameters + model.network.buffers).map { ($0.name, $0.value.storage) })
    }

    /// Trains with a stop requested when `stopAt` says so, then resumes from the checkpoint; returns the
    /// resumed trainer and the error the stop raised.
    private func interruptedRun(_ options: TrainingOptions, data: LabeledImages, test: LabeledImages,
                                stopAt: @escaping (TrainingEvent) -> Bool) throws -> (Trainer, DigitsError?) {
        let url = directory.appendingPathComponent("run.checkpoint.safetensors")
        let stop = StopRequest()
        let first = try Trainer(architecture: architecture, options: options, dataHashes: ["train-images": "abc"])
        var stopped: DigitsError?
        do {
            try first.train(on: data, test: test, checkpointURL: url, stop: stop) { if stopAt($0) { stop.request() } }
        } catch let error as DigitsError {
            stopped = error
        }
        let resumed = try Trainer(resuming: TrainingCheckpoint.read(contentsOf: url))
        try resumed.train(on: data, test: test, checkpointURL: url)
        return (resumed, stopped)
    }

    func testStoppedAndResumedRunsMatchAnUnbrokenOne() throws {
        let data = try syntheticDigits(count: 300, seed: 21), test = try syntheticDigits(count: 64, seed: 22)
        // Every training option with state or randomness: AdamW's decay, label smoothing, clipping,
        // augmentation drawn per (seed, epoch, sample), and the weight average kept in the checkpoint.
        var everything = options(.adamw)
        everything.learningRate = 0.003
        everything.weightDecay = 0.05
        everything.labelSmoothing = 0.1
        everything.clipNorm = 1
        everything.augmentation = .standard
        everything.averageDecay = 0.9
        for o in [options(.adam), options(.rmsprop), options(.nesterov), everything] {
            let optimizer = o.optimizer
            let unbroken = try Trainer(architecture: architecture, options: o)
            try unbroken.train(on: data, test: test)

            // Stopped at the end of epoch 1: the stop is seen before epoch 2's first batch.
            let (afterEpoch, error1) = try interruptedRun(o, data: data, test: test) {
                if case .epoch(let r) = $0 { return r.epoch == 1 } else { return false }
            }
            XCTAssertEqual(error1, .trainingStopped(epoch: 2, batch: 0, batches: 10,
                                                    checkpoint: directory.appendingPathComponent("run.checkpoint.safetensors").path))
            // Stopped inside epoch 2, after its 4th batch (as Ctrl-C would).
            let (midEpoch, error2) = try interruptedRun(o, data: data, test: test) {
                if case .batch(let p) = $0 { return p.epoch == 2 && p.batch == 4 } else { return false }
            }
            guard case .trainingStopped(2, 4, 10, _) = error2 else { return XCTFail("\(optimizer): \(String(describing: error2))") }

            for resumed in [afterEpoch, midEpoch] {
                XCTAssertTrue(resumed.isComplete)
                XCTAssertEqual(state(resumed.model), state(unbroken.model), "\(optimizer): weights after resuming")
                XCTAssertEqual(resumed.history.map(\.trainLoss), unbroken.history.map(\.trainLoss), "\(optimizer)")
                XCTAssertEqual(resumed.history.map(\.trainAccuracy), unbroken.history.map(\.trainAccuracy), "\(optimizer)")
                XCTAssertEqual(resumed.history.map(\.testAccuracy), unbroken.history.map(\.testAccuracy), "\(optimizer)")
                XCTAssertEqual(resumed.history.map(\.learningRate), unbroken.history.map(\.learningRate), "\(optimizer)")
            }
        }
    }

    func testCheckpointHoldsTheRunAndReadsAsAModel() throws {
        let data = try syntheticDigits(count: 100, seed: 23)
        let trainer = try Trainer(architecture: architecture, options: options(.adam), dataHashes: ["train-images": "abc"])
        let stop = StopRequest()
        let url = directory.appendingPathComponent("c.safetensors")
        XCTAssertThrowsError(try trainer.train(on: data, test: nil, checkpointURL: url, stop: stop) { event in
            if case .batch(let p) = event, p.epoch == 2, p.batch == 1 { stop.request() }
        })
        let checkpoint = try TrainingCheckpoint.read(contentsOf: url)
        XCTAssertEqual(checkpoint.position.epoch, 2)
        XCTAssertEqual(checkpoint.position.batch, 1)
        XCTAssertEqual(checkpoint.position.seen, 32)
        XCTAssertEqual(checkpoint.history.count, 1)
        XCTAssertEqual(checkpoint.optimizerState.step, 5)                         // 4 batches in epoch 1, 1 in epoch 2
        XCTAssertEqual(checkpoint.generators.keys.sorted(), ["layers.3"])
        XCTAssertEqual(checkpoint.dataHashes, ["train-images": "abc"])
        let names = try SafetensorsFile.read(contentsOf: url).tensors.map(\.name)
        XCTAssertTrue(names.contains("optimizer.m.layers.0.weight") && names.contains("optimizer.v.layers.4.bias"), "\(names)")
        XCTAssertTrue(names.contains("layers.1.running_mean"), "\(names)")
        // The same file is a model for evaluate, info and export.
        let asModel = try ModelFile.read(contentsOf: url)
        XCTAssertEqual(state(asModel.model), state(trainer.model))
        XCTAssertEqual(TrainingCheckpoint.defaultURL(forOutput: URL(fileURLWithPath: "/m/mlp.safetensors")).path,
                       "/m/mlp.checkpoint.safetensors")
    }

    func testResumingAnotherRunIsRefused() throws {
        let data = try syntheticDigits(count: 64, seed: 24)
        let trainer = try Trainer(architecture: architecture, options: options(.adam), dataHashes: ["train-images": "abc"])
        try trainer.train(on: data, test: nil)
        let checkpoint = trainer.checkpoint()
        XCTAssertTrue(checkpoint.isComplete)
        XCTAssertEqual(checkpoint.differences(architecture: architecture, options: options(.adam), dataHashes: ["train-images": "abc"]), [])
        var other = options(.adam)
        other.learningRate = 0.01
        other.seed = 6
        var mlp = Recipe.mlp.architecture
        let found = checkpoint.differences(architecture: mlp, options: other, dataHashes: ["train-images": "def"])
        XCTAssertEqual(found.count, 4, "\(found)")
        XCTAssertTrue(found[0].contains("the model is small in the checkpoint but mlp was asked for"), "\(found)")
        XCTAssertThrowsError(try checkpoint.checkResumable(architecture: architecture, options: other, dataHashes: [:], source: "run.ckpt")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("run.ckpt") && text.contains("--lr is 0.003 in the checkpoint but 0.01 was asked for")
                          && text.contains("--seed is 5"), text)
        }
        mlp.name = "small"
        XCTAssertTrue(checkpoint.differences(architecture: mlp, options: options(.adam), dataHashes: [:])[0].hasPrefix("the layers"))
    }

    func testDamagedOrForeignCheckpointsAreRefused() throws {
        let data = try syntheticDigits(count: 64, seed: 25)
        let trainer = try Trainer(architecture: architecture, options: options(.rmsprop))
        try trainer.train(on: data, test: nil)
        let file = try trainer.checkpoint().encoded()
        func refusal(_ file: SafetensorsFile) -> String {
            do { _ = try TrainingCheckpoint.decode(file, source: "x.safetensors"); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal(file), "accepted")
        XCTAssertTrue(refusal(try ModelFile(model: trainer.model, options: trainer.options, history: []).encoded())
            .contains("a finished model, not a checkpoint"))
        var damaged = file
        if let i = damaged.tensors.firstIndex(where: { $0.name == "optimizer.mean_square.layers.0.bias" }) { damaged.tensors[i].values[0] += 1 }
        XCTAssertTrue(refusal(damaged).contains("damaged"), refusal(damaged))
        var missing = file
        missing.tensors.removeAll { $0.name == "optimizer.mean_square.layers.4.weight" }
        missing.metadata["optimizer_sha256"] = nil
        XCTAssertTrue(refusal(missing).contains("optimizer.mean_square.layers.4.weight' is missing"), refusal(missing))
        var noGenerator = file
        noGenerator.metadata["generators"] = "{}"
        XCTAssertTrue(refusal(noGenerator).contains("layers.3"), refusal(noGenerator))
        var badPosition = file
        badPosition.metadata["position"] = #"{"epoch":2,"batch":0,"lossSum":0,"correct":0,"seen":0,"seconds":0}"#
        XCTAssertTrue(refusal(badPosition).contains("position"), refusal(badPosition))
        var wrongOptimizer = file
        wrongOptimizer.metadata["training"] = wrongOptimizer.metadata["training"]?.replacingOccurrences(of: "rmsprop", with: "adam")
        XCTAssertTrue(refusal(wrongOptimizer).contains("Adam keeps m, v"), refusal(wrongOptimizer))
    }
}
