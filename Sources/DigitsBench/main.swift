// digits-bench: trains the `mlp` recipe for 5 epochs and compares its speed with this machine's sgemm rate.
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
                                 a: a, lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n, c: &c, ldc: n, threads: threads)
            } else {
                BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                          a: a, lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n, c: &c, ldc: n)
            }
        }
        if r > 0 { best = min(best, (now() - t0) / Double(calls)) }
    }
    return 2 * Double(m * n * k) / best / 1e9
}

let arguments = CommandLine.arguments.dropFirst()
let epochs = arguments.first.flatMap(Int.init) ?? 5
let threads = ProcessInfo.processInfo.activeProcessorCount
BLAS.setThreads(threads)

let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
    .split(separator: "\n").first { $0.hasPrefix("model name") }?
    .split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
print("digits-bench: \(cpu), \(threads) threads, \(Date())")

let big = sgemmRate(m: 2048, n: 2048, k: 2048, library: true)
// The MLP's two big products per batch of 128: X·W1 and the weight gradient Xᵀ·G1, as OpenBLAS runs them
// with its own threads, and through digits' thread-count-independent tiles.
let fwd = sgemmRate(m: 128, n: 512, k: 784, library: true)
let dw = sgemmRate(m: 784, n: 512, k: 128, transposeA: true, library: true)
let shapes = 2 / (1 / fwd + 1 / dw)
let tiledShapes = 2 / (1 / sgemmRate(m: 128, n: 512, k: 784) + 1 / sgemmRate(m: 784, n: 512, k: 128, transposeA: true))
print(String(format: "sgemm 2048³: %.1f GFLOP/s; at the MLP's shapes: forward %.1f, weight gradient %.1f (harmonic mean %.1f; digits' tiled gemm %.1f)",
             big, fwd, dw, shapes, tiledShapes))

let data = try MNIST.load(DataLocator.locate(explicit: ProcessInfo.processInfo.environment["DIGITS_DATA"]).files)
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
