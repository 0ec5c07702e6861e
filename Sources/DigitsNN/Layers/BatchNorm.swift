// Batch normalisation: each channel standardised by the batch's statistics, then scaled and shifted.

import DigitsTensor

/// Batch normalisation (Ioffe & Szegedy, 2015), per feature of [N, C] or per channel of [N, C, H, W].
/// For channel c, with the M = N·H·W values of that channel (M = N for [N, C]):
///
///     training:    μ = (1/M) Σ x,   σ² = (1/M) Σ (x − μ)²           (batch mean, biased variance)
///                  x̂ = (x − μ) / √(σ² + ε),   y = γ·x̂ + β
///                  running_mean ← (1 − momentum)·running_mean + momentum·μ
///                  running_var  ← (1 − momentum)·running_var  + momentum·σ²·M/(M − 1)   (unbiased, as PyTorch)
///     evaluation:  y = γ·(x − running_mean) / √(running_var + ε) + β
///
/// Shapes: x, y [N, C] or [N, C, H, W]; γ (`weight`), β (`bias`), `running_mean`, `running_var` [C].
/// Backward (training mode), with g = ∂L/∂y and every Σ over the M values of the channel:
///
///     ∂L/∂β = Σ g,   ∂L/∂γ = Σ g·x̂,
///     ∂L/∂x = γ / (M·√(σ² + ε)) · (M·g − Σ g − x̂·Σ g·x̂)
///
/// (x̂ depends on x directly and through μ and σ²; the last two terms are those paths.)
/// γ starts at 1 and β at 0, neither decays; the running statistics are buffers, saved but not trained.
public final class BatchNorm: Layer {
    /// C, the number of features or channels.
    public let features: Int
    /// The weight of the latest batch in the running statistics.
    public let momentum: Float
    /// ε, added to the variance before the square root.
    public let epsilon: Float
    /// γ, the scale, shape [C].
    public let weight: Parameter
    /// β, the shift, shape [C].
    public let bias: Parameter
    /// The running mean used in evaluation, shape [C], starting at 0.
    public let runningMean: Parameter
    /// The running (unbiased) variance used in evaluation, shape [C], starting at 1.
    public let runningVariance: Parameter

    private var normalized = Tensor(shape: [0])     // x̂ of the latest training forward
    private var inverseStd: [Float]                 // 1/√(σ² + ε) per channel, same forward

    /// Batch normalisation over `features` channels.
    public init(features: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        precondition(features > 0, "BatchNorm: features must be positive")
        precondition(momentum >= 0 && momentum <= 1 && epsilon > 0, "BatchNorm: need 0 ≤ momentum ≤ 1 and ε > 0")
        self.features = features
        self.momentum = momentum
        self.epsilon = epsilon
        weight = Parameter(name: "weight", value: Tensor(shape: [features], repeating: 1), decays: false)
        bias = Parameter(name: "bias", value: Tensor(shape: [features]), decays: false)
        runningMean = Parameter(name: "running_mean", value: Tensor(shape: [features]), decays: false)
        runningVariance = Parameter(name: "running_var", value: Tensor(shape: [features], repeating: 1), decays: false)
        inverseStd = [Float](repeating: 0, count: features)
    }

    /// γ and β.
    public var parameters: [Parameter] { [weight, bias] }
    /// The running mean and variance.
    public var buffers: [Parameter] { [runningMean, runningVariance] }
    /// `.batchNorm` with this layer's feature count.
    public var spec: LayerSpec { .batchNorm(features: features) }

