// digits-bench: trains the `mlp` recipe for 5 epochs and compares its speed with this machine's sgemm rate.
// `digits-bench infer MODEL` measures inference; `digits-bench conv` the convolutional recipes (see below).
//
// Prints training seconds, samples/s, achieved GFLOP/s (1.636 MFLOP per training sample for
// 784-512-10: two products of the first layer, three of the second) and, measured in the same run,
// the GFLOP/s of a large sgemm and of sgemm at the MLP's own shapes, with the ratios.

import Foundation
import Digits

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// GFLOP/s of C = A·B (m×k · k×n), best of `repeats` after a warm-up; through digits' tiled `gemm`,
/// or with `library` through one call to the BLAS library with its own threads.
func sgemmRate(m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false, repeats: Int = 5,
               library: Bool = false) -> Double {
    var rng = SeededGenerator(seed: 1)
    let a = (0..<(m * k)).map { _ in rng.nextUniform() }
    let b = (0..<(k * n)).map { _ in rng.nextUniform() }
    var c = [Float](repeating: 0, count: m * n)
    var best = Double.infinity
    let calls = max(1, Int(2e9 / Double(2 * m * n * k)))
    for r in 0...repeats {
        let t0 = now()
        for _ in 0..<calls {
            if library {
                BLAS.libraryGEMM(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                 a: a, lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n, c: &c, ldc: n, threads: BLAS.threads)
            } else {
                BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                          a: a, lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n, c: &c, ldc: n)
            }
        }
        if r > 0 { best = min(best, (now() - t0) / Double(calls)) }
    }
    return 2 * Double(m * n * k) / best / 1e9
}

/// The peak resident memory of this process so far (VmHWM), in MB; nil where /proc is missing.
func peakResidentMB() -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kB = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
    return kB / 1024
}

/// The median of `values`.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
}

/// `digits-bench infer MODEL [--threads N]`: batched throughput over the test set (batches of 1000 already encoded
/// as floats, best of 5),
/// the median time for one prepared 28x28 image through the model, and the median time from a 640x480
/// photo's bytes (PNG and JPEG) to the answer, preprocessing included.
func inferenceBenchmark(modelPath: String, data: MNIST) throws {
    let recognizer = try DigitRecognizer(contentsOf: URL(fileURLWithPath: modelPath))
    let model = recognizer.model
    let test = data.test
    let accuracy = try Evaluation.run(model, on: test).accuracy
    // The batches are encoded as floats before the clock starts, as the onnxruntime anchor's are.
    let batches = miniBatches(Array(0..<test.count), size: 1000).map { test.inputs($0, encoding: model.architecture.encoding) }
    var best = Double.infinity
    for _ in 0..<5 {
        let t0 = now()
        for x in batches { _ = model.probabilities(x) }
        best = min(best, now() - t0)
    }
    let images = test.inputs(0..<2000, encoding: InputEncoding())
    for i in 0..<200 { _ = recognizer.recognize(pixels: Array(images.storage[(i * 784)..<((i + 1) * 784)])) }
    var single: [Double] = []
    for i in 0..<2000 {
        let pixels = Array(images.storage[(i * 784)..<((i + 1) * 784)])
        let t0 = now()
        _ = recognizer.recognize(pixels: pixels)
        single.append(now() - t0)
    }
    // A 640x480 photo: dark ink (a test digit scaled up 12x) on light, slightly uneven paper.
    var photo = GrayImage(width: 640, height: 480, repeating: 0.9)
    for y in 0..<480 { for x in 0..<640 { photo[x, y] = 0.85 + 0.1 * Float(x) / 640 } }
    let digit = test.pixels(of: 0).map { Float($0) / 255 }
    for y in 0..<336 { for x in 0..<336 where digit[(y / 12) * 28 + x / 12] > 0 {
        photo[150 + x, 70 + y] = min(photo[150 + x, 70 + y], 1 - digit[(y / 12) * 28 + x / 12])
    } }
    let png = try photo.pngData(), jpeg = try photo.jpegData(quality: 90)
    var fromPhoto: [Double] = [], fromJPEG: [Double] = []
    for i in 0..<60 {
        var t0 = now()
        _ = try recognizer.recognize(encoded: png, source: "photo.png")
        if i >= 10 { fromPhoto.append(now() - t0) }
        t0 = now()
        _ = try recognizer.recognize(encoded: jpeg, source: "photo.jpg")
        if i >= 10 { fromJPEG.append(now() - t0) }
    }
    // Where the photo's time goes: decoding alone (as the recognizer asks: a JPEG or PNG may come back smaller),
    // then decoding and preparing.
    for (name, file) in [("PNG", png), ("JPEG", jpeg)] {
        var decodeOnly: [Double] = [], decodeAndPrepare: [Double] = []
        var size = ""
        for _ in 0..<50 {
            var t0 = now()
            let decoded = try ImageDecoder.decode(file, source: "photo", reducingTo: MNISTPreprocessor.workingSize)
            decodeOnly.append(now() - t0)
            size = "\(decoded.width)x\(decoded.height)"
            t0 = now()
            _ = try MNISTPreprocessor.prepare(try ImageDecoder.decode(file, source: "photo", reducingTo: MNISTPreprocessor.workingSize))
            decodeAndPrepare.append(now() - t0)
        }
        print(String(format: "%@ photo (%d bytes): decoding to %@ %.2f ms, decoding and preparing %.2f ms (medians of 50)",
                     name, file.count, size, median(decodeOnly) * 1e3, median(decodeAndPrepare) * 1e3))
    }
    print("infer \(model.architecture.name) (\(modelPath)): " + String(format: "%.0f images/s in batches of 1000 (test accuracy %.2f%%); "
                 + "one prepared image %.1f us (median of 2000); a 640x480 photo to the answer %.2f ms as PNG, %.2f ms as JPEG "
                 + "(medians of 50, preprocessing included)",
                 Double(test.count) / best, accuracy * 100, median(single) * 1e6, median(fromPhoto) * 1e3, median(fromJPEG) * 1e3))
    print(String(format: "RESULT digits-infer images_per_second=%.0f latency_us=%.1f photo_ms=%.2f photo_jpeg_ms=%.2f accuracy=%.4f",
                 Double(test.count) / best, median(single) * 1e6, median(fromPhoto) * 1e3, median(fromJPEG) * 1e3, accuracy))
}

