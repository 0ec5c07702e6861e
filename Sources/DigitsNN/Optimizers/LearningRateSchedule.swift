// Learning-rate schedules: how the step size η changes over a training run.

/// How the learning rate changes over a run, from its base value η₀.
public enum LearningRateSchedule: Codable, Equatable, Sendable {
    /// η = η₀ throughout.
    case constant
    /// Cosine annealing to zero: η_t = η₀ · ½ (1 + cos(π t / T)), t the step (from 0), T the run's total steps.
    case cosine
    /// Step decay: η = η₀ · γ^⌊(e − 1) / k⌋ in epoch e (from 1), with k = `every` epochs and γ = `factor`.
    case step(every: Int, factor: Float)
    /// One cycle (Smith): a linear warm-up from η₀/25 to η₀ over the first fraction `warmup` of the steps,
    /// then cosine annealing to zero over the rest:
    ///   t < W:  η_t = η₀ · (1/25 + (1 − 1/25) · t/W),     t ≥ W:  η_t = η₀ · ½ (1 + cos(π (t − W)/(T − W))),
    /// with W = warmup · T.
    case oneCycle(warmup: Float)

    /// The rate for step `step` (from 0) of `totalSteps`, in epoch `epoch` (from 1).
    public func rate(base: Float, step: Int, totalSteps: Int, epoch: Int) -> Float {
        switch self {
        case .constant:
            return base
        case .cosine:
            let progress = Double(step) / Double(max(totalSteps, 1))
            return base * Float(0.5 * (1 + cos(Double.pi * progress)))
        case .step(let every, let factor):
            return base * pow(factor, Float((epoch - 1) / max(every, 1)))
        case .oneCycle(let warmup):
            let total = Double(max(totalSteps, 1)), w = Double(warmup) * total, t = Double(step)
            if t < w {
                let start = 1.0 / 25
                return base * Float(start + (1 - start) * t / w)
            }
            let progress = (t - w) / max(total - w, 1)
            return base * Float(0.5 * (1 + cos(Double.pi * min(progress, 1))))
        }
    }

    /// Parses `constant`, `cosine`, `step:EVERY:FACTOR` (e.g. `step:3:0.1`), `one-cycle` (warm-up 0.3) or
    /// `one-cycle:WARMUP` (a fraction in [0, 1)); nil if malformed.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":").map(String.init)
        switch parts.first {
        case "constant" where parts.count == 1: self = .constant
        case "cosine" where parts.count == 1: self = .cosine
        case "step" where parts.count == 3:
            guard let every = Int(parts[1]), every >= 1, let factor = Float(parts[2]), factor > 0, factor.isFinite else { return nil }
            self = .step(every: every, factor: factor)
        case "one-cycle" where parts.count <= 2:
            let warmup = parts.count == 2 ? Float(parts[1]) : 0.3
            guard let warmup, warmup >= 0, warmup < 1 else { return nil }
            self = .oneCycle(warmup: warmup)
        default: return nil
        }
    }
}

extension LearningRateSchedule: CustomStringConvertible {
    /// The schedule as `--schedule` takes it: `constant`, `cosine`, `step:EVERY:FACTOR` or `one-cycle:WARMUP`.
    public var description: String {
        switch self {
        case .constant: return "constant"
        case .cosine: return "cosine"
        case .step(let every, let factor): return "step:\(every):\(factor)"
        case .oneCycle(let warmup): return "one-cycle:\(warmup)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