    /// The input shape, after checking that it is [N, C] or [N, C, H, W].
    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition((inputShape.count == 2 || inputShape.count == 4) && inputShape[1] == features,
                     "BatchNorm(\(features)): input shape \(inputShape) is not [N, \(features)] or [N, \(features), H, W]")
        return inputShape
    }

    /// y = γ·x̂ + β, normalised by the batch's statistics in `.training` mode (which also updates the
    /// running statistics) and by the running statistics in `.evaluation` mode.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        _ = outputShape(for: x.shape)
        let (N, C) = (x.shape[0], features)
        let S = x.count / max(1, N * C)                               // H·W, or 1
        let M = N * S                                                 // values per channel
        var y = Tensor.unfilled(shape: x.shape)                       // both modes write all of y
        if mode == .evaluation {
            x.withUnsafeBufferPointer { px in
                y.withUnsafeMutableBufferPointer { py in
                    weight.value.withUnsafeBufferPointer { γ in
                        bias.value.withUnsafeBufferPointer { β in
                            runningMean.value.withUnsafeBufferPointer { mean in
                                runningVariance.value.withUnsafeBufferPointer { variance in
                                    for c in 0..<C {
                                        let scale = γ[c] / (variance[c] + epsilon).squareRoot()  // γ / √(running_var + ε)
                                        let shift = β[c] - mean[c] * scale                     // β − running_mean·scale
                                        for n in 0..<N {
                                            let base = (n * C + c) * S
                                            for s in base ..< base + S { py[s] = px[s] * scale + shift }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return y
        }
        precondition(M > 1, "BatchNorm(\(features)): training needs more than one value per channel, got input \(x.shape)")
        normalized.resize(x.shape)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                normalized.withUnsafeMutableBufferPointer { pxh in
                    inverseStd.withUnsafeMutableBufferPointer { pinv in
                        weight.value.withUnsafeBufferPointer { γ in
                            bias.value.withUnsafeBufferPointer { β in
                                runningMean.value.withUnsafeMutableBufferPointer { mean in
                                    runningVariance.value.withUnsafeMutableBufferPointer { variance in
                                        let (x, y, xh, inv) = (px.baseAddress!, py.baseAddress!, pxh.baseAddress!, pinv.baseAddress!)
                                        let (γ, β, runMean, runVar) = (γ.baseAddress!, β.baseAddress!, mean.baseAddress!, variance.baseAddress!)
                                        Parallel.forEachRange(C, workPerItem: 4 * M) { channels in
                                            for c in channels {
                                                var sum: Double = 0
                                                for n in 0..<N { sum += Kernels.sum(x + (n * C + c) * S, S) }
                                                let μ = sum / Double(M)                                  // μ = (1/M) Σ x
                                                var squares: Double = 0
                                                for n in 0..<N { squares += Kernels.sumOfSquaredDeviations(x + (n * C + c) * S, S, from: μ) }
                                                let σ2 = squares / Double(M)                             // σ² = (1/M) Σ (x − μ)²
                                                let invStd = Float(1 / (σ2 + Double(epsilon)).squareRoot()) // 1/√(σ² + ε)
                                                inv[c] = invStd
                                                let (mu, scale, shift) = (Float(μ), γ[c], β[c])
                                                for n in 0..<N {
                                                    let base = (n * C + c) * S
                                                    Kernels.normalize(x + base, S, mean: mu, inverseStd: invStd, scale: scale, shift: shift,
                                                                      normalized: xh + base, into: y + base)  // x̂ = (x − μ)/√(σ² + ε), y = γ x̂ + β
                                                }
                                                let unbiased = σ2 * Double(M) / Double(M - 1)            // σ²·M/(M − 1)
                                                runMean[c] = (1 - momentum) * runMean[c] + momentum * mu          // running_mean update
                                                runVar[c] = (1 - momentum) * runVar[c] + momentum * Float(unbiased) // running_var update
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// Given g = ∂L/∂y of the latest training forward: ∂L/∂β = Σ g, ∂L/∂γ = Σ g·x̂ and
    /// ∂L/∂x = γ/(M√(σ² + ε))·(M·g − Σ g − x̂·Σ g·x̂).
    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor {
        precondition(dy.shape == normalized.shape, "BatchNorm.backward: gradient \(dy.shape) does not match the last training forward \(normalized.shape)")
        let (N, C) = (dy.shape[0], features)
        let S = dy.count / max(1, N * C)
        let M = N * S
        var dx = Tensor.unfilled(shape: needsInputGradient ? dy.shape : [0])   // every channel writes its part
        dy.withUnsafeBufferPointer { pg in
            normalized.withUnsafeBufferPointer { pxh in
                inverseStd.withUnsafeBufferPointer { pinv in
                    weight.value.withUnsafeBufferPointer { γ in
                        weight.gradient.withUnsafeMutableBufferPointer { dγ in
                            bias.gradient.withUnsafeMutableBufferPointer { dβ in
                                dx.withUnsafeMutableBufferPointer { pdx in
                                    let (g, xh, dx) = (pg.baseAddress!, pxh.baseAddress!, pdx.baseAddress)
                                    let (inv, γ, dγ, dβ) = (pinv.baseAddress!, γ.baseAddress!, dγ.baseAddress!, dβ.baseAddress!)
                                    Parallel.forEachRange(C, workPerItem: 3 * M) { channels in
                                        for c in channels {
                                            var sumG: Double = 0, sumGX: Double = 0
                                            for n in 0..<N {
                                                let base = (n * C + c) * S
                                                let sums = Kernels.sumAndDot(g + base, xh + base, S)
                                                sumG += sums.sum                                        // Σ g
                                                sumGX += sums.dot                                       // Σ g·x̂
                                            }
                                            dβ[c] = Float(sumG)                                         // ∂L/∂β = Σ g
                                            dγ[c] = Float(sumGX)                                        // ∂L/∂γ = Σ g·x̂
                                            guard let dx else { continue }
                                            let k = γ[c] * inv[c] / Float(M)                            // γ / (M√(σ² + ε))
                                            let (ΣG, ΣGX) = (Float(sumG), Float(sumGX))
                                            for n in 0..<N {
                                                let base = (n * C + c) * S
                                                Kernels.normalizeGradient(g + base, normalized: xh + base, S, factor: k, count: Float(M),
                                                                          sum: ΣG, dot: ΣGX, into: dx + base)   // k (M g − Σg − x̂ Σ g x̂)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