/// Floating-point operations of one forward pass of one sample: 2 per multiply-add of the convolutions
/// (2·O·C·KH·KW per output pixel) and dense layers (2·inputs·outputs); activations and pooling not counted.
func forwardFLOPs(_ model: Model) -> Double {
    zip(model.architecture.layers, model.summary()).reduce(0) { total, pair in
        let (spec, row) = pair
        switch spec {
        case .conv2d(_, let o, _, _, _, _, _):
            return total + 2 * Double(row.parameters - o) * Double(row.outputShape.dropFirst().reduce(1, *))
        case .dense(let inputs, let outputs):
            return total + 2 * Double(inputs * outputs)
        default:
            return total
        }
    }
}

/// `digits-bench conv [--threads N]`: the sgemm rate, one epoch each of `lenet5` and `cnn` with their recipes'
/// batch size and optimizer, as GFLOP/s (3 × the forward FLOPs per training sample: the forward pass, the
/// input gradient and the weight gradient) and as a share of sgemm; then the time to 99% test accuracy with
/// the fastest recipe found (`lenet5`, 3 epochs, learning rate 0.005, no augmentation), for seeds 1, 2 and 3.
func convolutionBenchmark(data: MNIST, sgemm: Double) throws {
    for name in ["lenet5", "cnn"] {
        var recipe = try Recipe.named(name)
        recipe.options.epochs = 1
        let trainer = try Trainer(architecture: recipe.architecture, options: recipe.options)
        let history = try trainer.train(on: data.train, test: data.test)
        let seconds = history[0].seconds
        let flops = 3 * forwardFLOPs(trainer.model) * Double(data.train.count)
        print(String(format: "%@ 1 epoch (batch %d): %.2f s, %.0f samples/s, %.1f GFLOP/s (%.1f MFLOP per training sample) = %.0f%% of sgemm 2048³; test accuracy %.2f%%",
                     name, recipe.options.batchSize, seconds, Double(data.train.count) / seconds, flops / seconds / 1e9,
                     flops / Double(data.train.count) / 1e6, 100 * flops / seconds / 1e9 / sgemm, 100 * (history[0].testAccuracy ?? 0)))
        print(String(format: "RESULT digits-%@ epoch_seconds=%.3f gflops=%.1f sgemm_share=%.3f", name, seconds,
                     flops / seconds / 1e9, flops / seconds / 1e9 / sgemm))
    }
    // The fastest recipe found to 99%: lenet5 for 3 epochs, one-cycle peaking at 0.005, no augmentation.
    var fast = Recipe.lenet5
    fast.options.epochs = 3
    fast.options.learningRate = 0.005
    fast.options.augmentation = nil
    for seed in [1, 2, 3] as [UInt64] {
        fast.options.seed = seed
        let trainer = try Trainer(architecture: fast.architecture, options: fast.options)
        let history = try trainer.train(on: data.train, test: data.test)
        let seconds = history.reduce(0) { $0 + $1.seconds }, accuracy = history.last?.testAccuracy ?? 0
        print(String(format: "time to 99%%: lenet5, 3 epochs, lr 0.005, no augmentation, seed %d: %.2f%% after %.1f s of training%@",
                     seed, 100 * accuracy, seconds, accuracy >= 0.99 ? "" : " (short of 99%)"))
        print(String(format: "RESULT digits-time-to-99 seed=%d seconds=%.2f accuracy=%.4f", seed, seconds, accuracy))
    }
}

