// Adadelta: steps sized by the ratio of recent update sizes to recent gradient sizes.

import DigitsTensor

/// Adadelta (Zeiler, 2012), with PyTorch's learning-rate factor η:
///   s ← ρ·s + (1 − ρ)·g²                      (running mean of squared gradients)
///   Δ = √(u + ε) / √(s + ε) · g               (the step, in the units of w)
///   u ← ρ·u + (1 − ρ)·Δ²                      (running mean of squared steps)
///   w ← w − η·Δ
/// Defaults as PyTorch's: η = 1, ρ = 0.9, ε = 1e-6.
public final class Adadelta: Optimizer {
    public var learningRate: Float
    /// ρ, the decay of both running means.
    public let rho: Float
    /// ε, starts the step size off zero and keeps the division finite.
    public let epsilon: Float
    var squareGradient = SlotStore()
    var squareStep = SlotStore()

    /// Adadelta with PyTorch's defaults unless given.
    public init(learningRate: Float = 1, rho: Float = 0.9, epsilon: Float = 1e-6) {
        self.learningRate = learningRate
        self.rho = rho
        self.epsilon = epsilon
    }

    public func step(_ parameters: [Parameter]) {
        for (index, p) in parameters.enumerated() {
            p.densifyGradient()
            let n = p.value.count
            p.gradient.withUnsafeBufferPointer { g in
                p.value.withUnsafeMutableBufferPointer { w in
                    squareGradient.withSlot(index, count: n) { s in
                        squareStep.withSlot(index, count: n) { u in
                            for i in 0..<n {
                                s[i] = rho * s[i] + (1 - rho) * g[i] * g[i]                       // s ← ρ s + (1 − ρ) g²
                                let delta = (u[i] + epsilon).squareRoot() / (s[i] + epsilon).squareRoot() * g[i]
                                u[i] = rho * u[i] + (1 - rho) * delta * delta                     // u ← ρ u + (1 − ρ) Δ²
                                w[i] -= learningRate * delta                                      // w ← w − η Δ
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Adadelta {
    /// The running means of squared gradients (`square_gradient`) and of squared steps (`square_step`).
    public var state: OptimizerState {
        OptimizerState(buffers: squareGradient.contents.isEmpty ? [:]
                           : ["square_gradient": squareGradient.contents, "square_step": squareStep.contents])
    }

    /// Takes over saved running means.
    public func restore(_ state: OptimizerState, parameters: [Parameter]) throws {
        let buffers = try state.buffers(roles: ["square_gradient", "square_step"], parameters: parameters, optimizer: "Adadelta")
        squareGradient.contents = buffers["square_gradient"] ?? []
        squareStep.contents = buffers["square_step"] ?? []
    }
}