/// `digits-bench layers MODEL [--batch N] [--evaluation] [--threads N]`: where one training step of MODEL's
/// network spends its time: each layer's forward and backward pass, in the order training runs them
/// (`Sequential.order`), on batches of the recipe's size (or N) drawn from the MNIST training set,
/// as the median over 60 steps (after 10 steps of warm-up), with each layer's share of the step.
/// The gradient fed back is that of softmax cross-entropy; no optimizer step runs, so the weights stay put.
/// Also prints the share of zeros in each layer's input and in the gradient it receives: the work a kernel could skip.
/// With `--evaluation`, the forward passes alone, as inference runs them (no caches for a backward pass).
/// With DIGITS_ZERO_SKIPPING=never in the environment, convolutions run their matrix products instead; with
/// DIGITS_ZERO_SKIPPING=always, their zero-skipping kernels in every pass.
func layerBenchmark(model name: String, batch: Int?, evaluation: Bool, data: MNIST) throws {
    let recipe = try Recipe.named(name)
    let model = Model(architecture: recipe.architecture, seed: recipe.options.seed)
    let layers = model.network.layers
    switch ProcessInfo.processInfo.environment["DIGITS_ZERO_SKIPPING"] {   // to compare the kernels
    case "never": for case let conv as Conv2D in layers { conv.zeroSkipping = .never }
    case "always": for case let conv as Conv2D in layers { conv.zeroSkipping = .always }
    default: break
    }
    let n = batch ?? recipe.options.batchSize
    var forward = [[Double]](repeating: [], count: layers.count), backward = forward
    var inputZeros = [Double](repeating: 0, count: layers.count), gradientZeros = inputZeros
    let names = model.summary().map(\.layer)
    func zeroShare(_ t: Tensor) -> Double {
        t.withUnsafeBufferPointer { p in 1 - Double(Kernels.countNonzeros(p.baseAddress!, p.count)) / Double(max(1, p.count)) }
    }
    let loss = SoftmaxCrossEntropy()
    for step in 0..<70 {
        let indices = (step * n ..< (step + 1) * n).map { $0 % data.train.count }
        var x = data.train.inputs(indices, encoding: recipe.architecture.encoding)
        let labels = indices.map { Int(data.train.labels[$0]) }
        for i in model.network.order {
            let layer = layers[i]
            if step >= 10 { inputZeros[i] += zeroShare(x) / 60 }
            let t0 = now()
            x = layer.forward(x, mode: evaluation ? .evaluation : .training)
            if step >= 10 { forward[i].append(now() - t0) }
        }
        if evaluation { continue }
        var g = loss.evaluate(x, labels: labels).gradient
        for (position, i) in model.network.order.enumerated().reversed() {
            let layer = layers[i]
            if step >= 10 { gradientZeros[i] += zeroShare(g) / 60 }
            let t0 = now()
            g = layer.backward(g, needsInputGradient: position > 0)
            if step >= 10 { backward[i].append(now() - t0) }
        }
    }
    let total = zip(forward, backward).reduce(0) { $0 + median($1.0) + (evaluation ? 0 : median($1.1)) }
    print(String(format: "%@, batch %d: %.2f ms per step of %@ (medians of 60 steps)", name, n, total * 1e3,
                 evaluation ? "forward passes for evaluation" : "forward and backward passes"))
    for i in layers.indices {
        let (f, b) = (median(forward[i]), evaluation ? 0 : median(backward[i]))
        print(String(format: "  %2d %-28@ forward %8.4f ms  backward %8.4f ms  %5.1f%% of the step; zeros: %3.0f%% of x, %3.0f%% of ∂L/∂y",
                     i, names[i] as NSString, f * 1e3, b * 1e3, 100 * (f + b) / total, 100 * inputZeros[i], 100 * gradientZeros[i]))
    }
}

/// MNIST from $DIGITS_DATA, or from where `DataLocator` finds it.
func loadMNIST() throws -> MNIST {
    try MNIST.load(DataLocator.locate(explicit: ProcessInfo.processInfo.environment["DIGITS_DATA"]).files)
}

var arguments = Array(CommandLine.arguments.dropFirst())
var threads = ProcessInfo.processInfo.activeProcessorCount
if let i = arguments.firstIndex(of: "--threads"), i + 1 < arguments.count, let n = Int(arguments[i + 1]), n >= 1 {
    threads = n
    arguments.removeSubrange(i...(i + 1))
}
BLAS.setThreads(threads)
/// The one argument after the subcommand in `arguments`, or the usage line on standard error and exit status 2.
func soleArgument(_ arguments: [String], usage: String) -> String {
    guard arguments.count == 2 else {
        FileHandle.standardError.write(Data("usage: digits-bench \(usage) [--threads N]\n".utf8))
        exit(2)
    }
    return arguments[1]
}

/// Runs one subcommand and exits: status 0, or 1 with the error on one line of standard error (an unknown
/// model name, a missing or corrupt file).
func runSubcommand(_ body: () throws -> Void) -> Never {
    do {
        try body()
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("digits-bench: \(error)\n".utf8))
        exit(1)
    }
}

switch arguments.first {
case "infer":
    let path = soleArgument(arguments, usage: "infer MODEL.safetensors")
    runSubcommand { try inferenceBenchmark(modelPath: path, data: try loadMNIST()) }
case "layers":
    var batch: Int?
    if let i = arguments.firstIndex(of: "--batch"), i + 1 < arguments.count, let n = Int(arguments[i + 1]), n >= 1 {
        batch = n
        arguments.removeSubrange(i...(i + 1))
    }
    let evaluation = arguments.contains("--evaluation")
    arguments.removeAll { $0 == "--evaluation" }
    let model = soleArgument(arguments, usage: "layers MODEL [--batch N] [--evaluation]")
    runSubcommand { try layerBenchmark(model: model, batch: batch, evaluation: evaluation, data: try loadMNIST()) }
case "conv":
    runSubcommand {
        let rate = sgemmRate(m: 2048, n: 2048, k: 2048, library: true)
        print(String(format: "digits-bench conv: %d threads; sgemm 2048³: %.1f GFLOP/s", threads, rate))
        try convolutionBenchmark(data: try loadMNIST(), sgemm: rate)
    }
default:
    break
}
let epochs = arguments.first.flatMap(Int.init) ?? 5

let machine = Machine.current
print("digits-bench: \(machine.cpuModel), \(threads) threads, \(Date())")
print("machine: \(machine.summary)")
if let warning = machine.blasFallbackWarning { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }

let big = sgemmRate(m: 2048, n: 2048, k: 2048, library: true)
// The MLP's two big products per batch of 128: X·W1 and the weight gradient Xᵀ·G1, as OpenBLAS runs them
// with its own threads, and through digits' thread-count-independent tiles.
let fwd = sgemmRate(m: 128, n: 512, k: 784, library: true)
let dw = sgemmRate(m: 784, n: 512, k: 128, transposeA: true, library: true)
let shapes = 2 / (1 / fwd + 1 / dw)
let tiledShapes = 2 / (1 / sgemmRate(m: 128, n: 512, k: 784) + 1 / sgemmRate(m: 784, n: 512, k: 128, transposeA: true))
print(String(format: "sgemm 2048³: %.1f GFLOP/s; at the MLP's shapes: forward %.1f, weight gradient %.1f (harmonic mean %.1f; digits' tiled gemm %.1f)",
             big, fwd, dw, shapes, tiledShapes))

let data = try loadMNIST()
var recipe = Recipe.mlp
recipe.options.epochs = epochs
let trainer = try Trainer(architecture: recipe.architecture, options: recipe.options)
let history = try trainer.train(on: data.train, test: data.test) { event in
    if case .epoch(let r) = event { print(ProgressPrinter.line(r)) }
}
let seconds = history.reduce(0) { $0 + $1.seconds }
let samples = Double(data.train.count * epochs)
let flops = 1.636e6 * samples
let gflops = flops / seconds / 1e9
print(String(format: "mlp %d epochs: %.2f s training, %.0f samples/s, %.1f GFLOP/s = %.0f%% of sgemm 2048³, %.0f%% of sgemm at the MLP's shapes (dense floor %.2f s); test accuracy %.2f%%",
             epochs, seconds, samples / seconds, gflops, 100 * gflops / big, 100 * gflops / shapes, flops / shapes / 1e9,
             100 * (history.last?.testAccuracy ?? 0)))
if let peak = peakResidentMB() { print(String(format: "peak resident memory: %.0f MB", peak)) }
